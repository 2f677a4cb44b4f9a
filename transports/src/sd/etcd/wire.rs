//! The JSON shapes of etcd's v3 gateway: protobuf messages as grpc-gateway
//! prints them, so bytes are base64 and 64-bit integers are strings.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes, base64 on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct B64(pub(super) Vec<u8>);

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(B64)
            .map_err(serde::de::Error::custom)
    }
}

/// An int64: a string on the wire (a number is taken too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct I64(pub(super) i64);

impl Serialize for I64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for I64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Text(std::borrow::Cow<'a, str>),
            Number(i64),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(I64(n)),
            Either::Text(t) => t.parse().map(I64).map_err(serde::de::Error::custom),
        }
    }
}

/// The end of the range of every key starting with `prefix`: the prefix
/// with its last byte below 0xff incremented (etcd's `GetPrefixRangeEnd`).
pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte 0xff (or empty): to the end of the keyspace.
    vec![0]
}

#[derive(Serialize)]
pub(super) struct RangeRequest {
    pub(super) key: B64,
    pub(super) range_end: B64,
}

#[derive(Serialize)]
pub(super) struct PutRequest {
    pub(super) key: B64,
    pub(super) value: B64,
    #[serde(skip_serializing_if = "is_zero")]
    pub(super) lease: I64,
}

#[derive(Serialize)]
pub(super) struct DeleteRequest {
    pub(super) key: B64,
}

#[derive(Serialize)]
pub(super) struct GrantRequest {
    #[serde(rename = "TTL")]
    pub(super) ttl: I64,
}

#[derive(Serialize)]
pub(super) struct LeaseRequest {
    #[serde(rename = "ID")]
    pub(super) id: I64,
}

#[derive(Serialize)]
pub(super) struct WatchRequest {
    pub(super) create_request: WatchCreate,
}

#[derive(Serialize)]
pub(super) struct WatchCreate {
    pub(super) key: B64,
    pub(super) range_end: B64,
    pub(super) start_revision: I64,
}

// serde's `skip_serializing_if` hands a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &I64) -> bool {
    n.0 == 0
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Header {
    #[serde(default)]
    pub(super) revision: I64,
}

#[derive(Debug, Deserialize)]
pub(super) struct Kv {
    pub(super) key: B64,
    #[serde(default)]
    pub(super) value: B64,
    #[serde(default)]
    pub(super) mod_revision: I64,
}

#[derive(Debug, Deserialize)]
pub(super) struct RangeResponse {
    pub(super) header: Header,
    #[serde(default)]
    pub(super) kvs: Vec<Kv>,
}

#[derive(Debug, Deserialize)]
pub(super) struct GrantResponse {
    #[serde(rename = "ID")]
    pub(super) id: I64,
    #[serde(rename = "TTL")]
    pub(super) ttl: I64,
}

/// `lease/keepalive` is a stream of one message here, wrapped in `result`.
#[derive(Debug, Deserialize)]
pub(super) struct KeepAliveMessage {
    pub(super) result: Option<KeepAliveResult>,
    #[serde(flatten)]
    pub(super) status: Status,
}

#[derive(Debug, Deserialize)]
pub(super) struct KeepAliveResult {
    /// Zero (absent) when the lease no longer exists.
    #[serde(rename = "TTL", default)]
    pub(super) ttl: I64,
}

/// One message of the `watch` stream.
#[derive(Debug, Deserialize)]
pub(super) struct WatchMessage {
    pub(super) result: Option<WatchResult>,
    #[serde(flatten)]
    pub(super) status: Status,
}

#[derive(Debug, Deserialize)]
pub(super) struct WatchResult {
    #[serde(default)]
    pub(super) canceled: bool,
    #[serde(default)]
    pub(super) compact_revision: I64,
    #[serde(default)]
    pub(super) cancel_reason: String,
    #[serde(default)]
    pub(super) events: Vec<WatchEvent>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WatchEvent {
    /// `PUT` is protobuf's zero value, so it is absent.
    #[serde(rename = "type", default)]
    pub(super) kind: EventKind,
    pub(super) kv: Kv,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
pub(super) enum EventKind {
    #[default]
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "DELETE")]
    Delete,
}

/// The gateway's error shape: `{"error": …, "message": …, "code": n}`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Status {
    #[serde(default)]
    pub(super) message: Option<String>,
    #[serde(default)]
    pub(super) error: Option<String>,
}

impl Status {
    /// The error this says, if it says one.
    pub(super) fn message(&self) -> Option<&str> {
        self.message.as_deref().or(self.error.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_reply_as_etcd_prints_it_decodes() {
        let text = r#"{"header":{"cluster_id":"3249","member_id":"33","revision":"2","raft_term":"2"},
            "kvs":[{"key":"L3NlcnZpY2VzL3gvYTox","create_revision":"2","mod_revision":"2","version":"1","value":"YTox"}],"count":"1"}"#;
        let r: RangeResponse = serde_json::from_str(text).unwrap();
        assert_eq!(r.header.revision, I64(2));
        assert_eq!(r.kvs[0].key.0, b"/services/x/a:1");
        assert_eq!(r.kvs[0].value.0, b"a:1");
        // No keys: no `kvs` at all.
        let r: RangeResponse = serde_json::from_str(r#"{"header":{"revision":"9"}}"#).unwrap();
        assert!(r.kvs.is_empty());
    }

    #[test]
    fn a_delete_event_has_a_type_and_a_put_has_none() {
        let text = r#"{"result":{"header":{"revision":"4"},"events":[
            {"kv":{"key":"YQ==","mod_revision":"3","value":"Yg=="}},
            {"type":"DELETE","kv":{"key":"YQ==","mod_revision":"4"}}]}}"#;
        let m: WatchMessage = serde_json::from_str(text).unwrap();
        let events = m.result.unwrap().events;
        assert_eq!(events[0].kind, EventKind::Put);
        assert_eq!(events[1].kind, EventKind::Delete);
        assert!(events[1].kv.value.0.is_empty());
    }

    #[test]
    fn requests_print_bytes_as_base64_and_int64s_as_strings() {
        let put = PutRequest {
            key: B64(b"/k".to_vec()),
            value: B64(b"v".to_vec()),
            lease: I64(7),
        };
        assert_eq!(
            serde_json::to_string(&put).unwrap(),
            r#"{"key":"L2s=","value":"dg==","lease":"7"}"#
        );
    }

    #[test]
    fn garbage_is_refused_not_misread() {
        assert!(serde_json::from_str::<RangeResponse>(r#"{"header":{"revision":"x"}}"#).is_err());
        assert!(serde_json::from_str::<RangeResponse>(r#"{"kvs":[{"key":"%%"}]}"#).is_err());
        assert!(serde_json::from_str::<RangeResponse>("<html>").is_err());
    }

    #[test]
    fn a_prefix_ends_where_etcd_says() {
        assert_eq!(prefix_end(b"/services/x/"), b"/services/x0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), [0]);
    }
}
