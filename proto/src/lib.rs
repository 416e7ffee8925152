//! `ksocket-proto`: what the ksocket agent and its controller both speak.
//!
//! - [`records`]: the result records of a scan (a host with one section per collector,
//!   the errors of a collection, the scan's summary), versioned by [`records::SCHEMA`].
//! - [`messages`]: the agent <-> controller protocol (docs/protocol.md), versioned by
//!   [`messages::PROTOCOL`], with bounded decoding.
//!
//! Plain data with serde, no I/O: the controller depends on this crate, never on the
//! agent's Linux code. docs/records.md describes every field.

pub mod messages;
pub mod records;
