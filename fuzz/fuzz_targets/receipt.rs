#![no_main]
//! Fuzz target `receipt`: see `wildnet_tests::fuzz::receipt`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::receipt(data));
