//! Tests of the generated enterprise table (enterprises.rs; this file is not generated).

use super::{DATA_DATE, Enterprise, lookup, numbers};

fn get(n: u32) -> Enterprise {
    lookup(n).unwrap_or_else(|| panic!("enterprise {n} is not in the table"))
}

#[test]
fn known_enterprises_have_their_iana_and_short_names() {
    let cases: &[(u32, &str, &str)] = &[
        (9, "ciscoSystems", "Cisco"),
        (11, "Hewlett-Packard", "HP"),
        (2636, "Juniper Networks, Inc.", "Juniper"),
        (30065, "Arista Networks, Inc.", "Arista"),
        (2011, "HUAWEI Technology Co.,Ltd", "Huawei"),
        (318, "American Power Conversion Corp.", "APC"),
        (789, "Network Appliance Corporation", "NetApp"),
        (8072, "net-snmp", "net-snmp"),
        (311, "Microsoft", "Microsoft"),
        (47196, "Hewlett Packard Enterprise", "HPE"),
        (
            14823,
            "Aruba, a Hewlett Packard Enterprise company",
            "Aruba",
        ),
        (25461, "PALO ALTO NETWORKS", "Palo Alto"),
        (14988, "MikroTik", "MikroTik"),
        (890, "ZyXEL Communications Corp.", "Zyxel"),
        (3902, "Zhongxing Telecom Co.,ltd. (abbr. ZTE)", "ZTE"),
    ];
    for &(n, name, short) in cases {
        assert_eq!(
            get(n),
            Enterprise {
                number: n,
                name,
                short
            },
            "enterprise {n}"
        );
    }
}

#[test]
fn the_rule_strips_legal_suffixes_and_generic_words() {
    // Short names made by the rule, not by an override of the selection.
    assert_eq!(get(12356).short, "Fortinet"); // Fortinet, Inc.
    assert_eq!(get(41112).short, "Ubiquiti"); // Ubiquiti Networks, Inc.
    assert_eq!(get(1916).short, "Extreme"); // Extreme Networks
    assert_eq!(get(2620).short, "Check Point"); // Check Point Software Technologies Ltd
    assert_eq!(get(2).short, "IBM"); // IBM (https://w3.ibm.com/standards )
    assert_eq!(get(6574).short, "Synology"); // Synology Inc.
}

#[test]
fn numbers_outside_the_selection_or_reserved_are_absent() {
    for n in [0, 1, 3, 5, 61_000, 1_000_000, u32::MAX] {
        assert_eq!(lookup(n), None, "enterprise {n}");
    }
}

#[test]
fn the_table_is_sorted_and_every_entry_is_whole() {
    let all = numbers();
    assert!(all.len() > 400, "{} enterprises", all.len());
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "numbers not strictly ascending"
    );
    for &n in all {
        let e = get(n);
        assert_eq!(e.number, n);
        assert!(!e.name.trim().is_empty(), "{n}: empty IANA name");
        assert!(!e.short.trim().is_empty(), "{n}: empty short name");
        assert_eq!(
            e.short,
            e.short.trim(),
            "{n}: short name {:?} has spaces around",
            e.short
        );
        assert!(
            e.short.len() <= e.name.len().max(16),
            "{n}: short {:?} longer than {:?}",
            e.short,
            e.name
        );
        assert!(
            !e.short.ends_with([',', '.', '&']),
            "{n}: short name {:?} ends in punctuation",
            e.short
        );
    }
}

#[test]
fn the_data_date_is_an_iso_date() {
    let b = DATA_DATE.as_bytes();
    assert_eq!(b.len(), 10, "{DATA_DATE}");
    assert!(b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 {
        *c == b'-'
    } else {
        c.is_ascii_digit()
    }));
    assert!(DATA_DATE >= "2024-01-01", "{DATA_DATE}");
}
