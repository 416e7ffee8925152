use super::{MacVendor, TABLES, Table, data, lookup, walk};

fn mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    assert_eq!(parts.len(), 6, "{s}");
    for (b, p) in m.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).unwrap();
    }
    m
}

fn vendor(s: &str) -> MacVendor {
    MacVendor::Vendor(s.to_string())
}

#[test]
fn ma_l_prefixes_of_the_registry() {
    // oui.csv: 00000C "Cisco Systems, Inc", 000393 "Apple, Inc.", 3C5AB4 "Google, Inc.",
    // B827EB "Raspberry Pi Foundation".
    assert_eq!(lookup(mac("00:00:0c:12:34:56")), vendor("Cisco"));
    assert_eq!(lookup(mac("00:03:93:00:00:01")), vendor("Apple"));
    assert_eq!(lookup(mac("3c:5a:b4:ff:ff:ff")), vendor("Google"));
    assert_eq!(lookup(mac("b8:27:eb:01:02:03")), vendor("Raspberry Pi"));
}

#[test]
fn ma_m_and_ma_s_win_over_shorter_prefixes() {
    // mam.csv: 208593B "IOG Products LLC"; oui36.csv: 70B3D5F2F "TELEPLATFORMS",
    // 70B3D5719 "2M Technology"; iab.csv: 0050C27D5 "DEUTA-WERKE GmbH".
    assert_eq!(lookup(mac("20:85:93:b0:00:01")), vendor("IOG Products"));
    assert_eq!(lookup(mac("20:85:93:bf:ff:ff")), vendor("IOG Products"));
    assert_eq!(lookup(mac("70:b3:d5:f2:f0:00")), vendor("TELEPLATFORMS"));
    assert_eq!(lookup(mac("70:b3:d5:71:9a:bc")), vendor("2M"));
    assert_eq!(lookup(mac("00:50:c2:7d:5f:00")), vendor("DEUTA-WERKE"));
    // 70B3D5 is the IEEE's own MA-S block: an unassigned 36-bit prefix in it is unknown,
    // not "IEEE Registration Authority".
    assert_eq!(lookup(mac("70:b3:d5:00:00:01")), MacVendor::Unknown);
}

#[test]
fn group_and_local_addresses_are_said_as_such() {
    assert_eq!(lookup(mac("01:00:5e:00:00:fb")), MacVendor::Multicast);
    assert_eq!(lookup(mac("ff:ff:ff:ff:ff:ff")), MacVendor::Multicast);
    // A randomised address (Android, iOS, Windows set the U/L bit).
    assert_eq!(
        lookup(mac("da:a1:19:00:00:01")),
        MacVendor::LocallyAdministered
    );
    // 02:00:0c...: Cisco's prefix with the U/L bit set is no longer Cisco's.
    assert_eq!(
        lookup(mac("02:00:0c:12:34:56")),
        MacVendor::LocallyAdministered
    );
    assert_eq!(
        MacVendor::LocallyAdministered.for_record().as_deref(),
        Some("locally administered")
    );
    assert_eq!(MacVendor::Unknown.for_record(), None);
    assert_eq!(vendor("Cisco").for_record().as_deref(), Some("Cisco"));
}

#[test]
fn every_block_decodes_and_the_counts_are_the_generated_ones() {
    let mut t = Table::new();
    let mut total = 0;
    for (ti, (bits, _, index)) in TABLES.iter().enumerate() {
        let mut count = 0;
        let mut last: Option<u64> = None;
        for (j, &(first, _, _)) in index.iter().enumerate() {
            let block = t.block(ti, j).expect("block inflates").to_vec();
            let mut seen = 0;
            let n = walk(&block, first, &mut |prefix, name| {
                let name = name.text().expect("a name of UTF-8");
                assert!(prefix >> bits == 0, "{prefix:x} wider than {bits} bits");
                assert!(last.is_none_or(|l| l < prefix), "{prefix:x} out of order");
                assert!(!name.is_empty() && name.len() <= 255);
                last = Some(prefix);
                seen += 1;
                true
            })
            .expect("block parses");
            assert_eq!(n, seen);
            assert!(n <= 512, "block of {n} entries");
            count += n;
        }
        let expect = data::ENTRIES_BY_BITS
            .iter()
            .find(|e| u32::from(e.0) == *bits)
            .unwrap()
            .1;
        assert_eq!(count, expect, "{bits}-bit table");
        total += count;
    }
    assert_eq!(total, data::ENTRIES);
    assert!(total > 40_000, "{total}");
}

#[test]
fn every_prefix_looks_itself_up() {
    // Each prefix of each block, as a MAC address, gives its own name (the longest match
    // over every table; no 36- or 28-bit prefix lies under an MA-L the table holds).
    let mut blocks = Table::new();
    let mut t = Table::new();
    let mut checked = 0;
    for (ti, (bits, _, index)) in TABLES.iter().enumerate() {
        for (j, &(first, _, _)) in index.iter().enumerate() {
            let block = blocks.block(ti, j).unwrap().to_vec();
            walk(&block, first, &mut |prefix, name| {
                let name = name.text().unwrap();
                let v = prefix << (48 - bits);
                let m: [u8; 6] = std::array::from_fn(|i| (v >> (40 - 8 * i)) as u8);
                if m[0] & 0x03 == 0 {
                    assert_eq!(t.lookup(m), vendor(name), "{m:02x?}");
                    checked += 1;
                }
                true
            })
            .unwrap();
        }
    }
    assert!(checked > 40_000, "{checked}");
}

#[test]
fn malformed_blocks_are_refused() {
    // Varints without an end, counts or lengths past the block, names past the end: None,
    // no panic.
    for b in [
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..],
        &[5, 0, 0],
        &[1, 9, 0, 0],
        &[1, 2, 0, 0, 10, b'a'],
        &[],
    ] {
        assert_eq!(walk(b, 0, &mut |_, _| true), None, "{b:?}");
    }
    // Common names out of range, names not UTF-8: no name.
    for b in [&[1, 3, 0, 0xff, 0x7f][..], &[1, 2, 0, 0, 2, 0xc3, 0x28]] {
        let mut text = Some("");
        assert_eq!(
            walk(b, 0, &mut |_, n| {
                text = n.text();
                true
            }),
            Some(1)
        );
        assert_eq!(text, None, "{b:?}");
    }
    let mut seen = Vec::new();
    assert_eq!(
        walk(&[2, 4, 0, 0, 1, 1, 1, b'x'], 7, &mut |p, n| {
            seen.push((p, n.text().unwrap()));
            true
        }),
        Some(2)
    );
    assert_eq!(
        seen,
        [(7, "x"), (8, super::Name::Common(0).text().unwrap())]
    );
}

#[test]
fn the_data_date_is_a_date() {
    let b = data::DATA_DATE.as_bytes();
    assert_eq!(b.len(), 10, "{}", data::DATA_DATE);
    assert!(b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 {
        *c == b'-'
    } else {
        c.is_ascii_digit()
    }));
}

/// The peak resident set of this process (VmHWM), in KiB.
fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "a measurement, not a check: bench/oui.sh runs it in release"]
fn measure_lookups() {
    let n = 50_000u32;
    // Random universal unicast addresses (a fixed LCG): nearly all inflate a block of
    // their own, the worst case of a scan (its hosts' vendors scattered over the table).
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let macs: Vec<[u8; 6]> = (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut m: [u8; 6] = std::array::from_fn(|i| (x >> (8 * i + 16)) as u8);
            m[0] &= 0xfc;
            m
        })
        .collect();
    let mut sorted = macs.clone();
    sorted.sort();
    let hwm0 = vm_hwm_kib();
    let t0 = std::time::Instant::now();
    let mut t = Table::new();
    let mut named = 0;
    for m in &macs {
        if matches!(t.lookup(*m), MacVendor::Vendor(_)) {
            named += 1;
        }
    }
    let random = t0.elapsed();
    // The same addresses sorted: neighbours share blocks (the held block is reused).
    let t1 = std::time::Instant::now();
    for m in &sorted {
        std::hint::black_box(t.lookup(*m));
    }
    let in_order = t1.elapsed();
    let hwm1 = vm_hwm_kib();
    println!(
        "oui: {n} random universal MACs ({named} with a vendor): {:.1} us/lookup; sorted: {:.2} us/lookup; \
         Table: {} B buffer + {} B inflater state; peak RSS {} KiB before, {} KiB after \
         (oui.bin, {} KiB, read whole by the random lookups, counts once paged in)",
        random.as_secs_f64() * 1e6 / f64::from(n),
        in_order.as_secs_f64() * 1e6 / f64::from(n),
        data::DICT_LEN + data::BLOCK_MAX,
        std::mem::size_of::<miniz_oxide::inflate::core::DecompressorOxide>(),
        hwm0,
        hwm1,
        data::BLOB_LEN / 1024
    );
}
