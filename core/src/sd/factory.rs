//! Go kit's `sd.Factory`: an endpoint for an instance string.

use super::DiscoveryError;

/// Makes the endpoint that calls one instance, and closes it when the
/// instance leaves: Go kit's `sd.Factory` with its `io.Closer`.
///
/// A closure `Fn(&str) -> Result<E, DiscoveryError>` is a factory whose
/// endpoints need no closing beyond being dropped. An endpoint is made once
/// per instance and shared by every call; [`close`](Self::close) is called
/// when its instance leaves the set (calls already holding it finish
/// first: the endpoint is dropped after the last of them).
pub trait Factory {
    /// The endpoint made for each instance.
    type Endpoint;

    /// The endpoint for `instance`; an instance whose endpoint cannot be
    /// made is left out of the set until the set next changes.
    fn make(&self, instance: &str) -> Result<Self::Endpoint, DiscoveryError>;

    /// `instance` has left the set. Default: nothing.
    fn close(&self, instance: &str, endpoint: &Self::Endpoint) {
        let _ = (instance, endpoint);
    }
}

impl<E, F: Fn(&str) -> Result<E, DiscoveryError>> Factory for F {
    type Endpoint = E;

    fn make(&self, instance: &str) -> Result<E, DiscoveryError> {
        self(instance)
    }
}
