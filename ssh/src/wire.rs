//! The SSH data types of RFC 4251 §5: byte, boolean, uint32, uint64, string, mpint and
//! name-list, read from a borrowed slice (never past its end, never allocating more
//! than the input holds) and written to a `Vec<u8>`.

use core::fmt;

/// A message that ends early or holds a value out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// Reads SSH data types from a slice, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// What has not been read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        if self.buf.len() < n {
            return Err(Malformed(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        Ok(self.bytes(1, what)?[0])
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, Malformed> {
        Ok(self.u8(what)? != 0)
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Malformed> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Malformed> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A `string`: uint32 length, then that many bytes.
    pub fn string(&mut self, what: &'static str) -> Result<&'a [u8], Malformed> {
        let n = self.u32(what)? as usize;
        self.bytes(n, what)
    }

    /// A `string` that must be UTF-8 (names, messages).
    pub fn utf8(&mut self, what: &'static str) -> Result<&'a str, Malformed> {
        core::str::from_utf8(self.string(what)?).map_err(|_| Malformed(what))
    }

    /// An `mpint` as its magnitude, big-endian, without leading zero bytes. Negative
    /// values are refused (SSH never sends one where a key or a share is expected).
    pub fn mpint_positive(&mut self, what: &'static str) -> Result<&'a [u8], Malformed> {
        let mut b = self.string(what)?;
        if b.first().is_some_and(|x| x & 0x80 != 0) {
            return Err(Malformed(what));
        }
        while let [0, rest @ ..] = b {
            b = rest;
        }
        Ok(b)
    }

    /// A `name-list`: comma-separated ASCII names in a string.
    pub fn name_list(&mut self, what: &'static str) -> Result<NameList<'a>, Malformed> {
        let s = self.utf8(what)?;
        if !s.is_ascii() {
            return Err(Malformed(what));
        }
        Ok(NameList(s))
    }
}

/// A borrowed name-list (RFC 4251 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameList<'a>(pub &'a str);

impl<'a> NameList<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let s = self.0;
        s.split(',').filter(|n| !n.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
}

/// Writes SSH data types to a growing buffer.
pub trait Write {
    fn put_u8(&mut self, v: u8);
    fn put_bool(&mut self, v: bool);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_string(&mut self, v: &[u8]);
    /// An `mpint` from a non-negative big-endian magnitude (leading zeros dropped, a
    /// zero byte added when the top bit is set).
    fn put_mpint(&mut self, magnitude: &[u8]);
    fn put_name_list<'n>(&mut self, names: impl IntoIterator<Item = &'n str>);
}

impl Write for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_bool(&mut self, v: bool) {
        self.push(v as u8);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_string(&mut self, v: &[u8]) {
        self.put_u32(v.len() as u32);
        self.extend_from_slice(v);
    }
    fn put_mpint(&mut self, magnitude: &[u8]) {
        let mut m = magnitude;
        while let [0, rest @ ..] = m {
            m = rest;
        }
        let pad = m.first().is_some_and(|x| x & 0x80 != 0);
        self.put_u32((m.len() + pad as usize) as u32);
        if pad {
            self.push(0);
        }
        self.extend_from_slice(m);
    }
    fn put_name_list<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        let at = self.len();
        self.put_u32(0);
        let mut first = true;
        for n in names {
            if !first {
                self.push(b',');
            }
            first = false;
            self.extend_from_slice(n.as_bytes());
        }
        let len = (self.len() - at - 4) as u32;
        self[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = Vec::new();
        b.put_u8(20);
        b.put_bool(true);
        b.put_u32(0xdead_beef);
        b.put_u64(7);
        b.put_string(b"ssh-userauth");
        b.put_mpint(&[0, 0, 0x80, 1]);
        b.put_mpint(&[]);
        b.put_name_list(["curve25519-sha256", "ext-info-c"]);
        let mut r = Reader::new(&b);
        assert_eq!(r.u8("a").unwrap(), 20);
        assert!(r.bool("b").unwrap());
        assert_eq!(r.u32("c").unwrap(), 0xdead_beef);
        assert_eq!(r.u64("d").unwrap(), 7);
        assert_eq!(r.string("e").unwrap(), b"ssh-userauth");
        assert_eq!(r.mpint_positive("f").unwrap(), &[0x80, 1]);
        assert_eq!(r.mpint_positive("g").unwrap(), &[] as &[u8]);
        let l = r.name_list("h").unwrap();
        assert!(l.contains("ext-info-c") && !l.contains("ext-info"));
        assert!(r.is_empty());
        assert_eq!(r.u8("end"), Err(Malformed("end")));
    }

    #[test]
    fn lengths_past_the_end_are_refused() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(r.string("s"), Err(Malformed("s")));
        let mut r = Reader::new(&[0, 0, 0, 1, 0x80]);
        assert_eq!(r.mpint_positive("m"), Err(Malformed("m")));
    }
}
