//! Records of the list type (see the module docs of `types`).
