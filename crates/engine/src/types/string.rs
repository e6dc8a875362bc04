//! Records of the string type (see the module docs of `types`).
