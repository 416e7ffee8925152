//! The spool's files: segments `NNNNNNNNNNNNNNNN.seg` of records
//! `[len u32 LE][crc32 u32 LE][payload]`, the payload a tag byte and its body. This
//! file encodes a record, walks the good records of a segment, lists the segments of
//! a directory and reads a message back; what the records mean is the [`Spool`]'s
//! (mod.rs).
//!
//! [`Spool`]: super::Spool

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A segment is rolled past this size.
pub const SEGMENT: u64 = 1 << 20;
/// The largest record (a message is at most a protocol frame).
const MAX_RECORD: u32 = (ksocket_proto::messages::MAX_FRAME + 64) as u32;
/// A record's length and CRC.
pub const HEADER: u64 = 8;
/// A result message (its JSON, as it is sent).
pub const TAG_MESSAGE: u8 = 1;
/// An acknowledgement (`seq` u64 LE, then the operation id).
pub const TAG_ACK: u8 = 2;
/// An operation taken (`{"id":..,"operation":..}`).
pub const TAG_OPEN: u8 = 3;

/// One segment file, as the spool counts it.
pub struct Segment {
    pub id: u64,
    pub bytes: u64,
    /// Messages in it not yet acknowledged.
    pub unacked: usize,
}

/// The file name of segment `id`.
pub fn file_name(id: u64) -> String {
    format!("{id:016x}.seg")
}

/// The ids of the segments in `dir`, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|d| {
            let n = d.ok()?.file_name();
            let n = n.to_str()?.strip_suffix(".seg")?.to_string();
            (n.len() == 16).then(|| u64::from_str_radix(&n, 16).ok())?
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// One record: its header, `tag`, then the pieces of `body`.
pub fn encode(tag: u8, body: &[&[u8]]) -> Vec<u8> {
    let len: usize = 1 + body.iter().map(|b| b.len()).sum::<usize>();
    let mut rec = Vec::with_capacity(HEADER as usize + len);
    rec.extend_from_slice(&(len as u32).to_le_bytes());
    rec.extend_from_slice(&[0; 4]);
    rec.push(tag);
    for b in body {
        rec.extend_from_slice(b);
    }
    let crc = crc32fast::hash(&rec[HEADER as usize..]);
    rec[4..8].copy_from_slice(&crc.to_le_bytes());
    rec
}

/// Hands each good record of a segment's bytes to `each` (its offset, its payload:
/// tag and body), up to the first one cut short or failing its CRC; returns the
/// length of that good prefix.
pub fn records(data: &[u8], mut each: impl FnMut(u64, &[u8])) -> u64 {
    let mut off = 0usize;
    while data.len() - off >= HEADER as usize {
        let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(data[off + 4..off + 8].try_into().unwrap_or_default());
        let start = off + HEADER as usize;
        if len == 0 || len > MAX_RECORD || data.len() - start < len as usize {
            break;
        }
        let body = &data[start..start + len as usize];
        if crc32fast::hash(body) != crc {
            break;
        }
        each(off as u64, body);
        off = start + len as usize;
    }
    off as u64
}

/// The message of the record at `off` (payload length `len`) in segment `seg`, the
/// file at `path`: its JSON, without the tag.
pub fn read_message(path: &Path, seg: u64, off: u64, len: u32) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, off + HEADER)?;
    if buf.first() != Some(&TAG_MESSAGE) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("spool segment {seg:016x}: no message at byte {off}"),
        ));
    }
    buf.remove(0);
    Ok(buf)
}
