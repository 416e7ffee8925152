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
        hosts: (0..n)
            .map(|i| Host::new(std::net::Ipv4Addr::from([198, 18, 0, i])))
            .collect(),
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
