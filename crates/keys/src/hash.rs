//! Byte layouts: hash (see the crate docs).
