//! Byte layouts: stream (see the crate docs).
