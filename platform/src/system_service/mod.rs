//! `ksocket service install|uninstall|status|start|stop|restart` (spec §4): the agent
//! as an operating-system service under systemd (detected first: /run/systemd/system)
//! or Upstart (initctl and /etc/init). Every step prints one dotted line ending in
//! `OK`, `Skip` or `NG [detail]`; the first NG stops the command (exit 1).
//!
//! The unit file is generated under `$KSOCKET_HOME/usr/lib/systemd/system/` and
//! *copied* into the distribution's unit directory (spec §4's list), not linked: an
//! install directory on a file system mounted late (/opt on its own disk) would leave
//! a dangling link when systemd reads its units at boot, and the service would not
//! come back after a reboot; the copy is root's, in root's directory. Each install
//! writes both again. Under systemd the agent runs as the system user `ksocket`
//! (created when missing), which owns etc/ksocket and var/.

pub mod notify;
pub mod text;

use crate::cli::{EXIT_REFUSED, Failure, Out};
use crate::config;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use text::{MARK, NAME, Status, USER, step_line};

/// The service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Systemd,
    Upstart,
}

impl Init {
    pub fn parse(s: &str) -> Option<Init> {
        match s {
            "systemd" => Some(Init::Systemd),
            "upstart" => Some(Init::Upstart),
            _ => None,
        }
    }
}

/// What `ksocket service` was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install,
    Uninstall,
    Status,
    Start,
    Stop,
    Restart,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "install" => Action::Install,
            "uninstall" => Action::Uninstall,
            "status" => Action::Status,
            "start" => Action::Start,
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            _ => return None,
        })
    }
}

/// Where `initctl` is, when Upstart runs this box.
fn initctl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/sbin:/usr/sbin:/bin:/usr/bin".into());
    std::env::split_paths(&path)
        .chain(["/sbin".into(), "/usr/sbin".into()])
        .map(|d| d.join("initctl"))
        .find(|p| p.is_file())
}

/// systemd first (it runs when /run/systemd/system exists), then Upstart.
pub fn detect() -> Result<Init, String> {
    if Path::new("/run/systemd/system").is_dir() {
        return Ok(Init::Systemd);
    }
    if initctl().is_some() && Path::new("/etc/init").is_dir() {
        return Ok(Init::Upstart);
    }
    Err(
        "no service manager found: neither systemd (/run/systemd/system) nor Upstart \
         (initctl and /etc/init) runs this system; run `ksocket connect` under your own \
         supervisor"
            .into(),
    )
}

/// The dotted lines of one command; the first NG makes it fail.
struct Steps {
    out: Out,
}

type Step = Result<(&'static str, String), String>;

impl Steps {
    /// Prints `what`'s line; Ok(the word) or Err(Failed) after an NG.
    fn step(&mut self, what: &str, r: Step) -> Result<&'static str, Failure> {
        match r {
            Ok((word, detail)) => {
                writeln!(self.out, "{}", step_line(what, word, &detail))?;
                self.out.flush()?;
                Ok(word)
            }
            Err(detail) => {
                writeln!(self.out, "{}", step_line(what, "NG", &detail))?;
                self.out.flush()?;
                Err(Failure::failed(""))
            }
        }
    }
}

fn ok_with(d: impl Into<String>) -> Step {
    Ok(("OK", d.into()))
}

fn skip(d: impl Into<String>) -> Step {
    Ok(("Skip", d.into()))
}

/// Runs a command to its end; its stdout, or why it failed (its last stderr line).
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if o.status.success() {
        return Ok(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!(
        "{cmd} {}: {}{}{}",
        args.join(" "),
        o.status,
        if last.is_empty() { "" } else { ": " },
        last.trim()
    ))
}

const UNIT: &str = "ksocket.service";

fn systemctl(args: &[&str]) -> Result<String, String> {
    let mut a = vec!["--no-ask-password"];
    a.extend_from_slice(args);
    run("systemctl", &a)
}

/// The service's status under `init`.
pub fn status(init: Init) -> Result<Status, String> {
    match init {
        Init::Systemd => {
            let s = systemctl(&["show", "-p", "LoadState,ActiveState,SubState", UNIT])?;
            text::systemd_status(&s)
                .ok_or_else(|| format!("systemctl show: unexpected `{}`", s.trim()))
        }
        Init::Upstart => {
            let exe = initctl().ok_or("initctl not found")?;
            let o = Command::new(exe)
                .args(["status", NAME])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("initctl: {e}"))?;
            let t = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text::upstart_status(&t, o.status.success())
                .ok_or_else(|| format!("initctl status: unexpected `{}`", t.trim()))
        }
    }
}

fn control(init: Init, verb: &str) -> Result<String, String> {
    match init {
        Init::Systemd => systemctl(&[verb, UNIT]).map_err(|e| {
            // systemctl's own last line only says where to look: say what happened.
            match systemctl(&["show", "-p", "Result,ExecMainCode,ExecMainStatus", UNIT]) {
                Ok(s) => {
                    let v: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                    format!(
                        "systemctl {verb} failed: {}; see `journalctl -u ksocket`",
                        v.join(" ")
                    )
                }
                Err(_) => e,
            }
        }),
        Init::Upstart => {
            let exe = initctl().ok_or("initctl not found")?;
            let exe = exe.to_string_lossy().into_owned();
            if verb == "restart" {
                // initctl restart refuses a stopped job: stop (if running), then start.
                let _ = run(&exe, &["stop", NAME]);
                return run(&exe, &["start", NAME]);
            }
            run(&exe, &[verb, NAME])
        }
    }
}

/// A user of /etc/passwd: (uid, gid).
pub fn passwd_user(name: &str) -> Option<(u32, u32)> {
    let b = crate::sys::files::read_bounded(Path::new("/etc/passwd"), 16 << 20).ok()?;
    String::from_utf8_lossy(&b).lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn create_user(home: &Path) -> Step {
    if passwd_user(USER).is_some() {
        return skip(format!("{USER} exists"));
    }
    let shell = ["/usr/sbin/nologin", "/sbin/nologin"]
        .into_iter()
        .find(|s| Path::new(s).exists())
        .unwrap_or("/bin/false");
    let h = home.to_string_lossy();
    let r = run(
        "useradd",
        &[
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            &h,
            "--shell",
            shell,
            "--comment",
            "ksocket agent",
            USER,
        ],
    )
    .or_else(|e| {
        // BusyBox and some minimal systems have adduser only.
        run("adduser", &["-S", "-D", "-H", "-h", &h, "-s", shell, USER]).map_err(|_| e)
    });
    r.and_then(|_| {
        passwd_user(USER)
            .map(|_| ())
            .ok_or_else(|| format!("{USER} was not created"))
    })?;
    ok_with(USER)
}

/// Gives `dir` and everything under it to (uid, gid); bounded in depth and count.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<u64, String> {
    use std::os::unix::fs::lchown;
    let mut n = 0u64;
    let mut stack = vec![(dir.to_path_buf(), 0u32)];
    while let Some((p, depth)) = stack.pop() {
        lchown(&p, Some(uid), Some(gid)).map_err(|e| format!("{}: {e}", p.display()))?;
        n += 1;
        if n > 1_000_000 {
            return Err(format!("{}: more than a million files", dir.display()));
        }
        let m = std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        if m.is_dir() && depth < 64 {
            for e in std::fs::read_dir(&p).map_err(|e| format!("{}: {e}", p.display()))? {
                let e = e.map_err(|e| format!("{}: {e}", p.display()))?;
                stack.push((e.path(), depth + 1));
            }
        }
    }
    Ok(n)
}

/// etc/ksocket and var/ (and a KSOCKET_CONFIG file elsewhere) to the service user.
fn give_files(home: &Path) -> Step {
    let (uid, gid) = passwd_user(USER).ok_or_else(|| format!("no user {USER}"))?;
    let var = home.join("var");
    crate::sys::files::create_dirs(&var, 0o755).map_err(|e| format!("{}: {e}", var.display()))?;
    let etc = home.join("etc/ksocket");
    // `ksocket init` makes etc/ 0700 (root's): the user must pass through it to
    // etc/ksocket (0700, its own), which holds everything private.
    if let Some(parent) = etc.parent().filter(|p| p.is_dir()) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut n = chown_tree(&var, uid, gid)?;
    if etc.is_dir() {
        n += chown_tree(&etc, uid, gid)?;
    }
    let cfg = config::path();
    if !cfg.starts_with(&etc) && cfg.is_file() {
        n += chown_tree(&cfg, uid, gid)?;
    }
    ok_with(format!("{n} files, {USER}"))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(d) = path.parent() {
        crate::sys::files::create_dirs(d, 0o755).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    crate::sys::files::write_atomic(path, text.as_bytes(), 0o644)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // A file written again keeps its old mode: this one must be 0644, root's.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The unit (or job) generated under $KSOCKET_HOME.
fn generated(init: Init, home: &Path) -> PathBuf {
    match init {
        Init::Systemd => home.join("usr/lib/systemd/system").join(UNIT),
        Init::Upstart => home.join("usr/share/upstart/ksocket.conf"),
    }
}

/// Where the installed unit (or job) goes.
fn installed(init: Init) -> PathBuf {
    match init {
        Init::Systemd => {
            let os = crate::sys::files::read_bounded(Path::new("/etc/os-release"), 1 << 16)
                .ok()
                .or_else(|| {
                    crate::sys::files::read_bounded(Path::new("/usr/lib/os-release"), 1 << 16).ok()
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            PathBuf::from(text::unit_dir(os.as_deref(), |d| Path::new(d).is_dir())).join(UNIT)
        }
        Init::Upstart => PathBuf::from("/etc/init/ksocket.conf"),
    }
}

/// Every place an installed unit of ours may be (an older install may have picked
/// another directory).
fn installed_candidates(init: Init) -> Vec<PathBuf> {
    match init {
        Init::Systemd => [
            "/usr/lib/systemd/system",
            "/lib/systemd/system",
            "/usr/local/lib/systemd/system",
            "/etc/systemd/system",
        ]
        .iter()
        .map(|d| Path::new(d).join(UNIT))
        .collect(),
        Init::Upstart => vec![installed(init)],
    }
}

fn ours(p: &Path) -> bool {
    crate::sys::files::read_bounded(p, 1 << 16).is_ok_and(|b| b.starts_with(MARK.as_bytes()))
}

fn check_runner(home: &Path, init: Init) -> Step {
    use std::os::unix::fs::PermissionsExt;
    let exe = home.join("bin/ksocket");
    let m = std::fs::metadata(&exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    if !m.is_file() || m.permissions().mode() & 0o111 == 0 {
        return Err(format!("{}: not an executable file", exe.display()));
    }
    if init == Init::Systemd {
        for hidden in ["/home", "/root", "/run/user"] {
            if home.starts_with(hidden) {
                return Err(format!(
                    "{} is under {hidden}, which the unit hides (ProtectHome=yes): \
                     install under /opt",
                    home.display()
                ));
            }
        }
    }
    ok_with(exe.display().to_string())
}

fn absolute_home() -> Result<PathBuf, Failure> {
    let home = config::home();
    let home = std::fs::canonicalize(&home)
        .map_err(|e| Failure::failed(format!("service: {}: {e}", home.display())))?;
    Ok(home)
}

/// `ksocket service ACTION` under `forced` or the detected manager.
pub fn run_action(action: Action, forced: Option<Init>) -> Result<ExitCode, Failure> {
    let init = match forced {
        Some(i) => i,
        None => detect().map_err(|e| Failure::failed(format!("service: {e}")))?,
    };
    let mut s = Steps { out: Out::stdout() };
    match action {
        Action::Status => {
            let st = status(init).map_err(|e| Failure::failed(format!("service status: {e}")))?;
            writeln!(s.out, "{}", st.word())?;
            s.out.flush()?;
        }
        Action::Install => install(&mut s, init)?,
        Action::Uninstall => uninstall(&mut s, init)?,
        Action::Start | Action::Stop | Action::Restart => {
            let st = get_status(&mut s, init)?;
            if init == Init::Systemd && action != Action::Stop && passwd_user(USER).is_some() {
                // Files made by root since (`ksocket encrypt`, a new credential file)
                // must be readable by the agent.
                if let Ok(home) = absolute_home() {
                    let _ = give_files(&home);
                }
            }
            let (what, verb) = match action {
                Action::Start => ("Start the service", "start"),
                Action::Stop => ("Stop the service", "stop"),
                _ => ("Restart the service", "restart"),
            };
            let r = match (action, st) {
                (_, Status::Missing) if action != Action::Stop => {
                    Err("not installed: ksocket service install".to_string())
                }
                (Action::Stop, Status::Missing) => skip("not installed"),
                (Action::Start, Status::Running) => skip(""),
                (Action::Stop, Status::Stopped) => skip(""),
                _ => control(init, verb).map(|_| ("OK", String::new())),
            };
            s.step(what, r)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn install(s: &mut Steps, init: Init) -> Result<(), Failure> {
    let home = absolute_home()?;
    s.step("Check if ksocket runner exists", check_runner(&home, init))?;
    let config = std::env::var_os("KSOCKET_CONFIG").map(PathBuf::from);
    if init == Init::Systemd {
        s.step("Create the service user", create_user(&home))?;
        s.step("Give etc/ksocket and var to the user", give_files(&home))?;
    }
    let file = generated(init, &home);
    let body = match init {
        Init::Systemd => text::systemd_unit(&home, config.as_deref(), EXIT_REFUSED),
        Init::Upstart => text::upstart_job(&home, config.as_deref(), EXIT_REFUSED),
    };
    s.step(
        "Create a service file",
        write_file(&file, &body).map(|()| ("OK", file.display().to_string())),
    )?;
    let dest = installed(init);
    let r = (|| {
        // An older install in another unit directory would shadow or double this one.
        let real = |p: &Path| {
            p.parent()
                .and_then(|d| std::fs::canonicalize(d).ok())
                .map(|d| d.join(UNIT))
        };
        for old in installed_candidates(init) {
            // /lib is /usr/lib on merged-/usr systems: the same file by two names.
            if real(&old) != real(&dest) && ours(&old) {
                std::fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
            }
        }
        write_file(&dest, &body)?;
        match init {
            Init::Systemd => {
                systemctl(&["daemon-reload"])?;
                systemctl(&["enable", UNIT])?;
            }
            Init::Upstart => {
                let exe = initctl().ok_or("initctl not found")?;
                run(&exe.to_string_lossy(), &["reload-configuration"])?;
            }
        }
        Ok(("OK", dest.display().to_string()))
    })();
    s.step("Install the service", r)?;
    get_status(s, init)?;
    s.step(
        "Restart the service",
        control(init, "restart")
            .map(|_| ("OK", String::new()))
            .map_err(|e| match init {
                Init::Systemd => e,
                Init::Upstart => format!("{e}; see /var/log/upstart/ksocket.log"),
            }),
    )?;
    Ok(())
}

fn uninstall(s: &mut Steps, init: Init) -> Result<(), Failure> {
    let st = get_status(s, init)?;
    s.step(
        "Stop the service",
        match st {
            Status::Missing | Status::Stopped => skip(""),
            _ => control(init, "stop").map(|_| ("OK", String::new())),
        },
    )?;
    if init == Init::Systemd {
        s.step(
            "Disable the service",
            if st == Status::Missing {
                skip("")
            } else {
                systemctl(&["disable", UNIT]).map(|_| ("OK", String::new()))
            },
        )?;
    }
    let r = (|| {
        let mut removed = Vec::new();
        // The name `install` chose first (the distribution's), then the others.
        let mut all = vec![installed(init)];
        all.extend(installed_candidates(init));
        for p in all {
            if ours(&p) {
                std::fs::remove_file(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                removed.push(p.display().to_string());
            }
        }
        if init == Init::Systemd {
            systemctl(&["daemon-reload"])?;
            let _ = systemctl(&["reset-failed", UNIT]);
        }
        if removed.is_empty() {
            skip("")
        } else {
            ok_with(removed.join(" "))
        }
    })();
    s.step("Remove the service file", r)?;
    Ok(())
}

/// The status step; the status, or Failed after its NG line.
fn get_status(s: &mut Steps, init: Init) -> Result<Status, Failure> {
    let st = status(init);
    s.step(
        "Get status of the service",
        st.clone().map(|st| ("OK", st.word().into())),
    )?;
    st.map_err(|_| Failure::failed(""))
}
