//! SNMP v1/v2c messages: decoding (borrowed, checked once) and requests to encode.

use super::*;

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

pub(super) fn varbind<'a>(r: &mut Reader<'a>) -> Result<(Oid<'a>, Value<'a>), Error> {
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
    pub(super) fn decode(m: &mut Reader<'a>) -> Result<Pdu<'a>, Error> {
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
    pub(super) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
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
