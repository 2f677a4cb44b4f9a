//! Go kit's `sd.FixedInstancer`: a set that never changes.

use alloc::string::String;
use alloc::sync::Arc;

use super::{Event, Instancer, Subscriber};

/// A set of instances that never changes: Go kit's `sd.FixedInstancer`,
/// for a static list (a `--proxy a,b,c` flag, a config file).
///
/// ```
/// use synkit_core::sd::{FixedInstancer, Instancer};
///
/// let fixed = FixedInstancer::new(["10.0.0.2:80", "10.0.0.1:80"]);
/// assert_eq!(&*fixed.state().instances, ["10.0.0.1:80", "10.0.0.2:80"]);
/// ```
#[derive(Clone, Debug)]
pub struct FixedInstancer {
    event: Event,
}

impl FixedInstancer {
    /// The set `instances`, sorted and without duplicates.
    pub fn new<I>(instances: I) -> FixedInstancer
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut list: alloc::vec::Vec<String> = instances.into_iter().map(Into::into).collect();
        list.sort_unstable();
        list.dedup();
        FixedInstancer {
            event: Event {
                instances: Arc::from(list),
                err: None,
            },
        }
    }
}

impl Instancer for FixedInstancer {
    fn register(&self, subscriber: Arc<dyn Subscriber>) {
        subscriber.update(&self.event);
    }

    fn deregister(&self, _: &Arc<dyn Subscriber>) {}

    fn state(&self) -> Event {
        self.event.clone()
    }
}
