#![no_main]
//! See `ferrica::fuzzing::private_key`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::private_key(data));
