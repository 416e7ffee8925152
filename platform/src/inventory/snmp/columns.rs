//! Walking a table's columns together, as snmptable does: one GetBulk names the next
//! OID of every column still going (docs/architecture.md, issue 14). The single walk
//! ([`Client::walk`]) stays in the parent module; the bounds are the same
//! ([`WalkLimits`]).

use super::{Client, Error, Target, WalkEnd, WalkLimits, row_bytes, status_name};
use ksocket_core::snmp::{OidBuf, Pdu, Value, Version, tag};

impl Client {
    /// Walks the subtrees under `roots` together (the columns of a table, as
    /// snmptable does): each request names the next OID of every column still going,
    /// GetBulk with max-repetitions for each (at most [`MAX_VARBINDS`] varbinds in
    /// all), so a table costs about as many requests as its longest column. Each column ends on its own (an OID past its
    /// root, an exception, v1 noSuchName at its error-index); rows go to `out` in the
    /// order of the responses, interleaved. The bounds and fallbacks of [`Client::walk`]
    /// hold across all the columns.
    pub async fn walk_columns(
        &mut self,
        t: &Target,
        roots: &[OidBuf],
        limits: &WalkLimits,
        out: &mut dyn FnMut(&OidBuf, &Value<'_>),
    ) -> Result<WalkEnd, Error> {
        let mut cols: Vec<Column> = roots
            .iter()
            .map(|r| Column {
                root: r.clone(),
                last: r.clone(),
                done: false,
            })
            .collect();
        let mut rows = 0usize;
        let mut bytes = 0usize;
        let mut end_of_mib = false;
        // Repetitions of each column (halved on tooBig or a timeout).
        let mut col_reps = i64::from(t.max_repetitions.clamp(1, 200));
        let mut bulk = t.version == Version::V2c;
        // Columns asked for in one request: all, until an agent cannot take that many
        // (tooBig, or a timeout that a smaller request may avoid); then halved, down to
        // one column a request, the single walk's shape.
        let mut cap = usize::MAX;
        loop {
            let mut live: Vec<usize> = (0..cols.len()).filter(|&i| !cols[i].done).collect();
            if live.is_empty() {
                return Ok(if end_of_mib {
                    WalkEnd::EndOfMib
                } else {
                    WalkEnd::Complete
                });
            }
            if let Some(end) = limits.reached(rows, bytes) {
                return Ok(end);
            }
            live.truncate(cap.max(1));
            // snmptable's way: each column gets the repetitions a single walk gets,
            // so a table costs about the requests of its longest column; but a
            // request never asks for more varbinds than the largest single walk
            // (200), so wide tables share them.
            let width = i64::try_from(live.len()).unwrap_or(i64::MAX);
            let reps = col_reps.min(MAX_VARBINDS / width).max(1);
            let (kind, b) = if bulk {
                (tag::GET_BULK, reps)
            } else {
                (tag::GET_NEXT, 0)
            };
            let asked: Vec<OidBuf> = live.iter().map(|&i| cols[i].last.clone()).collect();
            let step = self
                .request(t, kind, 0, b, &asked, |pdu| {
                    columns_step(pdu, &mut cols, &live, (rows, &mut bytes), limits, out)
                })
                .await;
            match step {
                Ok(Ok(n)) => rows += n,
                Ok(Err(why)) => return Ok(WalkEnd::Incomplete(why)),
                // v1: noSuchName past the last object of the MIB ends the column the
                // error-index names, and every column at or past its OID (nothing
                // follows them either); without a usable index, every column.
                Err(Error::Status { status: 2, index }) if !bulk => {
                    let named = index
                        .checked_sub(1)
                        .and_then(|k| usize::try_from(k).ok())
                        .and_then(|k| live.get(k));
                    match named {
                        Some(&i) => {
                            end_of_mib = true;
                            let past = cols[i].last.clone();
                            for c in cols.iter_mut().filter(|c| c.last >= past) {
                                c.done = true;
                            }
                        }
                        // Without a usable index, which column ended is unknown: one
                        // column a request from here, so that the next says it.
                        None if live.len() > 1 => cap = 1,
                        None => {
                            return Ok(WalkEnd::Incomplete(format!(
                                "noSuchName at an error-index ({index}) that names no object"
                            )));
                        }
                    }
                }
                Err(Error::Status { status: 1, .. }) if bulk && reps > 1 => {
                    col_reps = (reps / 2).max(1)
                }
                // tooBig at one repetition, or to a GetNext: fewer columns a request.
                Err(Error::Status { status: 1, .. }) if live.len() > 1 => cap = live.len() / 2,
                Err(Error::Status { status, .. }) if bulk => {
                    log::debug!(
                        "{}: GetBulk answered {}; walking on with GetNext",
                        t.addr,
                        status_name(status)
                    );
                    bulk = false;
                }
                // Silence to the first request: once more in the single walk's shape
                // (one column, the full repetitions), in case the answer was too big
                // to arrive; then nothing answers, and two timeouts are all it cost.
                Err(Error::Timeout) if rows == 0 && live.len() > 1 => cap = 1,
                Err(Error::Timeout) if rows == 0 => return Err(Error::Timeout),
                Err(Error::Timeout) if bulk && reps > 1 => col_reps = (reps / 2).max(1),
                Err(Error::Timeout) if live.len() > 1 => cap = live.len() / 2,
                Err(Error::Timeout) if bulk => bulk = false,
                Err(e) if rows > 0 => return Ok(WalkEnd::Incomplete(format!("{e}"))),
                Err(e) => return Err(e),
            }
        }
    }
}

/// The most varbinds a walk of columns asks for in one GetBulk: what the largest
/// single walk (max-repetitions 200) asks for. (An agent truncates a GetBulk answer
/// to its message size, RFC 3416 4.2.3; tooBig and timeouts halve the repetitions.)
const MAX_VARBINDS: i64 = 200;

/// One column of [`Client::walk_columns`]: its root, the last OID it reached, and
/// whether it has ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Column {
    pub(super) root: OidBuf,
    pub(super) last: OidBuf,
    pub(super) done: bool,
}

/// One response of a walk of columns that asked for what follows the `last` OID of
/// each column in `live` (in that order; GetBulk interleaves the repetitions, so
/// varbind k belongs to `live[k % live.len()]`), with `rows` handed on so far and
/// `bytes` counted. Hands each row inside its column's root to `out`; a row past the
/// root, or an exception, ends its column (later ones of that column are passed
/// over); an OID that does not increase within its column stops the walk, said why
/// (`Err`). Never hands on more than the limits allow. A response with no varbind
/// ends every column, as in [`walk_step`]. Returns the rows handed on.
pub(super) fn columns_step(
    pdu: &Pdu<'_>,
    cols: &mut [Column],
    live: &[usize],
    (rows, bytes): (usize, &mut usize),
    limits: &WalkLimits,
    out: &mut dyn FnMut(&OidBuf, &Value<'_>),
) -> Result<usize, String> {
    let mut n = 0usize;
    let mut any = false;
    for (k, (o, v)) in pdu.varbinds.enumerate() {
        any = true;
        let Some(&i) = live.get(k % live.len().max(1)) else {
            break;
        };
        let col = &mut cols[i];
        if col.done {
            continue;
        }
        if !o.starts_with(col.root.arcs()) {
            col.done = true;
            continue;
        }
        let Ok(ob) = OidBuf::from_oid(&o) else {
            return Err("an OID longer than 128 arcs".into());
        };
        if rows + n >= limits.rows || *bytes >= limits.bytes {
            return Ok(n);
        }
        if !v.is_exception() && ob <= col.last {
            return Err(format!("OID not increasing at {ob}"));
        }
        *bytes += row_bytes(&ob, &v);
        out(&ob, &v);
        n += 1;
        if v.is_exception() {
            col.done = true;
            continue;
        }
        col.last = ob;
    }
    if !any {
        for &i in live {
            cols[i].done = true;
        }
    }
    Ok(n)
}

/// Agents on loopback that cannot take a walk of several columns at once (a review's
/// findings): the walk falls back to fewer columns a request instead of failing.
#[cfg(test)]
mod narrow_agents {
    use super::*;
    use crate::credentials::secret::Secret;
    use crate::inventory::snmp::block_on;
    use ksocket_core::snmp::{Message, Request};
    use std::net::{SocketAddr, UdpSocket};
    use std::time::Duration;

    /// The agent's MIB: two columns of two rows, then an object past them.
    const MIB: &[&str] = &[
        "1.3.6.1.2.1.2.2.1.2.1",
        "1.3.6.1.2.1.2.2.1.2.2",
        "1.3.6.1.2.1.2.2.1.3.1",
        "1.3.6.1.2.1.2.2.1.3.2",
        "1.3.6.1.2.1.99.1.0",
    ];

    fn next(o: &OidBuf) -> OidBuf {
        MIB.iter()
            .map(|s| s.parse::<OidBuf>().unwrap())
            .find(|m| m > o)
            .unwrap_or_else(|| MIB[4].parse().unwrap())
    }

    /// A fake agent on loopback: `answer(version, repetitions, asked) -> Some((status,
    /// index, response OIDs))`, or None to stay silent. It stops 5 s after its last
    /// request.
    fn agent(
        version: Version,
        answer: impl Fn(i64, &[OidBuf]) -> Option<(i64, i64, Vec<OidBuf>)> + Send + 'static,
    ) -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let addr = s.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let Ok(m) = Message::decode(&buf[..n]) else {
                    continue;
                };
                let asked: Vec<OidBuf> = m
                    .pdu
                    .varbinds
                    .map(|(o, _)| OidBuf::from_oid(&o).unwrap())
                    .collect();
                let Some((a, b, oids)) = answer(m.pdu.error_index.max(1), &asked) else {
                    continue;
                };
                let mut out = vec![0u8; 65535];
                let r = Request {
                    version,
                    community: b"public",
                    kind: tag::RESPONSE,
                    request_id: m.pdu.request_id,
                    a,
                    b,
                }
                .encode(&mut out, &oids)
                .unwrap()
                .to_vec();
                let _ = s.send_to(&r, from);
            }
        });
        addr
    }

    fn target(addr: SocketAddr, version: Version) -> Target {
        Target {
            addr,
            version,
            community: Secret::new("public"),
            timeout: Duration::from_millis(300),
            retries: 0,
            retry_interval: Duration::ZERO,
            max_repetitions: 25,
            v3: None,
        }
    }

    fn roots() -> Vec<OidBuf> {
        ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect()
    }

    /// A v1 agent whose message size allows one varbind: tooBig to two columns.
    #[test]
    fn v1_too_big_for_two_columns_walks_one_at_a_time() {
        let addr = agent(Version::V1, |_, asked| {
            Some(if asked.len() > 1 {
                (1, 0, asked.to_vec())
            } else {
                (0, 0, vec![next(&asked[0])])
            })
        });
        let mut c = Client::new().unwrap();
        let mut n = 0;
        let t = target(addr, Version::V1);
        let end = block_on(c.walk_columns(&t, &roots(), &WalkLimits::PRINTING, &mut |_, _| n += 1));
        assert_eq!(end.unwrap(), WalkEnd::Complete);
        assert_eq!(n, 4);
    }

    /// A v2c agent that never answers more than 30 varbinds (its big answers lost):
    /// the walk goes on in the single walk's shape.
    #[test]
    fn v2c_big_answers_lost_walks_one_column_at_a_time() {
        let addr = agent(Version::V2c, |reps, asked| {
            (asked.len() as i64 * reps <= 30).then(|| (0, 0, asked.iter().map(next).collect()))
        });
        let mut c = Client::new().unwrap();
        let mut n = 0;
        let t = target(addr, Version::V2c);
        let end = block_on(c.walk_columns(&t, &roots(), &WalkLimits::PRINTING, &mut |_, _| n += 1));
        assert_eq!(end.unwrap(), WalkEnd::Complete);
        assert_eq!(n, 4);
    }

    /// noSuchName at an error-index of i64::MIN: no overflow, a bounded end.
    #[test]
    fn v1_error_index_naming_nothing_is_said() {
        let addr = agent(Version::V1, |_, asked| Some((2, i64::MIN, asked.to_vec())));
        let mut c = Client::new().unwrap();
        let t = target(addr, Version::V1);
        let end = block_on(c.walk_columns(&t, &roots(), &WalkLimits::PRINTING, &mut |_, _| {}));
        assert!(matches!(end, Ok(WalkEnd::Incomplete(_))), "{end:?}");
    }
}
