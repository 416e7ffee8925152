//! IPv6 wire formats the discovery speaks: the IPv6 header (with the extension headers
//! before the upper layer skipped), ICMPv6 echo, Neighbor Discovery (solicitation,
//! advertisement, router advertisement), MLD (the general query we send, the v1 and v2
//! reports nodes answer with) and TCP over IPv6.
//!
//! Written by hand rather than through etherparse (which [`crate::wire`] uses for IPv4):
//! the NDP options and the MLD query with its hop-by-hop router alert are a few fixed
//! layouts, and parsing them here keeps every bound visible. Only the TCP header of a
//! SYN is built by etherparse. As in [`crate::wire`], a frame is never trusted: every
//! length is checked, ICMPv6 checksums are verified, and Neighbor Discovery messages
//! must carry hop limit 255 (RFC 4861 §7.1: they were not forwarded).

use crate::wire::{ETH_LEN, ETH_MIN, Error, Link, LinkAddrs, Mac};
use core::net::Ipv6Addr;
use etherparse::{TcpHeader, TcpOptionElement};

/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Length of the fixed IPv6 header.
pub const IPV6_LEN: usize = 40;
/// ff02::1, every node of the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ff02::2, every router of the link.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

const NH_HOP_BY_HOP: u8 = 0;
const NH_TCP: u8 = 6;
const NH_ROUTING: u8 = 43;
const NH_FRAGMENT: u8 = 44;
const NH_ICMPV6: u8 = 58;
const NH_NONE: u8 = 59;
const NH_DEST_OPTS: u8 = 60;

const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const MLD_QUERY: u8 = 130;
const MLD_REPORT_V1: u8 = 131;
const MLD_REPORT_V2: u8 = 143;
const ROUTER_ADVERT: u8 = 134;
const NEIGHBOR_SOLICIT: u8 = 135;
const NEIGHBOR_ADVERT: u8 = 136;
const DEST_UNREACH: u8 = 1;

const OPT_SOURCE_LL: u8 = 1;
const OPT_TARGET_LL: u8 = 2;

/// Most extension headers skipped before the upper layer (a longer chain is `Other`).
const MAX_EXT: usize = 8;

/// The Ethernet multicast address of an IPv6 multicast group (33:33 + its last 32 bits).
pub fn multicast_mac(group: Ipv6Addr) -> Mac {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The solicited-node multicast group of `ip` (ff02::1:ffXX:XXXX, its last 24 bits).
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// fe80::/10.
pub fn is_link_local(ip: Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// The quoted datagram of an ICMPv6 destination unreachable (RFC 4443 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote6 {
    /// Source of the quoted packet (should be us).
    pub src: Ipv6Addr,
    /// Destination of the quoted packet (the target probed).
    pub dst: Ipv6Addr,
    /// Its next header (6 TCP, 58 ICMPv6; extension headers are not followed).
    pub next_header: u8,
    /// First two 16-bit words of its payload: ports, or ICMPv6 type/code and checksum.
    pub a: u16,
    /// See `a`.
    pub b: u16,
}

/// One received IPv6 packet, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet6 {
    /// An ICMPv6 echo reply.
    EchoReply {
        /// Who replied.
        src: Ipv6Addr,
        /// To whom.
        dst: Ipv6Addr,
        /// Echo identifier.
        id: u16,
        /// Echo sequence number.
        seq: u16,
    },
    /// A Neighbor Solicitation (someone resolving an address: it is on the link).
    NeighborSolicit {
        /// The asker (`::` during duplicate address detection).
        src: Ipv6Addr,
        /// The address asked for.
        target: Ipv6Addr,
        /// The asker's source link-layer address option.
        sll: Option<Mac>,
    },
    /// A Neighbor Advertisement: `target` is at `tll` (or the frame's source).
    NeighborAdvert {
        /// Sender.
        src: Ipv6Addr,
        /// Destination.
        dst: Ipv6Addr,
        /// The address advertised.
        target: Ipv6Addr,
        /// Target link-layer address option.
        tll: Option<Mac>,
        /// R flag: the sender is a router.
        router: bool,
        /// S flag: an answer to a solicitation.
        solicited: bool,
    },
    /// A Router Advertisement (its source is a router's link-local address).
    RouterAdvert {
        /// The router.
        src: Ipv6Addr,
        /// Its source link-layer address option.
        sll: Option<Mac>,
    },
    /// An MLD listener report, v1 or v2 (its source is a node of the link).
    MldReport {
        /// The node (`::` before it has a link-local address).
        src: Ipv6Addr,
    },
    /// An MLD query (from a router or a querier).
    MldQuery {
        /// The querier.
        src: Ipv6Addr,
    },
    /// A TCP segment.
    Tcp {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address.
        dst: Ipv6Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Flags, see [`crate::wire::tcp_flags`].
        flags: u8,
    },
    /// An ICMPv6 destination unreachable, with what it quotes.
    Unreachable {
        /// Who sent the error.
        src: Ipv6Addr,
        /// To whom.
        dst: Ipv6Addr,
        /// The code (4 = port unreachable, 3 = address unreachable, ...).
        code: u8,
        /// The quoted packet's fields.
        quote: Quote6,
    },
    /// Anything else: not IPv6, other ICMPv6 types, UDP, fragments, long header chains.
    Other,
}

/// A parsed IPv6 frame: link addresses (Ethernet only) and the classified packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame6 {
    /// Ethernet source, `None` on raw-IP links.
    pub src_mac: Option<Mac>,
    /// Ethernet destination, `None` on raw-IP links.
    pub dst_mac: Option<Mac>,
    /// Hop limit of the packet (255 for Neighbor Discovery).
    pub hop_limit: u8,
    /// The packet inside.
    pub packet: Packet6,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn addr(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

/// Parses one frame received on a link of type `link`. Frames that are not IPv6 are
/// `Ok` with [`Packet6::Other`].
pub fn parse(link: Link, frame: &[u8]) -> Result<Frame6, Error> {
    let (src_mac, dst_mac, ip) = match link {
        Link::Ethernet => {
            if frame.len() < ETH_LEN {
                return Err(Error::Truncated);
            }
            let mut d = [0u8; 6];
            let mut s = [0u8; 6];
            d.copy_from_slice(&frame[..6]);
            s.copy_from_slice(&frame[6..12]);
            if be16(frame, 12) != ETHERTYPE_IPV6 {
                return Ok(Frame6 {
                    src_mac: Some(s),
                    dst_mac: Some(d),
                    hop_limit: 0,
                    packet: Packet6::Other,
                });
            }
            (Some(s), Some(d), &frame[ETH_LEN..])
        }
        Link::RawIp => (None, None, frame),
    };
    let other = |hop_limit| Frame6 {
        src_mac,
        dst_mac,
        hop_limit,
        packet: Packet6::Other,
    };
    if ip.is_empty() {
        return Err(Error::Truncated);
    }
    if ip[0] >> 4 != 6 {
        if link == Link::RawIp {
            return Ok(other(0));
        }
        return Err(Error::Malformed);
    }
    if ip.len() < IPV6_LEN {
        return Err(Error::Truncated);
    }
    let plen = usize::from(be16(ip, 4));
    let hop_limit = ip[7];
    if plen == 0 {
        return Ok(other(hop_limit)); // a jumbogram, or nothing: not ours either way
    }
    if ip.len() < IPV6_LEN + plen {
        return Err(Error::Truncated);
    }
    let (src, dst) = (addr(ip, 8), addr(ip, 24));
    let payload = &ip[IPV6_LEN..IPV6_LEN + plen];
    let Some((nh, upper)) = upper_layer(ip[6], payload)? else {
        return Ok(other(hop_limit));
    };
    let packet = match nh {
        NH_ICMPV6 => icmpv6(src, dst, hop_limit, upper)?,
        NH_TCP => tcp(src, dst, upper)?,
        _ => Packet6::Other,
    };
    Ok(Frame6 {
        src_mac,
        dst_mac,
        hop_limit,
        packet,
    })
}

/// Skips hop-by-hop, routing and destination options headers: the upper-layer protocol
/// and its bytes, `None` for fragments, "no next header" and chains over [`MAX_EXT`].
fn upper_layer(mut nh: u8, mut p: &[u8]) -> Result<Option<(u8, &[u8])>, Error> {
    for _ in 0..MAX_EXT {
        match nh {
            NH_HOP_BY_HOP | NH_ROUTING | NH_DEST_OPTS => {
                if p.len() < 8 {
                    return Err(Error::Truncated);
                }
                let len = (usize::from(p[1]) + 1) * 8;
                if p.len() < len {
                    return Err(Error::Truncated);
                }
                nh = p[0];
                p = &p[len..];
            }
            NH_FRAGMENT | NH_NONE => return Ok(None),
            _ => return Ok(Some((nh, p))),
        }
    }
    Ok(None)
}

/// The ICMPv6 checksum of `msg` (its checksum field included: a valid message sums
/// to 0) over the IPv6 pseudo-header.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for a in [src, dst] {
        for w in a.segments() {
            sum += u64::from(w);
        }
    }
    sum += msg.len() as u64;
    sum += u64::from(NH_ICMPV6);
    let mut chunks = msg.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn icmpv6(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, m: &[u8]) -> Result<Packet6, Error> {
    if m.len() < 4 {
        return Err(Error::Truncated);
    }
    if icmpv6_checksum(src, dst, m) != 0 {
        return Err(Error::Malformed);
    }
    let nd = hop_limit == 255;
    Ok(match m[0] {
        ECHO_REPLY if m.len() >= 8 => Packet6::EchoReply {
            src,
            dst,
            id: be16(m, 4),
            seq: be16(m, 6),
        },
        NEIGHBOR_SOLICIT if nd && m.len() >= 24 => Packet6::NeighborSolicit {
            src,
            target: addr(m, 8),
            sll: option_mac(&m[24..], OPT_SOURCE_LL)?,
        },
        NEIGHBOR_ADVERT if nd && m.len() >= 24 => Packet6::NeighborAdvert {
            src,
            dst,
            target: addr(m, 8),
            tll: option_mac(&m[24..], OPT_TARGET_LL)?,
            router: m[4] & 0x80 != 0,
            solicited: m[4] & 0x40 != 0,
        },
        ROUTER_ADVERT if nd && m.len() >= 16 => Packet6::RouterAdvert {
            src,
            sll: option_mac(&m[16..], OPT_SOURCE_LL)?,
        },
        MLD_REPORT_V1 | MLD_REPORT_V2 if m.len() >= 8 => Packet6::MldReport { src },
        MLD_QUERY if m.len() >= 24 => Packet6::MldQuery { src },
        DEST_UNREACH if m.len() >= 8 + IPV6_LEN + 4 => {
            let q = &m[8..];
            Packet6::Unreachable {
                src,
                dst,
                code: m[1],
                quote: Quote6 {
                    src: addr(q, 8),
                    dst: addr(q, 24),
                    next_header: q[6],
                    a: be16(q, IPV6_LEN),
                    b: be16(q, IPV6_LEN + 2),
                },
            }
        }
        _ => Packet6::Other,
    })
}

/// The first link-layer address option of `kind` (1 source, 2 target) among the NDP
/// options `opts`; an option of length 0 makes the message invalid (RFC 4861 §4.6).
fn option_mac(mut opts: &[u8], kind: u8) -> Result<Option<Mac>, Error> {
    while opts.len() >= 2 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 {
            return Err(Error::Malformed);
        }
        if opts.len() < len {
            return Err(Error::Truncated);
        }
        if opts[0] == kind && len >= 8 {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&opts[2..8]);
            return Ok(Some(mac));
        }
        opts = &opts[len..];
    }
    Ok(None)
}

fn tcp(src: Ipv6Addr, dst: Ipv6Addr, t: &[u8]) -> Result<Packet6, Error> {
    if t.len() < 20 {
        return Err(Error::Truncated);
    }
    if usize::from(t[12] >> 4) * 4 < 20 {
        return Err(Error::Malformed);
    }
    Ok(Packet6::Tcp {
        src,
        dst,
        sport: be16(t, 0),
        dport: be16(t, 2),
        seq: be32(t, 4),
        ack: be32(t, 8),
        flags: t[13],
    })
}

/// An IPv6 probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe6 {
    /// ICMPv6 echo request, no payload.
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
    /// Neighbor Solicitation for `target`, with our MAC as source link-layer option.
    /// Sent to the target's solicited-node group with hop limit 255.
    Solicit {
        /// The address asked for.
        target: Ipv6Addr,
        /// Our MAC.
        mac: Mac,
    },
    /// MLDv2 general query (hop limit 1, hop-by-hop router alert): every listening
    /// node answers with a report within `max_resp_ms`.
    MldQuery {
        /// Maximum response delay, ms (up to 32767 in this encoding).
        max_resp_ms: u16,
    },
}

/// Writes a complete IPv6 probe (Ethernet header if `link` is given, IPv6 header,
/// any extension header, the message with its checksum) into `buf`, padded to the
/// Ethernet minimum. `hop_limit` is used for echo and SYN; Neighbor Discovery sets
/// 255 and MLD 1. Returns its length.
pub fn emit_ipv6(
    buf: &mut [u8],
    link: LinkAddrs,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    probe: Probe6,
) -> Result<usize, Error> {
    let mut body = [0u8; 64];
    let (nh, hl, hbh, blen): (u8, u8, bool, usize) = match probe {
        Probe6::Echo { id, seq } => {
            body[0] = ECHO_REQUEST;
            body[4..6].copy_from_slice(&id.to_be_bytes());
            body[6..8].copy_from_slice(&seq.to_be_bytes());
            (NH_ICMPV6, hop_limit, false, 8)
        }
        Probe6::Solicit { target, mac } => {
            body[0] = NEIGHBOR_SOLICIT;
            body[8..24].copy_from_slice(&target.octets());
            body[24] = OPT_SOURCE_LL;
            body[25] = 1;
            body[26..32].copy_from_slice(&mac);
            (NH_ICMPV6, 255, false, 32)
        }
        Probe6::MldQuery { max_resp_ms } => {
            body[0] = MLD_QUERY;
            body[4..6].copy_from_slice(&max_resp_ms.min(32767).to_be_bytes());
            // Multicast address :: (general query), S=0 QRV=2, QQIC 125 s, no sources.
            body[24] = 2;
            body[25] = 125;
            (NH_ICMPV6, 1, true, 28)
        }
        Probe6::Syn { sport, dport, seq } => {
            let mut h = TcpHeader::new(sport, dport, seq, 64240);
            h.syn = true;
            h.set_options(&[TcpOptionElement::MaximumSegmentSize(1440)])
                .map_err(|_| Error::Malformed)?;
            h.checksum = h
                .calc_checksum_ipv6_raw(src.octets(), dst.octets(), &[])
                .map_err(|_| Error::Malformed)?;
            let b = h.to_bytes();
            body[..b.len()].copy_from_slice(&b);
            (NH_TCP, hop_limit, false, b.len())
        }
    };
    if nh == NH_ICMPV6 {
        let c = icmpv6_checksum(src, dst, &body[..blen]);
        body[2..4].copy_from_slice(&c.to_be_bytes());
    }
    let l2 = if link.is_some() { ETH_LEN } else { 0 };
    let ext = if hbh { 8 } else { 0 };
    let total = l2 + IPV6_LEN + ext + blen;
    let padded = if link.is_some() {
        total.max(ETH_MIN)
    } else {
        total
    };
    if buf.len() < padded {
        return Err(Error::BufferTooSmall);
    }
    if let Some((s, d)) = link {
        buf[..6].copy_from_slice(&d);
        buf[6..12].copy_from_slice(&s);
        buf[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    }
    let ip = &mut buf[l2..total];
    ip[..4].copy_from_slice(&[0x60, 0, 0, 0]);
    ip[4..6].copy_from_slice(&((ext + blen) as u16).to_be_bytes());
    ip[6] = if hbh { NH_HOP_BY_HOP } else { nh };
    ip[7] = hl;
    ip[8..24].copy_from_slice(&src.octets());
    ip[24..40].copy_from_slice(&dst.octets());
    if hbh {
        // Next header, length 0 (8 bytes), router alert (type 5, len 2, value 0: MLD),
        // PadN of 0 bytes.
        ip[40..48].copy_from_slice(&[nh, 0, 5, 2, 0, 0, 1, 0]);
    }
    ip[IPV6_LEN + ext..].copy_from_slice(&body[..blen]);
    buf[total..padded].fill(0);
    Ok(padded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Mac = [2, 0, 0, 0, 0, 1];
    const HIM: Mac = [2, 0, 0, 0, 0, 2];

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// Writes an ICMPv6 message `m` (checksum filled in) from `src` to `dst`.
    fn icmp_frame(src: Ipv6Addr, dst: Ipv6Addr, hl: u8, m: &[u8], buf: &mut [u8]) -> usize {
        let total = ETH_LEN + IPV6_LEN + m.len();
        buf[..6].copy_from_slice(&ME);
        buf[6..12].copy_from_slice(&HIM);
        buf[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        let ipb = &mut buf[ETH_LEN..total];
        ipb[..4].copy_from_slice(&[0x60, 0, 0, 0]);
        ipb[4..6].copy_from_slice(&(m.len() as u16).to_be_bytes());
        ipb[6] = NH_ICMPV6;
        ipb[7] = hl;
        ipb[8..24].copy_from_slice(&src.octets());
        ipb[24..40].copy_from_slice(&dst.octets());
        ipb[40..].copy_from_slice(m);
        let c = icmpv6_checksum(src, dst, &ipb[40..]);
        ipb[42..44].copy_from_slice(&c.to_be_bytes());
        total
    }

    #[test]
    fn multicast_addresses_follow_rfc_4291_and_2464() {
        let a = ip("2001:2::1234:5678");
        assert_eq!(solicited_node(a), ip("ff02::1:ff34:5678"));
        assert_eq!(
            multicast_mac(solicited_node(a)),
            [0x33, 0x33, 0xff, 0x34, 0x56, 0x78]
        );
        assert_eq!(multicast_mac(ALL_NODES), [0x33, 0x33, 0, 0, 0, 1]);
        assert!(is_link_local(ip("fe80::1")) && is_link_local(ip("febf::1")));
        assert!(!is_link_local(ip("fec0::1")) && !is_link_local(ip("2001:2::1")));
    }

    #[test]
    fn a_neighbor_solicitation_follows_rfc_4861() {
        // fe80::1 asking for fe80::2: the layout of RFC 4861 §4.3.
        let mut buf = [0u8; 128];
        let n = emit_ipv6(
            &mut buf,
            Some((ME, multicast_mac(solicited_node(ip("fe80::2"))))),
            ip("fe80::1"),
            solicited_node(ip("fe80::2")),
            64,
            Probe6::Solicit {
                target: ip("fe80::2"),
                mac: ME,
            },
        )
        .unwrap();
        assert_eq!(n, ETH_LEN + IPV6_LEN + 32);
        assert_eq!(&buf[..6], &[0x33, 0x33, 0xff, 0, 0, 2]);
        assert_eq!(buf[ETH_LEN + 7], 255, "hop limit of ND");
        let m = &buf[ETH_LEN + IPV6_LEN..n];
        assert_eq!(&m[..2], &[135, 0]);
        assert_eq!(&m[24..32], &[1, 1, 2, 0, 0, 0, 0, 1]);
        // Its checksum is right: a receiver's sum over it is 0, and it parses.
        assert_eq!(
            icmpv6_checksum(ip("fe80::1"), solicited_node(ip("fe80::2")), m),
            0
        );
        let f = parse(Link::Ethernet, &buf[..n]).unwrap();
        assert_eq!(
            f.packet,
            Packet6::NeighborSolicit {
                src: ip("fe80::1"),
                target: ip("fe80::2"),
                sll: Some(ME)
            }
        );
    }

    #[test]
    fn the_mld_query_has_the_router_alert_and_hop_limit_one() {
        let mut buf = [0u8; 128];
        let n = emit_ipv6(
            &mut buf,
            Some((ME, multicast_mac(ALL_NODES))),
            ip("fe80::1"),
            ALL_NODES,
            64,
            Probe6::MldQuery { max_resp_ms: 500 },
        )
        .unwrap();
        let p = &buf[ETH_LEN..n];
        assert_eq!((p[6], p[7]), (0, 1));
        assert_eq!(&p[40..48], &[58, 0, 5, 2, 0, 0, 1, 0]);
        assert_eq!(be16(p, 4), 8 + 28);
        assert_eq!(p[48], 130);
        assert_eq!(be16(p, 52), 500);
        assert_eq!(icmpv6_checksum(ip("fe80::1"), ALL_NODES, &p[48..76]), 0);
        // The parser walks the hop-by-hop header to the query.
        assert_eq!(
            parse(Link::Ethernet, &buf[..n]).unwrap().packet,
            Packet6::MldQuery { src: ip("fe80::1") }
        );
    }

    #[test]
    fn advertisements_reports_and_echo_replies_are_classified() {
        let mut buf = [0u8; 256];
        // NA: S and O flags, target 2001:2::5, target link-layer option.
        let mut na = [0u8; 32];
        na[0] = 136;
        na[4] = 0x60;
        na[8..24].copy_from_slice(&ip("2001:2::5").octets());
        na[24..32].copy_from_slice(&[2, 1, 2, 0, 0, 0, 0, 2]);
        let n = icmp_frame(ip("2001:2::5"), ip("2001:2::1"), 255, &na, &mut buf);
        let f = parse(Link::Ethernet, &buf[..n]).unwrap();
        assert_eq!(f.src_mac, Some(HIM));
        assert_eq!(
            f.packet,
            Packet6::NeighborAdvert {
                src: ip("2001:2::5"),
                dst: ip("2001:2::1"),
                target: ip("2001:2::5"),
                tll: Some(HIM),
                router: false,
                solicited: true
            }
        );
        // The same with hop limit 64 was forwarded: not Neighbor Discovery.
        let n = icmp_frame(ip("2001:2::5"), ip("2001:2::1"), 64, &na, &mut buf);
        assert_eq!(
            parse(Link::Ethernet, &buf[..n]).unwrap().packet,
            Packet6::Other
        );
        // A bad checksum is refused.
        let n = icmp_frame(ip("2001:2::5"), ip("2001:2::1"), 255, &na, &mut buf);
        buf[ETH_LEN + IPV6_LEN + 10] ^= 1;
        assert_eq!(parse(Link::Ethernet, &buf[..n]), Err(Error::Malformed));
        // An option of length 0 makes it invalid (and cannot loop).
        let mut bad = na;
        bad[25] = 0;
        let n = icmp_frame(ip("2001:2::5"), ip("2001:2::1"), 255, &bad, &mut buf);
        assert_eq!(parse(Link::Ethernet, &buf[..n]), Err(Error::Malformed));
        // Echo reply.
        let er = [129, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
        let n = icmp_frame(ip("fe80::9"), ip("fe80::1"), 64, &er, &mut buf);
        assert_eq!(
            parse(Link::Ethernet, &buf[..n]).unwrap().packet,
            Packet6::EchoReply {
                src: ip("fe80::9"),
                dst: ip("fe80::1"),
                id: 0x1234,
                seq: 0x5678
            }
        );
        // MLDv2 report to ff02::16.
        let rep = [143, 0, 0, 0, 0, 0, 0, 0];
        let n = icmp_frame(ip("fe80::9"), ip("ff02::16"), 1, &rep, &mut buf);
        assert_eq!(
            parse(Link::Ethernet, &buf[..n]).unwrap().packet,
            Packet6::MldReport { src: ip("fe80::9") }
        );
        // Router advertisement with a source link-layer option after the header.
        let mut ra = [0u8; 24];
        ra[0] = 134;
        ra[16..24].copy_from_slice(&[1, 1, 2, 0, 0, 0, 0, 2]);
        let n = icmp_frame(ip("fe80::1:1"), ALL_NODES, 255, &ra, &mut buf);
        assert_eq!(
            parse(Link::Ethernet, &buf[..n]).unwrap().packet,
            Packet6::RouterAdvert {
                src: ip("fe80::1:1"),
                sll: Some(HIM)
            }
        );
    }

    #[test]
    fn syn_and_echo_probes_round_trip_and_truncation_is_an_error() {
        let mut buf = [0u8; 128];
        let (a, b) = (ip("2001:2::1"), ip("2001:2:1::7"));
        let n = emit_ipv6(
            &mut buf,
            None,
            a,
            b,
            64,
            Probe6::Syn {
                sport: 40000,
                dport: 22,
                seq: 0xdead_beef,
            },
        )
        .unwrap();
        assert_eq!(
            parse(Link::RawIp, &buf[..n]).unwrap().packet,
            Packet6::Tcp {
                src: a,
                dst: b,
                sport: 40000,
                dport: 22,
                seq: 0xdead_beef,
                ack: 0,
                flags: crate::wire::tcp_flags::SYN
            }
        );
        let n = emit_ipv6(
            &mut buf,
            Some((ME, HIM)),
            a,
            b,
            64,
            Probe6::Echo { id: 1, seq: 2 },
        )
        .unwrap();
        assert_eq!(n, ETH_MIN.max(ETH_LEN + IPV6_LEN + 8));
        let m = &buf[ETH_LEN + IPV6_LEN..ETH_LEN + IPV6_LEN + 8];
        assert_eq!(m[0], 128);
        assert_eq!(icmpv6_checksum(a, b, m), 0);
        for cut in 0..ETH_LEN + IPV6_LEN + 8 {
            let r = parse(Link::Ethernet, &buf[..cut]);
            assert!(
                r.is_err() || r.unwrap().packet == Packet6::Other,
                "cut at {cut}"
            );
        }
        // IPv4 and ARP frames are Other, not errors.
        let mut arp = [0u8; 60];
        arp[12..14].copy_from_slice(&[8, 6]);
        assert_eq!(parse(Link::Ethernet, &arp).unwrap().packet, Packet6::Other);
        assert_eq!(
            parse(Link::RawIp, &[0x45; 20]).unwrap().packet,
            Packet6::Other
        );
    }
}
