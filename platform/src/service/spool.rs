//! The result spool: every result message of an operation (`records`, `done`,
//! `failed`) is written here before it is sent, and leaves only when the controller
//! acknowledges it. It survives a dropped connection, a `kill -9` and a power cut.
//!
//! On disk: `$KSOCKET_HOME/var/spool/ksocket/NNNNNNNNNNNNNNNN.seg`, append-only
//! segments of records `[len u32 LE][crc32 u32 LE][payload]`, the payload a tag byte
//! and its body:
//! - `1` a result message (its JSON, as it is sent);
//! - `2` an acknowledgement (`seq` u64 LE, then the operation id);
//! - `3` an operation taken (`{"id":..,"operation":..}`), so that an operation is
//!   never run twice and one cut short by a restart is reported `interrupted`.
//!
//! A result message is written and `fdatasync`ed before it is sent: one sync per chunk
//! of hosts (the batch). Acknowledgements are not synced: one lost in a crash only
//! makes a chunk travel again, and the controller stores it once. A segment is rolled
//! at [`SEGMENT`] bytes (the operations still open are written again at the top of
//! the new one), and deleted, oldest first, when every message in it is acknowledged.
//! The spool is bounded ([`Spool::append`] says [`Full`]; the operation waits).
//!
//! Opening replays every segment: a record cut short or failing its CRC at the end of
//! the last segment is a torn write (the process died in the middle of it) and is cut
//! off; one inside an older segment ends that segment's replay, and says where.

use ksocket_proto::messages::{AgentMessage, OperationCursor};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A segment is rolled past this size.
pub const SEGMENT: u64 = 1 << 20;
/// The largest record (a message is at most a protocol frame).
const MAX_RECORD: u32 = (ksocket_proto::messages::MAX_FRAME + 64) as u32;
const HEADER: u64 = 8;
const TAG_MESSAGE: u8 = 1;
const TAG_ACK: u8 = 2;
const TAG_OPEN: u8 = 3;

/// The spool has no room for a message until acknowledgements free some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub used: u64,
    pub max: u64,
}

/// A message kept until acknowledged.
#[derive(Debug)]
pub struct Entry {
    pub op: String,
    pub seq: u64,
    /// Sent on the current connection (and when).
    pub sent: Option<std::time::Instant>,
    seg: u64,
    off: u64,
    len: u32,
    /// The payload itself, when the spool is in memory only.
    mem: Option<Vec<u8>>,
}

struct Segment {
    id: u64,
    bytes: u64,
    /// Messages in it not yet acknowledged.
    unacked: usize,
}

/// What opening found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Torn records cut off: (file, offset, bytes dropped).
    pub truncated: Vec<(PathBuf, u64, u64)>,
    /// Damage inside older segments: what was skipped, said for the log.
    pub damaged: Vec<String>,
    /// Operations that were running when the agent stopped: each now has its
    /// `failed` (kind `interrupted`) in the spool.
    pub interrupted: Vec<String>,
    /// Messages waiting to be sent again.
    pub pending: usize,
}

/// An operation taken and not yet finished.
#[derive(Debug, Clone)]
struct Open {
    /// The operation as received (JSON), written again when a segment is rolled.
    operation: String,
}

pub struct Spool {
    /// None: in memory only (no durability; for the benchmark of the spool's cost).
    dir: Option<PathBuf>,
    max: u64,
    segments: VecDeque<Segment>,
    file: Option<File>,
    entries: VecDeque<Entry>,
    acked: HashMap<String, u64>,
    last_seq: HashMap<String, u64>,
    open: BTreeMap<String, Open>,
    /// Every operation id met (taken, or with messages in the spool).
    known: HashMap<String, bool>,
    used: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {0}: {1}")]
    Io(PathBuf, io::Error),
}

impl Spool {
    /// A spool in memory only: what is not acknowledged is lost with the process.
    pub fn memory(max: u64) -> Spool {
        Spool {
            dir: None,
            max,
            segments: VecDeque::new(),
            file: None,
            entries: VecDeque::new(),
            acked: HashMap::new(),
            last_seq: HashMap::new(),
            open: BTreeMap::new(),
            known: HashMap::new(),
            used: 0,
        }
    }

    /// Opens (or creates, mode 0700) the spool in `dir`, replaying what it holds.
    pub fn open(dir: &Path, max: u64) -> Result<(Spool, Recovery), SpoolError> {
        let err = |p: &Path, e| SpoolError::Io(p.to_path_buf(), e);
        crate::sys::files::create_dirs(dir, crate::sys::files::PRIVATE_DIR_MODE)
            .map_err(|e| err(dir, e))?;
        let mut ids: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| err(dir, e))?
            .filter_map(|d| {
                let n = d.ok()?.file_name();
                let n = n.to_str()?.strip_suffix(".seg")?.to_string();
                (n.len() == 16).then(|| u64::from_str_radix(&n, 16).ok())?
            })
            .collect();
        ids.sort_unstable();
        let mut s = Spool::memory(max);
        s.dir = Some(dir.to_path_buf());
        let mut rec = Recovery::default();
        let last = ids.last().copied();
        for id in ids {
            let path = s.seg_path(id);
            let data = {
                let mut f = File::open(&path).map_err(|e| err(&path, e))?;
                let mut v = Vec::new();
                f.read_to_end(&mut v).map_err(|e| err(&path, e))?;
                v
            };
            let good = s.replay(id, &data);
            if good < data.len() as u64 {
                if Some(id) == last {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| err(&path, e))?;
                    f.set_len(good).map_err(|e| err(&path, e))?;
                    f.sync_data().map_err(|e| err(&path, e))?;
                    rec.truncated
                        .push((path.clone(), good, data.len() as u64 - good));
                } else {
                    rec.damaged.push(format!(
                        "{}: a damaged record at byte {good}; the {} bytes after it were skipped",
                        path.display(),
                        data.len() as u64 - good
                    ));
                }
            }
            s.segments.push_back(Segment {
                id,
                bytes: good.min(data.len() as u64),
                unacked: 0,
            });
        }
        // Count what each segment still holds, after every acknowledgement is known.
        let acked = s.acked.clone();
        s.entries
            .retain(|e| e.seq > acked.get(&e.op).copied().unwrap_or(0));
        for e in &s.entries {
            if let Some(g) = s.segments.iter_mut().find(|g| g.id == e.seg) {
                g.unacked += 1;
            }
        }
        s.used = s.segments.iter().map(|g| g.bytes).sum();
        let next = s.segments.back().map_or(1, |g| g.id + 1);
        s.start_segment(next).map_err(|e| err(dir, e))?;
        s.compact();
        // Operations taken and never finished: the agent stopped in the middle.
        let mut cut: Vec<String> = s.open.keys().cloned().collect();
        for e in &s.entries {
            if !s.open.contains_key(&e.op) && !s.finished(&e.op) && !cut.contains(&e.op) {
                cut.push(e.op.clone());
            }
        }
        for op in cut {
            let seq = s.next_seq(&op);
            let m = AgentMessage::Failed {
                op: op.clone(),
                seq,
                error: ksocket_proto::records::CollectError {
                    kind: ksocket_proto::records::ErrorKind::Interrupted,
                    message: "the agent stopped during this operation (results sent \
                              before are kept); it is not run again"
                        .into(),
                },
            };
            // Room is made for it: a failed message is small, and must not be lost.
            s.append_unbounded(&m).map_err(|e| err(dir, e))?;
            rec.interrupted.push(op);
        }
        rec.pending = s.entries.len();
        Ok((s, rec))
    }

    fn seg_path(&self, id: u64) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{id:016x}.seg")))
            .unwrap_or_default()
    }

    /// Replays one segment's records; returns the length of its good prefix.
    fn replay(&mut self, seg: u64, data: &[u8]) -> u64 {
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
            self.apply(seg, off as u64, body);
            off = start + len as usize;
        }
        off as u64
    }

    /// Takes one good record into the state.
    fn apply(&mut self, seg: u64, off: u64, body: &[u8]) {
        let (tag, rest) = (body[0], &body[1..]);
        match tag {
            TAG_MESSAGE => {
                let Some((op, seq, terminal)) = message_key(rest) else {
                    return;
                };
                self.note_message(&op, seq, terminal);
                self.entries.push_back(Entry {
                    op,
                    seq,
                    sent: None,
                    seg,
                    off,
                    len: body.len() as u32,
                    mem: None,
                });
            }
            TAG_ACK if rest.len() >= 8 => {
                let seq = u64::from_le_bytes(rest[..8].try_into().unwrap_or_default());
                if let Ok(op) = std::str::from_utf8(&rest[8..]) {
                    let a = self.acked.entry(op.to_string()).or_insert(0);
                    *a = (*a).max(seq);
                }
            }
            TAG_OPEN => {
                #[derive(serde::Deserialize)]
                struct O {
                    id: String,
                    operation: serde_json::Value,
                }
                if let Ok(o) = serde_json::from_slice::<O>(rest) {
                    if !self.finished(&o.id) {
                        self.open.insert(
                            o.id.clone(),
                            Open {
                                operation: o.operation.to_string(),
                            },
                        );
                    }
                    self.known.entry(o.id).or_insert(false);
                }
            }
            _ => {}
        }
    }

    fn note_message(&mut self, op: &str, seq: u64, terminal: bool) {
        let l = self.last_seq.entry(op.to_string()).or_insert(0);
        *l = (*l).max(seq);
        let k = self.known.entry(op.to_string()).or_insert(false);
        *k |= terminal;
        if terminal {
            self.open.remove(op);
        }
    }

    /// Whether `op`'s `done`/`failed` is in the spool (or was sent and acknowledged in
    /// this process's life).
    pub fn finished(&self, op: &str) -> bool {
        self.known.get(op).copied().unwrap_or(false)
    }

    /// Whether `op` was met before (taken, or with results in the spool).
    pub fn knows(&self, op: &str) -> bool {
        self.known.contains_key(op)
    }

    /// The next sequence number of `op`'s results.
    pub fn next_seq(&self, op: &str) -> u64 {
        self.last_seq.get(op).copied().unwrap_or(0) + 1
    }

    fn start_segment(&mut self, id: u64) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let path = dir.join(format!("{id:016x}.seg"));
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(crate::sys::files::SECRET_MODE)
            .open(&path)?;
        let len = f.metadata()?.len();
        if self.segments.back().map(|g| g.id) != Some(id) {
            self.segments.push_back(Segment {
                id,
                bytes: len,
                unacked: 0,
            });
        }
        self.file = Some(f);
        // The directory entry of a new segment must survive a power cut too.
        File::open(dir)?.sync_all()?;
        // Operations still open are written again at the top of each new segment, so
        // that older segments can go once their messages are acknowledged.
        let open: Vec<(String, String)> = self
            .open
            .iter()
            .map(|(k, v)| (k.clone(), v.operation.clone()))
            .collect();
        for (id, operation) in open {
            self.write_open(&id, &operation, false)?;
        }
        Ok(())
    }

    /// Writes one record at the end of the current segment; returns its offset.
    fn write(&mut self, tag: u8, body: &[&[u8]], sync: bool) -> io::Result<(u64, u64)> {
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
        let seg = self.segments.back_mut();
        let (Some(f), Some(seg)) = (self.file.as_mut(), seg) else {
            return Ok((0, 0));
        };
        let off = seg.bytes;
        f.write_all(&rec)?;
        if sync {
            f.sync_data()?;
        }
        seg.bytes += rec.len() as u64;
        self.used += rec.len() as u64;
        Ok((seg.id, off))
    }

    fn write_open(&mut self, id: &str, operation: &str, sync: bool) -> io::Result<()> {
        let body = format!(
            "{{\"id\":{},\"operation\":{operation}}}",
            serde_json::Value::String(id.to_string())
        );
        self.write(TAG_OPEN, &[body.as_bytes()], sync).map(|_| ())
    }

    /// Records that operation `id` (`operation`: its JSON) was taken; synced.
    pub fn open_op(&mut self, id: &str, operation: &str) -> io::Result<()> {
        self.write_open(id, operation, true)?;
        self.open.insert(
            id.to_string(),
            Open {
                operation: operation.to_string(),
            },
        );
        self.known.entry(id.to_string()).or_insert(false);
        Ok(())
    }

    /// Appends a result message (`records`, `done`, `failed`), synced before it
    /// returns; [`Full`] when the bound would be passed (nothing is written then).
    pub fn append(&mut self, m: &AgentMessage) -> Result<Result<(), Full>, io::Error> {
        let body = ksocket_proto::messages::encode(m);
        let need = HEADER + 1 + body.len() as u64;
        if self.used + need > self.max && !self.entries.is_empty() {
            return Ok(Err(Full {
                used: self.used,
                max: self.max,
            }));
        }
        self.append_bytes(body).map(Ok)
    }

    fn append_unbounded(&mut self, m: &AgentMessage) -> io::Result<()> {
        self.append_bytes(ksocket_proto::messages::encode(m))
    }

    fn append_bytes(&mut self, body: Vec<u8>) -> io::Result<()> {
        let Some((op, seq, terminal)) = message_key(&body) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a result message",
            ));
        };
        if self.dir.is_some() && self.segments.back().is_some_and(|g| g.bytes >= SEGMENT) {
            let next = self.segments.back().map_or(1, |g| g.id + 1);
            self.start_segment(next)?;
        }
        let len = 1 + body.len() as u32;
        let (seg, off) = self.write(TAG_MESSAGE, &[&body], true)?;
        if self.dir.is_none() {
            self.used += HEADER + len as u64;
        }
        if let Some(g) = self.segments.iter_mut().find(|g| g.id == seg) {
            g.unacked += 1;
        }
        self.note_message(&op, seq, terminal);
        self.entries.push_back(Entry {
            op,
            seq,
            sent: None,
            seg,
            off,
            len,
            mem: self.dir.is_none().then_some(body),
        });
        Ok(())
    }

    /// The controller holds every message of `op` up to `seq`: they leave.
    pub fn ack(&mut self, op: &str, seq: u64) -> io::Result<()> {
        let before = self.acked.get(op).copied().unwrap_or(0);
        if seq <= before {
            return Ok(());
        }
        self.acked.insert(op.to_string(), seq);
        let mut freed = 0;
        let segments = &mut self.segments;
        self.entries.retain(|e| {
            let gone = e.op == op && e.seq <= seq;
            if gone {
                freed += 1;
                if let Some(g) = segments.iter_mut().find(|g| g.id == e.seg) {
                    g.unacked = g.unacked.saturating_sub(1);
                }
                if e.mem.is_some() {
                    // (memory mode: the bytes are its whole cost)
                }
            }
            !gone
        });
        if self.dir.is_none() {
            self.used = self.entries.iter().map(|e| HEADER + e.len as u64).sum();
            return Ok(());
        }
        if freed > 0 {
            let mut body = seq.to_le_bytes().to_vec();
            body.extend_from_slice(op.as_bytes());
            self.write(TAG_ACK, &[&body], false)?;
        }
        self.compact();
        Ok(())
    }

    /// Deletes the oldest segments whose messages are all acknowledged (never the
    /// current one).
    fn compact(&mut self) {
        while self.segments.len() > 1 && self.segments.front().is_some_and(|g| g.unacked == 0) {
            let Some(g) = self.segments.pop_front() else {
                break;
            };
            let path = self.seg_path(g.id);
            match std::fs::remove_file(&path) {
                Ok(()) => self.used = self.used.saturating_sub(g.bytes),
                Err(e) => {
                    log::warn!("spool: cannot remove {}: {e}", path.display());
                    self.segments.push_front(g);
                    break;
                }
            }
        }
        // A spool with nothing pending and a large current segment starts afresh.
        if self.entries.is_empty()
            && self.open.is_empty()
            && self.segments.back().is_some_and(|g| g.bytes >= SEGMENT)
        {
            let next = self.segments.back().map_or(1, |g| g.id + 1);
            if let Err(e) = self.start_segment(next) {
                log::warn!("spool: cannot start a segment: {e}");
            }
            self.compact_all_but_last();
        }
    }

    fn compact_all_but_last(&mut self) {
        while self.segments.len() > 1 {
            let Some(g) = self.segments.pop_front() else {
                break;
            };
            let _ = std::fs::remove_file(self.seg_path(g.id));
            self.used = self.used.saturating_sub(g.bytes);
        }
    }

    /// The operations with messages not yet acknowledged, and the last seq of each
    /// (the `unacknowledged` of `hello`).
    pub fn cursors(&self) -> Vec<OperationCursor> {
        let mut m: BTreeMap<&str, u64> = BTreeMap::new();
        for e in &self.entries {
            let v = m.entry(&e.op).or_insert(0);
            *v = (*v).max(e.seq);
        }
        m.into_iter()
            .map(|(op, last_seq)| OperationCursor {
                op: op.to_string(),
                last_seq,
            })
            .collect()
    }

    /// A new connection: nothing is sent on it yet.
    pub fn unsend_all(&mut self) {
        for e in &mut self.entries {
            e.sent = None;
        }
    }

    /// The oldest message not sent on this connection, marked sent, with its bytes.
    pub fn next_unsent(&mut self) -> io::Result<Option<(String, u64, Vec<u8>)>> {
        let now = std::time::Instant::now();
        let Some(i) = self.entries.iter().position(|e| e.sent.is_none()) else {
            return Ok(None);
        };
        let bytes = self.payload(i)?;
        let e = &mut self.entries[i];
        e.sent = Some(now);
        Ok(Some((e.op.clone(), e.seq, bytes)))
    }

    /// The oldest message sent and not acknowledged: when it was sent.
    pub fn oldest_in_flight(&self) -> Option<std::time::Instant> {
        self.entries.iter().filter_map(|e| e.sent).min()
    }

    /// Messages waiting for an acknowledgement.
    pub fn pending(&self) -> usize {
        self.entries.len()
    }

    fn payload(&self, i: usize) -> io::Result<Vec<u8>> {
        let e = &self.entries[i];
        if let Some(m) = &e.mem {
            return Ok(m.clone());
        }
        let f = File::open(self.seg_path(e.seg))?;
        let mut buf = vec![0u8; e.len as usize];
        f.read_exact_at(&mut buf, e.off + HEADER)?;
        if buf.first() != Some(&TAG_MESSAGE) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("spool segment {:016x}: no message at byte {}", e.seg, e.off),
            ));
        }
        buf.remove(0);
        Ok(buf)
    }
}

/// The operation, seq and end-ness of a result message's JSON.
fn message_key(json: &[u8]) -> Option<(String, u64, bool)> {
    match ksocket_proto::messages::decode::<AgentMessage>(json).ok()? {
        AgentMessage::Records { op, seq, .. } => Some((op, seq, false)),
        AgentMessage::Done { op, seq, .. } | AgentMessage::Failed { op, seq, .. } => {
            Some((op, seq, true))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksocket_proto::records::{CollectError, ErrorKind, Host};

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kst-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn chunk(op: &str, seq: u64, n: u8) -> AgentMessage {
        AgentMessage::Records {
            op: op.into(),
            seq,
            hosts: (0..n).map(|i| Host::new([198, 18, 0, i].into())).collect(),
        }
    }

    fn failed(op: &str, seq: u64) -> AgentMessage {
        AgentMessage::Failed {
            op: op.into(),
            seq,
            error: CollectError {
                kind: ErrorKind::Failed,
                message: "x".into(),
            },
        }
    }

    fn drain(s: &mut Spool) -> Vec<(String, u64)> {
        let mut v = vec![];
        while let Some((op, seq, _)) = s.next_unsent().unwrap() {
            v.push((op, seq));
        }
        v
    }

    #[test]
    fn survives_reopen_and_forgets_what_is_acknowledged() {
        let d = dir("reopen");
        let (mut s, r) = Spool::open(&d, 1 << 26).unwrap();
        assert_eq!(r.pending, 0);
        s.open_op("a", "{\"kind\":\"diagnose\"}").unwrap();
        s.append(&chunk("a", 1, 3)).unwrap().unwrap();
        s.append(&chunk("a", 2, 3)).unwrap().unwrap();
        s.append(&failed("a", 3)).unwrap().unwrap();
        s.ack("a", 1).unwrap();
        drop(s);
        let (mut s, r) = Spool::open(&d, 1 << 26).unwrap();
        assert!(r.interrupted.is_empty() && r.truncated.is_empty());
        assert_eq!(drain(&mut s), vec![("a".into(), 2), ("a".into(), 3)]);
        assert!(s.finished("a") && s.knows("a"));
        assert_eq!(s.cursors()[0].last_seq, 3);
        s.ack("a", 3).unwrap();
        assert_eq!(s.pending(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_operation_cut_by_a_restart_is_reported_interrupted() {
        let d = dir("cut");
        let (mut s, _) = Spool::open(&d, 1 << 26).unwrap();
        s.open_op("b", "{\"kind\":\"diagnose\"}").unwrap();
        s.append(&chunk("b", 1, 2)).unwrap().unwrap();
        drop(s);
        let (mut s, r) = Spool::open(&d, 1 << 26).unwrap();
        assert_eq!(r.interrupted, vec!["b".to_string()]);
        assert_eq!(drain(&mut s), vec![("b".into(), 1), ("b".into(), 2)]);
        // Opened again: not interrupted twice.
        drop(s);
        let (_, r) = Spool::open(&d, 1 << 26).unwrap();
        assert!(r.interrupted.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_the_rest_kept() {
        let d = dir("torn");
        let (mut s, _) = Spool::open(&d, 1 << 26).unwrap();
        s.open_op("c", "{\"kind\":\"diagnose\"}").unwrap();
        s.append(&chunk("c", 1, 2)).unwrap().unwrap();
        s.append(&chunk("c", 2, 2)).unwrap().unwrap();
        drop(s);
        // Tear the last record: drop its last 5 bytes, as a power cut would.
        let seg = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .max()
            .unwrap();
        let len = std::fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let (mut s, r) = Spool::open(&d, 1 << 26).unwrap();
        assert_eq!(r.truncated.len(), 1);
        assert_eq!(r.interrupted, vec!["c".to_string()]);
        assert_eq!(drain(&mut s), vec![("c".into(), 1), ("c".into(), 2)]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_flipped_bit_fails_the_crc() {
        let d = dir("crc");
        let (mut s, _) = Spool::open(&d, 1 << 26).unwrap();
        s.append(&chunk("d", 1, 2)).unwrap().unwrap();
        s.append(&chunk("d", 2, 2)).unwrap().unwrap();
        drop(s);
        let seg = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .min()
            .unwrap();
        let mut b = std::fs::read(&seg).unwrap();
        let n = b.len();
        b[n - 3] ^= 0x40;
        std::fs::write(&seg, b).unwrap();
        let (mut s, r) = Spool::open(&d, 1 << 26).unwrap();
        assert_eq!(r.truncated.len() + r.damaged.len(), 1);
        // The damaged chunk 2 is gone; the operation is reported interrupted with
        // seq 2 (a `failed`), so the controller's sequence has no hole.
        assert_eq!(r.interrupted, vec!["d".to_string()]);
        let (_, _, second) = {
            assert_eq!(s.next_unsent().unwrap().unwrap().1, 1);
            s.next_unsent().unwrap().unwrap()
        };
        assert!(String::from_utf8(second).unwrap().contains("\"failed\""));
        assert!(s.next_unsent().unwrap().is_none());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn full_until_acknowledged_and_segments_go() {
        let d = dir("full");
        let max = 3 * SEGMENT;
        let (mut s, _) = Spool::open(&d, max).unwrap();
        let mut seq = 0;
        let full = loop {
            seq += 1;
            match s.append(&chunk("e", seq, 200)).unwrap() {
                Ok(()) => assert!(seq < 10_000),
                Err(f) => break f,
            }
        };
        assert!(full.used <= max && full.used + 20_000 > max, "{full:?}");
        let files = std::fs::read_dir(&d).unwrap().count();
        assert!(files >= 3, "{files}");
        drain(&mut s);
        s.ack("e", seq - 1).unwrap();
        assert_eq!(s.pending(), 0);
        assert!(std::fs::read_dir(&d).unwrap().count() <= 2);
        assert!(s.append(&chunk("e", seq, 200)).unwrap().is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn memory_mode_keeps_order_and_bound() {
        let mut s = Spool::memory(1 << 20);
        s.append(&chunk("m", 1, 1)).unwrap().unwrap();
        s.append(&chunk("m", 2, 1)).unwrap().unwrap();
        assert_eq!(drain(&mut s).len(), 2);
        s.unsend_all();
        s.ack("m", 1).unwrap();
        assert_eq!(drain(&mut s), vec![("m".into(), 2)]);
    }

    #[test]
    fn random_damage_never_panics_and_never_invents_records() {
        let d = dir("random");
        let (mut s, _) = Spool::open(&d, 1 << 26).unwrap();
        s.open_op("r", "{\"kind\":\"diagnose\"}").unwrap();
        for seq in 1..=6 {
            s.append(&chunk("r", seq, 3)).unwrap().unwrap();
        }
        s.ack("r", 2).unwrap();
        drop(s);
        let seg = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
            .min()
            .unwrap();
        let good = std::fs::read(&seg).unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for round in 0..300 {
            let mut b = good.clone();
            match round % 3 {
                0 => {
                    let i = rnd(b.len());
                    b[i] ^= 1 << rnd(8);
                }
                1 => b.truncate(rnd(b.len())),
                _ => {
                    let i = rnd(b.len());
                    let n = rnd(64);
                    for k in i..(i + n).min(b.len()) {
                        b[k] = rnd(256) as u8;
                    }
                }
            }
            // Only the damaged segment: the others as they were.
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p != seg {
                    std::fs::remove_file(p).unwrap();
                }
            }
            std::fs::write(&seg, &b).unwrap();
            let (mut s, _) = Spool::open(&d, 1 << 26).unwrap();
            let mut seqs = Vec::new();
            while let Some((op, seq, _)) = s.next_unsent().unwrap() {
                assert_eq!(op, "r");
                seqs.push(seq);
            }
            // Never more than was written (6 chunks and one failed), never repeated.
            assert!(seqs.len() <= 7, "{seqs:?}");
            let mut u = seqs.clone();
            u.dedup();
            assert_eq!(u, seqs);
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
