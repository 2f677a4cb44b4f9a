//! Trace and span identifiers, as Zipkin and W3C spell them: lowercase hex.

use core::fmt;

use crate::sync::{AtomicU64, Ordering};

/// A trace's id: 64 or 128 bits (`high` is zero for a 64-bit id, which
/// prints as 16 hex digits, B3's short form).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TraceId {
    /// The upper 64 bits (0 for a 64-bit id).
    pub high: u64,
    /// The lower 64 bits.
    pub low: u64,
}

/// A span's id: 64 bits, never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanId(pub u64);

impl TraceId {
    /// Parses 16 or 32 lowercase or uppercase hex digits (not all zero).
    pub fn parse(text: &str) -> Option<TraceId> {
        let id = match text.len() {
            16 => TraceId {
                high: 0,
                low: hex64(text)?,
            },
            32 => TraceId {
                high: hex64(&text[..16])?,
                low: hex64(&text[16..])?,
            },
            _ => return None,
        };
        (id.high != 0 || id.low != 0).then_some(id)
    }

    /// Whether it is 128 bits wide.
    pub fn is_128(self) -> bool {
        self.high != 0
    }
}

impl SpanId {
    /// Parses 16 hex digits (not all zero).
    pub fn parse(text: &str) -> Option<SpanId> {
        if text.len() != 16 {
            return None;
        }
        hex64(text).filter(|&n| n != 0).map(SpanId)
    }
}

fn hex64(text: &str) -> Option<u64> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

impl fmt::Display for TraceId {
    /// 16 hex digits for a 64-bit id, 32 for a 128-bit one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.high != 0 {
            write!(f, "{:016x}", self.high)?;
        }
        write!(f, "{:016x}", self.low)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Where new ids come from: `SplitMix64` over one atomic counter, seeded
/// once. Not a secret; unique enough for tracing, and lock-free.
#[derive(Debug)]
pub(crate) struct Ids {
    state: AtomicU64,
}

impl Ids {
    pub(crate) fn new(seed: u64) -> Ids {
        Ids {
            state: AtomicU64::new(seed),
        }
    }

    /// A new non-zero id.
    #[inline]
    pub(crate) fn next(&self) -> u64 {
        loop {
            let mut z = self
                .state
                .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
                .wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            if z != 0 {
                return z;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn ids_parse_and_print_as_lowercase_hex() {
        let t = TraceId::parse("463AC35C9F6413AD48485A3953BB6124").unwrap();
        assert_eq!(t.to_string(), "463ac35c9f6413ad48485a3953bb6124");
        assert_eq!(
            TraceId::parse("48485a3953bb6124").unwrap().to_string(),
            "48485a3953bb6124"
        );
        assert_eq!(
            SpanId::parse("0020000000000001").unwrap().to_string(),
            "0020000000000001"
        );
        for bad in [
            "",
            "0000000000000000",
            "xyz",
            "48485a3953bb612",
            "+8485a3953bb6124",
            "48485a3953bb6124a",
        ] {
            assert!(TraceId::parse(bad).is_none(), "{bad}");
            assert!(SpanId::parse(bad).is_none() || bad.len() == 16, "{bad}");
        }
        assert!(SpanId::parse("-000000000000001").is_none());
    }
}
