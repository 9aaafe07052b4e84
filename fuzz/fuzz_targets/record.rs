#![no_main]
//! Fuzz target `record`: see `wildnet_tests::fuzz::record`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::record(data));
