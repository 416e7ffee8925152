//! SNMP values as `snmpget -On` prints them with no MIB loaded.

use ksocket_core::snmp::Value;
use std::fmt::Write as _;

/// A value as `snmpget -On` prints it with no MIB loaded.
pub fn format(v: &Value<'_>) -> String {
    match v {
        Value::Integer(i) => format!("INTEGER: {i}"),
        Value::OctetString(s) => octets(s),
        Value::Null => "NULL".into(),
        Value::Oid(o) => format!("OID: {o}"),
        Value::IpAddress(a) => format!("IpAddress: {}.{}.{}.{}", a[0], a[1], a[2], a[3]),
        Value::Counter32(c) => format!("Counter32: {c}"),
        Value::Gauge32(g) => format!("Gauge32: {g}"),
        Value::TimeTicks(t) => format!("Timeticks: ({t}) {}", uptime(*t)),
        Value::Opaque(b) => opaque(b),
        Value::Counter64(c) => format!("Counter64: {c}"),
        Value::NoSuchObject => "No Such Object available on this agent at this OID".into(),
        Value::NoSuchInstance => "No Such Instance currently exists at this OID".into(),
        Value::EndOfMibView => {
            "No more variables left in this MIB View (It is past the end of the MIB tree)".into()
        }
        Value::Other(t, b) => format!("Wrong Type (0x{t:02x}): {}", hex(b)),
    }
}

/// Opaque: net-snmp decodes the float and double wrapped in it (draft-perkins-opaque).
fn opaque(b: &[u8]) -> String {
    match b {
        [0x9f, 0x78, 4, f @ ..] if f.len() == 4 => {
            format!(
                "Opaque: Float: {:.6}",
                f32::from_be_bytes([f[0], f[1], f[2], f[3]])
            )
        }
        [0x9f, 0x79, 8, d @ ..] if d.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(d);
            format!("Opaque: Double: {:.6}", f64::from_be_bytes(a))
        }
        _ => format!("OPAQUE: {}", hex(b)),
    }
}

fn octets(s: &[u8]) -> String {
    if s.is_empty() {
        return "\"\"".into();
    }
    // net-snmp prints text when every byte is printable or white space.
    let text = s
        .iter()
        .all(|&c| (0x20..0x7f).contains(&c) || matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r'));
    if text {
        let mut out = String::from("STRING: \"");
        for &c in s {
            if c == b'"' || c == b'\\' {
                out.push('\\');
            }
            out.push(c as char);
        }
        out.push('"');
        out
    } else {
        format!("Hex-STRING: {}", hex(s))
    }
}

/// `00 1A 2B ` with a line break after every 16 bytes when more follow.
fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, x) in b.iter().enumerate() {
        if i > 0 && i % 16 == 0 {
            s.push('\n');
        }
        let _ = write!(s, "{x:02X} ");
    }
    s
}

fn uptime(t: u32) -> String {
    let cs = t % 100;
    let secs = t / 100;
    let (d, h, m, s) = (
        secs / 86400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    match d {
        0 => format!("{h}:{m:02}:{s:02}.{cs:02}"),
        1 => format!("1 day, {h}:{m:02}:{s:02}.{cs:02}"),
        _ => format!("{d} days, {h}:{m:02}:{s:02}.{cs:02}"),
    }
}
