//! What the SSH collector runs on a host, and how it reads the answers: two POSIX `sh`
//! command lines (nothing is installed or written on the host), their output parsed as
//! it streams in, line by line, with every line and every list bounded.
//!
//! Sections of one output are opened by a marker line: the byte 0x1e (ASCII record
//! separator, which no os-release file or package query prints at a line's start)
//! followed by the section's name.

use ksocket_proto::records::ssh::{Os, Package, PackageList};

/// The operating system: os-release (with its fallbacks) and `uname`. Small: read
/// whole, up to [`OS_LIMIT`] bytes.
pub const OS_COMMAND: &str = "printf '\\036os-release\\n'; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null; \
printf '\\036redhat-release\\n'; cat /etc/redhat-release 2>/dev/null; \
printf '\\036debian_version\\n'; cat /etc/debian_version 2>/dev/null; \
printf '\\036uname\\n'; for o in -n -r -m -s; do uname $o 2>/dev/null || echo; done";

/// The bytes of [`OS_COMMAND`]'s output read at most.
pub const OS_LIMIT: usize = 64 * 1024;

/// Every package manager present, one after the other, each with an explicit query
/// format: name, version, architecture, separated by tabs.
pub const PACKAGES_COMMAND: &str = "if command -v dpkg-query >/dev/null 2>&1; then printf '\\036dpkg\\n'; \
dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\n' 2>/dev/null; fi; \
if command -v rpm >/dev/null 2>&1; then printf '\\036rpm\\n'; \
rpm -qa --qf '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n' 2>/dev/null; fi; \
if command -v apk >/dev/null 2>&1; then printf '\\036apk\\n'; apk list --installed 2>/dev/null; fi; \
if command -v pacman >/dev/null 2>&1; then printf '\\036pacman\\n'; pacman -Q 2>/dev/null; fi; true";

/// Longest line kept (longer ones are skipped and counted).
pub const LINE_LIMIT: usize = 4096;

/// Most packages kept per host (a bound on memory; beyond it the list says so).
pub const PACKAGE_LIMIT: usize = 100_000;

const MARK: u8 = 0x1e;

/// Splits a byte stream into lines, keeping at most [`LINE_LIMIT`] bytes of a line in
/// memory: a longer line is dropped whole and counted.
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
    overlong: bool,
    pub dropped: u64,
}

impl Lines {
    /// Feeds a chunk; calls `line` with each complete line (without its newline).
    pub fn feed(&mut self, mut chunk: &[u8], line: &mut dyn FnMut(&[u8])) {
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    self.push(&chunk[..at]);
                    self.end(line);
                    chunk = &chunk[at + 1..];
                }
                None => {
                    self.push(chunk);
                    chunk = &[];
                }
            }
        }
    }

    /// The last line, when the stream did not end with a newline.
    pub fn finish(&mut self, line: &mut dyn FnMut(&[u8])) {
        if !self.buf.is_empty() || self.overlong {
            self.end(line);
        }
    }

    fn push(&mut self, part: &[u8]) {
        if self.overlong {
            return;
        }
        if self.buf.len() + part.len() > LINE_LIMIT {
            self.overlong = true;
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(part);
        }
    }

    fn end(&mut self, line: &mut dyn FnMut(&[u8])) {
        if self.overlong {
            self.dropped += 1;
        } else {
            let mut l = &self.buf[..];
            if let [rest @ .., b'\r'] = l {
                l = rest;
            }
            line(l);
        }
        self.buf.clear();
        self.overlong = false;
    }
}

/// Reads [`OS_COMMAND`]'s whole output.
pub fn parse_os(out: &[u8]) -> Os {
    let text = String::from_utf8_lossy(out);
    let mut section = "";
    let mut release = Vec::new();
    let mut redhat = None;
    let mut debian = None;
    let mut uname = Vec::new();
    for l in text.lines() {
        if let Some(name) = l.strip_prefix(MARK as char) {
            section = match name {
                "os-release" => "os-release",
                "redhat-release" => "redhat-release",
                "debian_version" => "debian_version",
                "uname" => "uname",
                _ => "",
            };
            continue;
        }
        match section {
            "os-release" => {
                if let Some((k, v)) = l.split_once('=') {
                    release.push((k.trim().to_string(), unquote(v.trim())));
                }
            }
            "redhat-release" if redhat.is_none() && !l.trim().is_empty() => {
                redhat = Some(l.trim().to_string())
            }
            "debian_version" if debian.is_none() && !l.trim().is_empty() => {
                debian = Some(l.trim().to_string())
            }
            "uname" => uname.push(l.trim().to_string()),
            _ => {}
        }
    }
    let get = |k: &str| {
        release
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let nonempty = |i: usize| uname.get(i).filter(|s| !s.is_empty()).cloned();
    let mut os = Os {
        hostname: nonempty(0),
        kernel: nonempty(1),
        arch: nonempty(2),
        system: nonempty(3),
        ..Os::default()
    };
    if get("ID").is_some() || get("NAME").is_some() {
        os.source = "os-release".into();
        os.id = get("ID");
        os.name = get("NAME");
        os.version_id = get("VERSION_ID");
        os.pretty_name = get("PRETTY_NAME");
    } else if let Some(r) = redhat {
        // "CentOS release 6.10 (Final)", "Red Hat Enterprise Linux Server release 7.9 (Maipo)"
        os.source = "redhat-release".into();
        let (name, version) = match r.split_once(" release ") {
            Some((n, v)) => (n.to_string(), v.split_whitespace().next().map(String::from)),
            None => (r.clone(), None),
        };
        os.name = Some(name);
        os.version_id = version;
        os.pretty_name = Some(r);
    } else if let Some(v) = debian {
        os.source = "debian_version".into();
        os.id = Some("debian".into());
        os.name = Some("Debian GNU/Linux".into());
        os.version_id = Some(v);
    } else {
        os.source = "uname".into();
        os.name = os.system.clone();
        os.version_id = os.kernel.clone();
    }
    os
}

/// os-release values: shell-like quoting (double or single quotes, backslash escapes).
fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner = &v[1..v.len() - 1];
        if b[0] == b'\'' {
            return inner.to_string();
        }
        let mut out = String::with_capacity(inner.len());
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_string()
    }
}

/// Reads [`PACKAGES_COMMAND`]'s output as it streams in.
#[derive(Debug, Default)]
pub struct PackageReader {
    lines: Lines,
    lists: Vec<PackageList>,
    count: usize,
    /// Packages beyond [`PACKAGE_LIMIT`], and lines not understood.
    pub over_limit: u64,
    pub unreadable: u64,
}

impl PackageReader {
    pub fn feed(&mut self, chunk: &[u8]) {
        let Self {
            lines,
            lists,
            count,
            over_limit,
            unreadable,
        } = self;
        lines.feed(chunk, &mut |l| {
            Self::line(l, lists, count, over_limit, unreadable)
        });
    }

    /// The package lists (managers that listed nothing are left out), and a note when
    /// something was left out.
    pub fn finish(mut self) -> (Vec<PackageList>, Option<String>) {
        let Self {
            lines,
            lists,
            count,
            over_limit,
            unreadable,
        } = &mut self;
        lines.finish(&mut |l| Self::line(l, lists, count, over_limit, unreadable));
        let present: Vec<String> = lists.iter().map(|l| l.manager.clone()).collect();
        let lists: Vec<PackageList> = std::mem::take(lists)
            .into_iter()
            .filter(|l| !l.items.is_empty())
            .collect();
        let mut notes = Vec::new();
        if lists.is_empty() {
            if present.is_empty() {
                notes.push("no package manager found (dpkg-query, rpm, apk, pacman)".to_string());
            } else {
                notes.push(format!("{} listed no package", present.join(", ")));
            }
        }
        if self.over_limit > 0 {
            notes.push(format!(
                "{} packages beyond the limit of {PACKAGE_LIMIT} left out",
                self.over_limit
            ));
        }
        let bad = self.unreadable + self.lines.dropped;
        if bad > 0 {
            notes.push(format!("{bad} lines not understood"));
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        (lists, note)
    }

    fn line(
        l: &[u8],
        lists: &mut Vec<PackageList>,
        count: &mut usize,
        over_limit: &mut u64,
        unreadable: &mut u64,
    ) {
        if let [MARK, name @ ..] = l {
            let manager = match name {
                b"dpkg" => "dpkg",
                b"rpm" => "rpm",
                b"apk" => "apk",
                b"pacman" => "pacman",
                _ => {
                    *unreadable += 1;
                    return;
                }
            };
            lists.push(PackageList {
                manager: manager.into(),
                items: Vec::new(),
            });
            return;
        }
        if l.is_empty() {
            return;
        }
        let Some(list) = lists.last_mut() else {
            *unreadable += 1;
            return;
        };
        let text = String::from_utf8_lossy(l);
        let parsed = match list.manager.as_str() {
            "dpkg" => dpkg_line(&text),
            "rpm" => tab_line(&text),
            "apk" => apk_line(&text),
            _ => pacman_line(&text),
        };
        match parsed {
            Row::Package(p) if *count < PACKAGE_LIMIT => {
                *count += 1;
                list.items.push(p);
            }
            Row::Package(_) => *over_limit += 1,
            Row::Skip => {}
            Row::Bad => *unreadable += 1,
        }
    }
}

enum Row {
    Package(Package),
    /// A row that is not an installed package (dpkg's removed-but-configured).
    Skip,
    Bad,
}

fn dpkg_line(l: &str) -> Row {
    let Some((status, rest)) = l.split_once('\t') else {
        return Row::Bad;
    };
    if status.as_bytes().get(1) != Some(&b'i') {
        return Row::Skip;
    }
    tab_line(rest)
}

/// `name \t version \t arch`.
fn tab_line(l: &str) -> Row {
    let mut f = l.split('\t');
    match (f.next(), f.next(), f.next(), f.next()) {
        (Some(name), Some(version), arch, None) if !name.is_empty() => Row::Package(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: arch
                .filter(|a| !a.is_empty() && *a != "(none)")
                .map(String::from),
        }),
        _ => Row::Bad,
    }
}

/// `musl-1.2.4-r2 x86_64 {musl} (MIT) [installed]`: the version is the last two
/// dash-separated parts of the first word.
fn apk_line(l: &str) -> Row {
    let mut w = l.split_whitespace();
    let (Some(full), arch) = (w.next(), w.next()) else {
        return Row::Bad;
    };
    let mut parts = full.rsplitn(3, '-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(rel), Some(ver), Some(name)) if !name.is_empty() => Row::Package(Package {
            name: name.to_string(),
            version: format!("{ver}-{rel}"),
            arch: arch.map(String::from),
        }),
        _ => Row::Bad,
    }
}

/// `name version`.
fn pacman_line(l: &str) -> Row {
    match l.split_once(' ') {
        Some((name, version)) if !name.is_empty() => Row::Package(Package {
            name: name.to_string(),
            version: version.trim().to_string(),
            arch: None,
        }),
        _ => Row::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_wins_and_values_are_unquoted() {
        let out = b"\x1eos-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n\
            \x1eredhat-release\n\x1edebian_version\n12.7\n\x1euname\nbox1\n6.1.0-18-amd64\nx86_64\nLinux\n";
        let os = parse_os(out);
        assert_eq!(os.source, "os-release");
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.name.as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os.hostname.as_deref(), Some("box1"));
        assert_eq!(os.kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(os.arch.as_deref(), Some("x86_64"));
        assert_eq!(os.system.as_deref(), Some("Linux"));
    }

    #[test]
    fn fallbacks_in_order() {
        let rh = parse_os(
            b"\x1eos-release\n\x1eredhat-release\nCentOS release 6.10 (Final)\n\x1edebian_version\n\x1euname\nc6\n2.6.32\nx86_64\nLinux\n",
        );
        assert_eq!(rh.source, "redhat-release");
        assert_eq!(rh.name.as_deref(), Some("CentOS"));
        assert_eq!(rh.version_id.as_deref(), Some("6.10"));
        let deb = parse_os(
            b"\x1eos-release\n\x1eredhat-release\n\x1edebian_version\n7.11\n\x1euname\n\n\n\n\n",
        );
        assert_eq!(deb.source, "debian_version");
        assert_eq!(deb.version_id.as_deref(), Some("7.11"));
        assert_eq!(deb.hostname, None);
        let un = parse_os(b"\x1euname\nfw\n13.2-RELEASE\namd64\nFreeBSD\n");
        assert_eq!(un.source, "uname");
        assert_eq!(un.name.as_deref(), Some("FreeBSD"));
        assert_eq!(un.version_id.as_deref(), Some("13.2-RELEASE"));
        // Garbage gives an empty record, never a panic.
        assert_eq!(parse_os(b"\xff\xfe\x1e\x1e=\n==").source, "uname");
    }

    #[test]
    fn packages_stream_in_any_split_and_keep_installed_ones() {
        let out = b"\x1edpkg\nii \tbash\t5.2.15-2+b7\tamd64\nrc \told\t1.0\tamd64\nii \tlibc6\t2.36-9\tamd64\n\
            \x1erpm\nkernel\t3:5.14.0-1.el9\tx86_64\ngpg-pubkey\t8483c65d-5ccc5b19\t(none)\n\x1eapk\nmusl-1.2.4-r2 x86_64 {musl} (MIT) [installed]\n\
            \x1epacman\nlinux 6.6.1.arch1-1\n";
        for split in [1, 3, 7, out.len()] {
            let mut r = PackageReader::default();
            for c in out.chunks(split) {
                r.feed(c);
            }
            let (lists, note) = r.finish();
            assert_eq!(note, None);
            let names: Vec<_> = lists.iter().map(|l| l.manager.as_str()).collect();
            assert_eq!(names, ["dpkg", "rpm", "apk", "pacman"]);
            assert_eq!(lists[0].items.len(), 2);
            assert_eq!(lists[0].items[0].version, "5.2.15-2+b7");
            assert_eq!(lists[1].items[0].version, "3:5.14.0-1.el9");
            assert_eq!(lists[1].items[1].arch, None);
            assert_eq!(lists[2].items[0].name, "musl");
            assert_eq!(lists[2].items[0].version, "1.2.4-r2");
            assert_eq!(lists[3].items[0].version, "6.6.1.arch1-1");
        }
    }

    /// The commands as this machine's `sh` runs them (what a host's shell runs over
    /// SSH), read by the parsers: the same OS as /etc/os-release and uname, and the
    /// same packages as dpkg-query prints here.
    #[test]
    fn the_commands_run_in_sh_and_read_back() {
        let sh = |c: &str| {
            std::process::Command::new("sh")
                .args(["-c", c])
                .output()
                .expect("sh")
        };
        let o = sh(OS_COMMAND);
        assert!(o.status.success());
        let os = parse_os(&o.stdout);
        let uname = |f: &str| String::from_utf8(sh(&format!("uname {f}")).stdout).unwrap();
        assert_eq!(os.kernel.as_deref(), Some(uname("-r").trim()));
        assert_eq!(os.arch.as_deref(), Some(uname("-m").trim()));
        if let Ok(rel) = std::fs::read_to_string("/etc/os-release") {
            assert_eq!(os.source, "os-release");
            let id = rel
                .lines()
                .find_map(|l| l.strip_prefix("ID="))
                .map(|v| v.trim_matches('"'));
            assert_eq!(os.id.as_deref(), id);
        }
        let o = sh(PACKAGES_COMMAND);
        assert!(o.status.success());
        let mut r = PackageReader::default();
        for c in o.stdout.chunks(777) {
            r.feed(c);
        }
        let (lists, _) = r.finish();
        let reference = sh("dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' 2>/dev/null");
        let installed = String::from_utf8_lossy(&reference.stdout)
            .lines()
            .filter(|l| l.as_bytes().get(1) == Some(&b'i'))
            .count();
        if installed > 0 {
            let dpkg = lists
                .iter()
                .find(|l| l.manager == "dpkg")
                .expect("dpkg list");
            assert_eq!(dpkg.items.len(), installed);
        }
    }

    #[test]
    fn nothing_found_is_said_and_limits_hold() {
        let (lists, note) = PackageReader::default().finish();
        assert!(lists.is_empty());
        assert!(note.unwrap().contains("no package manager found"));
        let mut r = PackageReader::default();
        r.feed(b"\x1erpm\n");
        let (_, note) = r.finish();
        assert_eq!(note.as_deref(), Some("rpm listed no package"));
        // An endless line costs at most LINE_LIMIT bytes.
        let mut r = PackageReader::default();
        r.feed(b"\x1edpkg\n");
        for _ in 0..1000 {
            r.feed(&[b'x'; 1000]);
        }
        assert!(r.lines.buf.len() <= LINE_LIMIT);
        r.feed(b"\nii \ta\t1\tall\n");
        let (lists, note) = r.finish();
        assert_eq!(lists[0].items.len(), 1);
        assert!(note.unwrap().contains("1 lines not understood"));
    }
}
