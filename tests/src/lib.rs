//! What synkit's integration tests share: chiefly a counting global
//! allocator, so a test can prove a call path allocates nothing.
//!
//! Linking this crate installs [`CountingAllocator`] as the global allocator
//! of the test binary. It forwards to the system allocator and counts, per
//! thread, every allocation and reallocation, so tests running in parallel on
//! the test harness's threads do not see each other's allocations.
//!
//! [`wire`] talks to servers over raw sockets for the HTTP tests; [`gokit`]
//! builds and runs the Go kit peers; [`grpcio`] runs Python's gRPC; [`h2`] writes raw HTTP/2; [`proc`] reads threads' CPU time;
//! [`registry`] runs etcd and dnsmasq for the service-discovery tests.
//!
//! ```
//! use synkit_tests::{allocations_during, assert_no_alloc};
//!
//! assert_no_alloc(|| 2 + 2);
//! assert_eq!(allocations_during(|| Box::new(7)).0, 1);
//! ```

mod alloc_counter;
pub mod examples;
pub mod gokit;
pub mod grpcio;
pub mod h2;
pub mod nats;
pub mod proc;
pub mod registry;
pub mod wire;
pub mod zipkin;

pub use alloc_counter::{
    CountingAllocator, allocations_during, assert_no_alloc, process_allocations,
};
