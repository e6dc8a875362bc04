//! Byte layouts: store (see the crate docs).
