#![no_main]
//! See `ferrica::fuzzing::template_text`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrica::fuzzing::template_text(data));
