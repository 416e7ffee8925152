//! SNMP v1, v2c and v3 messages in BER, without allocation. By concern:
//! [`ber`] (the reader and the writer), [`oid`], [`value`], [`message`] (v1/v2c) and
//! [`v3`] (RFC 3412 messages with USM parameters); this file holds the tags and errors.
//!
//! Decoding borrows from the received datagram: [`Message::decode`] checks the whole
//! structure once (every TLV inside its parent, no trailing bytes) and returns views;
//! [`VarBinds`] then iterates the variable bindings lazily. Lengths are read leniently
//! (non-minimal long forms are accepted, as agents send them) but indefinite lengths
//! and lengths past the end are refused.
//!
//! Encoding writes into the caller's buffer back to front, so nested lengths are known
//! when their headers are written and nothing is measured twice; the result is the
//! tail of the buffer. Encoding is minimal (DER-like lengths and integers).
//!
//! SNMPv3 builds on the same reader and writer; its keys and MACs are in `crate::usm`.

pub mod ber;
pub mod message;
pub mod oid;
pub mod v3;
pub mod value;

pub use ber::{Reader, Writer};
pub use message::*;
pub use oid::{Arcs, MAX_ARCS, Oid, OidBuf};
pub use v3::*;
pub use value::{Value, Version};

use core::fmt;

/// Tags.
pub mod tag {
    /// INTEGER
    pub const INTEGER: u8 = 0x02;
    /// OCTET STRING
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER
    pub const OID: u8 = 0x06;
    /// SEQUENCE
    pub const SEQUENCE: u8 = 0x30;
    /// IpAddress
    pub const IP_ADDRESS: u8 = 0x40;
    /// Counter32
    pub const COUNTER32: u8 = 0x41;
    /// Gauge32 / Unsigned32
    pub const GAUGE32: u8 = 0x42;
    /// TimeTicks
    pub const TIMETICKS: u8 = 0x43;
    /// Opaque
    pub const OPAQUE: u8 = 0x44;
    /// Counter64
    pub const COUNTER64: u8 = 0x46;
    /// noSuchObject exception
    pub const NO_SUCH_OBJECT: u8 = 0x80;
    /// noSuchInstance exception
    pub const NO_SUCH_INSTANCE: u8 = 0x81;
    /// endOfMibView exception
    pub const END_OF_MIB_VIEW: u8 = 0x82;
    /// GetRequest-PDU
    pub const GET: u8 = 0xa0;
    /// GetNextRequest-PDU
    pub const GET_NEXT: u8 = 0xa1;
    /// Response-PDU (GetResponse in v1)
    pub const RESPONSE: u8 = 0xa2;
    /// SetRequest-PDU
    pub const SET: u8 = 0xa3;
    /// v1 Trap-PDU
    pub const TRAP_V1: u8 = 0xa4;
    /// GetBulkRequest-PDU
    pub const GET_BULK: u8 = 0xa5;
    /// InformRequest-PDU
    pub const INFORM: u8 = 0xa6;
    /// SNMPv2-Trap-PDU
    pub const TRAP_V2: u8 = 0xa7;
    /// Report-PDU
    pub const REPORT: u8 = 0xa8;
}

/// Where and why decoding or encoding failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Byte offset in the input (decoding) or bytes still needed (encoding).
    pub offset: usize,
}

/// Kinds of [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ends inside a TLV.
    Truncated,
    /// Indefinite length (0x80), or a length of more than 4 bytes.
    BadLength,
    /// A tag other than the one the structure requires.
    UnexpectedTag,
    /// An INTEGER too long for its type, or empty.
    BadInteger,
    /// An OBJECT IDENTIFIER that is empty, has an arc over 32 bits or ends mid-arc.
    BadOid,
    /// Bytes after the end of the message or of a structure.
    TrailingData,
    /// The caller's buffer is too small.
    BufferTooSmall,
    /// Too many arcs for a fixed OID buffer.
    OidTooLong,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Truncated => "truncated",
            ErrorKind::BadLength => "bad length",
            ErrorKind::UnexpectedTag => "unexpected tag",
            ErrorKind::BadInteger => "bad INTEGER",
            ErrorKind::BadOid => "bad OBJECT IDENTIFIER",
            ErrorKind::TrailingData => "trailing data",
            ErrorKind::BufferTooSmall => "buffer too small",
            ErrorKind::OidTooLong => "OID too long",
        };
        write!(f, "BER: {what} at byte {}", self.offset)
    }
}

impl core::error::Error for Error {}

fn err(kind: ErrorKind, offset: usize) -> Error {
    Error { kind, offset }
}
