#![no_main]
//! See `ferrica::fuzzing::acme_payload`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::acme_payload(data));
