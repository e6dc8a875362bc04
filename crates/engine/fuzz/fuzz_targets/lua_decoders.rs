//! cjson.decode, cmsgpack.unpack, struct.unpack and bit on fuzzed bytes, with round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| meridian_fuzz::lua::run_lua_decoders(data));
