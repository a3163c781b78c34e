#![no_main]
//! See `ferrica::fuzzing::ca_json`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::ca_json(data));
