#![no_main]
//! Fuzz target `reconcile`: see `wildnet_tests::fuzz::reconcile`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::reconcile(data));
