#![no_main]
//! Fuzz target `selector`: see `wildnet_tests::fuzz::selector`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::selector(data));
