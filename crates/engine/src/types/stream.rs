//! Records of the stream type (see the module docs of `types`).
