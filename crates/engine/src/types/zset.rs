//! Records of the zset type (see the module docs of `types`).
