//! Small helpers: the clock, random ids, token hashing, the Bearer header, time
//! formatting.

use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in unix milliseconds (the unit of every timestamp column).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS's generator failing is not something to go on from with a weaker one.
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    b
}

/// SHA-256 in lowercase hex: what the tokens table holds instead of a token.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A new token: `kst_` and 32 random bytes in hex. Shown once, stored as its hash.
pub fn new_token() -> String {
    format!("kst_{}", hex(&random_bytes::<32>()))
}

/// A new id with a prefix, sortable by creation time: `op-0190a1b2c3d4-9f8e7d6c5b4a`.
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}-{:012x}-{}",
        now_ms().max(0),
        hex(&random_bytes::<6>())
    )
}

/// A unix-milliseconds timestamp as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for tables.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `6h`, `30m`, `90s`, `2d` (or plain seconds) as seconds.
pub fn parse_every(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        (i, 'd') => (&s[..i], 86_400),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = token.trim();
    (!t.is_empty() && t.len() <= 512).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_every("6h"), Some(21_600));
        assert_eq!(parse_every("30m"), Some(1800));
        assert_eq!(parse_every("45"), Some(45));
        assert_eq!(parse_every("2d"), Some(172_800));
        assert_eq!(parse_every("h"), None);
        assert_eq!(parse_every("-1s"), None);
        assert_eq!(parse_every(""), None);
    }

    #[test]
    fn tokens_and_hashes() {
        let t = new_token();
        assert!(t.starts_with("kst_") && t.len() == 4 + 64);
        assert_ne!(t, new_token());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
