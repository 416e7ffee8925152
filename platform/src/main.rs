//! `ksocket`: the one command of the agent.
//!
//! Raw arguments are parsed once here (with `lexopt`, see docs/architecture.md) into
//! a command and its options; each command lives in its own module and returns an
//! `ExitCode`. Errors are one line on stderr and a non-zero exit, never a panic.

mod cli;
mod config;
mod context;
mod credentials;
mod diagnostics;
mod discover;
mod inventory;
mod logging;
mod pipeline;
mod sys;

use std::process::ExitCode;

/// Exit code for usage errors (wrong option, unknown command).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ksocket: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Options every command accepts before its name.
#[derive(Default, Debug)]
struct Global {
    logfile: Option<String>,
    loglevel: Option<String>,
}

fn run() -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut global = Global::default();
    let command = loop {
        match parser.next().map_err(|e| e.to_string())? {
            Some(Long("logfile")) => global.logfile = Some(string(parser.value())?),
            Some(Long("loglevel")) => global.loglevel = Some(string(parser.value())?),
            Some(Short('h') | Long("help")) => {
                print!("{}", cli::general_help());
                return Ok(ExitCode::SUCCESS);
            }
            Some(Short('V') | Long("version")) => break "version".to_string(),
            Some(Value(v)) => break string(Ok(v))?,
            Some(other) => return Err(other.unexpected().to_string()),
            None => {
                eprint!("{}", cli::general_help());
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        }
    };
    // The configuration, read once for every command that uses it (config and
    // diagnostics read the file themselves, step by step, to say what is wrong).
    let loaded = if matches!(command.as_str(), "version" | "help" | "init") {
        None
    } else {
        let file = config::path();
        let l = file.exists().then(|| config::load(&file));
        setup_logging(&global, l.as_ref().and_then(|r| r.as_ref().ok()))?;
        l
    };
    match command.as_str() {
        "version" => {
            no_more_args(&mut parser)?;
            println!("{}", cli::version_line());
            Ok(ExitCode::SUCCESS)
        }
        "help" => {
            let topic = parser.next().map_err(|e| e.to_string())?;
            match topic {
                None => print!("{}", cli::general_help()),
                Some(Value(name)) => {
                    let name = string(Ok(name))?;
                    let c = cli::find(&name).ok_or_else(|| unknown_command(&name))?;
                    println!("ksocket {} - {}\n\n{}", c.name, c.summary, c.usage);
                }
                Some(other) => return Err(other.unexpected().to_string()),
            }
            Ok(ExitCode::SUCCESS)
        }
        "scan" => cli::scan::run(&mut parser, loaded),
        "config" => config::run(&mut parser),
        "diagnostics" => diagnostics::run(&mut parser),
        "encrypt" => credentials::seal::run(false, &mut parser),
        "decrypt" => credentials::seal::run(true, &mut parser),
        "init" => {
            no_more_args(&mut parser)?;
            config::init()
        }
        "snmp" => inventory::snmp::run(&mut parser),
        name => match cli::find(name) {
            Some(c) => {
                // Commands of later milestones: say so plainly, never pretend.
                eprintln!(
                    "ksocket: `{}` is not implemented in this build yet ({}).",
                    c.name, c.summary
                );
                Ok(ExitCode::from(EXIT_USAGE))
            }
            None => Err(unknown_command(name)),
        },
    }
}

/// Logging from `--logfile`/`--loglevel`, else from ksocket.toml when it exists (a
/// broken file is reported by the command that reads it), else none.
fn setup_logging(g: &Global, loaded: Option<&config::Loaded>) -> Result<(), String> {
    let level = match &g.loglevel {
        Some(l) => Some(logging::Level::parse(l).ok_or_else(|| {
            format!("--loglevel {l}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        })?),
        None => None,
    };
    let cfg = loaded.map(|l| l.config.clone());
    let logfile = g
        .logfile
        .clone()
        .or_else(|| cfg.as_ref().map(|c| config::expand(&c.logfile)));
    let Some(logfile) = logfile else {
        return Ok(());
    };
    let level = level
        .or_else(|| {
            cfg.as_ref()
                .and_then(|c| logging::Level::parse(&c.loglevel))
        })
        .unwrap_or(logging::Level::Info);
    let defaults = config::Config::default();
    let c = cfg.as_ref().unwrap_or(&defaults);
    if let Err(e) = logging::init(&logfile, level, &c.logformat, &c.logfilters) {
        eprintln!("ksocket: warning: cannot log: {e}");
    }
    Ok(())
}

fn unknown_command(name: &str) -> String {
    format!("unknown command `{name}`; `ksocket --help` lists the commands")
}

fn string(v: Result<std::ffi::OsString, lexopt::Error>) -> Result<String, String> {
    v.map_err(|e| e.to_string())?
        .into_string()
        .map_err(|v| format!("argument is not valid UTF-8: {v:?}"))
}

fn no_more_args(parser: &mut lexopt::Parser) -> Result<(), String> {
    match parser.next().map_err(|e| e.to_string())? {
        None => Ok(()),
        Some(arg) => Err(arg.unexpected().to_string()),
    }
}
