//! Records of the json type (see the module docs of `types`).
