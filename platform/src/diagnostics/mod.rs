//! The checks of `ksocket diagnostics [system|config|connect|authenticate]` (spec §4):
//! `system` and `config` are [`local`]; `connect` and `authenticate` dial the
//! controller, which `service::diagnose` does with the service's own steps.

pub mod local;

pub use local::{Check, Outcome, loaded_config};

/// The parts of a diagnosis (spec §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    System,
    Config,
    Connect,
    Authenticate,
}

impl Part {
    pub fn parse(s: &str) -> Option<Part> {
        Some(match s {
            "system" => Part::System,
            "config" => Part::Config,
            "connect" => Part::Connect,
            "authenticate" => Part::Authenticate,
            _ => return None,
        })
    }
}

/// The checks of one part.
pub fn checks(part: Part) -> Vec<Check> {
    match part {
        Part::System => local::system(),
        Part::Config => local::config(),
        Part::Connect | Part::Authenticate => match loaded_config() {
            Ok(c) => crate::service::diagnose(&c, part == Part::Authenticate),
            Err(e) => vec![Check {
                what: "Read the configuration".to_string(),
                outcome: Outcome::Ng(e),
            }],
        },
    }
}
