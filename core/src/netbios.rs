//! NetBIOS node status (RFC 1002 §4.2.17/§4.2.18, "NBSTAT"): the request for a host's
//! name table, sent to UDP 137 of one host, and a bounded reader of the answer.
//!
//! The answer lists up to 255 names of 15 bytes, each with a one-byte suffix (its
//! service: 0x00 the workstation, 0x20 the file server, ...) and flags (group or
//! unique, active, in conflict), followed by statistics that start with the adapter's
//! MAC. [`NodeStatus::workstation`] picks the host's own name (a unique, active name
//! with suffix 0x00, else 0x20); [`NodeStatus::group`] its workgroup or domain.

use crate::dns::{self, Error};

/// The length of a node status request.
pub const REQUEST_LEN: usize = 50;
/// The NetBIOS name service port.
pub const PORT: u16 = 137;
/// Question and record type NBSTAT.
pub const TYPE_NBSTAT: u16 = 0x21;
/// The size of one entry of the name table.
const ENTRY: usize = 18;

/// Writes a node status request for the wildcard name `*` with transaction id `id`.
pub fn write_request(buf: &mut [u8], id: u16) -> Result<usize, Error> {
    let out = buf.get_mut(..REQUEST_LEN).ok_or(Error::BufferTooSmall)?;
    out[..2].copy_from_slice(&id.to_be_bytes());
    // Flags 0 (a query, unicast), one question.
    out[2..12].copy_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    out[12] = 32;
    // First-level encoding (RFC 1001 §14.1) of "*" padded with 15 NULs: each nibble
    // plus 'A'.
    let mut raw = [0u8; 16];
    raw[0] = b'*';
    for (i, b) in raw.iter().enumerate() {
        out[13 + 2 * i] = b'A' + (b >> 4);
        out[14 + 2 * i] = b'A' + (b & 0xf);
    }
    out[45] = 0;
    out[46..48].copy_from_slice(&TYPE_NBSTAT.to_be_bytes());
    out[48..50].copy_from_slice(&dns::CLASS_IN.to_be_bytes());
    Ok(REQUEST_LEN)
}

/// A node status answer.
#[derive(Clone, Copy, Debug)]
pub struct NodeStatus<'a> {
    /// Its transaction id.
    pub id: u16,
    table: &'a [u8],
    /// The unit id of the statistics (the adapter's MAC), when the answer has it (all
    /// zeroes from Samba).
    pub mac: Option<[u8; 6]>,
}

/// One entry of a name table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The name's 15 bytes without the trailing spaces (and NULs) that pad it.
    pub name: &'a [u8],
    /// Its suffix (the 16th byte).
    pub suffix: u8,
    /// Its flags word: 0x8000 group, 0x0400 active, 0x0800 in conflict, 0x1000 being
    /// deregistered.
    pub flags: u16,
}

impl<'a> Entry<'a> {
    /// A group name (a workgroup, a domain), not a unique one.
    pub fn is_group(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// Active and neither in conflict nor being deregistered.
    pub fn is_usable(&self) -> bool {
        self.flags & 0x0400 != 0 && self.flags & 0x1800 == 0
    }

    /// The name as text: printable ASCII only (spaces inside allowed), never empty.
    pub fn text(&self) -> Result<&'a str, Error> {
        if self.name.is_empty() || !self.name.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(Error::Unprintable);
        }
        core::str::from_utf8(self.name).map_err(|_| Error::Unprintable)
    }
}

impl<'a> NodeStatus<'a> {
    /// Reads a node status answer: a response without error whose first answer record
    /// is of type NBSTAT, its name table inside the record's data.
    pub fn parse(msg: &'a [u8]) -> Result<NodeStatus<'a>, Error> {
        let m = dns::Message::parse(msg)?;
        let h = m.header;
        if !h.is_response() || h.rcode() != 0 || h.ancount == 0 {
            return Err(Error::Malformed);
        }
        let rec = m.records().next().ok_or(Error::Truncated)??;
        if rec.rtype != TYPE_NBSTAT {
            return Err(Error::Malformed);
        }
        let (&count, rest) = rec.rdata.split_first().ok_or(Error::Truncated)?;
        let len = usize::from(count) * ENTRY;
        let table = rest.get(..len).ok_or(Error::Truncated)?;
        let mac = rest
            .get(len..len + 6)
            .and_then(|m| <[u8; 6]>::try_from(m).ok());
        Ok(NodeStatus {
            id: h.id,
            table,
            mac,
        })
    }

    /// The name table, in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'a>> + use<'a> {
        self.table.chunks_exact(ENTRY).map(|e| {
            let raw = &e[..15];
            let keep = raw
                .iter()
                .rposition(|&b| b != b' ' && b != 0)
                .map_or(0, |i| i + 1);
            Entry {
                name: &raw[..keep],
                suffix: e[15],
                flags: u16::from_be_bytes([e[16], e[17]]),
            }
        })
    }

    /// The host's own name: the first usable unique name with suffix 0x00 (the
    /// workstation service), else with 0x20 (the file server).
    pub fn workstation(&self) -> Option<Entry<'a>> {
        [0x00, 0x20].into_iter().find_map(|s| {
            self.entries()
                .find(|e| e.suffix == s && !e.is_group() && e.is_usable() && e.text().is_ok())
        })
    }

    /// Its workgroup or domain: the first usable group name with suffix 0x00.
    pub fn group(&self) -> Option<Entry<'a>> {
        self.entries()
            .find(|e| e.suffix == 0x00 && e.is_group() && e.is_usable() && e.text().is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_nmblookups() {
        let mut b = [0u8; 64];
        assert_eq!(write_request(&mut b, 0xbeef), Ok(50));
        let want: &[u8] = b"\xbe\xef\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\
            \x20CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00\x21\x00\x01";
        assert_eq!(&b[..50], want);
        assert_eq!(write_request(&mut b[..49], 1), Err(Error::BufferTooSmall));
    }

    /// nmbd 4.17 (`netbios name = FILESRV-7`, `workgroup = LABGROUP`) in a lab
    /// namespace answering the request above with id 0x4244; `nmblookup -A` said:
    /// FILESRV-7 <00> <03> <20>, LABGROUP <00> <1e> (group), MAC 00-00-00-00-00-00.
    const NMBD: &str = "42448400000000010000000020434b41414141414141414141414141414141414141414141414141414141414100002100010000000000890546494c455352562d3720202020202000040046494c455352562d3720202020202003040046494c455352562d372020202020202004004c414247524f5550202020202020200084004c414247524f5550202020202020201e840000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn captured_nmbd_name_table() {
        let mut b = [0u8; 512];
        let msg = crate::dns::tests::unhex(NMBD, &mut b);
        let st = NodeStatus::parse(msg).unwrap();
        assert_eq!(st.id, 0x4244);
        assert_eq!(st.entries().count(), 5);
        let w = st.workstation().unwrap();
        assert_eq!((w.text(), w.suffix), (Ok("FILESRV-7"), 0));
        assert_eq!(st.group().unwrap().text(), Ok("LABGROUP"));
        assert_eq!(st.mac, Some([0; 6]));
        // Every cut is an error or a shorter table, never a panic.
        for cut in 0..msg.len() {
            if let Ok(s) = NodeStatus::parse(&msg[..cut]) {
                assert!(s.entries().count() <= 5);
            }
        }
        // A query (not a response) is refused.
        let mut q = [0u8; 64];
        let n = write_request(&mut q, 7).unwrap();
        assert!(NodeStatus::parse(&q[..n]).is_err());
    }

    #[test]
    fn names_in_conflict_or_unprintable_are_not_the_workstation() {
        let mut b = [0u8; 512];
        let n = crate::dns::tests::unhex(NMBD, &mut b).len();
        // Entries start at 57 (header 12, name 34, fixed fields 10, count 1); the
        // first (FILESRV-7 <00>) marked in conflict: the <20> name is taken instead.
        b[57 + 16] |= 0x08;
        let st = NodeStatus::parse(&b[..n]).unwrap();
        assert_eq!(st.workstation().unwrap().suffix, 0x20);
        // The <20> one unprintable too: no workstation name at all.
        b[57 + 2 * 18] = 0x01;
        let st = NodeStatus::parse(&b[..n]).unwrap();
        assert!(st.workstation().is_none());
        assert_eq!(st.group().unwrap().text(), Ok("LABGROUP"));
    }
}
