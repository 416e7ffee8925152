//! The agent's own files: reads that are bounded and refuse anything but a regular file,
//! edits that keep the file's owner, mode and symlinks, and private creation.
//!
//! Reads open with `O_NONBLOCK` (a FIFO cannot block them), check the kind with
//! `fstat` on the opened file (no race with a rename), and read at most the cap plus
//! one byte (a growing file or a lying size cannot exhaust memory). Edits write a
//! sibling temporary file with a unique name, give it the old file's owner and mode,
//! fsync it, rename it over the real file (through symlinks: the link stays a link),
//! and fsync the directory, as OpenSSH and editors that keep files safe do.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The largest configuration or credential file the agent reads (1 MiB).
pub const MAX_FILE: u64 = 1 << 20;

/// Mode of files that hold secrets (ksocket.toml holds the token; credential files).
pub const SECRET_MODE: u32 = 0o600;
/// Mode of the agent's private directories (etc/ksocket and below).
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of log files (readable by the admin group, as umask 027 makes them).
pub const LOG_MODE: u32 = 0o640;
/// Mode of log directories.
pub const LOG_DIR_MODE: u32 = 0o750;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn kind_name(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads a whole regular file of at most `max` bytes. Anything else (a directory, a
/// FIFO, a device such as /dev/zero, a file over `max`) is an error that says what it
/// is; nothing blocks and nothing reads more than `max + 1` bytes.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let m = f.metadata()?;
    if !m.file_type().is_file() {
        return Err(invalid(format!(
            "{} (only regular files are read)",
            kind_name(m.file_type())
        )));
    }
    let too_big = || invalid(format!("larger than the {} limit", human(max)));
    if m.len() > max {
        return Err(too_big());
    }
    let mut buf = Vec::with_capacity(m.len() as usize);
    f.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(too_big());
    }
    Ok(buf)
}

fn human(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n}-byte")
    }
}

/// Replaces the contents of `path` with `data`, atomically, keeping what the operator
/// set: when `path` is a symlink its target is replaced and the link stays; an
/// existing file keeps its owner, group and mode. A new file gets `new_mode`.
pub fn write_atomic(path: &Path, data: &[u8], new_mode: u32) -> io::Result<()> {
    let target = real_target(path)?;
    let old = fs::metadata(&target).ok();
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| invalid(format!("{} is not a file name", target.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}-{:016x}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        crate::sys::random::u64()
    ));
    let result = (|| {
        // 0600 until the old owner and mode are set: never looser in between.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        match &old {
            Some(m) => {
                if m.uid() != f.metadata()?.uid() || m.gid() != f.metadata()?.gid() {
                    std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
                }
                f.set_permissions(fs::Permissions::from_mode(m.mode() & 0o7777))?;
            }
            None => f.set_permissions(fs::Permissions::from_mode(new_mode))?,
        }
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, &target)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The file a write to `path` must replace: the end of its symlink chain (bounded),
/// or `path` itself.
fn real_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(d) if to.is_relative() => d.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(invalid(format!("{}: too many symlinks", path.display())))
}

/// Creates `path` with `data` and `mode`; an existing file is an error
/// (`ErrorKind::AlreadyExists`), never overwritten.
pub fn create_new(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    // The umask may have taken bits away, never added: set exactly what was asked.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(data)?;
    f.sync_all()
}

/// Creates `dir` and its missing parents with `mode` (existing ones are left alone).
pub fn create_dirs(dir: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kst-files-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn read_text(p: &Path) -> io::Result<Vec<u8>> {
        read_bounded(p, MAX_FILE)
    }

    #[test]
    fn reads_refuse_devices_fifos_directories_and_big_files() {
        let d = scratch("r");
        let e = read_bounded(Path::new("/dev/zero"), MAX_FILE).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let link = d.join("zero.toml");
        symlink("/dev/zero", &link).unwrap();
        assert!(read_text(&link).is_err());
        let fifo = d.join("fifo.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_text(&fifo).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_text(&d).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let big = d.join("big.toml");
        fs::write(&big, vec![b'#'; MAX_FILE as usize + 1]).unwrap();
        let e = read_text(&big).unwrap_err();
        assert!(e.to_string().contains("1 MiB"), "{e}");
        fs::write(&big, vec![b'#'; MAX_FILE as usize]).unwrap();
        assert_eq!(read_text(&big).unwrap().len(), MAX_FILE as usize);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn edits_keep_mode_and_symlinks() {
        let d = scratch("w");
        let real = d.join("real.toml");
        fs::write(&real, "a = 1\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = d.join("ksocket.toml");
        symlink("real.toml", &link).unwrap();
        write_atomic(&link, b"a = 2\n", SECRET_MODE).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "a = 2\n");
        assert_eq!(fs::metadata(&real).unwrap().mode() & 0o7777, 0o640);
        let fresh = d.join("new.toml");
        write_atomic(&fresh, b"x", SECRET_MODE).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().mode() & 0o7777, 0o600);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            create_new(&fresh, b"y", SECRET_MODE).is_err(),
            "never overwrites"
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
