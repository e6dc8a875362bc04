//! Arbitrary bytes as a client's request stream: RESP parse → classify → run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| meridian_fuzz::run_request_bytes(data));
