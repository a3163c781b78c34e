#![no_main]
//! See `ferrica::fuzzing::ocsp_request`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::ocsp_request(data));
