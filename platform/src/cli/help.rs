//! The command table: names, one-line summaries and usage texts, shared by
//! `ksocket --help`, `ksocket help COMMAND` and the parser.

/// One subcommand of `ksocket`.
pub struct Entry {
    pub name: &'static str,
    pub summary: &'static str,
    pub usage: &'static str,
}

pub const COMMANDS: &[Entry] = &[
    Entry {
        name: "version",
        summary: "print the version, the target triple and the build profile",
        usage: "ksocket version\n\nPrints `ksocket VERSION (TARGET, PROFILE)`, then the dates of the compiled-in\nregistries: the IEEE OUI registry (MAC vendors) and the IANA enterprise numbers\n(SNMP vendors).",
    },
    Entry {
        name: "scan",
        summary: "discover the live hosts of the attached networks (standalone)",
        usage: "ksocket scan [OPTIONS] [TARGET...]\n
TARGET is an address, a CIDR (198.18.0.0/24) or a range (198.18.0.10-20); or an
IPv6 address or network of at most a /112 (2001:db8::/120).
Without TARGET: every attached network (up to --max-prefix) and the default gateway,
and every attached link over IPv6 (multicast echo, MLD, Neighbor Discovery).\n
Options:
  --format FORMAT        table, jsonl (a record a line, as hosts complete), json (one
                         document with a summary) or csv (default: table on a
                         terminal, jsonl otherwise)
  --rate PPS             packets per second (default 10000; the port sweep of live
                         hosts 25000)
  --timeout MS           initial reply timeout; adapts to measured RTTs (default 250)
  --retries N            extra probes to silent targets (default 1)
  --ports LIST           TCP ports probed, or top100 (nmap's 100 most often open):
                         every live host is swept for them (with UDP 161), open ones
                         reported, SSH banners and HTTP Server headers read; routed
                         targets are found with the first 16 (default
                         22,23,25,53,80,135,139,443,445,587,5985,5986)
  --no-ports             no port sweep: hosts only (no ports, no banners)
  --methods LIST         icmp,tcp,snmp for routed targets (default: all); on-link
                         targets on Ethernet are always found by ARP
  --interface NAME       use only this interface
  --exclude TARGET       leave these addresses out, IPv4 or IPv6 (repeatable)
  --max-prefix N         largest attached network scanned without a TARGET (default 22)
  --community STRING     SNMP v2c community instead of the snmp credential files: the
                         default gateway's ARP table is read first (its hosts are
                         added, via \"snmp-arp\"), and found hosts are asked for details
  --no-details           do not ask found hosts for SNMP details
  --no-names             do not look up the found hosts' names (reverse DNS through
                         /etc/resolv.conf's nameservers, NetBIOS node status, mDNS)
  --gateway-arp          read the default gateway's ARP table also when TARGETs are
                         named (a scan without TARGET always does)
  --max-addresses N      most addresses one scan probes (default 65536, a /16);
                         loopback, multicast and reserved addresses are never probed
  --host-timeout S       seconds one host's details may take (default 60)
  --table-rows N         rows of one SNMP table (default 100000)
  --table-bytes N        bytes of one SNMP table and of one device record (default 16 MiB)
  --details-timeout S    seconds the whole details phase may take (default 600)
                         (the limits' defaults come from ksocket.toml's [limits]; a
                         host that reaches one gets what was read and `incomplete`)
  -v, --verbose          say on stderr what is otherwise only logged\n
After discovery, every host an snmp credential (or --community) matches is swept with
it, and those that answer are asked for their device record (system, chassis,
interfaces, LLDP and CDP neighbours, ARP table): \"snmp\" in the jsonl output.",
    },
    Entry {
        name: "snmp",
        summary: "SNMP get/walk/device/sweep with net-snmp style options (operator's check tool)",
        usage: "ksocket snmp get|walk|device TARGET[:PORT] [OID...] [OPTIONS]
ksocket snmp sweep TARGET... [-c COMMUNITY]... [-v 1|2c] [--v3] [--rate PPS] [-t S] [-r N]
                   [--port N] [--json]\n
sweep asks every address of the targets for sysDescr with each community (one UDP
socket, paced, adaptive timeouts) and prints who answers, one line for each community
an address answers, as onesixtyone does (the community by its number, [c1], never by
its text); --v3 finds SNMPv3 engines without a user. Defaults: public, 10000 probes/s, -t 1, -r 1.
device prints the device record as JSON: system group, chassis (ENTITY-MIB), interfaces
with IPv4 addresses, LLDP and CDP neighbours, ARP table, and the tables read
incompletely.
Prints numeric OIDs and values as `snmpbulkwalk -On` does, one per line.
walk without an OID walks 1.3.6.1.2.1 (mib-2); v2c walks use GetBulk, v1 GetNext.\n
Options (named as net-snmp names them):
  -v 1|2c|3      version (default 2c)
  -u USER -l noAuthNoPriv|authNoPriv|authPriv
  -a MD5|SHA|SHA-224|SHA-256|SHA-384|SHA-512 -A PASSWORD
  -x DES|3DES|AES|AES192|AES256|AES192C|AES256C -X PASSWORD
                 privacy; AES192/AES256 extend keys as net-snmp does (Blumenthal),
                 AES192C/AES256C as Cisco does (Reeder)
  -n CONTEXT     SNMPv3 context name (default empty)
  -c COMMUNITY   community (default public)
  -t SECONDS     timeout per try (default 1)
  -r N           retries (default 5)
  -Cr N          max-repetitions of GetBulk (default 10)
  --credential FILE  an snmp credential file (plain or .kscrypt): its community,
                 port, timeout and retries
  --host-timeout S, --table-rows N, --table-bytes N
                 device: the bounds of the record (as for scan)
  -On            numeric OIDs (always)",
    },
    Entry {
        name: "ssh",
        summary: "SSH inventory of Linux hosts (OS, packages), as a scan collects it",
        usage: "ksocket ssh TARGET... [--credential FILE] [--format FORMAT] [--parallel N]
            [--timeout SECONDS] [--max-auth-failures N]

TARGET is an address, a CIDR or a range. Each is logged into with the ssh credential
files that match it (etc/ksocket/credentials/ssh, in order, until one logs in), or
only FILE with --credential; it is asked its OS (/etc/os-release, uname) and its
packages (dpkg, rpm, apk, pacman). Nothing is installed or written on the host.

Host keys are trusted on first use and kept in $KSOCKET_HOME/var/known_hosts; a
changed key is refused and nothing is sent to that host. A credential's hostKeys or
knownHosts pin keys (unknown keys refused too).

Options:
  --credential FILE        only this ssh credential file (for every TARGET)
  --format FORMAT          table, json (one document) or jsonl (a record a line, as
                           hosts complete; default when not on a terminal)
  --parallel N             hosts read at once (default 8)
  --timeout SECONDS        time one host may take (default limits.hostTimeout, 60)
  --max-auth-failures N    password logins refused per host before the next files
                           are left untried (default 3)

Exit status 1 when a target could not be read (the reason on stderr and in the record).",
    },
    Entry {
        name: "init",
        summary: "create the $KSOCKET_HOME layout, a commented ksocket.toml and credential templates",
        usage: "ksocket init\n\nCreates what is missing under $KSOCKET_HOME (default /opt/ksocket): bin/, etc/ksocket/ksocket.toml,
etc/ksocket/credentials/{ssh,snmp,winrm,vsphere}/999-example.toml.skeleton, snmp/999-default.toml,
var/log/ksocket/. Never overwrites a file. KSOCKET_CONFIG names another configuration file.",
    },
    Entry {
        name: "config",
        summary: "print or change settings of ksocket.toml",
        usage: "ksocket config              every setting as name=value
ksocket config NAME         one value
ksocket config NAME VALUE   set it (written to ksocket.toml; restart to apply)
ksocket config NAME -       set it to the first line of standard input (a token or a
                            proxy password then never shows on a command line)",
    },
    Entry {
        name: "diagnostics",
        summary: "check this box, the configuration and the connection",
        usage: "ksocket diagnostics [system|config|connect|authenticate]",
    },
    Entry {
        name: "service",
        summary: "install or control the system service",
        usage: "ksocket service install|uninstall|status|start|stop|restart [--init systemd|upstart]\n
Runs the agent (`ksocket connect`) as a service of systemd (used when
/run/systemd/system exists) or Upstart (initctl and /etc/init); --init names one.
Each step prints a line ending in OK, Skip or NG [why]; the first NG stops (exit 1).\n
  install    writes $KSOCKET_HOME/usr/lib/systemd/system/ksocket.service (hardened:
             user ksocket, created when missing, with CAP_NET_RAW only; read-only
             system but $KSOCKET_HOME/var and etc), copies it into the system's unit
             directory, enables and (re)starts it. Upstart: /etc/init/ksocket.conf
             (runs as root: Upstart cannot give CAP_NET_RAW alone).
  uninstall  stops, disables and removes the service (files and user are kept)
  status     prints missing, running, stopped or processing
  start      Skip when running; stop: Skip when stopped; restart starts a stopped one.
             start and restart first give etc/ksocket and var back to the user ksocket
             (files root made since, as `ksocket encrypt` or a new credential file)\n
The service restarts the agent on failure, not on exit 3 (refused by the controller
for good: fix the token with `ksocket config`, then `ksocket service restart`).",
    },
    Entry {
        name: "encrypt",
        summary: "seal a credential file with this agent's key (FILE -> FILE.kscrypt)",
        usage: "ksocket encrypt FILE.toml",
    },
    Entry {
        name: "decrypt",
        summary: "open a sealed credential file (FILE.kscrypt -> FILE)",
        usage: "ksocket decrypt FILE.toml.kscrypt",
    },
    Entry {
        name: "connect",
        summary: "run the agent: connect to the controller and serve operations",
        usage: "ksocket connect\n
Runs the agent (what the service runs): connects out to the controller of
ksocket.toml's [connect] (wss, or ws for local use), takes its operations, and sends
every result back; results wait in $KSOCKET_HOME/var/spool/ksocket until the controller
acknowledges them. Reconnects after a drop (connect.resume*); exits 1 after
connect.resumeRetries failed attempts, 3 on a permanent refusal.
Environment: KSOCKET_INSECURE=1 skips the certificate check (says so in the log);
HTTPS_PROXY/NO_PROXY when connect.proxy is not set.",
    },
    Entry {
        name: "help",
        summary: "print help for ksocket or for one command",
        usage: "ksocket help [COMMAND]",
    },
];

pub fn find(name: &str) -> Option<&'static Entry> {
    COMMANDS.iter().find(|c| c.name == name)
}

pub fn general_help() -> String {
    let mut s = String::from(
        "ksocket - network discovery and inventory agent\n
Usage: ksocket [--logfile FILE] [--loglevel LEVEL] COMMAND [ARGS...]\n\nCommands:\n",
    );
    for c in COMMANDS {
        s.push_str(&format!("  {:<12} {}\n", c.name, c.summary));
    }
    s.push_str(
        "\nGlobal options:
  --logfile FILE     log file, or - for standard output (overrides ksocket.toml)
  --loglevel LEVEL   DEBUG, INFO, WARNING, ERROR or CRITICAL
  -h, --help         this text; `ksocket help COMMAND` for one command
  -V, --version      same as `ksocket version`\n
Exit codes: 0 done (also when the reader of the output goes away, as with `| head`),
1 the command ran and failed (a scan error, an NG diagnosis, an SNMP error),
2 a usage error (an unknown command or option, a value out of range),
3 `connect` was refused for good (unknown, revoked or taken token; protocol version):
  restarting cannot help, and the service unit does not restart on it.\n",
    );
    s
}

/// The dates of the registries compiled into the binary, for `ksocket version`.
pub fn data_line() -> String {
    format!(
        "data: IEEE OUI registry {} ({}), IANA enterprise numbers {}",
        crate::discover::oui::DATA_DATE,
        crate::discover::oui::ORIGIN,
        crate::inventory::snmp::device::enterprises::DATA_DATE
    )
}

pub fn version_line() -> String {
    format!(
        "ksocket {} ({}, {})",
        env!("CARGO_PKG_VERSION"),
        env!("KSOCKET_TARGET"),
        env!("KSOCKET_PROFILE")
    )
}
