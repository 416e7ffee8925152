//! Wire formats the discovery engine speaks: Ethernet II, ARP, IPv4, ICMPv4, TCP, UDP.
//!
//! Parsing and header emission use `etherparse` (no_std, no alloc): its slices are
//! zero-copy views with checked constructors, and its headers write checksummed bytes
//! into fixed arrays. What this module adds is the narrow view a scanner needs:
//! [`parse`] classifies one received frame into a [`Packet`] (an ARP, an echo reply,
//! a destination-unreachable with the fields of the datagram it quotes, a TCP segment,
//! a UDP datagram), and the `emit_*` functions write complete probe frames into the
//! caller's buffer. A frame is never trusted: every length is checked, and an odd
//! packet (SYN+FIN, a short ICMP quote) is returned as seen, for the engine to judge.
//!
//! Written here rather than taken from etherparse: the tiny SNMP probe (a fixed
//! v2c GetRequest template, until the SNMP stack lands) and its request-id check.

use core::fmt;
use core::net::Ipv4Addr;
use etherparse::{
    ArpEthIpv4Packet, ArpOperation, EtherType, Ethernet2Header, IcmpEchoHeader, Icmpv4Header,
    Icmpv4Type, IpNumber, Ipv4Header, LaxNetSlice, LaxSlicedPacket, NetSlice, SlicedPacket,
    TcpHeader, TcpOptionElement, TransportSlice, UdpHeader,
};

/// A MAC address.
pub type Mac = [u8; 6];

/// The broadcast MAC address.
pub const BROADCAST: Mac = [0xff; 6];

/// Length of the Ethernet II header.
pub const ETH_LEN: usize = 14;

/// Minimum Ethernet frame length without FCS; shorter frames are padded on emit.
pub const ETH_MIN: usize = 60;

/// What sits below IPv4 on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II frames (ARP available).
    Ethernet,
    /// Bare IPv4 packets: point-to-point links, tunnels, ppp (`ARPHRD_NONE`, `IFF_POINTOPOINT`).
    RawIp,
}

/// Why a frame could not be parsed or emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The frame ends before a header it announces.
    Truncated,
    /// A header field makes the packet invalid (bad IHL, bad lengths).
    Malformed,
    /// The caller's buffer cannot hold the frame.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed packet",
            Error::BufferTooSmall => "buffer too small for the frame",
        })
    }
}

impl core::error::Error for Error {}

/// TCP flags as in the header's low byte (FIN=1, SYN=2, RST=4, PSH=8, ACK=16, URG=32).
pub mod tcp_flags {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// ACK
    pub const ACK: u8 = 0x10;
}

/// The transport fields quoted in an ICMP error (the original datagram's first bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// Source of the quoted datagram (should be us).
    pub src: Ipv4Addr,
    /// Destination of the quoted datagram (the target probed).
    pub dst: Ipv4Addr,
    /// IP protocol number of the quoted datagram.
    pub protocol: u8,
    /// Source and destination ports (TCP/UDP) or ICMP echo id and sequence.
    pub a: u16,
    /// See `a`.
    pub b: u16,
}

/// One received frame, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// An ARP packet for IPv4 over Ethernet.
    Arp {
        /// 1 request, 2 reply.
        op: u16,
        /// Sender hardware address.
        sender_mac: Mac,
        /// Sender protocol address.
        sender_ip: Ipv4Addr,
        /// Target hardware address.
        target_mac: Mac,
        /// Target protocol address.
        target_ip: Ipv4Addr,
    },
    /// An ICMP echo reply.
    EchoReply {
        /// Who replied.
        src: Ipv4Addr,
        /// To whom.
        dst: Ipv4Addr,
        /// Echo identifier.
        id: u16,
        /// Echo sequence number.
        seq: u16,
    },
    /// An ICMP destination unreachable, with what it quotes.
    Unreachable {
        /// Who sent the error (the target itself, or a router on the way).
        src: Ipv4Addr,
        /// To whom.
        dst: Ipv4Addr,
        /// The ICMP code (3 = port unreachable, 1 = host unreachable, ...).
        code: u8,
        /// The quoted datagram's fields.
        quote: Quote,
    },
    /// A TCP segment.
    Tcp {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Flags, see [`tcp_flags`].
        flags: u8,
    },
    /// A UDP datagram.
    Udp {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Payload.
        payload: &'a [u8],
    },
    /// Anything else (IPv6, other ICMP types, other protocols, fragments).
    Other,
}

/// A parsed frame: the link addresses (Ethernet only) and the classified packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Ethernet source, `None` on raw-IP links.
    pub src_mac: Option<Mac>,
    /// Ethernet destination, `None` on raw-IP links.
    pub dst_mac: Option<Mac>,
    /// The packet inside.
    pub packet: Packet<'a>,
}

/// Parses one frame received on a link of type `link`.
pub fn parse(link: Link, frame: &[u8]) -> Result<Frame<'_>, Error> {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(frame),
        Link::RawIp => SlicedPacket::from_ip(frame),
    }
    .map_err(|e| match e {
        etherparse::err::packet::SliceError::Len(_) => Error::Truncated,
        _ => Error::Malformed,
    })?;
    let (src_mac, dst_mac) = match link {
        Link::Ethernet => {
            let h = Ethernet2Header::from_slice(frame)
                .map_err(|_| Error::Truncated)?
                .0;
            (Some(h.source), Some(h.destination))
        }
        Link::RawIp => (None, None),
    };
    let packet = match (&sliced.net, &sliced.transport) {
        (Some(NetSlice::Arp(a)), _) => match a.to_packet().try_eth_ipv4() {
            Ok(p) => Packet::Arp {
                op: p.operation.0,
                sender_mac: p.sender_mac,
                sender_ip: p.sender_ipv4_addr(),
                target_mac: p.target_mac,
                target_ip: p.target_ipv4_addr(),
            },
            Err(_) => Packet::Other,
        },
        (Some(NetSlice::Ipv4(ip)), Some(t)) => {
            let h = ip.header();
            let (src, dst) = (h.source_addr(), h.destination_addr());
            // Fragments other than the first carry no transport header to trust.
            if h.fragments_offset().value() != 0 {
                Packet::Other
            } else {
                transport(src, dst, t)
            }
        }
        _ => Packet::Other,
    };
    Ok(Frame {
        src_mac,
        dst_mac,
        packet,
    })
}

fn transport<'a>(src: Ipv4Addr, dst: Ipv4Addr, t: &TransportSlice<'a>) -> Packet<'a> {
    match t {
        TransportSlice::Tcp(s) => Packet::Tcp {
            src,
            dst,
            sport: s.source_port(),
            dport: s.destination_port(),
            seq: s.sequence_number(),
            ack: s.acknowledgment_number(),
            flags: s.slice()[13],
        },
        TransportSlice::Udp(u) => Packet::Udp {
            src,
            dst,
            sport: u.source_port(),
            dport: u.destination_port(),
            payload: u.payload(),
        },
        TransportSlice::Icmpv4(i) => match i.icmp_type() {
            Icmpv4Type::EchoReply(e) => Packet::EchoReply {
                src,
                dst,
                id: e.id,
                seq: e.seq,
            },
            Icmpv4Type::DestinationUnreachable(_) => match quote(i.payload()) {
                Some(quote) => Packet::Unreachable {
                    src,
                    dst,
                    code: i.code_u8(),
                    quote,
                },
                None => Packet::Other,
            },
            _ => Packet::Other,
        },
        _ => Packet::Other,
    }
}

/// The fields of the datagram quoted in an ICMP error (its IP header and at least
/// 8 bytes of its payload, RFC 792).
fn quote(payload: &[u8]) -> Option<Quote> {
    let p = LaxSlicedPacket::from_ip(payload).ok()?;
    let LaxNetSlice::Ipv4(ip) = p.net? else {
        return None;
    };
    let h = ip.header();
    let (a, b) = match p.transport {
        Some(TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port()),
        Some(TransportSlice::Udp(u)) => (u.source_port(), u.destination_port()),
        Some(TransportSlice::Icmpv4(i)) => match i.icmp_type() {
            Icmpv4Type::EchoRequest(e) => (e.id, e.seq),
            _ => return None,
        },
        _ => {
            // Too short for etherparse to slice the transport: read the first 4 bytes.
            let rest = ip.payload().payload;
            if rest.len() < 4 {
                return None;
            }
            (
                u16::from_be_bytes([rest[0], rest[1]]),
                u16::from_be_bytes([rest[2], rest[3]]),
            )
        }
    };
    Some(Quote {
        src: h.source_addr(),
        dst: h.destination_addr(),
        protocol: h.protocol().0,
        a,
        b,
    })
}

/// Writes an ARP request "who has `dst_ip`, tell `src_ip`" (broadcast, padded to 60 bytes).
pub fn emit_arp_request(
    buf: &mut [u8],
    src_mac: Mac,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
) -> Result<usize, Error> {
    if buf.len() < ETH_MIN {
        return Err(Error::BufferTooSmall);
    }
    let eth = Ethernet2Header {
        source: src_mac,
        destination: BROADCAST,
        ether_type: EtherType::ARP,
    };
    let arp = ArpEthIpv4Packet {
        operation: ArpOperation::REQUEST,
        sender_mac: src_mac,
        sender_ipv4: src_ip.octets(),
        target_mac: [0; 6],
        target_ipv4: dst_ip.octets(),
    };
    buf[..ETH_LEN].copy_from_slice(&eth.to_bytes());
    buf[ETH_LEN..ETH_LEN + ArpEthIpv4Packet::LEN].copy_from_slice(&arp.to_bytes());
    buf[ETH_LEN + ArpEthIpv4Packet::LEN..ETH_MIN].fill(0);
    Ok(ETH_MIN)
}

/// An IPv4 probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe<'a> {
    /// ICMP echo request with this identifier and sequence number, no payload.
    Echo {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
    },
    /// TCP SYN with an MSS option.
    Syn {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Initial sequence number.
        seq: u32,
    },
    /// A UDP datagram.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Payload.
        payload: &'a [u8],
    },
}

/// Link-layer addressing of an emitted IPv4 frame: Ethernet `(source, destination)`,
/// or `None` for a bare IP packet on a raw-IP link.
pub type LinkAddrs = Option<(Mac, Mac)>;

/// Writes a complete probe (Ethernet header if `link` is given, IPv4 header, transport
/// header and payload, every checksum) into `buf`, padded to the Ethernet minimum.
/// Returns its length.
pub fn emit_ipv4(
    buf: &mut [u8],
    link: LinkAddrs,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    probe: Probe<'_>,
) -> Result<usize, Error> {
    let l2 = if link.is_some() { ETH_LEN } else { 0 };
    let mut th = [0u8; 60];
    let (proto, tlen, payload): (IpNumber, usize, &[u8]) = match probe {
        Probe::Echo { id, seq } => {
            let h = Icmpv4Header::with_checksum(
                Icmpv4Type::EchoRequest(IcmpEchoHeader { id, seq }),
                &[],
            );
            let b = h.to_bytes();
            th[..b.len()].copy_from_slice(&b);
            (IpNumber::ICMP, b.len(), &[])
        }
        Probe::Syn { sport, dport, seq } => {
            let mut h = TcpHeader::new(sport, dport, seq, 64240);
            h.syn = true;
            h.set_options(&[TcpOptionElement::MaximumSegmentSize(1460)])
                .map_err(|_| Error::Malformed)?;
            h.checksum = h
                .calc_checksum_ipv4_raw(src.octets(), dst.octets(), &[])
                .map_err(|_| Error::Malformed)?;
            let b = h.to_bytes();
            th[..b.len()].copy_from_slice(&b);
            (IpNumber::TCP, b.len(), &[])
        }
        Probe::Udp {
            sport,
            dport,
            payload,
        } => {
            let h = udp_header(sport, dport, src.octets(), dst.octets(), payload)?;
            th[..8].copy_from_slice(&h.to_bytes());
            (IpNumber::UDP, 8, payload)
        }
    };
    let plen = tlen + payload.len();
    let mut ip = Ipv4Header::new(plen as u16, 64, proto, src.octets(), dst.octets())
        .map_err(|_| Error::Malformed)?;
    ip.identification = ip_id;
    ip.dont_fragment = true;
    ip.header_checksum = ip.calc_header_checksum();
    let total = l2 + Ipv4Header::MIN_LEN + plen;
    let padded = if link.is_some() {
        total.max(ETH_MIN)
    } else {
        total
    };
    if buf.len() < padded {
        return Err(Error::BufferTooSmall);
    }
    if let Some((s, d)) = link {
        let eth = Ethernet2Header {
            source: s,
            destination: d,
            ether_type: EtherType::IPV4,
        };
        buf[..ETH_LEN].copy_from_slice(&eth.to_bytes());
    }
    let mut at = l2;
    buf[at..at + Ipv4Header::MIN_LEN].copy_from_slice(&ip.to_bytes());
    at += Ipv4Header::MIN_LEN;
    buf[at..at + tlen].copy_from_slice(&th[..tlen]);
    at += tlen;
    buf[at..at + payload.len()].copy_from_slice(payload);
    buf[total..padded].fill(0);
    Ok(padded)
}

/// A UDP header with its checksum over the IPv4 pseudo-header.
fn udp_header(
    sport: u16,
    dport: u16,
    src: [u8; 4],
    dst: [u8; 4],
    payload: &[u8],
) -> Result<UdpHeader, Error> {
    let length = u16::try_from(8 + payload.len()).map_err(|_| Error::Malformed)?;
    let mut h = UdpHeader {
        source_port: sport,
        destination_port: dport,
        length,
        checksum: 0,
    };
    h.checksum = h
        .calc_checksum_ipv4_raw(src, dst, payload)
        .map_err(|_| Error::Malformed)?;
    Ok(h)
}

/// Length of the SNMP probe written by [`snmp_probe`].
pub const SNMP_PROBE_LEN: usize = 43;

/// An SNMPv2c GetRequest for sysDescr.0 (1.3.6.1.2.1.1.1.0) with community `public`
/// and the given request-id (its top bit is cleared, so the INTEGER is positive).
pub fn snmp_probe(request_id: u32) -> [u8; SNMP_PROBE_LEN] {
    let r = (request_id & 0x7fff_ffff).to_be_bytes();
    [
        0x30, 41, // SEQUENCE
        0x02, 1, 1, // version: v2c
        0x04, 6, b'p', b'u', b'b', b'l', b'i', b'c', // community
        0xa0, 28, // GetRequest-PDU
        0x02, 4, r[0], r[1], r[2], r[3], // request-id
        0x02, 1, 0, // error-status
        0x02, 1, 0, // error-index
        0x30, 14, // varbind list
        0x30, 12, // varbind
        0x06, 8, 0x2b, 6, 1, 2, 1, 1, 1, 0, // sysDescr.0
        0x05, 0, // NULL
    ]
}

/// The request-id of an SNMP v1/v2c message (any PDU), read leniently: only the
/// header down to the request-id is checked (the BER reader of [`crate::snmp`]), since
/// any answer carrying our cookie proves the host is up. `None` when the bytes are not
/// such a message or the id is outside 32 bits.
pub fn snmp_request_id(msg: &[u8]) -> Option<u32> {
    use crate::snmp::Reader;
    let mut seq = Reader::new(msg).sub(0x30).ok()?;
    seq.integer().ok()?; // version
    seq.expect(0x04).ok()?; // community
    let (tag, pdu, _) = seq.tlv().ok()?;
    if !(0xa0..=0xa8).contains(&tag) {
        return None;
    }
    let id = Reader::new(pdu).integer().ok()?;
    i32::try_from(id).ok().map(|v| v as u32)
}
