//! What a peer's SETTINGS tell us (RFC 9113 §6.5.2), checked as they
//! arrive: one set of rules for both ends of a connection.

use super::frame::{Error, ErrorCode, Params, setting};

/// HTTP/2's flow-control window before SETTINGS say otherwise.
pub(crate) const DEFAULT_WINDOW: i64 = 65_535;
/// The largest window flow control allows.
pub(crate) const MAX_WINDOW: i64 = (1 << 31) - 1;
/// The smallest frame every peer must take, and the default.
pub(crate) const DEFAULT_MAX_FRAME: usize = 16_384;
/// The largest frame size a peer may announce.
const LARGEST_MAX_FRAME: u32 = (1 << 24) - 1;

/// The peer's settings in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerSettings {
    /// The window each new stream starts with for our sending.
    pub(crate) initial_window: i64,
    /// The largest frame payload we may send.
    pub(crate) max_frame: usize,
    /// How many streams we may open at once; unbounded until said.
    pub(crate) max_concurrent_streams: Option<u32>,
    /// The largest header list the peer takes, if it said.
    pub(crate) max_header_list: Option<u32>,
    /// Whether the peer takes `PUSH_PROMISE` (a client may say no).
    pub(crate) push: bool,
}

impl Default for PeerSettings {
    fn default() -> PeerSettings {
        PeerSettings {
            initial_window: DEFAULT_WINDOW,
            max_frame: DEFAULT_MAX_FRAME,
            max_concurrent_streams: None,
            max_header_list: None,
            push: true,
        }
    }
}

impl PeerSettings {
    /// Takes in one SETTINGS frame's parameters, in order, each checked;
    /// returns how far every open stream's send window moves (the change
    /// of `SETTINGS_INITIAL_WINDOW_SIZE`, §6.9.2). A value out of its range
    /// is the connection error the RFC names; unknown parameters are
    /// ignored (§6.5.2).
    pub(crate) fn apply(&mut self, params: Params<'_>) -> Result<i64, Error> {
        let before = self.initial_window;
        for (id, value) in params.iter() {
            match id {
                setting::ENABLE_PUSH => {
                    if value > 1 {
                        return Err(Error::Connection(
                            ErrorCode::ProtocolError,
                            "ENABLE_PUSH past 1",
                        ));
                    }
                    self.push = value == 1;
                }
                setting::INITIAL_WINDOW_SIZE => {
                    if i64::from(value) > MAX_WINDOW {
                        return Err(Error::Connection(
                            ErrorCode::FlowControlError,
                            "INITIAL_WINDOW_SIZE past 2^31-1",
                        ));
                    }
                    self.initial_window = i64::from(value);
                }
                setting::MAX_FRAME_SIZE => {
                    if !(16_384..=LARGEST_MAX_FRAME).contains(&value) {
                        return Err(Error::Connection(
                            ErrorCode::ProtocolError,
                            "MAX_FRAME_SIZE out of its range",
                        ));
                    }
                    self.max_frame = usize::try_from(value).unwrap_or(DEFAULT_MAX_FRAME);
                }
                setting::MAX_CONCURRENT_STREAMS => self.max_concurrent_streams = Some(value),
                setting::MAX_HEADER_LIST_SIZE => self.max_header_list = Some(value),
                // Our encoder keeps no dynamic table: its size is moot.
                _ => {}
            }
        }
        Ok(self.initial_window - before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::{self, Frame, Head, kind};

    fn params(list: &[(u16, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::put_settings(&mut out, list);
        out
    }

    fn apply(peer: &mut PeerSettings, list: &[(u16, u32)]) -> Result<i64, Error> {
        let bytes = params(list);
        let head = Head {
            len: bytes.len() - 9,
            kind: kind::SETTINGS,
            flags: 0,
            stream: 0,
        };
        let Ok(Frame::Settings { params, .. }) = Frame::decode(head, &bytes[9..]) else {
            panic!("not SETTINGS");
        };
        peer.apply(params)
    }

    #[test]
    fn settings_in_range_apply_and_move_the_stream_windows() {
        let mut peer = PeerSettings::default();
        let moved = apply(
            &mut peer,
            &[
                (setting::INITIAL_WINDOW_SIZE, 1 << 20),
                (setting::MAX_FRAME_SIZE, 1 << 20),
                (setting::MAX_CONCURRENT_STREAMS, 7),
                (setting::ENABLE_PUSH, 0),
                (0xfe, 9),
            ],
        );
        assert_eq!(moved, Ok((1 << 20) - DEFAULT_WINDOW));
        assert_eq!(peer.max_frame, 1 << 20);
        assert_eq!(peer.max_concurrent_streams, Some(7));
        assert!(!peer.push);
        assert_eq!(
            apply(&mut peer, &[(setting::INITIAL_WINDOW_SIZE, 0)]),
            Ok(-(1 << 20))
        );
    }

    #[test]
    fn settings_out_of_range_are_connection_errors() {
        for (id, value, code) in [
            (setting::MAX_FRAME_SIZE, 0, ErrorCode::ProtocolError),
            (setting::MAX_FRAME_SIZE, 16_383, ErrorCode::ProtocolError),
            (setting::MAX_FRAME_SIZE, 1 << 24, ErrorCode::ProtocolError),
            (
                setting::INITIAL_WINDOW_SIZE,
                1 << 31,
                ErrorCode::FlowControlError,
            ),
            (setting::ENABLE_PUSH, 2, ErrorCode::ProtocolError),
        ] {
            let mut peer = PeerSettings::default();
            assert!(
                matches!(apply(&mut peer, &[(id, value)]), Err(Error::Connection(c, _)) if c == code),
                "{id} = {value}"
            );
        }
    }
}
