//! ksocket-core: everything of ksocket that does not touch an operating system.
//!
//! The contract of this crate (checked in CI):
//! - `#![no_std]` and **no `alloc`**, in this crate and in its dependency tree; it builds
//!   for a bare-metal target (`thumbv7em-none-eabihf`) where `alloc` does not exist;
//! - no `unsafe`;
//! - no sockets and no clocks: time and packets are passed in by the caller
//!   (the `platform` crate), results are pulled out.
//!
//! Modules:
//! - [`addr`]: IPv4 address sets (CIDRs, ranges, exclusions) iterated in a keyed,
//!   scattered order without allocation.
//! - [`wire`]: Ethernet, ARP, IPv4, ICMPv4, TCP, UDP frames: classify what was
//!   received, emit probes into the caller's buffer.
//! - [`wire6`]: IPv6, ICMPv6 echo, Neighbor Discovery, MLD, TCP over IPv6.
//! - [`engine`]: the sans-IO discovery engine.
//! - [`engine6`]: its IPv6 counterpart: link discovery (multicast echo, MLD, Neighbor
//!   Discovery) and routed targets.
//! - [`snmp`]: SNMP v1/v2c/v3 messages in BER: borrowed decoding, back-to-front encoding.
//! - [`usm`]: SNMPv3 USM keys and message authentication.
//! - [`dns`]: DNS and mDNS queries (reverse PTR, DNS-SD enumeration) and a bounded reader.
//! - [`netbios`]: the NetBIOS node status request and its name table.
//! - [`timing`]: the rate pacer and the round-trip estimator every prober shares.
#![no_std]
#![forbid(unsafe_code)]
#![warn(clippy::std_instead_of_core, missing_docs)]

pub mod addr;
pub mod dns;
pub mod engine;
pub mod engine6;
pub mod netbios;
pub mod snmp;
pub mod timing;
pub mod usm;
pub mod wire;
pub mod wire6;
