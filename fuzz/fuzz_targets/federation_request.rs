#![no_main]
//! Fuzz target `federation_request`: see `wildnet_tests::fuzz::federation_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::federation_request(data));
