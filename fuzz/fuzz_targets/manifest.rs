#![no_main]
//! Fuzz target `manifest`: see `wildnet_tests::fuzz::manifest`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::manifest(data));
