//! What this box lets the agent do, asked of the kernel (for diagnostics).

use std::io;
use std::path::Path;

/// A kind of socket a scan needs.
#[derive(Debug, Clone, Copy)]
pub enum Socket {
    /// AF_PACKET raw (CAP_NET_RAW).
    Packet,
    /// An unprivileged ICMP datagram socket (net.ipv4.ping_group_range).
    Ping,
}

/// Whether a socket of this kind can be opened (it is closed at once).
pub fn can_open(kind: Socket) -> io::Result<()> {
    let (domain, ty, proto) = match kind {
        Socket::Packet => (libc::AF_PACKET, libc::SOCK_RAW, 0),
        Socket::Ping => (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
    };
    // SAFETY: socket() with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a descriptor we just opened and own.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Bytes free for an unprivileged user on the file system of `dir`.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: a zeroed statvfs is a valid value for the kernel to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the path is NUL-terminated and st is valid for writes.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}
