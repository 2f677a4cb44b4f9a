//! A retry budget: retries at most a fraction of calls over a sliding
//! window, so that during an outage retries cannot multiply the load on
//! instances that are already failing (Finagle's `RetryBudget`).

use core::fmt;

use super::retry::RetryPolicy;
use crate::time::{Clock, Duration};
use crate::window::{BUCKETS, Count, RollingCounts};

/// Seconds the budget looks back over, one bucket each.
const WINDOW_SECS: u64 = BUCKETS as u64;

/// How many retries the recent calls have earned: `percent` of the calls
/// in the last ten seconds, plus `min_per_second` for each of those
/// seconds, so that a quiet client can still retry now and then.
///
/// Lock-free and allocation-free: ten one-second buckets of atomic
/// counters (the breaker's rolling window). Under contention a bucket
/// turning over may lose a count or two; the budget is a guard rail, not an
/// invoice.
///
/// ```
/// use synkit_core::lb::RetryBudget;
/// use synkit_core::time::ManualClock;
///
/// let clock = ManualClock::new();
/// // 20 % of calls, and no floor.
/// let budget = RetryBudget::new(20, 0, &clock);
/// for _ in 0..10 {
///     budget.record_call();
/// }
/// assert!(budget.try_retry() && budget.try_retry());
/// assert!(!budget.try_retry(), "10 calls earn 2 retries");
/// ```
pub struct RetryBudget<C> {
    percent: u64,
    min_per_second: u64,
    clock: C,
    /// Calls (first) and retries (second).
    counts: RollingCounts,
}

impl<C: Clock> RetryBudget<C> {
    /// A budget of `percent` % of calls plus `min_per_second` retries per
    /// second, over the last ten seconds of `clock`. Finagle's defaults are
    /// 20 % and 10 per second.
    pub fn new(percent: u32, min_per_second: u32, clock: C) -> RetryBudget<C> {
        RetryBudget {
            percent: u64::from(percent),
            min_per_second: u64::from(min_per_second),
            clock,
            counts: RollingCounts::new(Duration::from_secs(WINDOW_SECS)),
        }
    }

    /// Counts a call (its first attempt): every call earns `percent` % of
    /// a retry.
    pub fn record_call(&self) {
        self.counts.add(Count::First, self.clock.now());
    }

    /// Takes a retry from the budget if one is left; false if the retry
    /// should not be made.
    pub fn try_retry(&self) -> bool {
        let now = self.clock.now();
        let (calls, retries) = self.counts.totals(now);
        let earned = self.min_per_second * WINDOW_SECS + calls * self.percent / 100;
        if retries >= earned {
            return false;
        }
        self.counts.add(Count::Second, now);
        true
    }
}

impl<C> fmt::Debug for RetryBudget<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("percent", &self.percent)
            .field("min_per_second", &self.min_per_second)
            .finish_non_exhaustive()
    }
}

/// A retry policy that also asks a [`RetryBudget`]: `policy` decides, and
/// a retry it allows is made only if the budget has one left.
#[derive(Clone, Copy, Debug)]
pub struct Budgeted<P, B> {
    policy: P,
    budget: B,
}

impl<P, B> Budgeted<P, B> {
    /// `policy`, limited by the budget `budget` points to (`&RetryBudget`,
    /// `Arc<RetryBudget>`: one budget for every endpoint that shares it).
    pub fn new(policy: P, budget: B) -> Budgeted<P, B> {
        Budgeted { policy, budget }
    }
}

impl<E, P, B, C> RetryPolicy<E> for Budgeted<P, B>
where
    P: RetryPolicy<E>,
    B: core::ops::Deref<Target = RetryBudget<C>>,
    C: Clock,
{
    fn started(&self) {
        self.budget.record_call();
        self.policy.started();
    }

    fn after(&self, attempt: usize, err: &E) -> (bool, Option<E>) {
        let (keep_trying, replacement) = self.policy.after(attempt, err);
        (keep_trying && self.budget.try_retry(), replacement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Duration, ManualClock};

    #[test]
    fn retries_are_a_share_of_recent_calls_plus_a_floor() {
        let clock = ManualClock::new();
        let budget = RetryBudget::new(10, 1, &clock);
        // The floor: 1 a second over 10 seconds, with no calls at all.
        for _ in 0..10 {
            assert!(budget.try_retry());
        }
        assert!(!budget.try_retry());
        // 100 calls earn 10 more.
        for _ in 0..100 {
            budget.record_call();
        }
        for _ in 0..10 {
            assert!(budget.try_retry());
        }
        assert!(!budget.try_retry());
    }

    #[test]
    fn the_window_slides() {
        let clock = ManualClock::new();
        let budget = RetryBudget::new(50, 0, &clock);
        for _ in 0..4 {
            budget.record_call();
        }
        assert!(budget.try_retry() && budget.try_retry());
        assert!(!budget.try_retry());
        // Nine seconds on, those calls and retries still count.
        clock.advance(Duration::from_secs(9));
        assert!(!budget.try_retry());
        // Ten seconds on, they have left the window: nothing earned, nothing
        // spent.
        clock.advance(Duration::from_secs(1));
        assert!(!budget.try_retry());
        budget.record_call();
        budget.record_call();
        assert!(budget.try_retry());
        assert!(!budget.try_retry());
    }
}
