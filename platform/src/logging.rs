//! Logging (spec §3, §8): levels DEBUG, INFO, WARNING, ERROR, CRITICAL; a file or `-`
//! for standard output; the python-style `logformat` of the original (`%(asctime)s`,
//! `%(levelname)s`, `%(name)s`, `%(funcName)s`, `%(module)s`, `%(lineno)d`,
//! `%(message)s`); `logfilters`, a comma-separated list of logger-name prefixes.
//!
//! Rust has no function names in log records: `%(funcName)s` prints the module, as
//! `%(module)s` does. CRITICAL records are errors logged with target `critical`.
//! A log file is capped: past [`ROTATE_BYTES`] it is renamed `ksocket.log.1` (the
//! older ones shift up to `.5`, the oldest dropped), so that an agent that runs for
//! years on a small appliance never fills its disk (no logrotate needed, none assumed).
//! Secrets cannot be logged by mistake: they are `Secret`, whose Display and Debug
//! print `***` (tests grep a DEBUG log for every secret a scan used).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_uppercase().as_str() {
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARNING" | "WARN" => Level::Warning,
            "ERROR" => Level::Error,
            "CRITICAL" => Level::Critical,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    fn of(r: &log::Record<'_>) -> Level {
        match r.level() {
            log::Level::Error if r.target() == "critical" => Level::Critical,
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warning,
            log::Level::Info => Level::Info,
            log::Level::Debug | log::Level::Trace => Level::Debug,
        }
    }
}

/// Size at which a log file is rotated (10 MiB).
pub const ROTATE_BYTES: u64 = 10 << 20;
/// Rotated files kept beside the log (`.1` newest ... `.5`).
pub const ROTATE_KEEP: u32 = 5;

enum Sink {
    Stdout,
    File(LogFile),
}

/// A log file, its size, and where it rotates.
struct LogFile {
    file: File,
    path: std::path::PathBuf,
    size: u64,
    max: u64,
    keep: u32,
}

impl LogFile {
    fn open(path: &std::path::Path, create: bool, max: u64, keep: u32) -> std::io::Result<LogFile> {
        let file = OpenOptions::new()
            .create(create)
            .append(true)
            .mode(crate::sys::files::LOG_MODE)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            file,
            path: path.to_path_buf(),
            size,
            max,
            keep,
        })
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        if self.size >= self.max {
            self.rotate()?;
        }
        let r = writeln!(self.file, "{line}");
        self.size += line.len() as u64 + 1;
        r
    }

    /// log -> log.1 -> ... -> log.KEEP (dropped), then a new log. When another
    /// process rotated first, the new file is just opened.
    fn rotate(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let name = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            std::path::PathBuf::from(p)
        };
        let ours = self.file.metadata()?;
        let same = std::fs::metadata(&self.path)
            .is_ok_and(|m| m.ino() == ours.ino() && m.dev() == ours.dev());
        if same {
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(name(n), name(n + 1));
            }
            if self.keep == 0 {
                std::fs::remove_file(&self.path)?;
            } else {
                std::fs::rename(&self.path, name(1))?;
            }
        }
        *self = LogFile::open(&self.path, true, self.max, self.keep)?;
        Ok(())
    }
}

struct Logger {
    level: Level,
    format: String,
    filters: Vec<String>,
    sink: Mutex<Sink>,
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let lvl = match m.level() {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warning,
            log::Level::Info => Level::Info,
            _ => Level::Debug,
        };
        lvl >= self.level || (m.target() == "critical" && self.level == Level::Critical)
    }

    fn log(&self, r: &log::Record<'_>) {
        let lvl = Level::of(r);
        if lvl < self.level {
            return;
        }
        let name = r.module_path().unwrap_or(r.target());
        let name = if r.target() == "critical" {
            name
        } else {
            r.target()
        };
        if !self.filters.is_empty()
            && !self
                .filters
                .iter()
                .any(|f| name == f || name.starts_with(&format!("{f}::")))
        {
            return;
        }
        let line = format_record(
            &self.format,
            lvl,
            name,
            r.line().unwrap_or(0),
            &r.args().to_string(),
        );
        if let Ok(mut s) = self.sink.lock() {
            let _ = match &mut *s {
                Sink::Stdout => writeln!(std::io::stdout(), "{line}"),
                Sink::File(f) => f.write_line(&line),
            };
        }
    }

    fn flush(&self) {
        if let Ok(mut s) = self.sink.lock()
            && let Sink::File(f) = &mut *s
        {
            let _ = f.file.flush();
        }
    }
}

/// Formats one record with the python-style fields.
pub fn format_record(fmt: &str, lvl: Level, name: &str, line: u32, msg: &str) -> String {
    let module = name.rsplit("::").next().unwrap_or(name);
    fmt.replace("%(asctime)s", &asctime())
        .replace("%(levelname)s", lvl.name())
        .replace("%(name)s", name)
        .replace("%(funcName)s", module)
        .replace("%(module)s", module)
        .replace("%(lineno)d", &line.to_string())
        .replace("%(message)s", msg)
}

/// `2026-11-23 21:45:01,123` (UTC), as python's logging prints asctime.
fn asctime() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Installs the logger. `file` is a path or `-`; `filters` comma-separated. With
/// `create` false (read-only commands) an existing log file is appended to, but no
/// file or directory is created: without one, nothing is logged.
pub fn init(
    file: &str,
    level: Level,
    format: &str,
    filters: &str,
    create: bool,
) -> Result<(), String> {
    let sink = if file == "-" {
        Sink::Stdout
    } else {
        let p = std::path::Path::new(file);
        if !create && !p.is_file() {
            return Ok(());
        }
        if let Some(dir) = p.parent().filter(|_| create) {
            crate::sys::files::create_dirs(dir, crate::sys::files::LOG_DIR_MODE)
                .map_err(|e| format!("log file {file}: {e}"))?;
        }
        // 0640 as umask 027 makes it: the log names hosts and credential files.
        Sink::File(
            LogFile::open(p, create, ROTATE_BYTES, ROTATE_KEEP)
                .map_err(|e| format!("log file {file}: {e}"))?,
        )
    };
    let logger = Logger {
        level,
        format: format.to_string(),
        filters: filters
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        sink: Mutex::new(sink),
    };
    log::set_boxed_logger(Box::new(logger)).map_err(|e| e.to_string())?;
    log::set_max_level(if level == Level::Debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_fields() {
        let s = format_record(
            "%(asctime)s %(levelname)s %(name)s:%(funcName)s:%(lineno)d %(message)s",
            Level::Warning,
            "ksocket::scan",
            42,
            "hello",
        );
        let (date, rest) = s.split_at(23);
        assert_eq!(date.len(), 23);
        assert_eq!(&date[4..5], "-");
        assert_eq!(&date[19..20], ",");
        assert_eq!(rest, " WARNING ksocket::scan:scan:42 hello");
    }

    #[test]
    fn a_full_log_rotates_and_keeps_five() {
        let d = std::env::temp_dir().join(format!("kst-log-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("ksocket.log");
        let mut f = LogFile::open(&p, true, 1000, 5).unwrap();
        let line = "x".repeat(99); // 100 bytes with its newline
        for i in 0..100 {
            f.write_line(&format!("{i:02}{}", &line[2..])).unwrap();
        }
        f.file.flush().unwrap();
        let size = |s: &str| std::fs::metadata(d.join(s)).map(|m| m.len()).ok();
        assert_eq!(size("ksocket.log"), Some(1000));
        for n in 1..=5 {
            assert_eq!(size(&format!("ksocket.log.{n}")), Some(1000), "{n}");
        }
        assert_eq!(size("ksocket.log.6"), None);
        // The newest lines are in the log, the ones before in .1.
        let now = std::fs::read_to_string(&p).unwrap();
        assert!(now.starts_with("90") && now.ends_with(&format!("99{}\n", &line[2..])));
        assert!(
            std::fs::read_to_string(d.join("ksocket.log.1"))
                .unwrap()
                .starts_with("80")
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o007, 0, "{mode:o}");
        // Another process rotated first: this one writes to the new file.
        std::fs::rename(&p, d.join("moved")).unwrap();
        std::fs::write(&p, "").unwrap();
        f.size = 1000;
        f.write_line("after").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "after\n");
        assert!(
            std::fs::read_to_string(d.join("moved"))
                .unwrap()
                .starts_with("90")
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn levels_parse() {
        assert_eq!(Level::parse("critical"), Some(Level::Critical));
        assert!(Level::parse("LOUD").is_none());
        assert!(Level::Debug < Level::Info && Level::Error < Level::Critical);
    }
}
