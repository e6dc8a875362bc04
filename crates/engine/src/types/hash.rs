//! Records of the hash type (see the module docs of `types`).
