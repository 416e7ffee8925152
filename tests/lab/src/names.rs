//! Name servers in lab namespaces, for the host-name lookups (issue 15): a DNS server
//! with PTR records (dnsmasq), a NetBIOS name server (Samba's nmbd), an mDNS
//! responder (avahi-daemon) and a DNS-SD-only responder (`mdns_sd.py`), each with its
//! own scratch files, in a lab namespace (on its lab interface only), stopped with the
//! lab; and the scanner namespace's `resolv.conf`
//! (`/etc/netns/NS/resolv.conf`, which `ip netns exec` mounts over
//! `/etc/resolv.conf`), removed when dropped.
use crate::{Lab, Ns, err, lab_addr};
use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Starts dnsmasq in `ns` on `listen`:53 only, authoritative for nothing but `ptrs`
/// (`--ptr-record`), with no upstream and no hosts file: every other question is
/// refused, and nothing is ever forwarded.
pub fn dnsmasq(lab: &mut Lab, ns: &Ns, listen: &str, ptrs: &[(Ipv4Addr, &str)]) -> io::Result<()> {
    lab_addr(listen)?;
    for (ip, _) in ptrs {
        lab_addr(&ip.to_string())?;
    }
    lab.own(ns)?;
    let dir = lab.scratch_dir("dnsmasq")?;
    let pid = dir.join("dnsmasq.pid");
    let mut argv: Vec<String> = [
        "dnsmasq",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--user=root",
        "--group=root",
        "--port=53",
        "--log-facility=-",
    ]
    .map(String::from)
    .to_vec();
    argv.push(format!("--listen-address={listen}"));
    argv.push(format!("--pid-file={}", pid.display()));
    for (ip, name) in ptrs {
        let o = ip.octets();
        argv.push(format!(
            "--ptr-record={}.{}.{}.{}.in-addr.arpa,{name}",
            o[3], o[2], o[1], o[0]
        ));
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    daemon(
        lab,
        ns,
        &argv,
        &dir,
        "dnsmasq (apt-get install dnsmasq-base)",
    )?;
    lab.pidfiles.push(pid);
    Ok(())
}

/// Runs a daemon that forks into the background, its output to `dir/daemon.log` (a daemon
/// that kept the pipes of [`Lab::exec`] open would hold it to its time limit).
fn daemon(lab: &Lab, ns: &Ns, argv: &[&str], dir: &std::path::Path, what: &str) -> io::Result<()> {
    let log = dir.join("daemon.log");
    let log = log.display().to_string();
    let mut full = vec![
        "sh",
        "-c",
        "log=$1; shift; exec \"$@\" >>\"$log\" 2>&1",
        "sh",
        &log,
    ];
    full.extend_from_slice(argv);
    let o = lab.exec(ns, &full, Duration::from_secs(15))?;
    if !o.status.success() {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(err(format!(
            "lab: {what} failed: {} {}",
            said.trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(())
}

/// Starts Samba's nmbd in `ns`: NetBIOS name `name` in workgroup `group`, on
/// interface `ifname` only; its state in a scratch directory.
pub fn nmbd(lab: &mut Lab, ns: &Ns, ifname: &str, name: &str, group: &str) -> io::Result<()> {
    lab.own(ns)?;
    let dir = lab.scratch_dir("nmbd")?;
    let d = dir.display();
    for sub in ["private", "lock", "state", "cache", "pid", "log"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let conf = dir.join("smb.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nnetbios name = {name}\nworkgroup = {group}\ninterfaces = {ifname}\n\
             bind interfaces only = yes\nprivate dir = {d}/private\nlock directory = {d}/lock\n\
             state directory = {d}/state\ncache directory = {d}/cache\npid directory = {d}/pid\n\
             ncalrpc dir = {d}/lock/ncalrpc\nlog file = {d}/log/nmbd.log\nload printers = no\n\
             disable spoolss = yes\nlocal master = no\ndomain master = no\npreferred master = no\n\
             dns proxy = no\nwins support = no\n"
        ),
    )?;
    let conf = conf.display().to_string();
    daemon(
        lab,
        ns,
        &["nmbd", "-D", "-s", &conf],
        &dir,
        "nmbd (apt-get install samba)",
    )?;
    // Its PID file is named after the configuration file: take whatever it wrote.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        if let Some(p) = std::fs::read_dir(dir.join("pid"))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "pid"))
        {
            lab.pidfiles.push(p);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(err(format!("lab: nmbd in {} wrote no PID file", ns.name)))
}

/// Starts avahi-daemon in `ns`: host name `host` (`host.local`), on `ifname` only,
/// IPv4, no D-Bus, publishing its address (and so its reverse name) and one service
/// per `(type, port)` (`_ipp._tcp`). Its runtime directory and its services directory
/// are scratch directories mounted over `/run` and `/etc/avahi/services` in its own
/// mount namespace (`ip netns exec` makes one), so several run at once.
pub fn avahi(
    lab: &mut Lab,
    ns: &Ns,
    ifname: &str,
    host: &str,
    services: &[(&str, u16)],
) -> io::Result<()> {
    lab.own(ns)?;
    let dir = lab.scratch_dir("avahi")?;
    let run = dir.join("run");
    let svc = dir.join("services");
    std::fs::create_dir_all(run.join("avahi-daemon"))?;
    std::fs::create_dir_all(&svc)?;
    let conf = dir.join("avahi-daemon.conf");
    std::fs::write(
        &conf,
        format!(
            "[server]\nhost-name={host}\ndomain-name=local\nuse-ipv4=yes\nuse-ipv6=no\n\
             allow-interfaces={ifname}\nenable-dbus=no\nratelimit-interval-usec=1000000\n\
             ratelimit-burst=1000\n[wide-area]\nenable-wide-area=no\n[publish]\n\
             publish-addresses=yes\npublish-hinfo=no\npublish-workstation=no\n\
             publish-domain=no\n[reflector]\n[rlimits]\n"
        ),
    )?;
    let mut xml = String::from(
        "<?xml version=\"1.0\" standalone='no'?>\n<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n<service-group>\n  <name>Lab service</name>\n",
    );
    for (ty, port) in services {
        xml.push_str(&format!(
            "  <service><type>{ty}</type><port>{port}</port></service>\n"
        ));
    }
    xml.push_str("</service-group>\n");
    std::fs::write(svc.join("lab.service"), xml)?;
    let script = "mount --bind \"$1\" /run && mount --bind \"$2\" /etc/avahi/services && \
                  exec avahi-daemon -D -f \"$3\" --no-drop-root --no-chroot --no-rlimits";
    let (r, s, c) = (
        run.display().to_string(),
        svc.display().to_string(),
        conf.display().to_string(),
    );
    daemon(
        lab,
        ns,
        &["sh", "-c", script, "sh", &r, &s, &c],
        &dir,
        "avahi-daemon (apt-get install avahi-daemon)",
    )?;
    lab.pidfiles.push(run.join("avahi-daemon").join("pid"));
    Ok(())
}

/// Starts a DNS-SD-only mDNS responder in `ns` (`mdns_sd.py`, python3's standard
/// library only): it answers `_services._dns-sd._udp.local` with `service_type`, and
/// that type with an instance on `host` (PTR, SRV, and `host`'s A record: `addr`), as
/// media players and IoT devices do; it answers no reverse lookup.
pub fn mdns_sd(
    lab: &mut Lab,
    ns: &Ns,
    addr: &str,
    host: &str,
    service_type: &str,
    instance: &str,
) -> io::Result<()> {
    lab_addr(addr)?;
    lab.own(ns)?;
    let dir = lab.scratch_dir("mdns-sd")?;
    let script = dir.join("mdns_sd.py");
    std::fs::write(&script, include_str!("mdns_sd.py"))?;
    let pid = dir.join("mdns_sd.pid");
    let (sc, pf) = (script.display().to_string(), pid.display().to_string());
    daemon(
        lab,
        ns,
        &["python3", &sc, addr, host, service_type, instance, &pf],
        &dir,
        "python3 mdns_sd.py",
    )?;
    lab.pidfiles.push(pid);
    Ok(())
}

/// `/etc/netns/NS/resolv.conf` for a namespace: what its programs read as
/// `/etc/resolv.conf` under `ip netns exec`. Removed when dropped, with the
/// directories it made.
pub struct ResolvConf {
    file: PathBuf,
    made: Vec<PathBuf>,
}

impl ResolvConf {
    /// Points `ns` at the lab nameservers `servers` (only lab addresses).
    pub fn new(lab: &Lab, ns: &Ns, servers: &[&str], options: &str) -> io::Result<ResolvConf> {
        lab.own(ns)?;
        let mut text = String::new();
        for s in servers {
            lab_addr(s)?;
            text.push_str(&format!("nameserver {s}\n"));
        }
        if !options.is_empty() {
            text.push_str(&format!("options {options}\n"));
        }
        let mut made = Vec::new();
        let top = PathBuf::from("/etc/netns");
        sweep_resolv_confs(&top);
        let dir = top.join(&ns.name);
        for d in [&top, &dir] {
            if !d.exists() {
                std::fs::create_dir(d)?;
                made.push(d.clone());
            }
        }
        let file = dir.join("resolv.conf");
        let r = ResolvConf { file, made };
        std::fs::write(&r.file, text)?;
        Ok(r)
    }
}

/// Removes what [`ResolvConf`]s of labs killed before their drop left behind: the
/// `kst-*` directories of `/etc/netns` whose namespace no longer exists.
pub(crate) fn sweep_resolv_confs(top: &std::path::Path) {
    let Ok(dir) = std::fs::read_dir(top) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(crate::PREFIX)
            && !std::path::Path::new("/run/netns").join(&name).exists()
        {
            let _ = std::fs::remove_file(e.path().join("resolv.conf"));
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        if self.made.is_empty() {
            // The lab's own directory: back to the lab's resolv.conf, never the machine's.
            let _ = std::fs::write(&self.file, crate::NO_RESOLVER);
            return;
        }
        let _ = std::fs::remove_file(&self.file);
        for d in self.made.iter().rev() {
            // Only if empty: another lab may have put its own beside.
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A /24 for the names benchmark, 198.18.0.0/24 on one switch: the scanner at .2 (its
/// resolv.conf pointing at .53), a dnsmasq at .53 with a PTR record for every host,
/// and `n` hosts from .20 up as in [`crate::scenario::l2_segment`] (every 5th answers
/// ARP only, so it is silent to every name query); .21 runs nmbd (`HOST-21`), .22
/// avahi-daemon (`host-22.local`). The returned guard must live as long as the lab.
pub fn names_segment(lab: &mut Lab, n: u8) -> io::Result<(crate::scenario::Scenario, ResolvConf)> {
    use crate::{HostSpec, Role};
    let sw = lab.switch("sw")?;
    let spec = |name: String, ip: Ipv4Addr, role| HostSpec {
        name,
        cidr: format!("{ip}/24"),
        gateway: None,
        role,
    };
    let mut specs = vec![
        spec("scanner".into(), Ipv4Addr::new(198, 18, 0, 2), Role::Full),
        spec("dns".into(), Ipv4Addr::new(198, 18, 0, 53), Role::Full),
    ];
    let mut live = std::collections::BTreeSet::new();
    live.insert(Ipv4Addr::new(198, 18, 0, 53));
    let mut ptrs = Vec::new();
    let n = n.min(30 + 200);
    for i in 0..n {
        let d = 20 + i;
        if d == 53 {
            continue;
        }
        let ip = Ipv4Addr::new(198, 18, 0, d);
        let role = if i % 5 == 0 {
            Role::ArpOnly
        } else {
            Role::Full
        };
        specs.push(spec(format!("h{d}"), ip, role));
        live.insert(ip);
        ptrs.push((ip, format!("host-{d}.lab.example")));
    }
    let ns = lab.hosts(&sw, &specs)?;
    let ptrs: Vec<(Ipv4Addr, &str)> = ptrs.iter().map(|(a, n)| (*a, n.as_str())).collect();
    dnsmasq(lab, &ns[1], "198.18.0.53", &ptrs)?;
    let by_ip = |d: u8| {
        specs
            .iter()
            .position(|s| s.cidr == format!("198.18.0.{d}/24"))
            .map(|i| ns[i].clone())
    };
    if let Some(h) = by_ip(21) {
        nmbd(lab, &h, "eth0", "HOST-21", "LABGROUP")?;
    }
    if let Some(h) = by_ip(22) {
        avahi(lab, &h, "eth0", "host-22", &[("_http._tcp", 80)])?;
    }
    let resolv = ResolvConf::new(lab, &ns[0], &["198.18.0.53"], "")?;
    Ok((
        crate::scenario::Scenario {
            scanner: ns[0].clone(),
            scanner_ip: Ipv4Addr::new(198, 18, 0, 2),
            live,
            target: "198.18.0.0/24".into(),
        },
        resolv,
    ))
}
