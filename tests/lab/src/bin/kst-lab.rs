//! `kst-lab`: bring a throwaway lab up from the shell.
//!
//! - `kst-lab hold TAG HOSTS SECONDS`: a switch with HOSTS hosts on 198.18.0.0/24
//!   (198.18.0.10 upward), prints the lab's prefix, then sleeps at most SECONDS.
//!   The lab is removed when it ends, or when it is killed (the lab tests kill it).
use ksocket_lab::{HostSpec, Lab, Role};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["hold", tag, hosts, secs] => hold(tag, hosts, secs),
        _ => {
            eprintln!("usage: kst-lab hold TAG HOSTS SECONDS");
            2
        }
    };
    std::process::exit(code);
}

fn hold(tag: &str, hosts: &str, secs: &str) -> i32 {
    let (Ok(n), Ok(secs)) = (hosts.parse::<u32>(), secs.parse::<u64>()) else {
        eprintln!("kst-lab: HOSTS and SECONDS are numbers");
        return 2;
    };
    if n > 240 || secs > 3600 {
        eprintln!("kst-lab: at most 240 hosts and 3600 seconds");
        return 2;
    }
    let run = || -> std::io::Result<Lab> {
        let mut lab = Lab::new(tag)?;
        let sw = lab.switch("sw")?;
        let specs: Vec<HostSpec> = (0..n)
            .map(|i| HostSpec {
                name: format!("h{i}"),
                cidr: format!("198.18.0.{}/24", 10 + i),
                gateway: None,
                role: Role::Full,
            })
            .collect();
        lab.hosts(&sw, &specs)?;
        Ok(lab)
    };
    match run() {
        Ok(lab) => {
            println!("{}", lab.prefix());
            std::thread::sleep(Duration::from_secs(secs));
            0
        }
        Err(e) => {
            eprintln!("kst-lab: {e}");
            1
        }
    }
}
