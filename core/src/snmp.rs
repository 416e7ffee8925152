//! SNMP v1/v2c messages in BER, without allocation.
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
//! SNMPv3 (USM) builds on the same reader and writer (a later step).

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

/// A BER reader over one level of TLVs. It never reads past its slice; [`Reader::sub`]
/// gives a reader confined to one TLV's contents.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole message, for error positions.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a whole message.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    /// Reads one TLV: its tag, its contents, and the offset of the contents.
    pub fn tlv(&mut self) -> Result<(u8, &'a [u8], usize), Error> {
        let start = self.at();
        let b = &self.buf[self.pos..];
        let (&t, rest) = b.split_first().ok_or(err(ErrorKind::Truncated, start))?;
        if t & 0x1f == 0x1f {
            return Err(err(ErrorKind::UnexpectedTag, start)); // multi-byte tags: not in SNMP
        }
        let (&l0, rest) = rest
            .split_first()
            .ok_or(err(ErrorKind::Truncated, start + 1))?;
        let (len, hdr) = if l0 < 0x80 {
            (usize::from(l0), 2)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 {
                return Err(err(ErrorKind::BadLength, start + 1));
            }
            if rest.len() < n {
                return Err(err(ErrorKind::Truncated, start + 2));
            }
            let mut len = 0usize;
            for &x in &rest[..n] {
                len = (len << 8) | usize::from(x);
            }
            (len, 2 + n)
        };
        if b.len() - hdr < len {
            return Err(err(ErrorKind::Truncated, start + hdr));
        }
        let v = &b[hdr..hdr + len];
        self.pos += hdr + len;
        Ok((t, v, start + hdr))
    }

    /// Reads a TLV that must carry `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], Error> {
        let at = self.at();
        match self.tlv()? {
            (t, v, _) if t == tag => Ok(v),
            _ => Err(err(ErrorKind::UnexpectedTag, at)),
        }
    }

    /// A reader over the contents of the next TLV, which must carry `tag`.
    pub fn sub(&mut self, tag: u8) -> Result<Reader<'a>, Error> {
        let at = self.at();
        match self.tlv()? {
            (t, v, off) if t == tag => Ok(Reader {
                buf: v,
                pos: 0,
                base: off,
            }),
            _ => Err(err(ErrorKind::UnexpectedTag, at)),
        }
    }

    /// Reads an INTEGER into an i64 (up to 9 content bytes with a leading 0).
    pub fn integer(&mut self) -> Result<i64, Error> {
        let at = self.at();
        let v = self.expect(tag::INTEGER)?;
        int_i64(v).ok_or(err(ErrorKind::BadInteger, at))
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(err(ErrorKind::TrailingData, self.at()))
        }
    }
}

/// Two's complement big-endian to i64.
fn int_i64(v: &[u8]) -> Option<i64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    let mut x: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in v {
        x = (x << 8) | i64::from(b);
    }
    Some(x)
}

/// Unsigned big-endian (a leading 0 allowed) to u64.
fn uint_u64(v: &[u8]) -> Option<u64> {
    let v = match v {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => v,
    };
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    // Negative encodings of unsigned types happen in the field (buggy agents):
    // read the bytes as they are, two's complement into the type's width.
    Some(v.iter().fold(0u64, |x, &b| (x << 8) | u64::from(b)))
}

/// An OBJECT IDENTIFIER, borrowed in its BER form (contents octets).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Oid<'a>(&'a [u8]);

impl<'a> Oid<'a> {
    /// Checks BER contents octets of an OID.
    pub fn from_ber(v: &'a [u8]) -> Option<Oid<'a>> {
        if v.is_empty() || v[v.len() - 1] & 0x80 != 0 {
            return None;
        }
        // Every arc fits 32 bits (the first subidentifier holds two arcs: up to 2*40+2^32).
        let mut n = 0u64;
        let mut first = true;
        for &b in v {
            n = (n << 7) | u64::from(b & 0x7f);
            if n > u64::from(u32::MAX) + if first { 80 } else { 0 } {
                return None;
            }
            if b & 0x80 == 0 {
                n = 0;
                first = false;
            }
        }
        Some(Oid(v))
    }

    /// The contents octets.
    pub fn as_ber(&self) -> &'a [u8] {
        self.0
    }

    /// The arcs.
    pub fn arcs(&self) -> Arcs<'a> {
        Arcs {
            v: self.0,
            pending: None,
            first: true,
        }
    }

    /// Whether `self` lies under `prefix` (or equals it).
    pub fn starts_with(&self, prefix: &[u32]) -> bool {
        let mut a = self.arcs();
        prefix.iter().all(|p| a.next() == Some(*p))
    }
}

impl fmt::Display for Oid<'_> {
    /// Dotted form with a leading dot, as `snmpwalk -On` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in self.arcs() {
            write!(f, ".{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Iterator over the arcs of an [`Oid`].
#[derive(Clone, Debug)]
pub struct Arcs<'a> {
    v: &'a [u8],
    pending: Option<u32>,
    first: bool,
}

impl Iterator for Arcs<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        let mut n = 0u64;
        loop {
            let (&b, rest) = self.v.split_first()?;
            self.v = rest;
            n = (n << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        if self.first {
            self.first = false;
            let (x, y) = if n < 40 {
                (0, n)
            } else if n < 80 {
                (1, n - 40)
            } else {
                (2, n - 80)
            };
            self.pending = Some(y as u32);
            return Some(x);
        }
        Some(n as u32)
    }
}

/// Most arcs in an [`OidBuf`].
pub const MAX_ARCS: usize = 128;

/// An owned OID of at most [`MAX_ARCS`] arcs.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct OidBuf(heapless::Vec<u32, MAX_ARCS>);

impl OidBuf {
    /// From arcs; the first 0..=2 (and the second below 40 unless the first is 2). A
    /// single arc (`.1`, as snmpwalk accepts it) is encoded as that arc and 0.
    pub fn from_arcs(arcs: &[u32]) -> Result<OidBuf, ErrorKind> {
        let second = arcs.get(1).copied().unwrap_or(0);
        if arcs.is_empty()
            || arcs[0] > 2
            || (arcs[0] < 2 && second >= 40)
            || (arcs[0] == 2 && second > u32::MAX - 80)
        {
            return Err(ErrorKind::BadOid);
        }
        heapless::Vec::from_slice(arcs)
            .map(OidBuf)
            .map_err(|_| ErrorKind::OidTooLong)
    }

    /// From a received [`Oid`].
    pub fn from_oid(o: &Oid<'_>) -> Result<OidBuf, ErrorKind> {
        let mut v = heapless::Vec::new();
        for a in o.arcs() {
            v.push(a).map_err(|_| ErrorKind::OidTooLong)?;
        }
        Ok(OidBuf(v))
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// Whether this OID equals the received `o`.
    pub fn eq_oid(&self, o: &Oid<'_>) -> bool {
        self.0.iter().copied().eq(o.arcs())
    }
}

impl core::str::FromStr for OidBuf {
    type Err = ErrorKind;
    /// `1.3.6.1.2.1` or `.1.3.6.1.2.1`.
    fn from_str(s: &str) -> Result<OidBuf, ErrorKind> {
        let s = s.strip_prefix('.').unwrap_or(s);
        let mut v: heapless::Vec<u32, MAX_ARCS> = heapless::Vec::new();
        for part in s.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ErrorKind::BadOid);
            }
            v.push(part.parse().map_err(|_| ErrorKind::BadOid)?)
                .map_err(|_| ErrorKind::OidTooLong)?;
        }
        OidBuf::from_arcs(&v)
    }
}

impl fmt::Display for OidBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.0 {
            write!(f, ".{a}")?;
        }
        Ok(())
    }
}

/// A value of a variable binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// INTEGER (Integer32 and enumerations).
    Integer(i64),
    /// OCTET STRING.
    OctetString(&'a [u8]),
    /// NULL (in requests, and v1 "no value").
    Null,
    /// OBJECT IDENTIFIER.
    Oid(Oid<'a>),
    /// IpAddress (4 octets; other lengths are kept as `Other`).
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks (hundredths of a second).
    TimeTicks(u32),
    /// Opaque.
    Opaque(&'a [u8]),
    /// Counter64.
    Counter64(u64),
    /// noSuchObject.
    NoSuchObject,
    /// noSuchInstance.
    NoSuchInstance,
    /// endOfMibView.
    EndOfMibView,
    /// Any other tag, kept raw.
    Other(u8, &'a [u8]),
}

impl<'a> Value<'a> {
    fn decode(t: u8, v: &'a [u8], at: usize) -> Result<Value<'a>, Error> {
        let bad = |k| err(k, at);
        let u32v = |v: &[u8]| {
            uint_u64(v)
                .map(|x| x as u32)
                .ok_or(bad(ErrorKind::BadInteger))
        };
        Ok(match t {
            tag::INTEGER => Value::Integer(int_i64(v).ok_or(bad(ErrorKind::BadInteger))?),
            tag::OCTET_STRING => Value::OctetString(v),
            tag::NULL => Value::Null,
            tag::OID => Value::Oid(Oid::from_ber(v).ok_or(bad(ErrorKind::BadOid))?),
            tag::IP_ADDRESS => match <[u8; 4]>::try_from(v) {
                Ok(a) => Value::IpAddress(a),
                Err(_) => Value::Other(t, v),
            },
            tag::COUNTER32 => Value::Counter32(u32v(v)?),
            tag::GAUGE32 => Value::Gauge32(u32v(v)?),
            tag::TIMETICKS => Value::TimeTicks(u32v(v)?),
            tag::OPAQUE => Value::Opaque(v),
            tag::COUNTER64 => Value::Counter64(uint_u64(v).ok_or(bad(ErrorKind::BadInteger))?),
            tag::NO_SUCH_OBJECT => Value::NoSuchObject,
            tag::NO_SUCH_INSTANCE => Value::NoSuchInstance,
            tag::END_OF_MIB_VIEW => Value::EndOfMibView,
            _ => Value::Other(t, v),
        })
    }

    /// True for the v2 exceptions (noSuchObject, noSuchInstance, endOfMibView).
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }
}

/// Message versions (the wire value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1 (0).
    V1,
    /// SNMPv2c (1).
    V2c,
}

impl Version {
    fn wire(self) -> i64 {
        match self {
            Version::V1 => 0,
            Version::V2c => 1,
        }
    }
}

/// A decoded v1/v2c message.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// Version.
    pub version: Version,
    /// Community string.
    pub community: &'a [u8],
    /// The PDU.
    pub pdu: Pdu<'a>,
}

/// A decoded PDU (not the v1 Trap-PDU, which ksocket does not use).
#[derive(Clone, Copy, Debug)]
pub struct Pdu<'a> {
    /// PDU tag (see [`tag`]).
    pub kind: u8,
    /// request-id.
    pub request_id: i32,
    /// error-status (non-repeaters in GetBulk).
    pub error_status: i64,
    /// error-index (max-repetitions in GetBulk).
    pub error_index: i64,
    /// The variable bindings, decoded lazily (already checked to be well formed).
    pub varbinds: VarBinds<'a>,
}

/// Lazy iterator over variable bindings: (name, value).
#[derive(Clone, Copy, Debug)]
pub struct VarBinds<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for VarBinds<'a> {
    type Item = (Oid<'a>, Value<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        // Checked in `Message::decode`: a failure here cannot happen; stop if it does.
        varbind(&mut self.r).ok()
    }
}

fn varbind<'a>(r: &mut Reader<'a>) -> Result<(Oid<'a>, Value<'a>), Error> {
    let mut vb = r.sub(tag::SEQUENCE)?;
    let at = vb.at();
    let name = Oid::from_ber(vb.expect(tag::OID)?).ok_or(err(ErrorKind::BadOid, at))?;
    let (t, v, off) = vb.tlv()?;
    let value = Value::decode(t, v, off)?;
    vb.finish()?;
    Ok((name, value))
}

impl<'a> Message<'a> {
    /// Decodes a whole v1/v2c message (v3 is refused with `UnexpectedTag` at the version).
    pub fn decode(buf: &'a [u8]) -> Result<Message<'a>, Error> {
        let mut outer = Reader::new(buf);
        let mut m = outer.sub(tag::SEQUENCE)?;
        outer.finish()?;
        let at = m.at();
        let version = match m.integer()? {
            0 => Version::V1,
            1 => Version::V2c,
            _ => return Err(err(ErrorKind::UnexpectedTag, at)),
        };
        let community = m.expect(tag::OCTET_STRING)?;
        let pdu = Pdu::decode(&mut m)?;
        m.finish()?;
        Ok(Message {
            version,
            community,
            pdu,
        })
    }
}

impl<'a> Pdu<'a> {
    fn decode(m: &mut Reader<'a>) -> Result<Pdu<'a>, Error> {
        let at = m.at();
        let (kind, v, off) = m.tlv()?;
        if !(tag::GET..=tag::REPORT).contains(&kind) || kind == tag::TRAP_V1 {
            return Err(err(ErrorKind::UnexpectedTag, at));
        }
        let mut p = Reader {
            buf: v,
            pos: 0,
            base: off,
        };
        let rat = p.at();
        let request_id = p.integer()?;
        let request_id = i32::try_from(request_id).map_err(|_| err(ErrorKind::BadInteger, rat))?;
        let error_status = p.integer()?;
        let error_index = p.integer()?;
        let list = p.sub(tag::SEQUENCE)?;
        p.finish()?;
        // Check every varbind now, so the lazy iterator cannot meet an error later.
        let mut check = list;
        while !check.is_empty() {
            varbind(&mut check)?;
        }
        Ok(Pdu {
            kind,
            request_id,
            error_status,
            error_index,
            varbinds: VarBinds { r: list },
        })
    }
}

/// Writes BER back to front into a caller's buffer.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    /// Start of what was written (it grows downwards).
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer filling `buf` from its end.
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        let pos = buf.len();
        Writer { buf, pos }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding so far.
    pub fn finish(self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Writes bytes as they are (contents already encoded).
    pub fn raw(&mut self, b: &[u8]) -> Result<(), Error> {
        if self.pos < b.len() {
            return Err(err(ErrorKind::BufferTooSmall, b.len() - self.pos));
        }
        self.pos -= b.len();
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        Ok(())
    }

    /// Writes the header of a TLV whose contents (already written) are `len` bytes.
    pub fn header(&mut self, t: u8, len: usize) -> Result<(), Error> {
        if len < 0x80 {
            self.raw(&[t, len as u8])
        } else {
            let b = (len as u32).to_be_bytes();
            let skip = b.iter().take_while(|&&x| x == 0).count();
            self.raw(&b[skip..])?;
            self.raw(&[t, 0x80 | (4 - skip) as u8])
        }
    }

    /// Writes a TLV with the given contents.
    pub fn tlv(&mut self, t: u8, v: &[u8]) -> Result<(), Error> {
        self.raw(v)?;
        self.header(t, v.len())
    }

    /// Writes an INTEGER (minimal two's complement).
    pub fn integer(&mut self, x: i64) -> Result<(), Error> {
        let b = x.to_be_bytes();
        let mut i = 0;
        while i < 7
            && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0))
        {
            i += 1;
        }
        self.tlv(tag::INTEGER, &b[i..])
    }

    /// Writes an OBJECT IDENTIFIER from arcs (at least two, checked by [`OidBuf`]).
    pub fn oid(&mut self, arcs: &[u32]) -> Result<(), Error> {
        let start = self.len();
        for &a in arcs.iter().skip(2).rev() {
            self.subid(u64::from(a))?;
        }
        let first = u64::from(arcs.first().copied().unwrap_or(0)) * 40
            + u64::from(arcs.get(1).copied().unwrap_or(0));
        self.subid(first)?;
        let len = self.len() - start;
        self.header(tag::OID, len)
    }

    fn subid(&mut self, mut x: u64) -> Result<(), Error> {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = (x & 0x7f) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
            x >>= 7;
            if x == 0 {
                break;
            }
        }
        self.raw(&tmp[i..])
    }
}

/// A v1/v2c request to encode. For GET_BULK, `a`/`b` are non-repeaters and
/// max-repetitions; for the other PDUs they are error-status and error-index (0).
#[derive(Clone, Copy, Debug)]
pub struct Request<'c> {
    /// Version.
    pub version: Version,
    /// Community string.
    pub community: &'c [u8],
    /// GET, GET_NEXT or GET_BULK.
    pub kind: u8,
    /// request-id.
    pub request_id: i32,
    /// Non-repeaters (GET_BULK) or 0.
    pub a: i64,
    /// Max-repetitions (GET_BULK) or 0.
    pub b: i64,
}

/// The PDU part of a request: `kind`, request-id, `a`/`b` (see [`Request`]) and a NULL
/// value for each OID.
#[derive(Clone, Copy, Debug)]
pub struct PduSpec<'o> {
    /// GET, GET_NEXT or GET_BULK.
    pub kind: u8,
    /// request-id.
    pub request_id: i32,
    /// Non-repeaters (GET_BULK) or 0.
    pub a: i64,
    /// Max-repetitions (GET_BULK) or 0.
    pub b: i64,
    /// The names asked for.
    pub oids: &'o [OidBuf],
}

impl PduSpec<'_> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let list_end = w.len();
        for o in self.oids.iter().rev() {
            let vb_end = w.len();
            w.tlv(tag::NULL, &[])?;
            w.oid(o.arcs())?;
            let l = w.len() - vb_end;
            w.header(tag::SEQUENCE, l)?;
        }
        let l = w.len() - list_end;
        w.header(tag::SEQUENCE, l)?;
        w.integer(self.b)?;
        w.integer(self.a)?;
        w.integer(i64::from(self.request_id))?;
        let l = w.len() - list_end;
        w.header(self.kind, l)
    }
}

impl Request<'_> {
    /// Encodes the request with a NULL value for each OID; returns the message, at
    /// the end of `buf`.
    pub fn encode<'b>(&self, buf: &'b mut [u8], oids: &[OidBuf]) -> Result<&'b [u8], Error> {
        let mut w = Writer::new(buf);
        PduSpec {
            kind: self.kind,
            request_id: self.request_id,
            a: self.a,
            b: self.b,
            oids,
        }
        .write(&mut w)?;
        w.tlv(tag::OCTET_STRING, self.community)?;
        w.integer(self.version.wire())?;
        let l = w.len();
        w.header(tag::SEQUENCE, l)?;
        Ok(w.finish())
    }
}

/// msgFlags bits (RFC 3412).
pub mod flags {
    /// authFlag
    pub const AUTH: u8 = 0x01;
    /// privFlag
    pub const PRIV: u8 = 0x02;
    /// reportableFlag
    pub const REPORTABLE: u8 = 0x04;
}

/// The USM security parameters of a v3 message (RFC 3414), borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Usm<'a> {
    /// msgAuthoritativeEngineID.
    pub engine_id: &'a [u8],
    /// msgAuthoritativeEngineBoots.
    pub boots: i64,
    /// msgAuthoritativeEngineTime.
    pub time: i64,
    /// msgUserName.
    pub user: &'a [u8],
    /// msgAuthenticationParameters.
    pub auth_params: &'a [u8],
    /// msgPrivacyParameters.
    pub priv_params: &'a [u8],
}

/// A scoped PDU (RFC 3412): context and PDU.
#[derive(Clone, Copy, Debug)]
pub struct ScopedPdu<'a> {
    /// contextEngineID.
    pub context_engine_id: &'a [u8],
    /// contextName.
    pub context_name: &'a [u8],
    /// The PDU.
    pub pdu: Pdu<'a>,
}

impl<'a> ScopedPdu<'a> {
    /// Decodes a plaintext scoped PDU (as found in a message, or after decryption;
    /// bytes after it, the padding of a block cipher, are ignored).
    pub fn decode(buf: &'a [u8]) -> Result<ScopedPdu<'a>, Error> {
        let mut outer = Reader::new(buf);
        let mut r = outer.sub(tag::SEQUENCE)?;
        let context_engine_id = r.expect(tag::OCTET_STRING)?;
        let context_name = r.expect(tag::OCTET_STRING)?;
        let pdu = Pdu::decode(&mut r)?;
        r.finish()?;
        Ok(ScopedPdu {
            context_engine_id,
            context_name,
            pdu,
        })
    }
}

/// The data of a v3 message: a plaintext scoped PDU, or its encryption.
#[derive(Clone, Copy, Debug)]
pub enum ScopedData<'a> {
    /// Plaintext.
    Plain(ScopedPdu<'a>),
    /// encryptedPDU (privFlag set).
    Encrypted(&'a [u8]),
}

/// A decoded SNMPv3 message.
#[derive(Clone, Copy, Debug)]
pub struct V3Message<'a> {
    /// msgID.
    pub msg_id: i64,
    /// msgMaxSize.
    pub max_size: i64,
    /// msgFlags (see [`flags`]).
    pub flags: u8,
    /// msgSecurityModel (3 = USM).
    pub security_model: i64,
    /// The USM parameters.
    pub usm: Usm<'a>,
    /// Where `usm.auth_params` lies in the message (the HMAC is computed with it zeroed).
    pub auth_params_offset: usize,
    /// The scoped PDU.
    pub data: ScopedData<'a>,
}

/// The version field of a v1/v2c/v3 message, without decoding the rest.
pub fn version_of(buf: &[u8]) -> Option<i64> {
    let mut outer = Reader::new(buf);
    let mut m = outer.sub(tag::SEQUENCE).ok()?;
    m.integer().ok()
}

impl<'a> V3Message<'a> {
    /// Decodes a whole v3 message with USM parameters.
    pub fn decode(buf: &'a [u8]) -> Result<V3Message<'a>, Error> {
        let mut outer = Reader::new(buf);
        let mut m = outer.sub(tag::SEQUENCE)?;
        outer.finish()?;
        let at = m.at();
        if m.integer()? != 3 {
            return Err(err(ErrorKind::UnexpectedTag, at));
        }
        let mut g = m.sub(tag::SEQUENCE)?;
        let msg_id = g.integer()?;
        let max_size = g.integer()?;
        let fat = g.at();
        let f = g.expect(tag::OCTET_STRING)?;
        let [flags] = f else {
            return Err(err(ErrorKind::BadLength, fat));
        };
        let flags = *flags;
        let security_model = g.integer()?;
        g.finish()?;
        let sp = m.sub(tag::OCTET_STRING)?;
        let mut sp_outer = sp;
        let mut u = sp_outer.sub(tag::SEQUENCE)?;
        sp_outer.finish()?;
        let engine_id = u.expect(tag::OCTET_STRING)?;
        let boots = u.integer()?;
        let time = u.integer()?;
        let user = u.expect(tag::OCTET_STRING)?;
        let (t, auth_params, auth_params_offset) = u.tlv()?;
        if t != tag::OCTET_STRING {
            return Err(err(ErrorKind::UnexpectedTag, auth_params_offset));
        }
        let priv_params = u.expect(tag::OCTET_STRING)?;
        u.finish()?;
        let data = if flags & flags::PRIV != 0 {
            ScopedData::Encrypted(m.expect(tag::OCTET_STRING)?)
        } else {
            let dat = m.at();
            let (t, v, off) = m.tlv()?;
            if t != tag::SEQUENCE {
                return Err(err(ErrorKind::UnexpectedTag, dat));
            }
            let mut r = Reader {
                buf: v,
                pos: 0,
                base: off,
            };
            let context_engine_id = r.expect(tag::OCTET_STRING)?;
            let context_name = r.expect(tag::OCTET_STRING)?;
            let pdu = Pdu::decode(&mut r)?;
            r.finish()?;
            ScopedData::Plain(ScopedPdu {
                context_engine_id,
                context_name,
                pdu,
            })
        };
        m.finish()?;
        Ok(V3Message {
            msg_id,
            max_size,
            flags,
            security_model,
            usm: Usm {
                engine_id,
                boots,
                time,
                user,
                auth_params,
                priv_params,
            },
            auth_params_offset,
            data,
        })
    }
}

/// What the data of an encoded v3 message is.
#[derive(Clone, Copy, Debug)]
pub enum V3Data<'s> {
    /// A plaintext scoped PDU built from these parts.
    Plain {
        /// contextEngineID.
        context_engine_id: &'s [u8],
        /// contextName.
        context_name: &'s [u8],
        /// The PDU.
        pdu: PduSpec<'s>,
    },
    /// An encrypted scoped PDU (see [`encode_scoped_pdu`]).
    Encrypted(&'s [u8]),
}

/// A v3 message to encode. Authentication parameters are written as `auth_len` zero
/// bytes, for the caller to fill in with the HMAC of the whole message.
#[derive(Clone, Copy, Debug)]
pub struct V3Request<'s> {
    /// msgID.
    pub msg_id: i32,
    /// msgMaxSize.
    pub max_size: i32,
    /// msgFlags.
    pub flags: u8,
    /// USM engine id, boots, time, user, and the privacy parameters; `auth_params` is
    /// ignored: `auth_len` zero bytes are written instead.
    pub usm: Usm<'s>,
    /// Length of the authentication parameters (0 without authentication).
    pub auth_len: usize,
    /// The data.
    pub data: V3Data<'s>,
}

impl V3Request<'static> {
    /// The engine-discovery request of RFC 3414 4: no user, no engine, reportable, an
    /// empty GET; every v3 agent answers it with a Report carrying its engine ID,
    /// boots and time.
    pub const fn discovery(msg_id: i32, request_id: i32) -> V3Request<'static> {
        V3Request {
            msg_id,
            max_size: 65507,
            flags: flags::REPORTABLE,
            usm: Usm {
                engine_id: b"",
                boots: 0,
                time: 0,
                user: b"",
                auth_params: b"",
                priv_params: b"",
            },
            auth_len: 0,
            data: V3Data::Plain {
                context_engine_id: b"",
                context_name: b"",
                pdu: PduSpec {
                    kind: tag::GET,
                    request_id,
                    a: 0,
                    b: 0,
                    oids: &[],
                },
            },
        }
    }
}

impl V3Request<'_> {
    /// Encodes the message at the end of `buf`; returns it and the offset of the
    /// authentication parameters in it.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<(&'b mut [u8], usize), Error> {
        let mut w = Writer::new(buf);
        match self.data {
            V3Data::Plain {
                context_engine_id,
                context_name,
                pdu,
            } => {
                let start = w.len();
                pdu.write(&mut w)?;
                w.tlv(tag::OCTET_STRING, context_name)?;
                w.tlv(tag::OCTET_STRING, context_engine_id)?;
                let l = w.len() - start;
                w.header(tag::SEQUENCE, l)?;
            }
            V3Data::Encrypted(b) => w.tlv(tag::OCTET_STRING, b)?,
        }
        // msgSecurityParameters: OCTET STRING wrapping the USM SEQUENCE.
        let sp = w.len();
        w.tlv(tag::OCTET_STRING, self.usm.priv_params)?;
        let zeros = [0u8; 64];
        let auth = zeros
            .get(..self.auth_len)
            .ok_or(err(ErrorKind::BadLength, 0))?;
        w.raw(auth)?;
        let auth_back = w.len();
        w.header(tag::OCTET_STRING, auth.len())?;
        w.tlv(tag::OCTET_STRING, self.usm.user)?;
        w.integer(self.usm.time)?;
        w.integer(self.usm.boots)?;
        w.tlv(tag::OCTET_STRING, self.usm.engine_id)?;
        let l = w.len() - sp;
        w.header(tag::SEQUENCE, l)?;
        let l = w.len() - sp;
        w.header(tag::OCTET_STRING, l)?;
        // msgGlobalData
        let g = w.len();
        w.integer(3)?;
        w.tlv(tag::OCTET_STRING, &[self.flags])?;
        w.integer(i64::from(self.max_size))?;
        w.integer(i64::from(self.msg_id))?;
        let l = w.len() - g;
        w.header(tag::SEQUENCE, l)?;
        w.integer(3)?;
        let l = w.len();
        w.header(tag::SEQUENCE, l)?;
        let total = w.len();
        let pos = w.pos;
        Ok((&mut w.buf[pos..], total - auth_back))
    }
}

/// Encodes a plaintext scoped PDU (to be encrypted by the caller) at the end of `buf`.
pub fn encode_scoped_pdu<'b>(
    buf: &'b mut [u8],
    context_engine_id: &[u8],
    context_name: &[u8],
    pdu: PduSpec<'_>,
) -> Result<&'b [u8], Error> {
    let mut w = Writer::new(buf);
    pdu.write(&mut w)?;
    w.tlv(tag::OCTET_STRING, context_name)?;
    w.tlv(tag::OCTET_STRING, context_engine_id)?;
    let l = w.len();
    w.header(tag::SEQUENCE, l)?;
    Ok(w.finish())
}
