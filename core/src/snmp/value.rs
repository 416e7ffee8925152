//! Values of variable bindings, and the v1/v2c message versions.

use super::ber::{int_i64, uint_u64};
use super::*;

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
    pub(super) fn decode(t: u8, v: &'a [u8], at: usize) -> Result<Value<'a>, Error> {
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
    pub(super) fn wire(self) -> i64 {
        match self {
            Version::V1 => 0,
            Version::V2c => 1,
        }
    }
}
