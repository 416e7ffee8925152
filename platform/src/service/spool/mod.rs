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

mod segments;

use ksocket_proto::messages::{AgentMessage, OperationCursor};
pub use segments::SEGMENT;
use segments::{HEADER, Segment, TAG_ACK, TAG_MESSAGE, TAG_OPEN};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
        let ids = segments::list(dir).map_err(|e| err(dir, e))?;
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
            .map(|d| d.join(segments::file_name(id)))
            .unwrap_or_default()
    }

    /// Replays one segment's records; returns the length of its good prefix.
    fn replay(&mut self, seg: u64, data: &[u8]) -> u64 {
        segments::records(data, |off, body| self.apply(seg, off, body))
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
        let path = dir.join(segments::file_name(id));
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
        let rec = segments::encode(tag, body);
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
        segments::read_message(&self.seg_path(e.seg), e.seg, e.off, e.len)
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
mod tests;
