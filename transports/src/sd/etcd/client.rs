//! The calls synkit makes to etcd's v3 JSON gateway.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::EtcdError;
use super::wire::{
    B64, DeleteRequest, GrantRequest, GrantResponse, I64, KeepAliveMessage, LeaseRequest,
    PutRequest, RangeRequest, RangeResponse, Status, WatchCreate, WatchMessage, WatchRequest,
    prefix_end,
};

/// The longest reply body read from the gateway (a range over a prefix of
/// a few thousand instances fits many times over).
const MAX_REPLY: u64 = 16 * 1024 * 1024;

/// How a [`Client`] talks to etcd. Every default is what a service on a
/// local network wants; each says why.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Time to connect to an etcd member. Default 1 s: a member that takes
    /// longer is better skipped for the next.
    pub connect_timeout: Duration,
    /// Time for one whole request and reply (not a watch). Default 5 s.
    pub request_timeout: Duration,
    /// How long a watch may stay silent before it is re-armed from the
    /// last revision seen. Default 2 s: it bounds how long a dead peer
    /// that sent no FIN goes unnoticed, and how long an instancer's thread
    /// outlives [`stop`](synkit_core::sd::Instancer::stop). Re-arming loses
    /// nothing.
    pub watch_idle: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            watch_idle: Duration::from_secs(2),
        }
    }
}

/// A client of etcd v3's JSON gateway (`/v3/kv/*`, `/v3/lease/*`,
/// `/v3/watch`): the part of Go kit's `etcdv3.Client` that discovery and
/// registration need, over ureq.
///
/// Given several member URLs, it sends each request to the member that
/// last answered and moves on to the next when one cannot be reached.
#[derive(Debug)]
pub struct Client {
    members: Vec<String>,
    current: AtomicUsize,
    agent: ureq::Agent,
    options: ClientOptions,
}

/// What a range read found: the values under a prefix, by key, and the
/// store's revision when it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    /// `(key, value)` pairs in key order.
    pub kvs: Vec<(String, String)>,
    /// The revision the read saw: watch from the one after it.
    pub revision: i64,
}

/// A granted lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease's ID.
    pub id: i64,
    /// Its time to live, in seconds, as etcd granted it.
    pub ttl: i64,
}

/// What a watch said, one message at a time.
#[derive(Debug)]
pub(super) enum WatchNews {
    /// Keys changed at `revision`.
    Changes {
        revision: i64,
        puts: Vec<(String, String)>,
        deletes: Vec<String>,
    },
    /// The watch is set up (or etcd said something with no changes in it).
    Nothing,
    /// etcd ended the watch: the revision asked for was compacted, or
    /// another reason. Resync by range.
    Canceled(String),
}

impl Client {
    /// A client of the etcd members at `urls` (`http://host:port`).
    pub fn new<I>(urls: I) -> Client
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Client::with_options(urls, ClientOptions::default())
    }

    /// As [`new`](Self::new), with `options`.
    pub fn with_options<I>(urls: I, options: ClientOptions) -> Client
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let members = urls
            .into_iter()
            .map(|u| u.into().trim_end_matches('/').to_owned())
            .collect();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.connect_timeout))
            .build()
            .into();
        Client {
            members,
            current: AtomicUsize::new(0),
            agent,
            options,
        }
    }

    /// The options the client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Every key under `prefix` with its value: Go kit's `GetEntries`,
    /// with the revision read.
    pub fn entries(&self, prefix: &str) -> Result<Entries, EtcdError> {
        let reply: RangeResponse = self.call(
            "/v3/kv/range",
            &RangeRequest {
                key: B64(prefix.as_bytes().to_vec()),
                range_end: B64(prefix_end(prefix.as_bytes())),
            },
        )?;
        let mut kvs = Vec::with_capacity(reply.kvs.len());
        for kv in reply.kvs {
            kvs.push((text(kv.key.0)?, text(kv.value.0)?));
        }
        Ok(Entries {
            kvs,
            revision: reply.header.revision.0,
        })
    }

    /// Writes `key = value`, attached to `lease` if given.
    pub fn put(&self, key: &str, value: &str, lease: Option<i64>) -> Result<(), EtcdError> {
        let _: serde::de::IgnoredAny = self.call(
            "/v3/kv/put",
            &PutRequest {
                key: B64(key.as_bytes().to_vec()),
                value: B64(value.as_bytes().to_vec()),
                lease: I64(lease.unwrap_or(0)),
            },
        )?;
        Ok(())
    }

    /// Deletes `key` (nothing if it is not there).
    pub fn delete(&self, key: &str) -> Result<(), EtcdError> {
        let _: serde::de::IgnoredAny = self.call(
            "/v3/kv/deleterange",
            &DeleteRequest {
                key: B64(key.as_bytes().to_vec()),
            },
        )?;
        Ok(())
    }

    /// A new lease that lives `ttl` seconds unless kept alive.
    pub fn grant(&self, ttl: i64) -> Result<Lease, EtcdError> {
        let reply: GrantResponse = self.call("/v3/lease/grant", &GrantRequest { ttl: I64(ttl) })?;
        if reply.id.0 == 0 {
            return Err(EtcdError::Malformed("lease grant without an ID".into()));
        }
        Ok(Lease {
            id: reply.id.0,
            ttl: reply.ttl.0,
        })
    }

    /// Renews lease `id` once; [`EtcdError::LeaseExpired`] if etcd no
    /// longer has it.
    pub fn keep_alive(&self, id: i64) -> Result<i64, EtcdError> {
        let reply: KeepAliveMessage =
            self.call("/v3/lease/keepalive", &LeaseRequest { id: I64(id) })?;
        if let Some(message) = reply.status.message() {
            return Err(EtcdError::Status(message.to_owned()));
        }
        match reply.result {
            Some(r) if r.ttl.0 > 0 => Ok(r.ttl.0),
            Some(_) => Err(EtcdError::LeaseExpired(id)),
            None => Err(EtcdError::Malformed(
                "keepalive reply without a result".into(),
            )),
        }
    }

    /// Revokes lease `id`, deleting every key attached to it.
    pub fn revoke(&self, id: i64) -> Result<(), EtcdError> {
        let _: serde::de::IgnoredAny =
            self.call("/v3/lease/revoke", &LeaseRequest { id: I64(id) })?;
        Ok(())
    }

    /// Watches every key under `prefix` from revision `from`, handing each
    /// message to `news` until it says stop (`false`), the stream ends, or
    /// it is silent for [`ClientOptions::watch_idle`] (`Ok(true)`: re-arm).
    pub(super) fn watch(
        &self,
        prefix: &str,
        from: i64,
        mut news: impl FnMut(WatchNews) -> bool,
    ) -> Result<bool, EtcdError> {
        let body = serde_json::to_vec(&WatchRequest {
            create_request: WatchCreate {
                key: B64(prefix.as_bytes().to_vec()),
                range_end: B64(prefix_end(prefix.as_bytes())),
                start_revision: I64(from),
            },
        })
        .map_err(|e| EtcdError::Malformed(e.to_string()))?;
        let (reply, _) = self.send("/v3/watch", &body, true)?;
        let mut lines = BufReader::new(reply.into_body().into_reader().take(u64::MAX));
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.by_ref().take(MAX_REPLY).read_until(b'\n', &mut line) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Ok(true),
                Err(e) => return Err(EtcdError::Unreachable(e.to_string())),
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let message: WatchMessage = serde_json::from_slice(&line)
                .map_err(|e| EtcdError::Malformed(format!("watch message: {e}")))?;
            if !news(decode_watch(message)?) {
                return Ok(false);
            }
        }
    }

    /// POSTs `request` to `path` and decodes the reply as `T`.
    fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        request: &impl Serialize,
    ) -> Result<T, EtcdError> {
        let body = serde_json::to_vec(request).map_err(|e| EtcdError::Malformed(e.to_string()))?;
        let (mut reply, status) = self.send(path, &body, false)?;
        let bytes = reply
            .body_mut()
            .with_config()
            .limit(MAX_REPLY)
            .read_to_vec()
            .map_err(|e| EtcdError::Unreachable(e.to_string()))?;
        if status != 200 {
            let said: Status = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(match said.message() {
                Some(m) => EtcdError::Status(m.to_owned()),
                None => EtcdError::Malformed(format!("HTTP {status} from {path}")),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| EtcdError::Malformed(format!("{path} reply: {e}")))
    }

    /// Sends to the current member, moving on to the others when one cannot
    /// be reached.
    fn send(
        &self,
        path: &str,
        body: &[u8],
        watch: bool,
    ) -> Result<(ureq::http::Response<ureq::Body>, u16), EtcdError> {
        if self.members.is_empty() {
            return Err(EtcdError::Unreachable("no etcd member URL given".into()));
        }
        let start = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for step in 0..self.members.len() {
            let at = (start + step) % self.members.len();
            let url = format!("{}{path}", self.members[at]);
            let request = self.agent.post(&url).content_type("application/json");
            let request = if watch {
                request
                    .config()
                    .timeout_per_read(Some(self.options.watch_idle))
                    .build()
            } else {
                request
                    .config()
                    .timeout_global(Some(self.options.request_timeout))
                    .build()
            };
            match request.send(body) {
                Ok(reply) => {
                    self.current.store(at, Ordering::Relaxed);
                    let status = reply.status().as_u16();
                    return Ok((reply, status));
                }
                Err(e) => last = Some(format!("{url}: {e}")),
            }
        }
        Err(EtcdError::Unreachable(last.unwrap_or_default()))
    }
}

fn decode_watch(message: WatchMessage) -> Result<WatchNews, EtcdError> {
    let Some(result) = message.result else {
        return Err(match message.status.message() {
            Some(m) => EtcdError::Status(m.to_owned()),
            None => EtcdError::Malformed("watch message without a result".into()),
        });
    };
    if result.canceled {
        let why = if result.compact_revision.0 > 0 {
            format!(
                "revision compacted (oldest kept {})",
                result.compact_revision.0
            )
        } else if result.cancel_reason.is_empty() {
            "canceled by etcd".to_owned()
        } else {
            result.cancel_reason
        };
        return Ok(WatchNews::Canceled(why));
    }
    if result.events.is_empty() {
        return Ok(WatchNews::Nothing);
    }
    let mut revision = 0;
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    for event in result.events {
        revision = revision.max(event.kv.mod_revision.0);
        let key = text(event.kv.key.0)?;
        match event.kind {
            super::wire::EventKind::Put => puts.push((key, text(event.kv.value.0)?)),
            super::wire::EventKind::Delete => deletes.push(key),
        }
    }
    Ok(WatchNews::Changes {
        revision,
        puts,
        deletes,
    })
}

fn text(bytes: Vec<u8>) -> Result<String, EtcdError> {
    String::from_utf8(bytes).map_err(|_| EtcdError::Malformed("a key or value is not UTF-8".into()))
}

fn is_timeout(e: &std::io::Error) -> bool {
    if matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) {
        return true;
    }
    // ureq wraps its own timeouts in an io::Error of kind Other.
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
        .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}
