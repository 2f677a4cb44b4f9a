//! Which traces are recorded: always, never, a share, or at most so many
//! a second.

use crate::sync::{AtomicU64, Ordering};
use crate::time::Instant;

use super::TraceId;

/// Decides, for a trace that arrives without a decision, whether to
/// record it (zipkin-go's samplers).
#[derive(Debug)]
pub enum Sampler {
    /// Every trace.
    Always,
    /// No trace.
    Never,
    /// A share of traces, decided by the trace id so every service that
    /// sees the id decides alike (zipkin-go's boundary sampler): `0.25`
    /// records a quarter.
    Probability(f64),
    /// At most this many new traces a second.
    RateLimited(RateLimit),
}

/// The state of [`Sampler::RateLimited`]: the second and the count in it,
/// in one atomic word.
#[derive(Debug)]
pub struct RateLimit {
    per_second: u32,
    window: AtomicU64,
}

impl Sampler {
    /// At most `per_second` new traces a second.
    pub fn rate_limited(per_second: u32) -> Sampler {
        Sampler::RateLimited(RateLimit {
            per_second: per_second.min(0x00ff_ffff),
            window: AtomicU64::new(0),
        })
    }

    /// Whether to record the trace `id`, starting at `now` (read only by
    /// the rate limit).
    pub fn sample(&self, id: TraceId, now: impl FnOnce() -> Instant) -> bool {
        match self {
            Sampler::Always => true,
            Sampler::Never => false,
            Sampler::Probability(p) => {
                // Whole ten-thousandths, as zipkin-go's boundary sampler.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let boundary = (p.clamp(0.0, 1.0) * 10_000.0) as u64;
                id.low % 10_000 < boundary
            }
            Sampler::RateLimited(limit) => {
                let second = now().as_nanos() / 1_000_000_000;
                let taken = limit
                    .window
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                        let (at, count) = (w >> 24, w & 0x00ff_ffff);
                        if at != second {
                            Some((second << 24) | 1)
                        } else if count < u64::from(limit.per_second) {
                            Some(w + 1)
                        } else {
                            None
                        }
                    });
                taken.is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_is_decided_by_the_trace_id() {
        let s = Sampler::Probability(0.25);
        let hits = (0..40_000u64)
            .filter(|&i| {
                s.sample(
                    TraceId {
                        high: 0,
                        low: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    },
                    || Instant::ZERO,
                )
            })
            .count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
        let id = TraceId {
            high: 0,
            low: 12_345,
        };
        assert_eq!(
            s.sample(id, || Instant::ZERO),
            s.sample(id, || Instant::from_nanos(99))
        );
    }

    #[test]
    fn rate_limited_allows_so_many_a_second() {
        let s = Sampler::rate_limited(3);
        let id = TraceId { high: 0, low: 1 };
        let at = |secs: u64| Instant::from_nanos(secs * 1_000_000_000);
        let first: usize = (0..10).filter(|_| s.sample(id, || at(5))).count();
        assert_eq!(first, 3);
        assert!(s.sample(id, || at(6)));
        assert!(!Sampler::Never.sample(id, || at(6)));
        assert!(Sampler::Always.sample(id, || at(6)));
    }
}
