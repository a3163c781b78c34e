#![no_main]
//! See `ferrica::fuzzing::x509`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::x509(data));
