//! Byte layouts: zset (see the crate docs).
