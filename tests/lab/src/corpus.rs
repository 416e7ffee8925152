//! The recordings corpus (snmpsim-data, real devices' SNMP recordings): where it is
//! on this machine, the expected values read from it by people
//! (`platform/tests/data/corpus/expected*.toml`), serving a set of recordings with
//! snmpsimd in a lab, and comparing `ksocket snmp device` records with them. Shared by
//! the corpus test (platform/tests/snmp_corpus.rs) and `kst-bench --only corpus`.
use crate::{HostSpec, Lab, Ns, Role};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The fields compared, in table order.
pub const FIELDS: [&str; 5] = ["vendor", "model", "serial", "version", "kind"];

/// The share of right values each field must reach (of the devices whose recording
/// states it); kind has no share target, only "never wrong".
pub const TARGETS: [(&str, f64); 4] = [
    ("vendor", 0.95),
    ("model", 0.85),
    ("serial", 0.85),
    ("version", 0.80),
];

const KINDS: [&str; 10] = [
    "router", "switch", "firewall", "wireless", "printer", "power", "storage", "host", "camera",
    "other",
];

/// The corpus's cache directory: `$KSOCKET_CORPUS`, else `/var/cache/ksocket-corpus`
/// for root, else `${XDG_CACHE_HOME:-$HOME/.cache}/ksocket-corpus` (as
/// scripts/setup.sh fetches it).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KSOCKET_CORPUS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if crate::is_root() {
        return PathBuf::from("/var/cache/ksocket-corpus");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("ksocket-corpus")
}

/// The unpacked recordings (`<cache>/x/snmpsim_data/data`), when present.
pub fn data_dir() -> Option<PathBuf> {
    let d = cache_dir().join("x/snmpsim_data/data");
    d.is_dir().then_some(d)
}

/// One value a recording states, and the OID a person read it from.
#[derive(Debug, Clone)]
pub struct Stated {
    pub value: String,
    pub oid: String,
}

/// One `[[device]]` of the expected-values file.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// Path under `snmpsim_data/data/`.
    pub file: String,
    pub what: String,
    pub sample: bool,
    pub exclude: Option<String>,
    /// Field name (vendor, model, serial, version, kind) → what the recording states.
    /// Vendor's value is the enterprise number; kind's oid is empty.
    pub fields: BTreeMap<&'static str, Stated>,
}

impl Expected {
    /// The community this recording is served under: its path, `/` → `-`, without
    /// `.snmprec[.bz2]`.
    pub fn community(&self) -> String {
        let f = self
            .file
            .trim_end_matches(".bz2")
            .trim_end_matches(".snmprec");
        f.replace('/', "-")
    }
}

/// Reads `expected.toml` (and any `expected-*.toml` part beside it) of `dir`.
/// A file named twice is an error, as is any unknown key, a field without its OID, a
/// kind not in the list, or an excluded device with fields.
pub fn load_expected(dir: &Path) -> Result<Vec<Expected>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("expected") && n.ends_with(".toml"))
        })
        .collect();
    paths.sort();
    let mut all = Vec::new();
    let mut seen = BTreeMap::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        for e in parse_expected(&text).map_err(|e| format!("{}: {e}", p.display()))? {
            if let Some(prev) = seen.insert(e.file.clone(), p.clone()) {
                return Err(format!(
                    "{} is in both {} and {}",
                    e.file,
                    prev.display(),
                    p.display()
                ));
            }
            all.push(e);
        }
    }
    if all.is_empty() {
        return Err(format!("no expected values in {}", dir.display()));
    }
    Ok(all)
}

/// Parses one expected-values document (see the README beside it).
pub fn parse_expected(text: &str) -> Result<Vec<Expected>, String> {
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    for (k, _) in doc.iter() {
        if k != "device" {
            return Err(format!("unknown top-level key `{k}`"));
        }
    }
    let Some(devices) = doc.get("device") else {
        return Ok(Vec::new());
    };
    let devices = devices
        .as_array_of_tables()
        .ok_or("`device` must be an array of tables ([[device]])")?;
    let mut out = Vec::new();
    for (i, t) in devices.iter().enumerate() {
        let at = |m: String| {
            format!(
                "device #{} ({}): {m}",
                i + 1,
                t.get("file").and_then(|f| f.as_str()).unwrap_or("?")
            )
        };
        let mut e = Expected::default();
        for (k, v) in t.iter() {
            match k {
                "file" | "what" | "exclude" => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| at(format!("`{k}` must be a string")))?
                        .to_string();
                    match k {
                        "file" => e.file = s,
                        "what" => e.what = s,
                        _ => e.exclude = Some(s),
                    }
                }
                "sample" => {
                    e.sample = v
                        .as_bool()
                        .ok_or_else(|| at("`sample` must be true or false".into()))?
                }
                "note" => {}
                "kind" => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| at("`kind` must be a string".into()))?;
                    if !KINDS.contains(&s) {
                        return Err(at(format!("kind `{s}` is not one of {KINDS:?}")));
                    }
                    e.fields.insert(
                        "kind",
                        Stated {
                            value: s.to_string(),
                            oid: String::new(),
                        },
                    );
                }
                "vendor" | "model" | "serial" | "version" => {
                    let tbl = v
                        .as_inline_table()
                        .map(|t| {
                            t.iter()
                                .map(|(k, v)| (k.to_string(), v.clone()))
                                .collect::<Vec<_>>()
                        })
                        .or_else(|| {
                            v.as_table().map(|t| {
                                t.iter()
                                    .filter_map(|(k, i)| {
                                        Some((k.to_string(), i.as_value()?.clone()))
                                    })
                                    .collect()
                            })
                        })
                        .ok_or_else(|| {
                            at(format!("`{k}` must be a table {{ ..., oid = \"...\" }}"))
                        })?;
                    let mut value = None;
                    let mut oid = None;
                    for (fk, fv) in &tbl {
                        match (k, fk.as_str()) {
                            ("vendor", "enterprise") => {
                                let n = fv
                                    .as_integer()
                                    .filter(|n| (0..=u32::MAX as i64).contains(n))
                                    .ok_or_else(|| {
                                        at("vendor.enterprise must be a number".into())
                                    })?;
                                value = Some(n.to_string());
                            }
                            (_, "value") if k != "vendor" => {
                                let s = fv
                                    .as_str()
                                    .ok_or_else(|| at(format!("{k}.value must be a string")))?;
                                if s.trim().is_empty() || s.trim() != s {
                                    return Err(at(format!(
                                        "{k}.value must be trimmed and not empty"
                                    )));
                                }
                                value = Some(s.to_string());
                            }
                            (_, "oid") => {
                                let s = fv
                                    .as_str()
                                    .ok_or_else(|| at(format!("{k}.oid must be a string")))?;
                                if s.is_empty()
                                    || !s.split('.').all(|p| {
                                        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
                                    })
                                {
                                    return Err(at(format!("{k}.oid `{s}` is not a dotted OID")));
                                }
                                oid = Some(s.to_string());
                            }
                            (_, "note") => {}
                            (_, other) => return Err(at(format!("unknown key `{k}.{other}`"))),
                        }
                    }
                    let (Some(value), Some(oid)) = (value, oid) else {
                        return Err(at(format!("`{k}` needs its value and its oid")));
                    };
                    let name = FIELDS.iter().find(|f| **f == k).copied().unwrap_or("?");
                    e.fields.insert(name, Stated { value, oid });
                }
                other => return Err(at(format!("unknown key `{other}`"))),
            }
        }
        if e.file.is_empty() || e.what.is_empty() {
            return Err(at("`file` and `what` are required".into()));
        }
        if e.exclude.is_some() && (!e.fields.is_empty() || e.sample) {
            return Err(at("an excluded device has no other field".into()));
        }
        out.push(e);
    }
    Ok(out)
}

/// How one field of one record compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// The record has no value for a field the recording states.
    Missing,
    Wrong,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub field: &'static str,
    pub expected: String,
    pub got: Option<String>,
    pub verdict: Verdict,
}

/// What the device record says for `field`.
pub fn record_value(record: &serde_json::Value, field: &str) -> Option<String> {
    let v = match field {
        "vendor" => &record["vendor"]["enterprise"],
        "model" => &record["chassis"]["model"],
        "serial" => &record["chassis"]["serialNumber"],
        "version" => &record["chassis"]["softwareVersion"],
        "kind" => &record["kind"],
        _ => return None,
    };
    let s = match v {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// Values compare case-insensitively after trimming; a version also without a
/// leading `v` before a digit ("v6.7.2" = "6.7.2": the same release, written two ways
/// by two objects of one recording), and a version is right when the record's value
/// holds the stated one as a whole token (bounded by the ends or by characters that
/// are neither letters, digits nor parentheses): a record that keeps a device's whole version
/// string, "Version 5.160 V200R007C00SPC500" or "XW.ar934x.v5.6-beta4.22359", holds the
/// release the recording states.
fn same(field: &str, got: &str, want: &str) -> bool {
    fn norm(field: &str, s: &str) -> String {
        let s = s.trim().to_lowercase();
        if field == "version"
            && let Some(r) = s.strip_prefix('v')
            && r.starts_with(|c: char| c.is_ascii_digit())
        {
            return r.to_string();
        }
        s
    }
    let (g, w) = (norm(field, got), norm(field, want));
    if g == w {
        return true;
    }
    if field != "version" || w.is_empty() {
        return false;
    }
    let hay = got.trim().to_lowercase();
    let needles = [want.trim().to_lowercase(), w];
    needles.iter().any(|n| {
        hay.match_indices(n.as_str()).any(|(at, m)| {
            let before = hay[..at].chars().next_back();
            let after = hay[at + m.len()..].chars().next();
            // A `v` before the version belongs to it ("v5.27" holds "5.27").
            let before = match before {
                Some('v')
                    if hay[..at].len() == 1 || !hay[..at - 1].ends_with(char::is_alphanumeric) =>
                {
                    None
                }
                b => b,
            };
            // Parentheses belong to versions ("12.2(55)SE3" is not "12.2").
            let edge = |c: char| !c.is_alphanumeric() && c != '(' && c != ')';
            before.is_none_or(edge) && after.is_none_or(edge)
        })
    })
}

/// Compares a device record with what its recording states (only stated fields).
pub fn compare(e: &Expected, record: &serde_json::Value) -> Vec<Check> {
    FIELDS
        .iter()
        .filter_map(|f| {
            let want = e.fields.get(f)?;
            let got = record_value(record, f);
            let verdict = match &got {
                None => Verdict::Missing,
                Some(g) if same(f, g, &want.value) => Verdict::Right,
                Some(_) => Verdict::Wrong,
            };
            Some(Check {
                field: f,
                expected: want.value.clone(),
                got,
                verdict,
            })
        })
        .collect()
}

/// The outcome for one recording.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: String,
    /// Why no record came (exit status, stderr, timeout, bad JSON); then no checks.
    pub error: Option<String>,
    pub checks: Vec<Check>,
    pub seconds: f64,
}

/// Per field: (right, missing, wrong) over the devices whose recording states it.
pub fn tally(
    outcomes: &[Outcome],
    expected: &[Expected],
) -> BTreeMap<&'static str, (usize, usize, usize)> {
    let mut t: BTreeMap<&'static str, (usize, usize, usize)> =
        FIELDS.iter().map(|f| (*f, (0, 0, 0))).collect();
    for o in outcomes {
        let Some(e) = expected.iter().find(|e| e.file == o.file) else {
            continue;
        };
        for f in FIELDS {
            if !e.fields.contains_key(f) {
                continue;
            }
            let c = o.checks.iter().find(|c| c.field == f);
            let slot = t.get_mut(f).expect("field");
            match c.map(|c| c.verdict) {
                Some(Verdict::Right) => slot.0 += 1,
                Some(Verdict::Wrong) => slot.2 += 1,
                // No record at all counts as missing.
                Some(Verdict::Missing) | None => slot.1 += 1,
            }
        }
    }
    t
}

/// The per-device tables and the summary, as text.
pub fn report(outcomes: &[Outcome], expected: &[Expected]) -> String {
    let mut s = String::new();
    for o in outcomes {
        let what = expected
            .iter()
            .find(|e| e.file == o.file)
            .map(|e| e.what.as_str())
            .unwrap_or("");
        let _ = writeln!(s, "\n{}  ({what}; {:.2} s)", o.file, o.seconds);
        if let Some(err) = &o.error {
            let _ = writeln!(s, "  NO RECORD: {err}");
            continue;
        }
        for c in &o.checks {
            let v = match c.verdict {
                Verdict::Right => "right",
                Verdict::Missing => "missing",
                Verdict::Wrong => "WRONG",
            };
            let _ = writeln!(
                s,
                "  {:<8} {:<40} {:<40} {v}",
                c.field,
                c.expected,
                c.got.as_deref().unwrap_or("-")
            );
        }
    }
    let t = tally(outcomes, expected);
    let _ = writeln!(s, "\nfield    right/stated  share   missing  wrong  target");
    for f in FIELDS {
        let (r, m, w) = t[f];
        let n = r + m + w;
        let share = if n == 0 { 1.0 } else { r as f64 / n as f64 };
        let target = TARGETS
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, x)| format!("{:.0}%", x * 100.0))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{f:<8} {r:>5}/{n:<6}    {:>5.1}%  {m:>7}  {w:>5}  {target}",
            share * 100.0
        );
    }
    let errors = outcomes.iter().filter(|o| o.error.is_some()).count();
    let mut secs: Vec<f64> = outcomes.iter().map(|o| o.seconds).collect();
    secs.sort_by(f64::total_cmp);
    if !secs.is_empty() {
        let _ = writeln!(
            s,
            "{} recordings, {errors} without a record; time per record: median {:.2} s, max {:.2} s, total {:.1} s",
            outcomes.len(),
            secs[secs.len() / 2],
            secs[secs.len() - 1],
            secs.iter().sum::<f64>()
        );
    }
    s
}

/// What fails the targets: devices without a record, wrong values, shares under
/// their target. Empty when all is well.
pub fn failures(outcomes: &[Outcome], expected: &[Expected]) -> Vec<String> {
    let mut v = Vec::new();
    for o in outcomes {
        if let Some(e) = &o.error {
            v.push(format!("{}: no record: {e}", o.file));
        }
        for c in o.checks.iter().filter(|c| c.verdict == Verdict::Wrong) {
            v.push(format!(
                "{}: {} is {:?}, the recording states {:?}",
                o.file,
                c.field,
                c.got.as_deref().unwrap_or(""),
                c.expected
            ));
        }
    }
    let t = tally(outcomes, expected);
    for (f, target) in TARGETS {
        let (r, m, w) = t[f];
        let n = r + m + w;
        if n > 0 && (r as f64) < target * n as f64 {
            v.push(format!(
                "{f}: {r}/{n} right ({:.1}%), under the {:.0}% target",
                100.0 * r as f64 / n as f64,
                target * 100.0
            ));
        }
    }
    v
}

/// Reads one recording of the corpus, decompressing `.bz2` (with `bzip2 -dc`).
pub fn read_recording(data: &Path, file: &str) -> io::Result<Vec<u8>> {
    let p = data.join(file);
    if file.ends_with(".bz2") {
        let o = std::process::Command::new("bzip2")
            .arg("-dc")
            .arg(&p)
            .stdin(std::process::Stdio::null())
            .output()?;
        if !o.status.success() {
            return Err(io::Error::other(format!(
                "bzip2 -dc {}: {}",
                p.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Ok(o.stdout)
    } else {
        std::fs::read(&p)
    }
}

/// A lab with a client (198.18.12.2) and an snmpsimd agent (198.18.12.7).
pub struct SimLab {
    pub lab: Lab,
    pub client: Ns,
    pub agent: Ns,
    pub ip: &'static str,
}

impl SimLab {
    pub fn new(tag: &str) -> io::Result<SimLab> {
        let mut lab = Lab::new(tag)?;
        let sw = lab.switch("sw")?;
        let spec = |name: &str, ip: &str| HostSpec {
            name: name.into(),
            cidr: format!("{ip}/24"),
            gateway: None,
            role: Role::Full,
        };
        let ns = lab.hosts(
            &sw,
            &[spec("client", "198.18.12.2"), spec("agent", "198.18.12.7")],
        )?;
        Ok(SimLab {
            lab,
            client: ns[0].clone(),
            agent: ns[1].clone(),
            ip: "198.18.12.7",
        })
    }

    /// Serves `batch` (recordings of `data`) with one snmpsimd; `limit` bounds the
    /// wait until every one answers.
    pub fn serve(
        &mut self,
        data: &Path,
        batch: &[&Expected],
        limit: Duration,
    ) -> io::Result<Child> {
        let n = self.lab.namespaces().len();
        let dir = crate::snmpsim::data_dir(&mut self.lab, &format!("corpus{n}-{}", batch.len()))?;
        let mut communities = Vec::new();
        for e in batch {
            let rec = read_recording(data, &e.file)?;
            let c = e.community();
            std::fs::write(dir.join("data").join(format!("{c}.snmprec")), rec)?;
            communities.push(c);
        }
        crate::snmpsim::start(
            &self.lab,
            [&self.client, &self.agent],
            self.ip,
            &dir,
            &communities,
            &[],
            limit,
        )
    }

    /// Runs `ksocket snmp device -c COMMUNITY IP` (it prints one JSON record) for `e`
    /// (served now) and compares its record.
    pub fn check(&self, ksocket: &str, e: &Expected, limit: Duration) -> Outcome {
        let c = e.community();
        let t0 = Instant::now();
        let r = self.lab.exec(
            &self.client,
            &[ksocket, "snmp", "device", "-c", &c, self.ip],
            limit,
        );
        let seconds = t0.elapsed().as_secs_f64();
        let mut out = Outcome {
            file: e.file.clone(),
            error: None,
            checks: Vec::new(),
            seconds,
        };
        match r {
            Err(err) => out.error = Some(err.to_string()),
            Ok(o) if !o.status.success() => {
                let err = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<&str> = err.lines().rev().take(3).collect();
                out.error = Some(format!(
                    "exit {:?}: {}",
                    o.status.code(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                ));
            }
            Ok(o) => match serde_json::from_slice::<serde_json::Value>(&o.stdout) {
                Err(err) => out.error = Some(format!("not JSON: {err}")),
                Ok(v) => {
                    // One document: the record itself, or a list/envelope holding it.
                    let rec = if v.is_array() { v[0].clone() } else { v };
                    out.checks = compare(e, &rec);
                }
            },
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_right_as_whole_tokens_only() {
        assert!(same(
            "version",
            "Version 5.160 V200R007C00SPC500",
            "V200R007C00SPC500"
        ));
        assert!(same(
            "version",
            "XW.ar934x.v5.6-beta4.22359.140521.1836",
            "v5.6-beta4"
        ));
        assert!(same("version", "v6.7.2", "6.7.2"));
        assert!(same("version", "INV: 2.08.0011", "2.08.0011"));
        assert!(!same("version", "12.2(55)SE3", "12.2"));
        assert!(!same("version", "WAC3.7.5", "3.7.5"));
        assert!(!same("version", "5.160", "V200R007C00SPC500"));
        assert!(!same("model", "HUAWEI S5720 Routing Switch", "S5720"));
        assert!(same("model", "mx960", "MX960"));
    }

    use super::*;

    const DOC: &str = r#"
[[device]]
file = "a/x.snmprec.bz2"
what = "X"
sample = true
vendor = { enterprise = 9, oid = "1.3.6.1.2.1.1.2.0" }
model = { value = "M-1", oid = "1.3.6.1.2.1.47.1.1.1.1.13.1", note = "n" }
version = { value = "v6.7.2", oid = "1.3.6.1.2.1.1.1.0" }
kind = "switch"

[[device]]
file = "b/y.snmprec"
what = "Y"
exclude = "synthetic"
"#;

    #[test]
    fn parses_and_compares() {
        let v = parse_expected(DOC).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].community(), "a-x");
        assert_eq!(v[1].community(), "b-y");
        assert!(v[0].sample && v[1].exclude.is_some());
        let rec = serde_json::json!({
            "vendor": {"enterprise": 9},
            "chassis": {"model": " m-1 ", "softwareVersion": "6.7.2"},
            "kind": "router"
        });
        let c = compare(&v[0], &rec);
        let verdicts: Vec<_> = c.iter().map(|c| (c.field, c.verdict)).collect();
        assert_eq!(
            verdicts,
            [
                ("vendor", Verdict::Right),
                ("model", Verdict::Right),
                ("version", Verdict::Right),
                ("kind", Verdict::Wrong)
            ]
        );
        let c = compare(&v[0], &serde_json::json!({"chassis": {"model": "M-2"}}));
        assert_eq!(c[0].verdict, Verdict::Missing);
        assert_eq!(c[1].verdict, Verdict::Wrong);
        let o = Outcome {
            file: v[0].file.clone(),
            error: None,
            checks: compare(&v[0], &rec),
            seconds: 0.1,
        };
        let f = failures(&[o], &v);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("kind"));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nmodel = { value = \"M\" }\n",
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nkind = \"toaster\"\n",
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nmodle = { value = \"M\", oid = \"1.3\" }\n",
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nexclude = \"x\"\nkind = \"host\"\n",
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nserial = { value = \" S\", oid = \"1.3\" }\n",
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nvendor = { enterprise = \"9\", oid = \"1.3\" }\n",
            "[[device]]\nfile = \"a\"\nwhat = \"b\"\nversion = { value = \"1\", oid = \"1.3.x\" }\n",
        ] {
            assert!(parse_expected(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_expected_file_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../platform/tests/data/corpus");
        let v = load_expected(&dir).unwrap();
        assert!(v.iter().any(|e| e.sample));
        for e in &v {
            assert!(
                !e.file.starts_with('/') && !e.file.contains(".."),
                "{}",
                e.file
            );
        }
    }
}
