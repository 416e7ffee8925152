//! Values of command-line options (and of operations, later): parsed and range-checked
//! with the option's name in every error.

/// A value out of its range, or one that does not parse: which option, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--{option}: {why}")]
pub struct OptionError {
    pub option: &'static str,
    pub why: String,
}

pub fn bad(option: &'static str, why: String) -> OptionError {
    OptionError { option, why }
}

/// A whole number in `lo..=hi`.
pub fn number(option: &'static str, v: &str, lo: u64, hi: u64) -> Result<u64, OptionError> {
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| bad(option, format!("`{v}` is not a number")))?;
    if n < lo || n > hi {
        return Err(bad(option, format!("{n} is out of range ({lo} to {hi})")));
    }
    Ok(n)
}
