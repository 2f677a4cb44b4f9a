//! Two protocols on one port, told apart by each connection's first
//! bytes: a connection that opens with the second protocol's preface (HTTP/2's
//! 24 bytes) speaks it; any other first bytes are the first protocol's.
//! Until the preface is whole, or a byte leaves it, the connection is
//! undecided: its bytes are kept, nothing is written, and the engine's
//! timeouts stand — a silent client is idle, and one that stalls inside
//! the preface is closed at the read timeout, as a slow request would be.
//!
//! The first protocol's session is made with the connection; the second's
//! only when its preface is seen, so a port that mostly speaks the first
//! pays nothing for the second.

use std::fmt;

use synkit_core::Context;
use synkit_core::time::Instant;

use super::parts::{CreditGuard, Parts};
use super::{Activity, Failure, Incoming, Now, Serve, Session, Timeout};

#[cfg(all(test, feature = "http-server"))]
mod tests;

/// A request of either protocol, with its answer; or what names one.
// Boxing the larger would cost an allocation per request; the exchange is
// moved a handful of times a request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Either<A, B> {
    /// The first protocol's.
    First(A),
    /// The second's (the one with the preface).
    Second(B),
}

// A connection's state sits in the event loop's slab and is not moved
// after it is made; boxing would only add an allocation per connection.
#[allow(clippy::large_enum_variant)]
enum Chosen<A, B, M> {
    /// Not yet known: the first session made, the second's maker, the
    /// bytes so far.
    Undecided {
        first: A,
        make: M,
        seen: Vec<u8>,
    },
    First(A),
    Second(B),
    /// Done without a protocol: a client stalled inside the preface. (It
    /// also stands in while [`Sniff::decide`] takes the undecided state
    /// apart.)
    Closed,
}

/// One connection of a port serving two protocols. Only the second may
/// answer in parts: a streamed part is always the second protocol's.
pub(crate) struct Sniff<A, B, M> {
    chosen: Chosen<A, B, M>,
    preface: &'static [u8],
}

/// What the bytes so far say.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    First,
    Second,
    Wait,
}

fn verdict(preface: &[u8], seen: &[u8]) -> Verdict {
    let n = seen.len().min(preface.len());
    if seen[..n] != preface[..n] {
        Verdict::First
    } else if seen.len() >= preface.len() {
        Verdict::Second
    } else {
        Verdict::Wait
    }
}

impl<A, B, M> Sniff<A, B, M>
where
    A: Session,
    B: Session,
    M: FnOnce() -> B + Send + 'static,
{
    /// A connection that is `first`'s unless it opens with `preface`, in
    /// which case `make` makes the session it is.
    pub(crate) fn new(first: A, preface: &'static [u8], make: M) -> Sniff<A, B, M> {
        Sniff {
            chosen: Chosen::Undecided {
                first,
                make,
                seen: Vec::new(),
            },
            preface,
        }
    }

    /// Which protocol was chosen: `Some(true)` for the second.
    #[cfg(test)]
    pub(crate) fn is_second(&self) -> Option<bool> {
        match &self.chosen {
            Chosen::First(_) => Some(false),
            Chosen::Second(_) => Some(true),
            Chosen::Undecided { .. } | Chosen::Closed => None,
        }
    }

    /// Settles an undecided connection's protocol (the second's when
    /// `second`), handing the chosen session the bytes kept so far and
    /// then `more`. Only for an undecided connection.
    fn settle(&mut self, second: bool, more: &[u8], now: &Now) {
        let Chosen::Undecided { first, make, seen } =
            std::mem::replace(&mut self.chosen, Chosen::Closed)
        else {
            return;
        };
        self.chosen = if second {
            Chosen::Second(fed(make(), &seen, more, now))
        } else {
            Chosen::First(fed(first, &seen, more, now))
        };
    }

    /// Settles an undecided connection that cannot wait (a timer, the read
    /// side closing, shutdown). A whole preface settles as it arrives, so
    /// an undecided connection holds at most a preface cut short: not the
    /// second protocol.
    fn force(&mut self, now: &Now) {
        if matches!(self.chosen, Chosen::Undecided { .. }) {
            self.settle(false, &[], now);
        }
    }
}

/// `session`, having received `seen` and then `more`.
fn fed<S: Session>(mut session: S, seen: &[u8], more: &[u8], now: &Now) -> S {
    for bytes in [seen, more] {
        if !bytes.is_empty() {
            session.received(bytes, now);
        }
    }
    session
}

impl<XA, XB> From<XB> for Either<XA, XB> {
    fn from(part: XB) -> Either<XA, XB> {
        Either::Second(part)
    }
}

impl<A, B, M> Session for Sniff<A, B, M>
where
    A: Session,
    B: Session,
    M: FnOnce() -> B + Send + 'static,
{
    type Exchange = Either<A::Exchange, B::Exchange>;
    type Part = B::Exchange;

    const STREAMS: bool = B::STREAMS;

    fn received(&mut self, bytes: &[u8], now: &Now) {
        match &mut self.chosen {
            Chosen::Undecided { seen, .. } if seen.is_empty() => {
                // Most first reads decide at once: no copy.
                match verdict(self.preface, bytes) {
                    Verdict::First => self.settle(false, bytes, now),
                    Verdict::Second => self.settle(true, bytes, now),
                    Verdict::Wait => seen.extend_from_slice(bytes),
                }
            }
            Chosen::Undecided { seen, .. } => {
                seen.extend_from_slice(bytes);
                match verdict(self.preface, seen) {
                    Verdict::First => self.settle(false, &[], now),
                    Verdict::Second => self.settle(true, &[], now),
                    Verdict::Wait => {}
                }
            }
            Chosen::First(c) => c.received(bytes, now),
            Chosen::Second(c) => c.received(bytes, now),
            Chosen::Closed => {}
        }
    }

    fn read_closed(&mut self, now: &Now) {
        self.force(now);
        match &mut self.chosen {
            Chosen::First(c) => c.read_closed(now),
            Chosen::Second(c) => c.read_closed(now),
            Chosen::Undecided { .. } | Chosen::Closed => {}
        }
    }

    fn cancel_on_read_close(&self) -> bool {
        match &self.chosen {
            Chosen::First(c) => c.cancel_on_read_close(),
            Chosen::Second(c) => c.cancel_on_read_close(),
            Chosen::Undecided { .. } | Chosen::Closed => true,
        }
    }

    fn take_cancelled(&mut self) -> Option<u32> {
        match &mut self.chosen {
            Chosen::First(c) => c.take_cancelled(),
            Chosen::Second(c) => c.take_cancelled(),
            Chosen::Undecided { .. } | Chosen::Closed => None,
        }
    }

    fn wants_read(&self) -> bool {
        match &self.chosen {
            Chosen::Undecided { .. } => true,
            Chosen::First(c) => c.wants_read(),
            Chosen::Second(c) => c.wants_read(),
            Chosen::Closed => false,
        }
    }

    fn next_request(&mut self, now: &Now) -> Option<Incoming<Self::Exchange>> {
        match &mut self.chosen {
            Chosen::First(c) => c.next_request(now).map(|i| Incoming {
                id: i.id,
                exchange: Either::First(i.exchange),
                deadline: i.deadline,
            }),
            Chosen::Second(c) => c.next_request(now).map(|i| Incoming {
                id: i.id,
                exchange: Either::Second(i.exchange),
                deadline: i.deadline,
            }),
            Chosen::Undecided { .. } | Chosen::Closed => None,
        }
    }

    fn respond(&mut self, id: u32, exchange: Self::Exchange, now: &Now) {
        match (&mut self.chosen, exchange) {
            (Chosen::First(c), Either::First(x)) => c.respond(id, x, now),
            (Chosen::Second(c), Either::Second(x)) => c.respond(id, x, now),
            _ => {}
        }
    }

    fn respond_part(
        &mut self,
        id: u32,
        part: Self::Exchange,
        credit: Option<CreditGuard>,
        now: &Now,
    ) {
        if let (Chosen::Second(c), Either::Second(x)) = (&mut self.chosen, part) {
            c.respond_part(id, x, credit, now);
        }
    }

    fn output(&self) -> &[u8] {
        match &self.chosen {
            Chosen::First(c) => c.output(),
            Chosen::Second(c) => c.output(),
            Chosen::Undecided { .. } | Chosen::Closed => &[],
        }
    }

    fn wrote(&mut self, n: usize, now: &Now) {
        match &mut self.chosen {
            Chosen::First(c) => c.wrote(n, now),
            Chosen::Second(c) => c.wrote(n, now),
            Chosen::Undecided { .. } | Chosen::Closed => {}
        }
    }

    fn activity(&self) -> Activity {
        match &self.chosen {
            // Silent: idle. Inside the preface: a request begun.
            Chosen::Undecided { seen, .. } if seen.is_empty() => Activity::Idle,
            Chosen::Undecided { .. } => Activity::Reading,
            Chosen::First(c) => c.activity(),
            Chosen::Second(c) => c.activity(),
            Chosen::Closed => Activity::Serving,
        }
    }

    fn timed_out(&mut self, timeout: Timeout, now: &Now) {
        match &mut self.chosen {
            Chosen::First(c) => c.timed_out(timeout, now),
            Chosen::Second(c) => c.timed_out(timeout, now),
            // Silent, or stalled inside the preface: neither protocol can
            // answer.
            Chosen::Undecided { .. } | Chosen::Closed => self.chosen = Chosen::Closed,
        }
    }

    /// The first protocol's: a refused connection has said nothing yet,
    /// and most connections speak it.
    const REFUSAL: &'static [u8] = A::REFUSAL;

    fn next_timer(&self) -> Option<Instant> {
        match &self.chosen {
            Chosen::First(c) => c.next_timer(),
            Chosen::Second(c) => c.next_timer(),
            Chosen::Undecided { .. } | Chosen::Closed => None,
        }
    }

    fn on_timer(&mut self, now: &Now) {
        match &mut self.chosen {
            Chosen::First(c) => c.on_timer(now),
            Chosen::Second(c) => c.on_timer(now),
            Chosen::Undecided { .. } | Chosen::Closed => {}
        }
    }

    fn shutdown(&mut self, now: &Now) {
        self.force(now);
        match &mut self.chosen {
            Chosen::First(c) => c.shutdown(now),
            Chosen::Second(c) => c.shutdown(now),
            Chosen::Undecided { .. } | Chosen::Closed => {}
        }
    }

    fn wants_close(&self) -> bool {
        match &self.chosen {
            Chosen::First(c) => c.wants_close(),
            Chosen::Second(c) => c.wants_close(),
            Chosen::Undecided { .. } => false,
            Chosen::Closed => true,
        }
    }
}

/// A handler of both protocols, serving a sniffing port: each request
/// goes to its own protocol's half. (A wrapper, not a blanket impl over
/// every handler: that would send the trait solver down every session
/// nested in a `Sniff`.)
pub(crate) struct Both<H>(pub(crate) H);

impl<A, B, M, H> Serve<Sniff<A, B, M>> for Both<H>
where
    A: Session,
    B: Session<Part = <B as Session>::Exchange>,
    M: FnOnce() -> B + Send + 'static,
    H: Serve<A> + Serve<B>,
{
    fn describe<'a>(
        &self,
        exchange: &'a Either<A::Exchange, B::Exchange>,
    ) -> impl fmt::Display + 'a {
        match exchange {
            Either::First(x) => Either::First(<H as Serve<A>>::describe(&self.0, x)),
            Either::Second(x) => Either::Second(<H as Serve<B>>::describe(&self.0, x)),
        }
    }

    fn handle(
        &self,
        cx: &Context<'_>,
        exchange: &mut Either<A::Exchange, B::Exchange>,
        parts: Option<&Parts<B::Exchange>>,
    ) {
        // Only the second protocol answers in parts.
        match exchange {
            Either::First(x) => <H as Serve<A>>::handle(&self.0, cx, x, None),
            Either::Second(x) => <H as Serve<B>>::handle(&self.0, cx, x, parts),
        }
    }

    fn fail(&self, exchange: &mut Either<A::Exchange, B::Exchange>, failure: Failure) {
        match exchange {
            Either::First(x) => <H as Serve<A>>::fail(&self.0, x, failure),
            Either::Second(x) => <H as Serve<B>>::fail(&self.0, x, failure),
        }
    }
}

impl<A: fmt::Display, B: fmt::Display> fmt::Display for Either<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Either::First(a) => a.fmt(f),
            Either::Second(b) => b.fmt(f),
        }
    }
}
