//! Bytes as a stored JSON document: decode, re-encode, then read through the JSON.* commands.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| meridian_fuzz::json::run_json_doc(data));
