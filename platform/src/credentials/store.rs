//! The credential store: every credential file of every protocol, read, decrypted and
//! parsed once per scan (the agent key loaded once), then looked up by address.

use super::{Credential, Problem, Protocol, candidates, parse};
use ksocket_core::addr::Range;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// One usable credential file.
#[derive(Debug)]
pub struct Entry {
    pub proto: Protocol,
    pub path: PathBuf,
    pub cred: Credential,
    pub scope: Scope,
}

/// The addresses a credential applies to: in `includes`, not in `excludes`.
#[derive(Debug, Clone)]
pub struct Scope {
    includes: Vec<Range>,
    excludes: Vec<Range>,
}

impl Scope {
    /// Every address.
    pub fn all() -> Scope {
        Scope {
            includes: vec![Range {
                first: 0,
                last: u32::MAX,
            }],
            excludes: vec![],
        }
    }

    pub fn applies(&self, ip: Ipv4Addr) -> bool {
        self.includes.iter().any(|r| r.contains(ip))
            && !self.excludes.iter().any(|r| r.contains(ip))
    }
}

/// The credential files under a directory, in spec §7 order per protocol, and the
/// files that could not be used (said once, by name and line).
#[derive(Debug, Default)]
pub struct Store {
    entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

const PROTOCOLS: [Protocol; 4] = [
    Protocol::Ssh,
    Protocol::Snmp,
    Protocol::Winrm,
    Protocol::Vsphere,
];

impl Store {
    /// Reads every credential file under `dir` (plain, or sealed with the agent key).
    pub fn load(dir: &Path) -> Store {
        let mut key = None;
        Store::load_with(dir, &mut |p| {
            super::seal::read_credential_with(p, &mut key).map_err(|e| e.detail())
        })
    }

    /// One credential file of `proto` (plain or sealed), applying to every address:
    /// `ksocket ssh --credential FILE`.
    pub fn file(proto: Protocol, path: &Path) -> Store {
        let mut key = None;
        let mut s = Store::default();
        match super::seal::read_credential_with(path, &mut key)
            .map_err(|e| Problem {
                file: path.into(),
                line: 0,
                msg: e.detail(),
            })
            .and_then(|text| parse(proto, path, &text))
        {
            Ok(cred) => s.entries.push(Entry {
                proto,
                scope: Scope::all(),
                path: path.into(),
                cred,
            }),
            Err(p) => s.problems.push(p),
        }
        s
    }

    /// As [`Store::load`], with `read` opening each file.
    pub fn load_with(dir: &Path, read: &mut dyn FnMut(&Path) -> Result<String, String>) -> Store {
        let mut s = Store::default();
        for proto in PROTOCOLS {
            for f in candidates(&dir.join(proto.dir())) {
                let text = match read(&f) {
                    Ok(t) => t,
                    Err(msg) => {
                        s.problems.push(Problem {
                            file: f,
                            line: 0,
                            msg,
                        });
                        continue;
                    }
                };
                match parse(proto, &f, &text) {
                    Ok(cred) => {
                        let (inc, exc) = cred.lists();
                        // parse() checked every entry.
                        let ranges =
                            |l: &[String]| l.iter().filter_map(|a| a.parse().ok()).collect();
                        s.entries.push(Entry {
                            proto,
                            scope: Scope {
                                includes: ranges(inc),
                                excludes: ranges(exc),
                            },
                            path: f,
                            cred,
                        });
                    }
                    Err(p) => s.problems.push(p),
                }
            }
        }
        s
    }

    /// Every usable credential of `proto`, in order.
    pub fn of(&self, proto: Protocol) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.proto == proto)
    }
}
