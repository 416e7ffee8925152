//! The command line: arguments parsed once into a typed [`Command`], then run. This is
//! the only place that prints; errors become a message and an exit code here.
//!
//! Exit codes (also in `ksocket --help` and docs/operations.md): [`EXIT_OK`] done, or
//! the reader of the output went away (`| head`); [`EXIT_FAILED`] the command ran and
//! failed; [`EXIT_USAGE`] a usage error.

mod admin;
pub mod help;
pub mod output;
pub mod scan;
mod service;
mod snmp;
mod snmp_value;
mod ssh;
mod sweep;

use crate::config;
use crate::diagnostics::Part;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
/// `connect` was refused for good (close codes 4100 and up): the unit's
/// RestartPreventExitStatus.
pub const EXIT_REFUSED: u8 = 3;

/// Options every command accepts before its name.
#[derive(Default, Debug)]
struct Global {
    logfile: Option<String>,
    loglevel: Option<String>,
}

/// A command, its arguments parsed and checked.
enum Command {
    Version,
    /// General help, or one command's.
    Help(Option<&'static help::Entry>),
    Init,
    Config(Vec<String>),
    Diagnostics(Option<Part>),
    Encrypt(PathBuf),
    Decrypt(PathBuf),
    Scan(Box<scan::Args>),
    Snmp(snmp::Command),
    Ssh(Box<ssh::Args>),
    Connect,
    Service(service::Args),
    /// A command of a later milestone: said plainly, never pretended.
    NotBuilt(&'static help::Entry),
}

/// Why a command stopped early.
#[derive(Debug)]
pub enum Failure {
    /// A usage error: the message, and exit code 2.
    Usage(String),
    /// The command ran and failed: the message (already said, when empty), exit 1.
    Failed(String),
    /// Writing the output failed (a closed pipe ends the command quietly, exit 0).
    Io(io::Error),
}

impl Failure {
    pub fn usage(m: impl Into<String>) -> Failure {
        Failure::Usage(m.into())
    }
    pub fn failed(m: impl Into<String>) -> Failure {
        Failure::Failed(m.into())
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

impl From<lexopt::Error> for Failure {
    fn from(e: lexopt::Error) -> Failure {
        Failure::Usage(e.to_string())
    }
}

/// Standard output, buffered; every write's error (a closed pipe) is returned, never a
/// panic as `println!` would.
pub struct Out(io::BufWriter<io::Stdout>);

impl Out {
    pub fn stdout() -> Out {
        Out(io::BufWriter::new(io::stdout()))
    }
}

impl Write for Out {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Runs `ksocket` with the process's arguments.
pub fn main() -> ExitCode {
    let mut parser = lexopt::Parser::from_env();
    let result = config::check_environment()
        .map_err(Failure::Usage)
        .and_then(|()| parse(&mut parser))
        .and_then(|(global, command)| execute(&global, command));
    match result {
        Ok(code) => code,
        Err(Failure::Usage(m)) => {
            eprintln!("ksocket: {m}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Failed(m)) => {
            if !m.is_empty() {
                eprintln!("ksocket {m}");
            }
            ExitCode::from(EXIT_FAILED)
        }
        Err(Failure::Io(e)) if output::is_closed_pipe(&e) => ExitCode::from(EXIT_OK),
        Err(Failure::Io(e)) => {
            eprintln!("ksocket: writing the output: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn parse(parser: &mut lexopt::Parser) -> Result<(Global, Command), Failure> {
    use lexopt::prelude::*;
    let mut global = Global::default();
    let name = loop {
        match parser.next()? {
            Some(Long("logfile")) => global.logfile = Some(string(parser.value())?),
            Some(Long("loglevel")) => global.loglevel = Some(string(parser.value())?),
            Some(Short('h') | Long("help")) => return Ok((global, Command::Help(None))),
            Some(Short('V') | Long("version")) => break "version".to_string(),
            Some(Value(v)) => break string(Ok(v))?,
            Some(other) => return Err(Failure::Usage(other.unexpected().to_string())),
            None => {
                eprint!("{}", help::general_help());
                return Err(Failure::Usage("a command is needed".into()));
            }
        }
    };
    let entry = help::find(&name).ok_or_else(|| unknown_command(&name))?;
    // `-h` after any command is that command's help.
    let help_of = |c: Option<Command>| c.unwrap_or(Command::Help(Some(entry)));
    let command = match name.as_str() {
        "version" => {
            no_more_args(parser)?;
            Command::Version
        }
        "help" => match parser.next()? {
            None => Command::Help(None),
            Some(Value(n)) => {
                let n = string(Ok(n))?;
                Command::Help(Some(help::find(&n).ok_or_else(|| unknown_command(&n))?))
            }
            Some(other) => return Err(Failure::Usage(other.unexpected().to_string())),
        },
        "init" => help_of(admin::no_args(parser)?.map(|()| Command::Init)),
        "config" => help_of(admin::values(parser, 2)?.map(Command::Config)),
        "diagnostics" => help_of(admin::diagnostics_args(parser)?.map(Command::Diagnostics)),
        "encrypt" => help_of(admin::file_arg(parser, "encrypt")?.map(Command::Encrypt)),
        "decrypt" => help_of(admin::file_arg(parser, "decrypt")?.map(Command::Decrypt)),
        "scan" => help_of(
            scan::parse(parser)
                .map_err(Failure::Usage)?
                .map(|a| Command::Scan(Box::new(a))),
        ),
        "snmp" => help_of(snmp::parse(parser)?.map(Command::Snmp)),
        "ssh" => help_of(ssh::parse(parser)?.map(|a| Command::Ssh(Box::new(a)))),
        "connect" => help_of(admin::no_args(parser)?.map(|()| Command::Connect)),
        "service" => help_of(service::parse(parser)?.map(Command::Service)),
        _ => Command::NotBuilt(entry),
    };
    Ok((global, command))
}

fn execute(global: &Global, command: Command) -> Result<ExitCode, Failure> {
    // The configuration, read once for every command that uses it (config and
    // diagnostics read the file themselves, step by step, to say what is wrong).
    let loaded = match command {
        Command::Version
        | Command::Help(_)
        | Command::Init
        | Command::Service(_)
        | Command::NotBuilt(_) => None,
        _ => {
            let file = config::path();
            let l = file.exists().then(|| config::load(&file));
            // Commands that only read create no file: a log only if it exists.
            let read_only = match &command {
                Command::Config(args) => args.len() < 2,
                Command::Diagnostics(_) => true,
                _ => false,
            };
            setup_logging(global, l.as_ref().and_then(|r| r.as_ref().ok()), !read_only)?;
            l
        }
    };
    let mut out = Out::stdout();
    match command {
        Command::Version => {
            writeln!(out, "{}", help::version_line())?;
            writeln!(out, "{}", help::data_line())?;
        }
        Command::Help(None) => write!(out, "{}", help::general_help())?,
        Command::Help(Some(c)) => {
            writeln!(out, "ksocket {} - {}\n\n{}", c.name, c.summary, c.usage)?
        }
        Command::Init => return admin::init(),
        Command::Config(args) => return admin::config(&args),
        Command::Diagnostics(part) => return admin::diagnostics(part),
        Command::Encrypt(f) => return admin::seal(&f, false),
        Command::Decrypt(f) => return admin::seal(&f, true),
        Command::Scan(a) => return scan::run(*a, loaded),
        Command::Snmp(snmp::Command::Query(a)) => {
            let config = match loaded {
                Some(Ok(l)) => l.config,
                _ => config::Config::default(),
            };
            return snmp::run(*a, &config);
        }
        Command::Snmp(snmp::Command::Sweep(a)) => return sweep::run(a),
        Command::Ssh(a) => return ssh::run(*a, loaded),
        Command::Connect => return admin::connect(loaded),
        Command::Service(a) => return crate::system_service::run_action(a.action, a.init),
        Command::NotBuilt(c) => {
            eprintln!(
                "ksocket: `{}` is not implemented in this build yet ({}).",
                c.name, c.summary
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Logging from `--logfile`/`--loglevel`, else from ksocket.toml when it exists (a
/// broken file is reported by the command that reads it), else none.
fn setup_logging(g: &Global, loaded: Option<&config::Loaded>, create: bool) -> Result<(), Failure> {
    use crate::logging;
    let level = match &g.loglevel {
        Some(l) => Some(logging::Level::parse(l).ok_or_else(|| {
            Failure::usage(format!(
                "--loglevel {l}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
            ))
        })?),
        None => None,
    };
    let cfg = loaded.map(|l| &l.config);
    let Some(logfile) = g
        .logfile
        .clone()
        .or_else(|| cfg.map(|c| config::expand(&c.logfile)))
    else {
        return Ok(());
    };
    let level = level
        .or_else(|| cfg.and_then(|c| logging::Level::parse(&c.loglevel)))
        .unwrap_or(logging::Level::Info);
    let defaults = config::Config::default();
    let c = cfg.unwrap_or(&defaults);
    // A log asked for on the command line is created even by a read-only command.
    let create = create || g.logfile.is_some();
    if let Err(e) = logging::init(&logfile, level, &c.logformat, &c.logfilters, create) {
        eprintln!("ksocket: warning: cannot log: {e}");
    }
    Ok(())
}

fn unknown_command(name: &str) -> Failure {
    Failure::Usage(format!(
        "unknown command `{name}`; `ksocket --help` lists the commands"
    ))
}

fn string(v: Result<std::ffi::OsString, lexopt::Error>) -> Result<String, Failure> {
    v?.into_string()
        .map_err(|v| Failure::Usage(format!("argument is not valid UTF-8: {v:?}")))
}

fn no_more_args(parser: &mut lexopt::Parser) -> Result<(), Failure> {
    match parser.next()? {
        None => Ok(()),
        Some(arg) => Err(Failure::Usage(arg.unexpected().to_string())),
    }
}
