//! Byte layouts: list (see the crate docs).
