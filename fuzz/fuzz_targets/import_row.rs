#![no_main]
//! Fuzz target `import_row`: see `wildnet_tests::fuzz::import_row`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wildnet_tests::fuzz::import_row(data));
