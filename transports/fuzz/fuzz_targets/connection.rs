//! Arbitrary byte streams, in arbitrary splits, through the HTTP/1.1
//! connection state machine: it must never panic, never grow past its
//! limits, and always either progress or end.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    synkit_transports::fuzzing::connection(bytes);
});
