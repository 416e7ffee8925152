//! The SSH section of a host: what ksocket read from a Linux (or other Unix) host over
//! SSH: the operating system and the installed packages, with the server's host key.

use serde::{Deserialize, Serialize};

/// What ksocket reads from a host over SSH.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Inventory {
    /// The host key's fingerprint as `ssh-keygen -lf` prints it (`SHA256:...`).
    pub host_key: String,
    /// The host key's type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    pub host_key_type: String,
    /// The server's identification line (`SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`).
    pub server: String,
    /// Legacy algorithms negotiated because the credential allowed them
    /// (`legacyAlgorithms = true`): SHA-1 key exchange or signatures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub legacy_algorithms: Vec<String>,
    /// The jump hosts the connection went through, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<String>,
    pub os: Os,
    /// One entry per package manager that lists packages, in the order probed (dpkg,
    /// rpm, apk, pacman).
    pub packages: Vec<PackageList>,
    /// Why `packages` is empty or partial (no manager found; a limit reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_note: Option<String>,
}

/// The operating system, from /etc/os-release and `uname`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Os {
    /// os-release ID (`debian`, `rhel`, `alpine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// os-release NAME (`Debian GNU/Linux`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// os-release VERSION_ID (`12`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// os-release PRETTY_NAME.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// Where name and version came from: `os-release`, `redhat-release`,
    /// `debian_version` or `uname`.
    pub source: String,
    /// `uname -n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `uname -r`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// `uname -m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `uname -s` (`Linux`, `FreeBSD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

/// The packages one package manager lists.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PackageList {
    /// `dpkg`, `rpm`, `apk` or `pacman`.
    pub manager: String,
    pub items: Vec<Package>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// A credential tried on a host that did not read it, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub credential: String,
    pub kind: super::ErrorKind,
    pub message: String,
}
