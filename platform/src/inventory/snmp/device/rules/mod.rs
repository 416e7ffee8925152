//! What ksocket knows of vendors, as data: per enterprise, the kind of device it makes
//! (when it makes one kind), the scalars of its MIB that state model, serial and
//! versions, and how its sysDescr states them. [`super::identify`] reads this and
//! nothing else vendor-specific: adding a vendor is adding a row here, reviewed like
//! code. Every OID names its MIB object; docs/architecture.md says which rows were
//! checked against recordings of real devices and which only against the MIBs.

mod generic;
mod vendors;

pub(super) use generic::{
    BORROWED, DOT11, GENERIC, GENERIC_PROBES, KIND_WORDS, MAKERS, STANDARD, VERSION_MARKERS,
};
pub(super) use vendors::RULES;

use super::Kind;

/// A field of the chassis record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Field {
    Model,
    Serial,
    Software,
    Firmware,
    Hardware,
    Manufacturer,
}

impl Field {
    /// The field's name in the record (and in `chassis.sources`).
    pub(super) fn key(self) -> &'static str {
        match self {
            Field::Model => "model",
            Field::Serial => "serialNumber",
            Field::Software => "softwareVersion",
            Field::Firmware => "firmwareVersion",
            Field::Hardware => "hardwareVersion",
            Field::Manufacturer => "manufacturer",
        }
    }
}

/// An object of a MIB that states a field: a scalar (OID with its `.0` instance, read
/// with GET) or a table column (read with GETNEXT: its first row).
pub(super) struct Scalar {
    pub field: Field,
    pub oid: &'static str,
    pub name: &'static str,
    pub column: bool,
    /// Only the value's first word states the field (TP-Link's tpSysInfoHwVersion,
    /// `T2600G-28TS 2.0`, names the model, then the revision).
    pub first_word: bool,
}

const fn s(field: Field, oid: &'static str, name: &'static str) -> Scalar {
    Scalar {
        field,
        oid,
        name,
        column: false,
        first_word: false,
    }
}

/// A scalar whose first word states the field.
const fn word(field: Field, oid: &'static str, name: &'static str) -> Scalar {
    Scalar {
        field,
        oid,
        name,
        column: false,
        first_word: true,
    }
}

const fn col(field: Field, oid: &'static str, name: &'static str) -> Scalar {
    Scalar {
        field,
        oid,
        name,
        column: true,
        first_word: false,
    }
}

/// How a sysDescr states a field.
pub(super) enum Pat {
    /// The word right after `marker` (spaces after the marker skipped; the word ends
    /// at a space, `,`, `;` or `)`): APC's `MN:AP7902B`, `SN: 5A1551F39430`.
    After(Field, &'static str),
    /// The first word that starts with the prefix and holds a digit: D-Link's
    /// `DES-3200-18`.
    Word(Field, &'static str),
    /// The first word, when it holds a digit and a letter: Huawei's `S5720-36C-EI-AC`.
    First(Field),
    /// The word after the given one, with it: ZTE's `ZXR10 9908`.
    Two(Field, &'static str),
    /// The first word in parentheses that holds a digit: Ruijie's `Switch(N18010)`.
    Paren(Field),
    /// The n-th word after the given one (1 = the next): the kernel release of a
    /// Linux host's `Linux NAME RELEASE ...`.
    Nth(Field, &'static str, usize),
}

/// One vendor (one or more enterprise numbers).
pub(super) struct Rule {
    pub enterprises: &'static [u32],
    /// The kind of every device of this vendor, when it makes one kind.
    pub kind: Option<Kind>,
    /// Read in one GET, only when ENTITY-MIB left a field empty.
    pub scalars: &'static [Scalar],
    /// Tried after the scalars.
    pub descr: &'static [Pat],
    /// Fields this vendor's ENTITY-MIB chassis states wrongly (Juniper's
    /// entPhysicalModelName is the midplane's part number): taken from other sources.
    pub entity_skip: &'static [Field],
    /// The shape of this vendor's release token (`#` a digit, `A` a letter, `*` the
    /// rest of the word): a software version is taken only from a source that holds
    /// one, and is that token (Huawei's `V200R007C00SPC500` out of `Version 5.160
    /// V200R007C00SPC500`).
    pub release: Option<&'static str>,
    /// The shape of this vendor's part numbers: an ENTITY-MIB model of that shape is not
    /// taken as the model.
    pub part_number: Option<&'static str>,
    /// The chassis' entPhysicalName (without a trailing "frame" or "chassis") is its
    /// model, when no other source states one.
    pub entity_name: bool,
    /// The kind by the model's series: a word of the model that starts with the prefix
    /// followed by a digit, `-` or nothing (Huawei's `S5720-36C-EI-AC` is a switch).
    pub series: &'static [(&'static str, Kind)],
    /// The kind by what answered: an object under the prefix stated a field (Huawei's
    /// OceanStor arrays answer under 34774.4).
    pub answers: &'static [(&'static str, Kind)],
}

const BASE: Rule = Rule {
    enterprises: &[],
    kind: None,
    scalars: &[],
    descr: &[],
    entity_skip: &[],
    release: None,
    part_number: None,
    entity_name: false,
    series: &[],
    answers: &[],
};

/// The rule of an enterprise.
pub(super) fn rule(enterprise: u32) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.enterprises.contains(&enterprise))
}
