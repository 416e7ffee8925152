//! `ksocket service install|uninstall|status|start|stop|restart [--init systemd|upstart]`:
//! the arguments; the work is in `crate::system_service`.

use super::Failure;
use crate::system_service::{Action, Init};

pub struct Args {
    pub action: Action,
    /// The service manager named with --init, else the detected one.
    pub init: Option<Init>,
}

/// `Ok(None)` for `-h`.
pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<Args>, Failure> {
    use lexopt::prelude::*;
    let mut action = None;
    let mut init = None;
    while let Some(a) = parser.next()? {
        match a {
            Short('h') | Long("help") => return Ok(None),
            Long("init") => {
                let v = super::string(parser.value())?;
                init = Some(Init::parse(&v).ok_or_else(|| {
                    Failure::usage(format!("service: --init {v}: use systemd or upstart"))
                })?);
            }
            Value(v) if action.is_none() => {
                let v = super::string(Ok(v))?;
                action = Some(Action::parse(&v).ok_or_else(|| {
                    Failure::usage(format!(
                        "service: `{v}` is not install, uninstall, status, start, stop or restart"
                    ))
                })?);
            }
            other => return Err(Failure::Usage(other.unexpected().to_string())),
        }
    }
    let action = action.ok_or_else(|| {
        Failure::usage(
            "service: usage: ksocket service install|uninstall|status|start|stop|restart",
        )
    })?;
    Ok(Some(Args { action, init }))
}
