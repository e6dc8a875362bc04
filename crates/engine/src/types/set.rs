//! Records of the set type (see the module docs of `types`).
