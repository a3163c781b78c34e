#![no_main]
//! See `ferrica::fuzzing::ssh`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::ssh(data));
