//! Durations as Go prints them (`time.Duration.String`).

use core::fmt;

use crate::time::Duration;

/// Displays a duration as Go's `time.Duration.String()` does: `800ns`,
/// `1.234µs`, `12.5ms`, `1.5s`, `1m30s`, `2h0m0.001s`; zero is `0s`.
/// Go kit's loggers print durations this way.
///
/// ```
/// use synkit_core::log::GoDuration;
/// use core::time::Duration;
///
/// assert_eq!(GoDuration(Duration::from_nanos(1_234)).to_string(), "1.234µs");
/// assert_eq!(GoDuration(Duration::from_secs(90)).to_string(), "1m30s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

/// Writes `whole.fraction` with `digits` fraction digits, trailing zeros
/// (and a bare point) dropped.
fn decimal(f: &mut fmt::Formatter<'_>, whole: u64, fraction: u64, digits: u32) -> fmt::Result {
    write!(f, "{whole}")?;
    if fraction == 0 {
        return Ok(());
    }
    let mut frac = fraction;
    let mut width = digits;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    write!(f, ".{frac:0width$}", width = width as usize)
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        // Past 2^64 ns (584 years) Go's int64 has long overflowed: clamp.
        let n = u64::try_from(nanos).unwrap_or(u64::MAX);
        if n < 1_000 {
            return write!(f, "{n}ns");
        }
        if n < 1_000_000 {
            decimal(f, n / 1_000, n % 1_000, 3)?;
            return f.write_str("µs");
        }
        if n < 1_000_000_000 {
            decimal(f, n / 1_000_000, n % 1_000_000, 6)?;
            return f.write_str("ms");
        }
        let secs = n / 1_000_000_000;
        let sub = n % 1_000_000_000;
        let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        decimal(f, seconds, sub, 9)?;
        f.write_str("s")
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        let cases: [(u64, &str); 13] = [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (1_500, "1.5µs"),
            (1_234_567, "1.234567ms"),
            (12_500_000, "12.5ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (7_200_001_000_000, "2h0m0.001s"),
            (61_000_000_001, "1m1.000000001s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(
                GoDuration(Duration::from_nanos(nanos)).to_string(),
                want,
                "{nanos}"
            );
        }
    }
}
