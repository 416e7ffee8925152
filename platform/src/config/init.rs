//! `ksocket init`: the `$KSOCKET_HOME` layout of spec §2, with a commented
//! ksocket.toml and credential templates, created where missing.

use super::{DEFAULT_TOML, home};
use std::path::{Path, PathBuf};

const SKELETONS: [(&str, &str); 4] = [
    (
        "ssh",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 22\ntimeout = 5.0\n\
         # sshTunnels = [\"198.18.0.1\"]\n\n[account]\nusername = \"admin\"\npassword = \"\"\n\n\
         # [[account.clientKeys]]\n# filename = \"id_ed25519\"\n# passphrase = \"\"\n",
    ),
    (
        "snmp",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 161\ntimeout = 5.0\nretries = 0\nretryInterval = 1.0\n\n\
         [authData]\ncommunity = \"public\"\n\
         # SNMPv3 instead of a community:\n# username = \"monitor\"\n# authProtocol = \"usmHMACSHAAuthProtocol\"\n\
         # authKey = \"\"\n# privProtocol = \"usmAesCfb128Protocol\"\n# privKey = \"\"\n\
         # AES-192/256 keys: \"blumenthal\" (net-snmp's AES192/AES256, the default) or\n\
         # \"reeder\" (Cisco's; net-snmp's AES192C/AES256C)\n# privKeyExtension = \"blumenthal\"\n\
         # contextName = \"\"\n",
    ),
    (
        "winrm",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 5985\ntimeout = 5.0\nauthMethod = \"basic\"\n\
         authMessageEncryption = \"auto\"\n\n[account]\nusername = \"Administrator\"\npassword = \"\"\n",
    ),
    (
        "vsphere",
        "# Copy to a name ending in .toml and edit. Matched in dictionary order.\n\
         includes = [\"198.18.0.0/24\"]\nexcludes = []\nport = 443\ntimeout = 5.0\ndisableSslCertValidation = true\n\n\
         [account]\nusername = \"administrator@vsphere.local\"\npassword = \"\"\n",
    ),
];

/// `ksocket init`: creates the `$KSOCKET_HOME` layout (spec §2) where it is missing;
/// never overwrites a file. Returns the files it created.
pub fn init() -> Result<Vec<PathBuf>, String> {
    use crate::sys::files::{self, LOG_DIR_MODE, PRIVATE_DIR_MODE, SECRET_MODE};
    let home = home();
    let mk = |p: &Path, mode: u32| {
        files::create_dirs(p, mode).map_err(|e| format!("init: cannot create {}: {e}", p.display()))
    };
    // Every file init writes holds a secret or the place for one: 0600, never replaced.
    let write_new = |p: &Path, text: &str| -> Result<bool, String> {
        match files::create_new(p, text.as_bytes(), SECRET_MODE) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(format!("init: cannot write {}: {e}", p.display())),
        }
    };
    mk(&home.join("bin"), 0o755)?;
    mk(&home.join("var/log/ksocket"), LOG_DIR_MODE)?;
    mk(&home.join("etc/ksocket"), PRIVATE_DIR_MODE)?;
    let cfg = super::path();
    if let Some(parent) = cfg.parent() {
        mk(parent, PRIVATE_DIR_MODE)?;
    }
    let mut made = Vec::new();
    if write_new(&cfg, DEFAULT_TOML)? {
        made.push(cfg.clone());
    }
    let creds = std::path::PathBuf::from(super::expand(
        &super::Config::default().directories.credentials,
    ));
    for (proto, skel) in SKELETONS {
        let d = creds.join(proto);
        mk(&d, PRIVATE_DIR_MODE)?;
        let f = d.join("999-example.toml.skeleton");
        if write_new(&f, skel)? {
            made.push(f);
        }
    }
    let def = creds.join("snmp/999-default.toml");
    if write_new(
        &def,
        "# Applies to every address; community \"public\" (SNMP v2c).\nincludes = [\"0.0.0.0/0\"]\n\n[authData]\ncommunity = \"public\"\n",
    )? {
        made.push(def);
    }
    Ok(made)
}
