#![no_main]
//! See `ferrica::fuzzing::acme_jws`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::acme_jws(data));
