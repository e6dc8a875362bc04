//! JSONPaths compiled and evaluated on a fixed or fuzzed document, then used by a JSON.* command.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| meridian_fuzz::json::run_json_path(data));
