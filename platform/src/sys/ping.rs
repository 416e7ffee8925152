//! ICMP echo without privileges: the kernel's ICMP datagram sockets (allowed when the
//! user's group is in `net.ipv4.ping_group_range`); it fills in identifier and checksum.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// An unprivileged ICMP echo socket (SOCK_DGRAM, IPPROTO_ICMP), non-blocking.
pub struct PingSocket(OwnedFd);

impl AsFd for PingSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl PingSocket {
    pub fn open() -> io::Result<PingSocket> {
        // SAFETY: plain socket() call; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::IPPROTO_ICMP,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(PingSocket(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends an echo request with sequence number `seq` to `to`.
    pub fn send(&self, to: Ipv4Addr, seq: u16) -> io::Result<()> {
        // Type 8 (echo request); the kernel fills in the identifier and checksum.
        let mut p = [8u8, 0, 0, 0, 0, 0, 0, 0];
        p[6..8].copy_from_slice(&seq.to_be_bytes());
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(to).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: p and sa are valid for the call.
        let r = unsafe {
            libc::sendto(
                self.0.as_raw_fd(),
                p.as_ptr().cast(),
                p.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// One echo reply: (source, sequence number).
    pub fn recv(&self) -> io::Result<(Ipv4Addr, u16)> {
        let mut b = [0u8; 128];
        // SAFETY: zeroed sockaddr_in is valid; lengths match the buffers.
        unsafe {
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let r = libc::recvfrom(
                self.0.as_raw_fd(),
                b.as_mut_ptr().cast(),
                b.len(),
                0,
                (&mut sa as *mut libc::sockaddr_in).cast(),
                &mut len,
            );
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            if r < 8 || b[0] != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not an echo reply",
                ));
            }
            Ok((
                Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
                u16::from_be_bytes([b[6], b[7]]),
            ))
        }
    }
}
