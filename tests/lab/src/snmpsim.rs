//! snmpsimd (the `snmpsim` package) serving recordings inside a lab namespace.
use crate::{Lab, Ns};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A data directory for snmpsimd in the lab's scratch space (`data/` and `cache/`,
/// opened up: snmpsimd runs as nobody). Write `NAME.snmprec` files into `data/`; the
/// community of each is NAME.
pub fn data_dir(lab: &mut Lab, name: &str) -> io::Result<PathBuf> {
    let dir = lab.scratch_dir(name)?;
    for d in ["data", "cache"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    for p in [dir.clone(), dir.join("data"), dir.join("cache")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777))?;
    }
    Ok(dir)
}

/// Starts snmpsimd in `agent` on `ip`:161 (`[client, agent]` = `ends`) serving `dir`
/// (made by [`data_dir`]) with `extra` arguments, and waits until each of
/// `communities` answers a GETNEXT from `client` (at most `limit` in all: snmpsimd indexes each recording before it
/// answers). On a timeout snmpsimd is killed and the error names the community.
pub fn start(
    lab: &Lab,
    ends: [&Ns; 2],
    ip: &str,
    dir: &Path,
    communities: &[String],
    extra: &[&str],
    limit: Duration,
) -> io::Result<Child> {
    let [client, agent] = ends;
    if let Ok(rd) = std::fs::read_dir(dir.join("data")) {
        for e in rd.flatten() {
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o644))?;
        }
    }
    let data = format!("--data-dir={}", dir.join("data").display());
    let cache = format!("--cache-dir={}", dir.join("cache").display());
    let endpoint = format!("--agent-udpv4-endpoint={ip}:161");
    let mut argv = vec![
        "snmpsimd",
        &data,
        &cache,
        &endpoint,
        "--process-user=nobody",
        "--process-group=nogroup",
        "--logging-method=null",
    ];
    argv.extend(extra);
    let mut child = lab
        .command(agent, &argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let t0 = Instant::now();
    for community in communities {
        // A GETNEXT from the top answers for every recording, also one without the
        // system group.
        loop {
            let o = lab.exec(
                client,
                &[
                    "snmpgetnext",
                    "-v2c",
                    "-c",
                    community,
                    "-t",
                    "1",
                    "-r",
                    "0",
                    ip,
                    "1.3.6",
                ],
                Duration::from_secs(10),
            );
            if o.is_ok_and(|o| o.status.success()) {
                break;
            }
            if t0.elapsed() > limit || child.try_wait()?.is_some() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("snmpsimd did not serve community {community} within {limit:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(child)
}

/// Starts snmpsimd in `agent` on `ip`:161 serving `files` (name in the data
/// directory, contents), with `extra` arguments; waits (60 s at most) until each
/// file's community answers from `client`. Panics when it does not (for tests).
pub fn snmpsim(
    lab: &mut Lab,
    client: &Ns,
    agent: &Ns,
    ip: &str,
    files: &[(String, Vec<u8>)],
    extra: &[&str],
) -> Child {
    let dir = data_dir(lab, "sim").expect("snmpsim data directory");
    for (name, data) in files {
        std::fs::write(dir.join("data").join(name), data).expect("write recording");
    }
    let communities: Vec<String> = files
        .iter()
        .map(|(n, _)| n.trim_end_matches(".snmprec").to_string())
        .collect();
    start(
        lab,
        [client, agent],
        ip,
        &dir,
        &communities,
        extra,
        Duration::from_secs(60),
    )
    .expect("snmpsimd serves the recordings")
}
