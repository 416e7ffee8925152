//! Address sets: parsing, merging, exclusion, scattered iteration.

use core::net::Ipv4Addr;
use ksocket_core::addr::*;
use std::collections::HashSet;

fn r(s: &str) -> Range {
    s.parse().unwrap()
}

#[test]
fn parses_every_form() {
    assert_eq!(r("198.18.0.7").len(), 1);
    assert_eq!(
        r("198.18.0.0/24"),
        Range::new([198, 18, 0, 0].into(), [198, 18, 0, 255].into()).unwrap()
    );
    assert_eq!(
        r("198.18.0.77/24").first,
        u32::from(Ipv4Addr::new(198, 18, 0, 0))
    );
    assert_eq!(r("198.18.0.10-20").len(), 11);
    assert_eq!(r("198.18.0.10-198.18.1.9").len(), 256);
    assert_eq!(r("0.0.0.0/0").len(), 1 << 32);
    assert_eq!(r(" 198.18.0.1/32 ").len(), 1);
    for bad in [
        "",
        "198.18.0",
        "198.18.0.0/",
        "198.18.0.0/x",
        "a-b",
        "198.18.0.5-",
        "198.18.0.5-256",
        "1.2.3.4/+1",
    ] {
        assert_eq!(bad.parse::<Range>(), Err(Error::Syntax), "{bad:?}");
    }
    assert_eq!("198.18.0.0/33".parse::<Range>(), Err(Error::Prefix));
    assert_eq!(
        "198.18.0.9-198.18.0.1".parse::<Range>(),
        Err(Error::Reversed)
    );
    assert_eq!("198.18.0.9-1".parse::<Range>(), Err(Error::Reversed));
}

#[test]
fn displays_cidr_range_single() {
    assert_eq!(format!("{}", r("198.18.0.0/24")), "198.18.0.0/24");
    assert_eq!(format!("{}", r("198.18.0.3")), "198.18.0.3");
    assert_eq!(format!("{}", r("198.18.0.3-9")), "198.18.0.3-198.18.0.9");
}

#[test]
fn merges_and_excludes() {
    let mut s: AddrSet<8> = AddrSet::new();
    s.insert(r("198.18.0.0/25")).unwrap();
    s.insert(r("198.18.0.128/25")).unwrap(); // adjacent: merged
    s.insert(r("198.18.0.10")).unwrap(); // inside: no change
    assert_eq!(s.ranges(), &[r("198.18.0.0/24")]);
    s.insert(r("198.18.5.0/30")).unwrap();
    s.insert(r("198.18.3.0/30")).unwrap();
    assert_eq!(s.ranges().len(), 3);
    assert_eq!(s.len(), 256 + 8);
    s.remove(r("198.18.0.100-110")).unwrap();
    assert_eq!(s.len(), 256 + 8 - 11);
    assert!(!s.contains([198, 18, 0, 105].into()));
    assert!(s.contains([198, 18, 0, 99].into()));
    assert!(s.contains([198, 18, 0, 111].into()));
    assert!(s.contains([198, 18, 5, 3].into()));
    assert!(!s.contains([198, 18, 5, 4].into()));
    assert!(!s.contains([198, 17, 255, 255].into()));
    s.remove(r("0.0.0.0/0")).unwrap();
    assert!(s.is_empty());
    assert_eq!(s.nth(0), None);
}

#[test]
fn edges_of_the_address_space() {
    let mut s: AddrSet<4> = AddrSet::new();
    s.insert(r("255.255.255.254/31")).unwrap();
    s.insert(r("0.0.0.0/31")).unwrap();
    assert_eq!(s.len(), 4);
    s.remove(r("255.255.255.255")).unwrap();
    s.remove(r("0.0.0.0")).unwrap();
    let v: Vec<_> = s.iter().collect();
    assert_eq!(
        v,
        [Ipv4Addr::new(0, 0, 0, 1), Ipv4Addr::new(255, 255, 255, 254)]
    );
}

#[test]
fn capacity_is_reported() {
    let mut s: AddrSet<2> = AddrSet::new();
    s.insert(r("198.18.0.0/24")).unwrap();
    s.remove(r("198.18.0.10")).unwrap();
    assert_eq!(s.remove(r("198.18.0.20")), Err(Error::Capacity));
}

#[test]
fn nth_matches_iter() {
    let mut s: AddrSet<8> = AddrSet::new();
    for t in ["198.18.0.0/28", "198.18.1.5-9", "198.18.2.1"] {
        s.insert(r(t)).unwrap();
    }
    let v: Vec<_> = s.iter().collect();
    assert_eq!(v.len() as u64, s.len());
    for (i, a) in v.iter().enumerate() {
        assert_eq!(s.nth(i as u64), Some(*a));
    }
}

#[test]
fn scatter_visits_every_address_once() {
    for n in [0u64, 1, 2, 3, 5, 200, 256, 1000, 4099] {
        let mut s: AddrSet<2> = AddrSet::new();
        if n > 0 {
            s.insert(Range {
                first: 0xC612_0000,
                last: 0xC612_0000 + n as u32 - 1,
            })
            .unwrap();
        }
        for key in [0u64, 1, 0xdead_beef] {
            let seen: HashSet<_> = s.scatter(key).collect();
            assert_eq!(seen.len() as u64, n, "n={n} key={key}");
            assert_eq!(s.scatter(key).count() as u64, n);
            assert!(seen.iter().all(|a| s.contains(*a)));
        }
    }
}

#[test]
fn scatter_spreads_neighbours() {
    let mut s: AddrSet<1> = AddrSet::new();
    s.insert(r("198.18.0.0/16")).unwrap();
    let v: Vec<u32> = s.scatter(7).take(4096).map(u32::from).collect();
    // Consecutive probes rarely fall in the same /24.
    let same24 = v.windows(2).filter(|w| w[0] >> 8 == w[1] >> 8).count();
    assert!(same24 < 64, "{same24} of 4095 consecutive pairs in one /24");
    // And different keys give different orders.
    let w: Vec<u32> = s.scatter(8).take(16).map(u32::from).collect();
    assert_ne!(&v[..16], &w[..]);
}

#[test]
fn permutation_of_the_whole_space_is_bounded() {
    // 2^32 elements: check a sample maps into range and is injective on it.
    let p = Permutation::new(1 << 32, 42);
    let mut seen = HashSet::new();
    for i in 0..10_000u64 {
        let x = p.apply(i * 429_497);
        assert!(x < 1 << 32);
        assert!(seen.insert(x));
    }
}
