//! MAC vendors: the IEEE OUI registry (MA-L, MA-M, MA-S and IAB), compiled by
//! `scripts/refresh-oui.sh` into `oui.bin` (see that script's header for the format) and
//! `data.rs` (the index and the data's date).
//!
//! A lookup never inflates the whole table: it binary-searches a table's block index,
//! inflates that one block (at most [`data::BLOCK_MAX`] bytes, raw deflate with the shared
//! preset dictionary) into a buffer of fixed size allocated once per [`Table`], and walks
//! its at most 512 entries. The longest match wins: MA-S and IAB (36 bits) over MA-M (28)
//! over MA-L (24).

#[allow(dead_code)]
mod data;

pub use data::{DATA_DATE, ORIGIN};

use ksocket_proto::records::{Host, Mac};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

static BLOB: &[u8; data::BLOB_LEN] = include_bytes!("oui.bin");

/// What the first half of a MAC address says of who made the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacVendor {
    /// The organisation the IEEE assigned the prefix to, shortened as engineers say it.
    Vendor(String),
    /// The U/L bit is set: the address was not assigned by a maker. Randomised (private)
    /// addresses of phones and laptops are of this kind; nothing in the address tells them
    /// from an address an administrator set, so both are said alike.
    LocallyAdministered,
    /// The I/G bit is set: a group address, not an interface's.
    Multicast,
    /// A universal address whose prefix the table does not hold (unassigned, private, or
    /// assigned after the data's date).
    Unknown,
}

impl MacVendor {
    /// The record's `macVendor`: the vendor's name, "locally administered", "multicast";
    /// none when unknown.
    pub fn for_record(&self) -> Option<String> {
        match self {
            MacVendor::Vendor(n) => Some(n.clone()),
            MacVendor::LocallyAdministered => Some("locally administered".to_string()),
            MacVendor::Multicast => Some("multicast".to_string()),
            MacVendor::Unknown => None,
        }
    }
}

/// The tables, longest prefix first: prefix bits, the MA-L prefixes their prefixes lie
/// under (None: any), the block index.
type Index = &'static [(u64, u32, u32)];
static TABLES: [(u32, Option<&[u32]>, Index); 3] = [
    (36, Some(&data::PARENTS_36), &data::INDEX_36),
    (28, Some(&data::PARENTS_28), &data::INDEX_28),
    (24, None, &data::INDEX_24),
];

/// The decoder of one scan: the dictionary and one inflated block in a fixed buffer, so
/// that looking up many hosts inflates each block at most once in a row.
pub struct Table {
    inflater: Box<DecompressorOxide>,
    /// `[dictionary | block]`: `data::DICT_LEN + data::BLOCK_MAX` bytes.
    buf: Box<[u8]>,
    /// The (table, block) in `buf` and its inflated length.
    held: Option<(usize, usize, usize)>,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    pub fn new() -> Table {
        let mut buf = vec![0u8; data::DICT_LEN + data::BLOCK_MAX].into_boxed_slice();
        buf[..data::DICT_LEN].copy_from_slice(&BLOB[..data::DICT_LEN]);
        Table {
            inflater: Box::default(),
            buf,
            held: None,
        }
    }

    /// The vendor of `mac`.
    pub fn lookup(&mut self, mac: [u8; 6]) -> MacVendor {
        if mac[0] & 0x01 != 0 {
            return MacVendor::Multicast;
        }
        if mac[0] & 0x02 != 0 {
            return MacVendor::LocallyAdministered;
        }
        let v = mac.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        let oui = (v >> 24) as u32;
        for (t, &(bits, parents, _)) in TABLES.iter().enumerate() {
            if parents.is_some_and(|p| p.binary_search(&oui).is_err()) {
                continue;
            }
            if let Some(name) = self.find(t, v >> (48 - bits)) {
                return MacVendor::Vendor(name);
            }
        }
        MacVendor::Unknown
    }

    /// The name of prefix `key` in table `t`, when it holds it.
    fn find(&mut self, t: usize, key: u64) -> Option<String> {
        let index = TABLES[t].2;
        let j = index.partition_point(|e| e.0 <= key).checked_sub(1)?;
        let first = index[j].0;
        let block = self.block(t, j)?;
        let mut found = None;
        walk(block, first, &mut |prefix, name| {
            if prefix == key {
                found = name.text().map(str::to_string);
            }
            prefix < key
        })?;
        found
    }

    /// Block `j` of table `t`, inflated (or the one already held).
    fn block(&mut self, t: usize, j: usize) -> Option<&[u8]> {
        let held = match self.held {
            Some((ht, hj, len)) if (ht, hj) == (t, j) => len,
            _ => {
                self.held = None;
                let (_, start, end) = *TABLES[t].2.get(j)?;
                let z = BLOB.get(start as usize..end as usize)?;
                self.inflater.init();
                // Raw deflate (no zlib header), all input at once, into the buffer after
                // the dictionary: back-references reach into the dictionary.
                let (status, _, len) = decompress(
                    &mut self.inflater,
                    z,
                    &mut self.buf,
                    data::DICT_LEN,
                    inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
                );
                if status != TINFLStatus::Done {
                    return None;
                }
                self.held = Some((t, j, len));
                len
            }
        };
        self.buf.get(data::DICT_LEN..data::DICT_LEN + held)
    }
}

/// Fills `mac_vendor` of every host with a MAC address (one [`Table`]; the hosts taken
/// in MAC order, so that those of one vendor, or of neighbouring prefixes, share a block).
pub fn fill<'a>(hosts: impl IntoIterator<Item = &'a mut Host>) {
    let mut with: Vec<(Mac, &mut Host)> = hosts
        .into_iter()
        .filter_map(|h| Some((h.mac?, h)))
        .collect();
    if with.is_empty() {
        return;
    }
    with.sort_by_key(|(m, _)| m.0);
    let mut table = Table::new();
    for (m, h) in with {
        h.mac_vendor = table.lookup(m.0).for_record();
    }
}

/// The vendor of `mac` (a table of its own: for many lookups, keep one [`Table`]). The
/// scan fills its hosts through [`fill`]; this one is for single lookups (tests, tools).
#[cfg_attr(not(test), allow(dead_code))]
pub fn lookup(mac: [u8; 6]) -> MacVendor {
    Table::new().lookup(mac)
}

/// An entry's name, read only when wanted (a lookup walks past most names).
#[derive(Clone, Copy)]
enum Name<'a> {
    Inline(&'a [u8]),
    Common(usize),
}

impl<'a> Name<'a> {
    /// The name; None when it is not UTF-8 or names no common name.
    fn text(self) -> Option<&'a str> {
        match self {
            Name::Inline(b) => std::str::from_utf8(b).ok(),
            Name::Common(i) => {
                let &(at, len) = data::COMMON.get(i)?;
                let at = usize::from(at);
                std::str::from_utf8(BLOB.get(at..at + usize::from(len))?).ok()
            }
        }
    }
}

/// Calls `f(prefix, name)` for each entry of an inflated block whose first prefix is
/// `first`, in order, while `f` returns true. Returns the block's entry count, or None
/// when the block is malformed (a varint too long, a count or a length past the end).
fn walk<'a>(
    block: &'a [u8],
    first: u64,
    f: &mut dyn FnMut(u64, Name<'a>) -> bool,
) -> Option<usize> {
    let mut heads = Reader { b: block, at: 0 };
    let count = heads.varint()?;
    if count > block.len() as u64 {
        return None;
    }
    let count = count as usize;
    // The names follow the entries.
    let len = usize::try_from(heads.varint()?).ok()?;
    let mut names = Reader {
        b: block,
        at: heads.at.checked_add(len)?,
    };
    let mut heads = Reader {
        b: block.get(..names.at)?,
        at: heads.at,
    };
    let mut prefix = first;
    for _ in 0..count {
        prefix = prefix.checked_add(heads.varint()?)?;
        let name = match heads.varint()? {
            0 => Name::Inline(names.name()?),
            i => Name::Common(usize::try_from(i - 1).ok()?),
        };
        if !f(prefix, name) {
            break;
        }
    }
    Some(count)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.b.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// LEB128, at most 9 bytes (63 bits).
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..63).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A u8 length, then that many bytes.
    fn name(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(self.byte()?);
        let s = self.b.get(self.at..self.at + len)?;
        self.at += len;
        Some(s)
    }
}

#[cfg(test)]
mod tests;
