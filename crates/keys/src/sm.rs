//! Byte layouts: sm (see the crate docs).
