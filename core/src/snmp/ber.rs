//! The BER reader and writer every SNMP message is read and written with.

use super::*;

/// A BER reader over one level of TLVs. It never reads past its slice; [`Reader::sub`]
/// gives a reader confined to one TLV's contents.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
    /// Offset of `buf` in the whole message, for error positions.
    pub(super) base: usize,
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

    pub(super) fn at(&self) -> usize {
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
pub(super) fn int_i64(v: &[u8]) -> Option<i64> {
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
pub(super) fn uint_u64(v: &[u8]) -> Option<u64> {
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

/// Writes BER back to front into a caller's buffer.
pub struct Writer<'a> {
    pub(super) buf: &'a mut [u8],
    /// Start of what was written (it grows downwards).
    pub(super) pos: usize,
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

    pub(super) fn subid(&mut self, mut x: u64) -> Result<(), Error> {
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
