//! `ksocket`: the one command of the agent. The command line (cli/) is parsed once into
//! a typed command and run; the rest of the crate is the library it runs: discovery,
//! inventory collectors, the scan pipeline, configuration and credentials, and the
//! operating system (sys/, where every `unsafe` lives). docs/architecture.md maps it.

#![deny(unsafe_code)]

mod cli;
mod config;
mod context;
mod credentials;
mod diagnostics;
mod discover;
mod inventory;
mod limits;
mod logging;
mod options;
mod pipeline;
mod service;
#[allow(unsafe_code)]
mod sys;
mod system_service;

fn main() -> std::process::ExitCode {
    cli::main()
}
