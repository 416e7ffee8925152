//! The service manager's readiness protocol (sd_notify(3)), in a few lines of std:
//! one datagram to the unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` in
//! the abstract namespace). Without the variable (not under systemd's Type=notify)
//! nothing is sent.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `STOPPING=1`, `STATUS=...`); Ok(false) when no service
/// manager listens.
pub fn notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let b = path.as_bytes();
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = b.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else if b.starts_with(b"/") {
        sock.send_to(state.as_bytes(), &path)?;
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither an absolute path nor @abstract",
        ));
    }
    Ok(true)
}

/// [`notify`], its failure logged (the agent runs on without it).
pub fn say(state: &str) {
    match notify(state) {
        Ok(true) => log::debug!("told the service manager {state}"),
        Ok(false) => {}
        Err(e) => log::warn!("cannot tell the service manager {state}: {e}"),
    }
}
