//! Output formats shared by every command that prints records: `table` (for people),
//! `json` (one document), `jsonl` (one record a line), `csv`.

use std::io::{self, IsTerminal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

impl Format {
    /// Parses `--format VALUE`; `allowed` lists the formats the command prints.
    pub fn parse(v: &str, allowed: &[Format]) -> Result<Format, String> {
        let f = match v {
            "table" => Format::Table,
            "json" => Format::Json,
            "jsonl" => Format::Jsonl,
            "csv" => Format::Csv,
            _ => None.ok_or_else(|| usage(v, allowed))?,
        };
        if allowed.contains(&f) {
            Ok(f)
        } else {
            Err(usage(v, allowed))
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    /// Table on a terminal, else `other`.
    pub fn default_for_stdout(other: Format) -> Format {
        if io::stdout().is_terminal() {
            Format::Table
        } else {
            other
        }
    }
}

fn usage(v: &str, allowed: &[Format]) -> String {
    let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
    format!("--format: `{v}` is not {}", names.join(", "))
}

/// One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Whether an error is the reader going away (`| head`): a normal end, not a failure.
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_and_limited_to_what_a_command_prints() {
        let all = [Format::Table, Format::Json, Format::Jsonl, Format::Csv];
        assert_eq!(Format::parse("csv", &all), Ok(Format::Csv));
        let e = Format::parse("csv", &[Format::Table, Format::Jsonl]).unwrap_err();
        assert_eq!(e, "--format: `csv` is not table, jsonl");
        assert!(Format::parse("xml", &all).is_err());
        assert_eq!(csv_field("a,b \"c\""), "\"a,b \"\"c\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
