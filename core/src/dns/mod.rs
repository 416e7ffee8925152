//! DNS and multicast DNS messages, as a name finder needs them (RFC 1035, RFC 6762,
//! RFC 6763): writing one-question queries (a reverse `PTR` for an IPv4 or IPv6
//! address, the DNS-SD service type enumeration `_services._dns-sd._udp.local`, a
//! `PTR` for any name), and reading answers without trusting them.
//!
//! The reader is borrowed and bounded: [`Message::parse`] checks the header and the
//! question section; [`Message::records`] walks every resource record of the answer,
//! authority and additional sections, each length checked against the message, and
//! stops at the first malformed one. A [`Name`] is only a position in the message;
//! reading it follows compression pointers with a hop limit ([`MAX_HOPS`]), only
//! backwards (so no loop is possible), and never past 255 bytes of name
//! ([`MAX_NAME`]). Text forms are written into the caller's fixed buffer, in lower
//! case, without the trailing dot.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type `A`.
pub const TYPE_A: u16 = 1;
/// Record type `PTR`.
pub const TYPE_PTR: u16 = 12;
/// Record type `AAAA`.
pub const TYPE_AAAA: u16 = 28;
/// Record type `SRV`.
pub const TYPE_SRV: u16 = 33;
/// Class `IN`.
pub const CLASS_IN: u16 = 1;
/// The mDNS "unicast response" bit of a question's class (QU, RFC 6762 §5.4); in an
/// answer the same bit is the cache-flush bit.
pub const QU: u16 = 0x8000;
/// The length of a DNS header.
pub const HEADER_LEN: usize = 12;
/// The longest name on the wire (RFC 1035 §2.3.4), length bytes included.
pub const MAX_NAME: usize = 255;
/// The most compression pointers followed while reading one name.
pub const MAX_HOPS: usize = 16;
/// A buffer that holds the text of any name [`Name::text`] accepts.
pub type NameBuf = [u8; MAX_NAME];

/// The DNS-SD service type enumeration name (RFC 6763 §9), as labels.
const SERVICES: [&[u8]; 4] = [b"_services", b"_dns-sd", b"_udp", b"local"];

/// Why a message could not be written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The message ends before something it announces.
    Truncated,
    /// A field is invalid (a reserved label type, a record length that does not fit).
    Malformed,
    /// A name longer than 255 bytes, or a label longer than 63.
    NameTooLong,
    /// A compression pointer that points forward (or at itself), or too many of them.
    BadPointer,
    /// A name holds a byte its text form cannot carry (a dot, a space, a control
    /// character, or bytes that are not UTF-8).
    Unprintable,
    /// The caller's buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated DNS message",
            Error::Malformed => "malformed DNS message",
            Error::NameTooLong => "DNS name too long",
            Error::BadPointer => "bad DNS compression pointer",
            Error::Unprintable => "DNS name not printable",
            Error::BufferTooSmall => "buffer too small for the DNS message",
        })
    }
}

impl core::error::Error for Error {}

/// The name a query asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QName<'a> {
    /// The reverse name of an address: `d.c.b.a.in-addr.arpa`, or the 32 nibbles of
    /// an IPv6 address under `ip6.arpa`.
    Reverse(IpAddr),
    /// `_services._dns-sd._udp.local`.
    Services,
    /// A name in text form (`_ipp._tcp.local`), labels split at dots; a trailing dot
    /// is allowed.
    Text(&'a str),
}

/// How a query is flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueryFlags {
    /// Recursion desired (a query to a unicast resolver).
    pub recursion: bool,
    /// The mDNS QU bit: ask for a unicast answer.
    pub unicast_response: bool,
}

/// Writes a one-question query for `qname`, type `qtype`, class IN, with transaction
/// id `id`, into `buf`; returns its length.
pub fn write_query(
    buf: &mut [u8],
    id: u16,
    qname: QName<'_>,
    qtype: u16,
    flags: QueryFlags,
) -> Result<usize, Error> {
    let mut w = Writer { buf, at: 0 };
    w.put(&id.to_be_bytes())?;
    w.put(&[if flags.recursion { 0x01 } else { 0 }, 0])?;
    w.put(&[0, 1, 0, 0, 0, 0, 0, 0])?;
    let name_at = w.at;
    match qname {
        QName::Reverse(IpAddr::V4(a)) => {
            let mut digits = [0u8; 3];
            for o in a.octets().iter().rev() {
                w.label(decimal(*o, &mut digits))?;
            }
            w.label(b"in-addr")?;
            w.label(b"arpa")?;
        }
        QName::Reverse(IpAddr::V6(a)) => {
            for o in a.octets().iter().rev() {
                w.label(&[hex(o & 0xf)])?;
                w.label(&[hex(o >> 4)])?;
            }
            w.label(b"ip6")?;
            w.label(b"arpa")?;
        }
        QName::Services => {
            for l in SERVICES {
                w.label(l)?;
            }
        }
        QName::Text(s) => {
            let s = s.strip_suffix('.').unwrap_or(s);
            if !s.is_empty() {
                for l in s.split('.') {
                    if l.is_empty() {
                        return Err(Error::Malformed);
                    }
                    w.label(l.as_bytes())?;
                }
            }
        }
    }
    w.put(&[0])?;
    if w.at - name_at > MAX_NAME {
        return Err(Error::NameTooLong);
    }
    let class = if flags.unicast_response {
        CLASS_IN | QU
    } else {
        CLASS_IN
    };
    w.put(&qtype.to_be_bytes())?;
    w.put(&class.to_be_bytes())?;
    Ok(w.at)
}

struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) -> Result<(), Error> {
        let end = self.at + b.len();
        self.buf
            .get_mut(self.at..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(b);
        self.at = end;
        Ok(())
    }

    fn label(&mut self, l: &[u8]) -> Result<(), Error> {
        if l.is_empty() || l.len() > 63 {
            return Err(Error::NameTooLong);
        }
        self.put(&[l.len() as u8])?;
        self.put(l)
    }
}

fn decimal(v: u8, out: &mut [u8; 3]) -> &[u8] {
    out[0] = b'0' + v / 100;
    out[1] = b'0' + v / 10 % 10;
    out[2] = b'0' + v % 10;
    let skip = if v >= 100 {
        0
    } else if v >= 10 {
        1
    } else {
        2
    };
    &out[skip..]
}

fn hex(n: u8) -> u8 {
    b"0123456789abcdef"[usize::from(n & 0xf)]
}

/// A DNS header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// The flags word (QR, opcode, AA, TC, RD, RA, rcode).
    pub flags: u16,
    /// Questions.
    pub qdcount: u16,
    /// Answer records.
    pub ancount: u16,
    /// Authority records.
    pub nscount: u16,
    /// Additional records.
    pub arcount: u16,
}

impl Header {
    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The response code (0: no error, 3: no such name).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    /// Truncated (TC set).
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }
}

/// A received message: its header, its (first) question, and its records.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    msg: &'a [u8],
    /// The header.
    pub header: Header,
    question: Option<Question<'a>>,
    records_at: usize,
}

/// A question of a received message.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The name asked about.
    pub name: Name<'a>,
    /// Its type.
    pub qtype: u16,
    /// Its class, the QU bit included.
    pub class: u16,
}

impl<'a> Message<'a> {
    /// Reads the header and skips the questions, each checked.
    pub fn parse(msg: &'a [u8]) -> Result<Message<'a>, Error> {
        let h = msg.get(..HEADER_LEN).ok_or(Error::Truncated)?;
        let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let header = Header {
            id: word(0),
            flags: word(2),
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        };
        let mut at = HEADER_LEN;
        let mut question = None;
        for _ in 0..header.qdcount {
            let (name, end) = Name::at(msg, at)?;
            let f = msg.get(end..end + 4).ok_or(Error::Truncated)?;
            if question.is_none() {
                question = Some(Question {
                    name,
                    qtype: u16::from_be_bytes([f[0], f[1]]),
                    class: u16::from_be_bytes([f[2], f[3]]),
                });
            }
            at = end + 4;
        }
        Ok(Message {
            msg,
            header,
            question,
            records_at: at,
        })
    }

    /// The first question, if the message has one (mDNS answers often have none).
    pub fn question(&self) -> Option<Question<'a>> {
        self.question
    }

    /// Every resource record of the answer, authority and additional sections, in
    /// order. The iterator yields an error once, at the first malformed record, and
    /// then ends.
    pub fn records(&self) -> Records<'a> {
        let total = u32::from(self.header.ancount)
            + u32::from(self.header.nscount)
            + u32::from(self.header.arcount);
        Records {
            msg: self.msg,
            at: self.records_at,
            left: total,
            answers: u32::from(self.header.ancount),
        }
    }
}

/// The records of a message (see [`Message::records`]).
#[derive(Clone, Debug)]
pub struct Records<'a> {
    msg: &'a [u8],
    at: usize,
    left: u32,
    answers: u32,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let r = Record::at(self.msg, self.at);
        match r {
            Ok((mut rec, end)) => {
                rec.answer = self.answers > 0;
                self.answers = self.answers.saturating_sub(1);
                self.left -= 1;
                self.at = end;
                Some(Ok(rec))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

/// A resource record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    msg: &'a [u8],
    /// Its owner name.
    pub name: Name<'a>,
    /// Its type.
    pub rtype: u16,
    /// Its class, without the mDNS cache-flush bit.
    pub class: u16,
    /// Its time to live, in seconds.
    pub ttl: u32,
    /// Its data.
    pub rdata: &'a [u8],
    rdata_at: usize,
    /// In the answer section (not authority or additional).
    pub answer: bool,
}

impl<'a> Record<'a> {
    fn at(msg: &'a [u8], at: usize) -> Result<(Record<'a>, usize), Error> {
        let (name, end) = Name::at(msg, at)?;
        let f = msg.get(end..end + 10).ok_or(Error::Truncated)?;
        let rdlen = usize::from(u16::from_be_bytes([f[8], f[9]]));
        let rdata_at = end + 10;
        let rdata = msg
            .get(rdata_at..rdata_at + rdlen)
            .ok_or(Error::Truncated)?;
        Ok((
            Record {
                msg,
                name,
                rtype: u16::from_be_bytes([f[0], f[1]]),
                class: u16::from_be_bytes([f[2], f[3]]) & !QU,
                ttl: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                rdata,
                rdata_at,
                answer: false,
            },
            rdata_at + rdlen,
        ))
    }

    /// The target of a `PTR` record of class IN; the name must lie inside the record's
    /// data (its pointers may reach back anywhere in the message).
    pub fn ptr(&self) -> Option<Result<Name<'a>, Error>> {
        if self.rtype != TYPE_PTR || self.class != CLASS_IN {
            return None;
        }
        Some(self.name_in_rdata(0))
    }

    /// The target host of an `SRV` record of class IN.
    pub fn srv_target(&self) -> Option<Result<Name<'a>, Error>> {
        if self.rtype != TYPE_SRV || self.class != CLASS_IN {
            return None;
        }
        Some(self.name_in_rdata(6))
    }

    /// The address of an `A` or `AAAA` record of class IN.
    pub fn addr(&self) -> Option<IpAddr> {
        if self.class != CLASS_IN {
            return None;
        }
        match (self.rtype, self.rdata.len()) {
            (TYPE_A, 4) => {
                let o: [u8; 4] = self.rdata.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(o)))
            }
            (TYPE_AAAA, 16) => {
                let o: [u8; 16] = self.rdata.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(o)))
            }
            _ => None,
        }
    }

    fn name_in_rdata(&self, skip: usize) -> Result<Name<'a>, Error> {
        if self.rdata.len() < skip {
            return Err(Error::Truncated);
        }
        let (name, end) = Name::at(self.msg, self.rdata_at + skip)?;
        if end != self.rdata_at + self.rdata.len() {
            return Err(Error::Malformed);
        }
        Ok(name)
    }
}

/// A name in a message: where it starts. Made only by the reader, after its walk
/// checked it; reading it again re-checks everything.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a> {
    msg: &'a [u8],
    at: usize,
}

impl<'a> Name<'a> {
    /// Checks the name at `at`; returns it and where the data after it starts.
    fn at(msg: &'a [u8], at: usize) -> Result<(Name<'a>, usize), Error> {
        let name = Name { msg, at };
        let mut labels = name.labels();
        for l in &mut labels {
            l?;
        }
        Ok((name, labels.first_end.ok_or(Error::Malformed)?))
    }

    /// Checks the name at `at` in `msg`; returns where the data after it starts.
    pub fn skip(msg: &[u8], at: usize) -> Result<usize, Error> {
        Name::at(msg, at).map(|(_, end)| end)
    }

    /// Its labels, in order (the root's empty label not included). Yields an error
    /// once and ends at the first fault.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            msg: self.msg,
            at: self.at,
            hops: 0,
            len: 0,
            first_end: None,
            done: false,
            lowest: self.at,
        }
    }

    /// Its text form in `out`: labels joined by dots, ASCII letters in lower case, no
    /// trailing dot (the root is the empty string). Refuses names whose labels hold a
    /// dot, a space, a control character or non-UTF-8 bytes.
    pub fn text<'b>(&self, out: &'b mut NameBuf) -> Result<&'b str, Error> {
        let mut n = 0;
        for l in self.labels() {
            let l = l?;
            if n > 0 {
                *out.get_mut(n).ok_or(Error::NameTooLong)? = b'.';
                n += 1;
            }
            for &b in l {
                if b <= b' ' || b == b'.' || b == 0x7f {
                    return Err(Error::Unprintable);
                }
                *out.get_mut(n).ok_or(Error::NameTooLong)? = b.to_ascii_lowercase();
                n += 1;
            }
        }
        core::str::from_utf8(&out[..n]).map_err(|_| Error::Unprintable)
    }

    /// True when the name is `text` (ASCII case ignored; a trailing dot allowed).
    pub fn is(&self, text: &str) -> bool {
        let text = text.strip_suffix('.').unwrap_or(text);
        let mut want = text.split('.').filter(|_| !text.is_empty());
        for l in self.labels() {
            match (l, want.next()) {
                (Ok(l), Some(w)) if l.eq_ignore_ascii_case(w.as_bytes()) => {}
                _ => return false,
            }
        }
        want.next().is_none()
    }

    /// The address a reverse name (`4.3.2.1.in-addr.arpa`, 32 nibbles under
    /// `ip6.arpa`) stands for; `None` for any other name.
    pub fn reverse_addr(&self) -> Option<IpAddr> {
        let mut ls: [&[u8]; 34] = [b""; 34];
        let mut n = 0;
        for l in self.labels() {
            *ls.get_mut(n)? = l.ok()?;
            n += 1;
        }
        let zone_is = |a: &[u8], b: &[u8]| {
            n >= 2 && ls[n - 2].eq_ignore_ascii_case(a) && ls[n - 1].eq_ignore_ascii_case(b)
        };
        if n == 6 && zone_is(b"in-addr", b"arpa") {
            let mut o = [0u8; 4];
            for (i, l) in ls[..4].iter().enumerate() {
                o[3 - i] = octet(l)?;
            }
            Some(IpAddr::V4(Ipv4Addr::from(o)))
        } else if n == 34 && zone_is(b"ip6", b"arpa") {
            let mut o = [0u8; 16];
            for (i, l) in ls[..32].iter().enumerate() {
                let d = match l {
                    [c] => (*c as char).to_digit(16)? as u8,
                    _ => return None,
                };
                o[15 - i / 2] |= if i % 2 == 0 { d } else { d << 4 };
            }
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        } else {
            None
        }
    }
}

/// A decimal octet label: 1 to 3 digits, no leading zero, at most 255.
fn octet(l: &[u8]) -> Option<u8> {
    if !(1..=3).contains(&l.len())
        || !l.iter().all(u8::is_ascii_digit)
        || (l.len() > 1 && l[0] == b'0')
    {
        return None;
    }
    u8::try_from(l.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'))).ok()
}

/// The labels of a [`Name`].
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    msg: &'a [u8],
    at: usize,
    hops: usize,
    len: usize,
    /// Where the name's bytes end at its first position (after its terminator or
    /// first pointer): where the data after the name starts.
    first_end: Option<usize>,
    done: bool,
    /// The lowest position read so far: a pointer must go below it.
    lowest: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        match r {
            Ok(Some(l)) => Some(Ok(l)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<'a> Labels<'a> {
    fn step(&mut self) -> Result<Option<&'a [u8]>, Error> {
        loop {
            let b = *self.msg.get(self.at).ok_or(Error::Truncated)?;
            match b & 0xc0 {
                0x00 => {
                    let n = usize::from(b);
                    self.len += n + 1;
                    if self.len > MAX_NAME {
                        return Err(Error::NameTooLong);
                    }
                    if n == 0 {
                        if self.first_end.is_none() {
                            self.first_end = Some(self.at + 1);
                        }
                        return Ok(None);
                    }
                    let l = self
                        .msg
                        .get(self.at + 1..self.at + 1 + n)
                        .ok_or(Error::Truncated)?;
                    self.at += 1 + n;
                    return Ok(Some(l));
                }
                0xc0 => {
                    let lo = *self.msg.get(self.at + 1).ok_or(Error::Truncated)?;
                    let to = usize::from(u16::from_be_bytes([b & 0x3f, lo]));
                    if self.first_end.is_none() {
                        self.first_end = Some(self.at + 2);
                    }
                    self.hops += 1;
                    // Strictly backwards from everything read so far: no loops.
                    if self.hops > MAX_HOPS || to >= self.lowest {
                        return Err(Error::BadPointer);
                    }
                    self.lowest = to;
                    self.at = to;
                }
                // 0x40 (extended label types) and 0x80 are reserved.
                _ => return Err(Error::Malformed),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
