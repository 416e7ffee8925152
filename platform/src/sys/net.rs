//! Socket options and waits that std does not offer.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Asks for `bytes` of receive and send buffer: past `net.core.*mem_max` with
/// CAP_NET_ADMIN (the FORCE options), else as much as the limit allows.
pub fn set_buffers(sock: &impl AsRawFd, bytes: usize) {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        let set = |opt| {
            // SAFETY: a valid socket and a c_int option value of the given size.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        if set(force) != 0 {
            set(plain);
        }
    }
}

fn set_int(
    sock: &impl AsRawFd,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a valid socket and a c_int option value of the given size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Queues the ICMP errors (port or host unreachable) of a UDP socket's datagrams, each
/// with the destination it came back for (`IP_RECVERR`, `IPV6_RECVERR`), read with
/// [`errors`].
pub fn set_recverr(sock: &UdpSocket, v6: bool) -> io::Result<()> {
    if v6 {
        set_int(sock, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)
    } else {
        set_int(sock, libc::IPPROTO_IP, libc::IP_RECVERR, 1)
    }
}

/// Drains the error queue of a socket [`set_recverr`] was called on: the destinations
/// whose datagrams drew an ICMP error (at most `max`).
pub fn errors(sock: &UdpSocket, max: usize) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    while out.len() < max {
        // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
        let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut data = [0u8; 64];
        let mut ctl = [0u64; 32];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&ctl) as _;
        // SAFETY: every pointer in msg refers to a live local buffer of the given size.
        let n = unsafe {
            libc::recvmsg(
                sock.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            break;
        }
        // msg_name: the destination of the datagram the error is about.
        let addr = match i32::from(name.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in (family AF_INET).
                let a: libc::sockaddr_in =
                    unsafe { std::ptr::read((&name as *const libc::sockaddr_storage).cast()) };
                Some(SocketAddr::from((
                    std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6).
                let a: libc::sockaddr_in6 =
                    unsafe { std::ptr::read((&name as *const libc::sockaddr_storage).cast()) };
                Some(SocketAddr::from((
                    std::net::Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                )))
            }
            _ => None,
        };
        out.extend(addr);
    }
    out
}

/// Sends the socket's multicast through the interface whose address is `local`, with
/// TTL 255 (RFC 6762 §11), and not back to this host.
pub fn set_multicast_v4(sock: &UdpSocket, local: std::net::Ipv4Addr) -> io::Result<()> {
    let a = libc::in_addr {
        s_addr: u32::from(local).to_be(),
    };
    // SAFETY: a valid socket and an in_addr option value of its size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&a as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    sock.set_multicast_ttl_v4(255)?;
    sock.set_multicast_loop_v4(false)
}

/// Waits until one of `socks` has a datagram or an error to read, at most `timeout`;
/// returns which.
pub fn wait_readable(socks: &[&UdpSocket], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up: a wait shorter than a millisecond is not a busy loop.
    let ms = timeout.as_micros().div_ceil(1000).min(60_000) as libc::c_int;
    // SAFETY: fds is a live array of fds.len() pollfd.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(fds.iter().map(|p| p.revents != 0).collect())
}
