//! What sysDescr says of a device: the vendor's patterns ([`Pat`]), then a version
//! after `Version`/`Release` or a word shaped like one. The last source of
//! identification: every field it fills was left empty by the sources before it.

use super::*;

/// The word of `descr` right after `marker`.
pub(super) fn after<'a>(descr: &'a str, marker: &str) -> Option<&'a str> {
    let mut rest = descr;
    while let Some(at) = rest.find(marker) {
        // The marker must start a word.
        let before = &rest[..at];
        let tail = &rest[at + marker.len()..];
        if before.is_empty() || before.ends_with(sep) {
            let w = tail.trim_start_matches(sep).split(sep).next().unwrap_or("");
            if !w.is_empty() {
                return Some(w);
            }
        }
        rest = tail;
    }
    None
}

/// Where a word of sysDescr ends.
fn sep(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '|')
}

pub(super) fn words(descr: &str) -> impl Iterator<Item = &str> {
    descr.split(sep).filter(|w| !w.is_empty())
}

/// A version token: starts with a digit, or with `V`/`v` and a digit.
fn version_like(w: &str) -> bool {
    let mut ch = w.chars();
    match ch.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('V' | 'v') => ch.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// The software version a sysDescr states: the version token after `Version`,
/// `JUNOS`, `Release` or `revision` (Cisco IOS and NX-OS, Arista, IronWare, JunOS,
/// NetApp, ProCurve).
pub fn version_in_descr(descr: &str) -> Option<String> {
    // Versions hold parentheses (`12.2(55)SE3`): split on spaces and commas only.
    let ws: Vec<&str> = descr
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '|'))
        .filter(|w| !w.is_empty())
        .collect();
    ws.windows(2).find_map(|w| {
        let key = w[0].trim_start_matches('(').trim_end_matches(':');
        if key.eq_ignore_ascii_case("version") && hardware_before(descr, w[0]) {
            return None;
        }
        let mut v = w[1].trim_start_matches('(').trim_end_matches(['.', ':']);
        if v.ends_with(')') && v.matches(')').count() > v.matches('(').count() {
            v = &v[..v.len() - 1];
        }
        rules::VERSION_MARKERS
            .iter()
            .any(|m| key.eq_ignore_ascii_case(m))
            .then(|| v.to_string())
            .filter(|v| version_like(v))
    })
}

/// A model names a product: it holds a digit ("Aruba7010", "DES-3028", "mx960").
pub(super) fn model_like(f: Field, w: &str) -> bool {
    f != Field::Model || w.chars().any(|c| c.is_ascii_digit())
}

/// Whether the `Version` word (`at`, a slice of `descr`) follows "HardWare" or
/// "BootRom" (Maipu and DCN state those versions beside the software's).
fn hardware_before(descr: &str, at: &str) -> bool {
    let off = at.as_ptr() as usize - descr.as_ptr() as usize;
    let before = descr[..off].trim_end().to_ascii_lowercase();
    ["hardware", "bootrom", "boot rom", "rom", "firmware"]
        .iter()
        .any(|w| before.ends_with(w))
}

/// Fills what the other sources left empty from sysDescr: the vendor's patterns, then
/// the software version (after `Version`, else a word such as `v7.2.1.0`).
pub(in super::super) fn from_descr(
    c: &mut Option<Chassis>,
    descr: Option<&str>,
    rule: Option<&Rule>,
) {
    let Some(descr) = descr.filter(|d| !d.trim().is_empty()) else {
        return;
    };
    let release = rule.and_then(|r| r.release);
    let chassis = c.get_or_insert_with(Chassis::default);
    for p in rule.map(|r| r.descr).unwrap_or_default() {
        let (f, v): (Field, Option<String>) = match p {
            Pat::After(f, m) => (*f, after(descr, m).map(str::to_string)),
            Pat::Word(f, prefix) => (
                *f,
                words(descr)
                    .find(|w| w.starts_with(prefix) && w.chars().any(|c| c.is_ascii_digit()))
                    .map(str::to_string),
            ),
            Pat::Two(f, first) => {
                let ws: Vec<&str> = words(descr).collect();
                (
                    *f,
                    ws.windows(2)
                        .find(|w| w[0] == *first)
                        .map(|w| format!("{} {}", w[0], w[1])),
                )
            }
            Pat::Nth(f, first, n) => (
                *f,
                words(descr)
                    .skip_while(|w| w != first)
                    .nth(*n)
                    .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                    .map(str::to_string),
            ),
            Pat::Paren(f) => (
                *f,
                descr
                    .split('(')
                    .skip(1)
                    .filter_map(|t| t.split(')').next())
                    .find(|t| {
                        !t.is_empty() && !t.contains(' ') && t.chars().any(|c| c.is_ascii_digit())
                    })
                    .map(str::to_string),
            ),
            Pat::First(f) => (
                *f,
                words(descr)
                    .next()
                    .filter(|w| {
                        w.chars().any(|c| c.is_ascii_digit())
                            && w.chars().any(|c| c.is_ascii_alphabetic())
                    })
                    .map(str::to_string),
            ),
        };
        if let Some(v) = v.filter(|v| model_like(f, v)) {
            put(
                chassis,
                f,
                v.trim_end_matches(['.', ':']),
                "sysDescr",
                release,
            );
        }
    }
    if release.is_some() {
        // The release token wherever sysDescr states it.
        put(chassis, Field::Software, descr, "sysDescr", release);
    } else if let Some(v) = version_in_descr(descr).or_else(|| version_word(descr)) {
        put(chassis, Field::Software, &v, "sysDescr", None);
    }
    if *chassis == Chassis::default() {
        *c = None;
    }
}

/// A word of sysDescr that is a version by itself: `v7.2.1.0`, `V1.0`.
fn version_word(descr: &str) -> Option<String> {
    words(descr)
        .find(|w| {
            let mut ch = w.chars();
            matches!(ch.next(), Some('v' | 'V'))
                && ch.next().is_some_and(|c| c.is_ascii_digit())
                && w.contains('.')
        })
        .map(|w| w.trim_end_matches(['.', ':']).to_string())
}
