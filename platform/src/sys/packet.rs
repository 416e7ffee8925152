//! AF_PACKET sockets: whole frames in and out of one interface.
//!
//! On Ethernet the socket is SOCK_RAW (we write the Ethernet header); on links with no
//! link layer (tun, ppp, `ARPHRD_NONE`) the same socket carries bare IP packets and
//! the protocol of each sent packet is given as ETH_P_IP. Our own transmissions are
//! not looped back (PACKET_IGNORE_OUTGOING), and a classic BPF filter keeps only ARP
//! and IPv4 addressed to us, so the scanner does not wake for unrelated traffic. An
//! IPv6 socket ([`PacketSocket::open6`]) keeps IPv6 only.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
    ethernet: bool,
    /// Protocol of the packets sent on raw-IP links (ETH_P_IP or ETH_P_IPV6).
    raw_proto: u16,
}

/// Which frames a socket's filter passes.
#[derive(Clone, Copy)]
enum Filter {
    /// ARP, and IPv4 to this address.
    Ipv4(Ipv4Addr),
    /// Every IPv6 packet (answers come to our addresses and to link multicast groups:
    /// MLD reports to ff02::16, advertisements to ff02::1).
    Ipv6,
}

impl PacketSocket {
    /// Opens a non-blocking socket bound to interface `ifindex`. `ip` is our address
    /// there: the filter passes IPv4 only to it.
    pub fn open(ifindex: u32, ethernet: bool, ip: Ipv4Addr) -> io::Result<PacketSocket> {
        Self::open_with(ifindex, ethernet, Filter::Ipv4(ip))
    }

    /// Opens a non-blocking socket bound to interface `ifindex` for IPv6: its filter
    /// passes IPv6 only.
    pub fn open6(ifindex: u32, ethernet: bool) -> io::Result<PacketSocket> {
        Self::open_with(ifindex, ethernet, Filter::Ipv6)
    }

    fn open_with(ifindex: u32, ethernet: bool, filter: Filter) -> io::Result<PacketSocket> {
        // SAFETY: plain syscalls on values we own; every result is checked.
        unsafe {
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL.to_be()),
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let s = PacketSocket {
                fd,
                ifindex: ifindex as i32,
                ethernet,
                raw_proto: match filter {
                    Filter::Ipv4(_) => ETH_P_IP,
                    Filter::Ipv6 => ETH_P_IPV6,
                },
            };
            let one: libc::c_int = 1;
            // Best effort: old kernels lack it, and then our own frames come back and
            // are ignored by the engine (they are not replies).
            libc::setsockopt(
                s.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
            let rcv: libc::c_int = 4 << 20;
            libc::setsockopt(
                s.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&rcv as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
            s.attach_filter(filter)?;
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ETH_P_ALL.to_be();
            sll.sll_ifindex = s.ifindex;
            if libc::bind(
                s.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            // Frames that arrived between socket() and bind() may be from any
            // interface and were not filtered: drop them.
            let mut b = [0u8; 64];
            while libc::recv(
                s.fd.as_raw_fd(),
                b.as_mut_ptr().cast(),
                b.len(),
                libc::MSG_DONTWAIT,
            ) >= 0
            {}
            Ok(s)
        }
    }

    /// Classic BPF: accept ARP, and IPv4 whose destination is `ip`; or IPv6 only; drop
    /// the rest.
    fn attach_filter(&self, filter: Filter) -> io::Result<()> {
        let ins = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
        const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
        const LDW_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
        const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
        const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        const RET_K: u16 = 0x06; // BPF_RET | BPF_K
        const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
        // Jump offsets count from the next instruction.
        let dst = match filter {
            Filter::Ipv4(ip) => u32::from(ip),
            Filter::Ipv6 => 0,
        };
        let prog: Vec<libc::sock_filter> = if matches!(filter, Filter::Ipv6) {
            if self.ethernet {
                vec![
                    ins(LDH_ABS, 0, 0, 12),                  // 0: ethertype
                    ins(JEQ_K, 0, 1, u32::from(ETH_P_IPV6)), // 1: not IPv6 -> 3
                    ins(RET_K, 0, 0, 0x0004_0000),           // 2: accept
                    ins(RET_K, 0, 0, 0),                     // 3: drop
                ]
            } else {
                vec![
                    ins(LDB_ABS, 0, 0, 0),         // 0: version/traffic class
                    ins(AND_K, 0, 0, 0xf0),        // 1: version
                    ins(JEQ_K, 0, 1, 0x60),        // 2: not IPv6 -> 4
                    ins(RET_K, 0, 0, 0x0004_0000), // 3: accept
                    ins(RET_K, 0, 0, 0),           // 4: drop
                ]
            }
        } else if self.ethernet {
            vec![
                ins(LDH_ABS, 0, 0, 12),        // 0: ethertype
                ins(JEQ_K, 3, 0, 0x0806),      // 1: ARP -> 5
                ins(JEQ_K, 0, 3, 0x0800),      // 2: not IPv4 -> 6
                ins(LDW_ABS, 0, 0, 14 + 16),   // 3: IPv4 destination
                ins(JEQ_K, 0, 1, dst),         // 4: not us -> 6
                ins(RET_K, 0, 0, 0x0004_0000), // 5: accept
                ins(RET_K, 0, 0, 0),           // 6: drop
            ]
        } else {
            vec![
                ins(LDB_ABS, 0, 0, 0),         // 0: version/IHL
                ins(AND_K, 0, 0, 0xf0),        // 1: version
                ins(JEQ_K, 0, 3, 0x40),        // 2: not IPv4 -> 6
                ins(LDW_ABS, 0, 0, 16),        // 3: IPv4 destination
                ins(JEQ_K, 0, 1, dst),         // 4: not us -> 6
                ins(RET_K, 0, 0, 0x0004_0000), // 5: accept
                ins(RET_K, 0, 0, 0),           // 6: drop
            ]
        };
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points into `prog`, alive for the call; the kernel copies it.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Sends one frame (Ethernet) or IP packet (raw-IP links).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sll is a plain struct; frame outlives the call.
        unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = self.ifindex;
            sll.sll_protocol = if self.ethernet {
                ETH_P_ALL.to_be()
            } else {
                self.raw_proto.to_be()
            };
            if self.ethernet {
                sll.sll_halen = 6;
                sll.sll_addr[..6].copy_from_slice(&frame[..6]);
            }
            let r = libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            );
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    }

    /// Receives one frame; `WouldBlock` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for writes of its length.
        let r = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
