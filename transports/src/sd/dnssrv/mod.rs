//! Service discovery by DNS SRV records: Go kit's `sd/dnssrv`.
//!
//! [`DnsSrvInstancer`] asks a DNS server (its address and port are yours
//! to choose: the system's resolver is not involved) for a name's SRV
//! records at a fixed interval; the instances are the records' targets,
//! resolved to addresses by the same server, with their ports, sorted.
//! When a lookup fails (no answer, no such name, an answer with no
//! records), subscribers get the error and the last good set stays, as Go
//! kit's `dnssrv` does.
//!
//! Go kit leaves each target as a name (`host.example.:8080`) for the
//! system resolver to resolve at dial time; here the server that answered
//! the SRV query resolves it too, so a private DNS server that the system
//! does not ask still gives dialable instances. A target with no address
//! record stays a name.
//!
//! DNS messages are read and written with the `simple-dns` crate.
//!
//! ```no_run
//! use std::time::Duration;
//! use synkit_core::sd::Instancer;
//! use synkit_transports::sd::dnssrv::{DnsSrvInstancer, Resolver};
//!
//! let resolver = Resolver::new("127.0.0.1:5353".parse()?, Duration::from_secs(1));
//! let instancer = DnsSrvInstancer::new(resolver, "_http._tcp.stringsvc.test", Duration::from_secs(5));
//! println!("{:?}", instancer.state().instances);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod instancer;
mod lookup;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use instancer::DnsSrvInstancer;
pub use lookup::Resolver;

use synkit_core::sd::DiscoveryError;

/// Why an SRV lookup gave no instances.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsError {
    /// The server did not answer in time.
    Timeout(SocketAddr, Duration),
    /// The name does not exist (NXDOMAIN).
    NoSuchName(String),
    /// The name exists but has no SRV records.
    NoRecords(String),
    /// A record gives port 0 (Go kit's `ErrPortZero`).
    PortZero(String),
    /// The server refused or failed (its response code).
    Refused(String, String),
    /// The name cannot be put in a query.
    BadName(String),
    /// The answer could not be read.
    Malformed(String),
    /// The socket failed.
    Io(SocketAddr, String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Timeout(server, after) => {
                write!(f, "DNS server {server} did not answer within {after:?}")
            }
            DnsError::NoSuchName(name) => write!(f, "no such name: {name}"),
            DnsError::NoRecords(name) => write!(f, "{name} has no SRV records"),
            DnsError::PortZero(name) => write!(f, "an SRV record of {name} gives port 0"),
            DnsError::Refused(name, code) => write!(f, "the DNS server answered {code} for {name}"),
            DnsError::BadName(name) => write!(f, "{name:?} is not a DNS name"),
            DnsError::Malformed(why) => write!(f, "the DNS answer makes no sense: {why}"),
            DnsError::Io(server, why) => write!(f, "cannot ask DNS server {server}: {why}"),
        }
    }
}

impl std::error::Error for DnsError {}

impl From<DnsError> for DiscoveryError {
    fn from(e: DnsError) -> DiscoveryError {
        DiscoveryError::new(e)
    }
}
