//! The whole engine, driven by structured actions decoded from the input
//! (see `mnet_sim::fuzz`). Run with `cargo +nightly fuzz run engine`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mnet_sim::fuzz::run(data));
