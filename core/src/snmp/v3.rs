//! SNMPv3 messages (RFC 3412) with USM security parameters (RFC 3414).

use super::*;

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
