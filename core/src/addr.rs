//! IPv4 address sets: CIDRs, ranges and single addresses, minus exclusions.
//!
//! A set is normalised once into at most `N` sorted, disjoint, inclusive ranges, so
//! that the number of addresses is known up front and the `i`-th address is found by a
//! binary search. [`AddrSet::scatter`] walks the whole set exactly once in an order
//! given by a keyed permutation of `0..len` (a 4-round Feistel network over the next
//! even power of two, with cycle walking), so that consecutive probes land far apart
//! and a /16 never hammers one neighbour or one switch port. Nothing allocates.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

/// An inclusive range of IPv4 addresses, `first <= last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    /// First address, as a host-order integer.
    pub first: u32,
    /// Last address (inclusive).
    pub last: u32,
}

impl Range {
    /// A range from two addresses; `None` if `first > last`.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> Option<Range> {
        let (first, last) = (u32::from(first), u32::from(last));
        (first <= last).then_some(Range { first, last })
    }

    /// The addresses of a CIDR block `addr/prefix` (host bits are ignored).
    pub fn cidr(addr: Ipv4Addr, prefix: u8) -> Option<Range> {
        if prefix > 32 {
            return None;
        }
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        let first = u32::from(addr) & mask;
        Some(Range {
            first,
            last: first | !mask,
        })
    }

    /// One address.
    pub fn single(addr: Ipv4Addr) -> Range {
        let a = u32::from(addr);
        Range { first: a, last: a }
    }

    /// How many addresses the range holds (1 to 2^32).
    pub fn len(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    /// Always false: a range holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `addr` is in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        self.first <= a && a <= self.last
    }

    /// Whether the range lies inside `other`.
    pub fn within(&self, other: &Range) -> bool {
        other.first <= self.first && self.last <= other.last
    }
}

/// Why a target or a set could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The text is not an address, a CIDR (`a.b.c.d/n`) or a range (`a.b.c.d-e.f.g.h`
    /// or `a.b.c.d-h`).
    Syntax,
    /// A CIDR prefix above 32.
    Prefix,
    /// A range whose end comes before its start.
    Reversed,
    /// More disjoint ranges than the set's capacity.
    Capacity,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Syntax => "not an IPv4 address, CIDR (a.b.c.d/n) or range (a.b.c.d-e.f.g.h)",
            Error::Prefix => "CIDR prefix length must be 0 to 32",
            Error::Reversed => "range ends before it starts",
            Error::Capacity => "too many disjoint ranges in one address set",
        })
    }
}

impl core::error::Error for Error {}

impl FromStr for Range {
    type Err = Error;

    /// Parses `198.18.0.7`, `198.18.0.0/24`, `198.18.0.10-198.18.0.20` or
    /// `198.18.0.10-20` (the last octet only).
    fn from_str(s: &str) -> Result<Range, Error> {
        let s = s.trim();
        if let Some((a, p)) = s.split_once('/') {
            let addr = Ipv4Addr::from_str(a).map_err(|_| Error::Syntax)?;
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Syntax);
            }
            let prefix: u8 = p.parse().map_err(|_| Error::Syntax)?;
            return Range::cidr(addr, prefix).ok_or(Error::Prefix);
        }
        if let Some((a, b)) = s.split_once('-') {
            let first = Ipv4Addr::from_str(a).map_err(|_| Error::Syntax)?;
            let last = match Ipv4Addr::from_str(b) {
                Ok(l) => l,
                Err(_) => {
                    if b.is_empty() || b.len() > 3 || !b.bytes().all(|c| c.is_ascii_digit()) {
                        return Err(Error::Syntax);
                    }
                    let octet: u8 = b.parse().map_err(|_| Error::Syntax)?;
                    let [x, y, z, _] = first.octets();
                    Ipv4Addr::new(x, y, z, octet)
                }
            };
            return Range::new(first, last).ok_or(Error::Reversed);
        }
        Ipv4Addr::from_str(s)
            .map(Range::single)
            .map_err(|_| Error::Syntax)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = (Ipv4Addr::from(self.first), Ipv4Addr::from(self.last));
        if self.first == self.last {
            return write!(f, "{a}");
        }
        // Print as a CIDR when it is one.
        let len = self.len();
        if len.is_power_of_two() && u64::from(self.first) % len == 0 {
            return write!(f, "{a}/{}", 32 - len.trailing_zeros());
        }
        write!(f, "{a}-{b}")
    }
}

/// A set of IPv4 addresses as at most `N` sorted, disjoint, non-adjacent ranges.
#[derive(Clone, Debug)]
pub struct AddrSet<const N: usize> {
    ranges: heapless::Vec<Range, N>,
    /// `starts[i]` = number of addresses in `ranges[..i]`.
    starts: heapless::Vec<u64, N>,
    len: u64,
}

impl<const N: usize> Default for AddrSet<N> {
    fn default() -> Self {
        AddrSet {
            ranges: heapless::Vec::new(),
            starts: heapless::Vec::new(),
            len: 0,
        }
    }
}

impl<const N: usize> AddrSet<N> {
    /// The empty set.
    pub const fn new() -> Self {
        AddrSet {
            ranges: heapless::Vec::new(),
            starts: heapless::Vec::new(),
            len: 0,
        }
    }

    /// Adds every address of `r`, merging with what is there.
    pub fn insert(&mut self, r: Range) -> Result<(), Error> {
        let mut merged = r;
        let mut out: heapless::Vec<Range, N> = heapless::Vec::new();
        let mut placed = false;
        for &x in self.ranges.iter() {
            // Disjoint and not adjacent: keep as is, in order.
            if u64::from(x.last) + 1 < u64::from(merged.first) {
                out.push(x).map_err(|_| Error::Capacity)?;
            } else if u64::from(merged.last) + 1 < u64::from(x.first) {
                if !placed {
                    out.push(merged).map_err(|_| Error::Capacity)?;
                    placed = true;
                }
                out.push(x).map_err(|_| Error::Capacity)?;
            } else {
                merged = Range {
                    first: merged.first.min(x.first),
                    last: merged.last.max(x.last),
                };
            }
        }
        if !placed {
            out.push(merged).map_err(|_| Error::Capacity)?;
        }
        self.ranges = out;
        self.reindex();
        Ok(())
    }

    /// Removes every address of `r`. Exclusions win over any earlier or later insert
    /// only if applied last: build a set with all inserts first, then all removals.
    pub fn remove(&mut self, r: Range) -> Result<(), Error> {
        let mut out: heapless::Vec<Range, N> = heapless::Vec::new();
        for &x in self.ranges.iter() {
            if x.last < r.first || x.first > r.last {
                out.push(x).map_err(|_| Error::Capacity)?;
                continue;
            }
            if x.first < r.first {
                out.push(Range {
                    first: x.first,
                    last: r.first - 1,
                })
                .map_err(|_| Error::Capacity)?;
            }
            if x.last > r.last {
                out.push(Range {
                    first: r.last + 1,
                    last: x.last,
                })
                .map_err(|_| Error::Capacity)?;
            }
        }
        self.ranges = out;
        self.reindex();
        Ok(())
    }

    fn reindex(&mut self) {
        self.starts.clear();
        let mut n = 0u64;
        for r in self.ranges.iter() {
            // Same length as `ranges`, so this cannot fail.
            let _ = self.starts.push(n);
            n += r.len();
        }
        self.len = n;
    }

    /// The number of addresses in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The disjoint ranges, sorted.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// Whether `addr` is in the set.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        match self.ranges.binary_search_by(|r| r.first.cmp(&a)) {
            Ok(_) => true,
            Err(0) => false,
            Err(i) => self.ranges[i - 1].last >= a,
        }
    }

    /// The `i`-th address in ascending order, `None` past the end.
    pub fn nth(&self, i: u64) -> Option<Ipv4Addr> {
        if i >= self.len {
            return None;
        }
        let k = match self.starts.binary_search(&i) {
            Ok(k) => k,
            Err(k) => k - 1,
        };
        let off = (i - self.starts[k]) as u32;
        Some(Ipv4Addr::from(self.ranges[k].first + off))
    }

    /// Every address once, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.ranges
            .iter()
            .flat_map(|r| (r.first..=r.last).map(Ipv4Addr::from))
    }

    /// Every address once, in an order scattered by `key`.
    pub fn scatter(&self, key: u64) -> Scatter<'_, N> {
        Scatter {
            set: self,
            perm: Permutation::new(self.len, key),
            next: 0,
        }
    }
}

/// A keyed permutation of `0..n` (n up to 2^32): a balanced Feistel network over
/// `0..2^(2h)` with `2^(2h) >= n`, and cycle walking for values `>= n`. Cycle walking
/// always ends (the network is a permutation of a finite domain) and takes fewer than
/// 4 steps on average, since the domain is less than 4 times `n`.
#[derive(Clone, Copy, Debug)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    keys: [u32; 4],
}

impl Permutation {
    /// The permutation of nothing (a placeholder until [`Permutation::new`]).
    pub const EMPTY: Permutation = Permutation {
        n: 0,
        half_bits: 0,
        keys: [0; 4],
    };

    /// A permutation of `0..n` chosen by `key`.
    pub fn new(n: u64, key: u64) -> Permutation {
        let bits = if n <= 1 {
            0
        } else {
            64 - (n - 1).leading_zeros()
        };
        let half_bits = bits.div_ceil(2).max(1);
        let mut k = key ^ 0x9e37_79b9_7f4a_7c15;
        let mut keys = [0u32; 4];
        for slot in keys.iter_mut() {
            k = mix(k);
            *slot = k as u32;
        }
        Permutation { n, half_bits, keys }
    }

    /// The number of elements permuted.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether it permutes nothing.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The image of `i` (`i < n`).
    pub fn apply(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        let mut x = i;
        loop {
            x = self.feistel(x);
            if x < self.n {
                return x;
            }
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let h = self.half_bits;
        let mask = (1u64 << h) - 1;
        let (mut l, mut r) = (x >> h, x & mask);
        for &k in &self.keys {
            let f = u64::from(round(r as u32, k)) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << h) | r
    }
}

fn round(x: u32, k: u32) -> u32 {
    let mut v = x.wrapping_add(k).wrapping_mul(0x85eb_ca6b);
    v ^= v >> 13;
    v = v.wrapping_mul(0xc2b2_ae35);
    v ^ (v >> 16)
}

/// SplitMix64 finaliser: a fast keyed mix for permutation keys and reply cookies.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Iterator of [`AddrSet::scatter`].
#[derive(Clone, Debug)]
pub struct Scatter<'a, const N: usize> {
    set: &'a AddrSet<N>,
    perm: Permutation,
    next: u64,
}

impl<const N: usize> Iterator for Scatter<'_, N> {
    type Item = Ipv4Addr;

    fn next(&mut self) -> Option<Ipv4Addr> {
        if self.next >= self.set.len {
            return None;
        }
        let i = self.perm.apply(self.next);
        self.next += 1;
        self.set.nth(i)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.set.len - self.next) as usize;
        (left, Some(left))
    }
}
