//! OBJECT IDENTIFIERs: borrowed (as received) and owned (bounded, no allocation).

use super::*;

/// An OBJECT IDENTIFIER, borrowed in its BER form (contents octets).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Oid<'a>(pub(super) &'a [u8]);

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
pub struct OidBuf(pub(super) heapless::Vec<u32, MAX_ARCS>);

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
