//! The messages of the agent ↔ controller protocol, version [`PROTOCOL`]
//! (docs/protocol.md): one JSON object per WebSocket text frame, its kind in `type`.
//!
//! Decoding is bounded: a frame over [`MAX_FRAME`] bytes is refused before it is
//! parsed, and so is anything that is not exactly one message of a known kind (fields
//! it does not know are ignored: a later version may add some). The token never
//! travels in a message (it is in the WebSocket handshake's `Authorization` header).

use crate::records::{CollectError, Host, Summary};
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL: u32 = 1;

/// The largest frame either side accepts (1 MiB); a peer that sends more is
/// disconnected with [`Close::TooBig`].
pub const MAX_FRAME: usize = 1 << 20;

/// What the agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AgentMessage {
    /// First message of every connection.
    #[serde(rename_all = "camelCase")]
    Hello {
        protocol: u32,
        agent: AgentInfo,
        /// What this agent can do (`scan`, `collect:snmp`, `diagnose`, ...).
        capabilities: Vec<String>,
        /// Operations whose results are not all acknowledged yet, with the last
        /// sequence number sent: the controller says where to resume.
        #[serde(default)]
        unacknowledged: Vec<OperationCursor>,
    },
    /// An operation was taken (queued or running).
    #[serde(rename_all = "camelCase")]
    Accepted { op: String, running: bool },
    /// An operation was refused (the queue is full, a parameter is wrong).
    #[serde(rename_all = "camelCase")]
    Refused { op: String, error: CollectError },
    /// How far an operation has come.
    #[serde(rename_all = "camelCase")]
    Progress {
        op: String,
        probed: u64,
        total: u64,
        up: u64,
    },
    /// Result records of an operation, chunk `seq` (1, 2, ...); resent until
    /// acknowledged, stored once by (op, seq).
    #[serde(rename_all = "camelCase")]
    Records {
        op: String,
        seq: u64,
        hosts: Vec<Host>,
    },
    /// The operation ended. `seq` is this message's own number, after its last
    /// records chunk (chunks are 1..seq-1); it is spooled, resent and acknowledged
    /// like a chunk.
    #[serde(rename_all = "camelCase")]
    Done {
        op: String,
        seq: u64,
        summary: Summary,
    },
    /// The operation ended in error (cancelled, interrupted by a restart, failed);
    /// numbered like [`AgentMessage::Done`].
    #[serde(rename_all = "camelCase")]
    Failed {
        op: String,
        seq: u64,
        error: CollectError,
    },
    /// Sent every heartbeatInterval; answered by [`ControllerMessage::Heartbeat`].
    #[serde(rename_all = "camelCase")]
    Heartbeat { seq: u64 },
}

/// Who the agent is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    /// `connect.name`.
    pub name: String,
    /// ksocket's version.
    pub version: String,
    /// The target triple it was built for.
    pub target: String,
    /// Made at the agent's first start and kept: the same agent coming back takes
    /// its slot over; another one is refused while the slot's lease lives.
    pub instance: String,
}

/// An operation and the last sequence number of its results sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCursor {
    pub op: String,
    pub last_seq: u64,
}

/// What the controller sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ControllerMessage {
    /// The answer to `hello`: the slot is the agent's.
    #[serde(rename_all = "camelCase")]
    Welcome {
        protocol: u32,
        /// The capabilities of the agent the controller will use.
        capabilities: Vec<String>,
        /// For each unacknowledged operation of `hello`, the last sequence number
        /// stored: the agent resends what follows.
        #[serde(default)]
        stored: Vec<OperationCursor>,
    },
    /// Run this operation. An `id` seen before is answered from what is running or
    /// done, never run twice.
    #[serde(rename_all = "camelCase")]
    Operation { id: String, operation: Operation },
    /// Stop an operation (its results so far are kept).
    #[serde(rename_all = "camelCase")]
    Cancel { op: String },
    /// Chunks of `op` up to `seq` are stored: the agent may forget them.
    #[serde(rename_all = "camelCase")]
    Ack { op: String, seq: u64 },
    /// The answer to the agent's heartbeat.
    #[serde(rename_all = "camelCase")]
    Heartbeat { seq: u64 },
}

/// An operation, with the same options as the command line's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Operation {
    /// `ksocket scan [TARGET...]` with its options.
    #[serde(rename_all = "camelCase")]
    Scan {
        #[serde(default)]
        targets: Vec<String>,
        #[serde(default)]
        excludes: Vec<String>,
        #[serde(default)]
        details: Option<bool>,
        #[serde(default)]
        ports: Option<Vec<u16>>,
        #[serde(default)]
        rate: Option<u32>,
        /// Look up host names (default: yes); `false` is `--no-names`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        names: Option<bool>,
        /// Sweep the live hosts' ports and read their banners (default: yes); `false`
        /// is `--no-ports`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sweep: Option<bool>,
    },
    /// Details of named hosts with the named protocols (`snmp`, later `ssh`, ...).
    #[serde(rename_all = "camelCase")]
    Collect {
        hosts: Vec<String>,
        protocols: Vec<String>,
    },
    /// `ksocket diagnostics` (system and config).
    Diagnose,
}

/// Why a connection was closed (the WebSocket close code and reason). Codes of 4100
/// and up are permanent: retrying cannot fix them, and the agent stops with its
/// documented exit code instead of reconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// 4000: a message was not understood (a protocol error).
    Protocol,
    /// 4001: a frame over [`MAX_FRAME`].
    TooBig,
    /// 4002: the same agent connected again elsewhere (this connection is stale).
    Replaced,
    /// 4100: the token is not known.
    BadToken,
    /// 4101: the token was revoked.
    Revoked,
    /// 4102: another agent instance holds the token's slot.
    SlotTaken,
    /// 4103: the protocol version is not spoken.
    Version,
}

impl Close {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Close::Protocol => 4000,
            Close::TooBig => 4001,
            Close::Replaced => 4002,
            Close::BadToken => 4100,
            Close::Revoked => 4101,
            Close::SlotTaken => 4102,
            Close::Version => 4103,
        }
    }

    /// The close of a WebSocket close code, if it is one of ours.
    pub fn from_code(c: u16) -> Option<Close> {
        [
            Close::Protocol,
            Close::TooBig,
            Close::Replaced,
            Close::BadToken,
            Close::Revoked,
            Close::SlotTaken,
            Close::Version,
        ]
        .into_iter()
        .find(|x| x.code() == c)
    }

    /// Whether reconnecting cannot help.
    pub fn is_permanent(self) -> bool {
        self.code() >= 4100
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Over [`MAX_FRAME`] bytes: not parsed at all.
    TooBig(usize),
    /// Not one message of a known kind; the parser's reason (it never quotes a value
    /// longer than serde's own short excerpt).
    Invalid(String),
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::TooBig(n) => write!(f, "a frame of {n} bytes, over the {MAX_FRAME} limit"),
            DecodeError::Invalid(why) => write!(f, "not a message of the protocol: {why}"),
        }
    }
}

/// Decodes one frame, bounded by [`MAX_FRAME`].
pub fn decode<'a, M: Deserialize<'a>>(frame: &'a [u8]) -> Result<M, DecodeError> {
    if frame.len() > MAX_FRAME {
        return Err(DecodeError::TooBig(frame.len()));
    }
    serde_json::from_slice(frame).map_err(|e| DecodeError::Invalid(e.to_string()))
}

/// Encodes one message.
pub fn encode<M: Serialize>(m: &M) -> Vec<u8> {
    // Serializing these types cannot fail (no maps with non-string keys, no floats
    // that are not finite are produced by the agent).
    serde_json::to_vec(m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ErrorKind, SCHEMA};

    fn summary() -> Summary {
        Summary {
            schema: SCHEMA,
            hosts: 1,
            probed: 256,
            sent: 310,
            retries: Some(54),
            retried: 54,
            no_route: 0,
            unprivileged: false,
            discovery_seconds: 0.2,
            details: vec![],
            checks: Vec::new(),
        }
    }

    #[test]
    fn every_message_round_trips() {
        let agent = [
            AgentMessage::Hello {
                protocol: PROTOCOL,
                agent: AgentInfo {
                    name: "edge-1".into(),
                    version: "0.1.0".into(),
                    target: "armv7-unknown-linux-musleabihf".into(),
                    instance: "6f1c0d1e".into(),
                },
                capabilities: vec!["scan".into(), "collect:snmp".into()],
                unacknowledged: vec![OperationCursor {
                    op: "op-7".into(),
                    last_seq: 3,
                }],
            },
            AgentMessage::Accepted {
                op: "op-8".into(),
                running: false,
            },
            AgentMessage::Records {
                op: "op-8".into(),
                seq: 1,
                hosts: vec![crate::records::Host::new(std::net::Ipv4Addr::new(
                    198, 18, 0, 7,
                ))],
            },
            AgentMessage::Done {
                op: "op-8".into(),
                seq: 2,
                summary: summary(),
            },
            AgentMessage::Failed {
                op: "op-9".into(),
                seq: 1,
                error: CollectError {
                    kind: ErrorKind::Refused,
                    message: "the queue is full (100 operations)".into(),
                },
            },
            AgentMessage::Heartbeat { seq: 12 },
        ];
        for m in agent {
            let back: AgentMessage = decode(&encode(&m)).unwrap();
            assert_eq!(back, m);
        }
        let controller = [
            ControllerMessage::Operation {
                id: "op-8".into(),
                operation: Operation::Scan {
                    targets: vec!["198.18.0.0/24".into()],
                    excludes: vec![],
                    details: Some(true),
                    ports: None,
                    rate: None,
                    names: Some(false),
                    sweep: Some(false),
                },
            },
            ControllerMessage::Operation {
                id: "op-10".into(),
                operation: Operation::Diagnose,
            },
            ControllerMessage::Ack {
                op: "op-8".into(),
                seq: 1,
            },
        ];
        for m in controller {
            let back: ControllerMessage = decode(&encode(&m)).unwrap();
            assert_eq!(back, m);
        }
        let j = String::from_utf8(encode(&ControllerMessage::Cancel { op: "x".into() })).unwrap();
        assert_eq!(j, r#"{"type":"cancel","op":"x"}"#);
    }

    #[test]
    fn oversized_unknown_and_malformed_frames_are_refused() {
        let big = vec![b' '; MAX_FRAME + 1];
        assert_eq!(
            decode::<ControllerMessage>(&big),
            Err(DecodeError::TooBig(MAX_FRAME + 1))
        );
        for bad in [
            &b"{\"type\":\"launch\"}"[..],
            b"{\"type\":\"ack\",\"op\":\"x\"}",
            b"[1,2]",
            b"{\"type\":\"ack\",\"op\":\"x\",\"seq\":1}{}",
            b"\xff",
        ] {
            assert!(decode::<ControllerMessage>(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_of_later_versions_are_ignored() {
        let m: ControllerMessage =
            decode(br#"{"type":"ack","op":"x","seq":1,"window":8}"#).unwrap();
        assert_eq!(
            m,
            ControllerMessage::Ack {
                op: "x".into(),
                seq: 1
            }
        );
    }

    #[test]
    fn permanent_refusals_are_the_4100s() {
        for c in [
            Close::BadToken,
            Close::Revoked,
            Close::SlotTaken,
            Close::Version,
        ] {
            assert!(c.is_permanent());
            assert_eq!(Close::from_code(c.code()), Some(c));
        }
        assert!(!Close::Replaced.is_permanent());
        assert_eq!(Close::from_code(1000), None);
    }
}
