#![no_main]
//! See `ferrica::fuzzing::jose`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::jose(data));
