//! Arbitrary bytes after the preface, in arbitrary splits, through the
//! HTTP/2 server connection: frames, HPACK header blocks, flow control. It
//! must never panic, never grow past its limits, and always end.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    synkit_transports::fuzzing::h2(bytes);
});
