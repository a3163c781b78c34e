#![no_main]
//! See `ferrica::fuzzing::server_api`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::server_api(data));
