//! TUN devices in two namespaces and a relay between them: a point-to-point link
//! without a link layer, for testing what a ppp or tunnel interface looks like.
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// Opens a TUN device named `a_if` in namespace `a` and `b_if` in `b`. Runs on a
/// short-lived thread, because setns() changes the calling thread's namespace.
pub fn open_pair(a: &str, a_if: &str, b: &str, b_if: &str) -> io::Result<(File, File)> {
    let (a, a_if, b, b_if) = (
        a.to_string(),
        a_if.to_string(),
        b.to_string(),
        b_if.to_string(),
    );
    std::thread::spawn(move || -> io::Result<(File, File)> {
        enter(&a)?;
        let fa = open_tun(&a_if)?;
        enter(&b)?;
        let fb = open_tun(&b_if)?;
        Ok((fa, fb))
    })
    .join()
    .map_err(|_| io::Error::other("tun thread panicked"))?
}

fn enter(ns: &str) -> io::Result<()> {
    let f = File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: setns on a valid fd; affects only this thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn open_tun(name: &str) -> io::Result<File> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::other("interface name too long"));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain data; the name fits (checked above); the ioctl reads it.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI;
        if libc::ioctl(f.as_raw_fd(), TUNSETIFF as _, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
        // Non-blocking, so the relay can notice when to stop.
        let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    Ok(f)
}

/// Copies packets both ways until `stop` is set (checked every 50 ms).
pub fn relay(mut a: File, mut b: File, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [
            libc::pollfd {
                fd: a.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: b.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of 2 pollfd.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) };
        if r <= 0 {
            continue;
        }
        for _ in 0..256 {
            let mut moved = false;
            if let Ok(n) = a.read(&mut buf) {
                let _ = b.write(&buf[..n]);
                moved = true;
            }
            if let Ok(n) = b.read(&mut buf) {
                let _ = a.write(&buf[..n]);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
    drop(OwnedFd::from(a));
    drop(OwnedFd::from(b));
}
