//! Arbitrary bytes as an HTTP request: the head parser and the chunked-body
//! decoder must never panic nor read past their input.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    synkit_transports::fuzzing::request(bytes);
});
