//! Short command sequences drawn from the real command table, with arguments from
//! dictionaries of keys, extreme numbers, option words, patterns, JSON and stream ids.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| meridian_fuzz::run_command_seq(data));
