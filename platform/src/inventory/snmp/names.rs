//! The names of SNMPv3 protocols, once: as credential files spell them (spec §7, the
//! SNMP-USER-BASED-SM-MIB names) and as net-snmp's `-a`/`-x` options do.

use ksocket_core::usm::{AuthProto, KeyExtension, PrivProto};

/// (protocol, credential file name, command-line names)
const AUTH: [(Option<AuthProto>, &str, &[&str]); 7] = [
    (None, "usmNoAuthProtocol", &[]),
    (Some(AuthProto::Md5), "usmHMACMD5AuthProtocol", &["MD5"]),
    (
        Some(AuthProto::Sha1),
        "usmHMACSHAAuthProtocol",
        &["SHA", "SHA1", "SHA-1"],
    ),
    (
        Some(AuthProto::Sha224),
        "usmHMAC128SHA224AuthProtocol",
        &["SHA-224", "SHA224"],
    ),
    (
        Some(AuthProto::Sha256),
        "usmHMAC192SHA256AuthProtocol",
        &["SHA-256", "SHA256"],
    ),
    (
        Some(AuthProto::Sha384),
        "usmHMAC256SHA384AuthProtocol",
        &["SHA-384", "SHA384"],
    ),
    (
        Some(AuthProto::Sha512),
        "usmHMAC384SHA512AuthProtocol",
        &["SHA-512", "SHA512"],
    ),
];

/// Privacy protocols; AES-192/256 keys are extended the Blumenthal way (net-snmp's
/// AES192/AES256) unless the name or the credential says Reeder (Cisco's).
const PRIV: [(Option<PrivProto>, &str, &[&str]); 6] = [
    (None, "usmNoPrivProtocol", &[]),
    (Some(PrivProto::Des), "usmDESPrivProtocol", &["DES"]),
    (
        Some(PrivProto::TripleDes),
        "usm3DESEDEPrivProtocol",
        &["3DES", "3DES-EDE"],
    ),
    (
        Some(PrivProto::Aes128),
        "usmAesCfb128Protocol",
        &["AES", "AES128", "AES-128"],
    ),
    (
        Some(PrivProto::Aes192(KeyExtension::Blumenthal)),
        "usmAesCfb192Protocol",
        &["AES192", "AES-192"],
    ),
    (
        Some(PrivProto::Aes256(KeyExtension::Blumenthal)),
        "usmAesCfb256Protocol",
        &["AES256", "AES-256"],
    ),
];

/// Cisco's (Reeder) key extension, by command-line name.
const PRIV_REEDER: [(PrivProto, &[&str]); 2] = [
    (
        PrivProto::Aes192(KeyExtension::Reeder),
        &["AES192C", "AES-192-C"],
    ),
    (
        PrivProto::Aes256(KeyExtension::Reeder),
        &["AES256C", "AES-256-C"],
    ),
];

/// An authentication protocol by its credential-file name; `Some(None)`: none.
pub fn auth_by_mib_name(name: &str) -> Option<Option<AuthProto>> {
    AUTH.iter().find(|a| a.1 == name).map(|a| a.0)
}

/// An authentication protocol by its `-a` name (case does not matter).
pub fn auth_by_cli_name(name: &str) -> Option<AuthProto> {
    let n = name.to_ascii_uppercase();
    AUTH.iter()
        .find(|a| a.2.contains(&n.as_str()))
        .and_then(|a| a.0)
}

/// A privacy protocol by its credential-file name, with the file's key extension for
/// AES-192/256; `Some(None)`: none.
pub fn priv_by_mib_name(name: &str, ext: KeyExtension) -> Option<Option<PrivProto>> {
    PRIV.iter().find(|p| p.1 == name).map(|p| {
        p.0.map(|x| match x {
            PrivProto::Aes192(_) => PrivProto::Aes192(ext),
            PrivProto::Aes256(_) => PrivProto::Aes256(ext),
            other => other,
        })
    })
}

/// A privacy protocol by its `-x` name (case does not matter).
pub fn priv_by_cli_name(name: &str) -> Option<PrivProto> {
    let n = name.to_ascii_uppercase();
    PRIV.iter()
        .filter_map(|p| Some((p.0?, p.2)))
        .chain(PRIV_REEDER)
        .find(|p| p.1.contains(&n.as_str()))
        .map(|p| p.0)
}

/// The shortest SNMPv3 password RFC 3414 (11.2) allows; agents (net-snmp) refuse
/// shorter ones, which would otherwise show as a wrong digest.
pub const MIN_PASSWORD: usize = 8;

/// Refuses a password under [`MIN_PASSWORD`] characters, naming `what` (never the
/// password).
pub fn check_password(what: &str, p: &crate::credentials::secret::Secret) -> Result<(), String> {
    let n = p.expose().chars().count();
    if n < MIN_PASSWORD {
        return Err(format!(
            "{what}: {n} characters; SNMPv3 passwords have at least {MIN_PASSWORD} (RFC 3414)"
        ));
    }
    Ok(())
}

/// The `-a` names, for messages.
pub const AUTH_CLI: &str = "MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512";
/// The `-x` names, for messages.
pub const PRIV_CLI: &str = "DES, 3DES, AES, AES192, AES256, AES192C or AES256C";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_name_the_same_protocols() {
        for (p, mib, cli) in AUTH {
            assert_eq!(auth_by_mib_name(mib), Some(p));
            for c in cli {
                assert_eq!(auth_by_cli_name(&c.to_lowercase()), p);
            }
        }
        assert_eq!(
            priv_by_mib_name("usmAesCfb256Protocol", KeyExtension::Reeder),
            Some(Some(PrivProto::Aes256(KeyExtension::Reeder)))
        );
        assert_eq!(
            priv_by_cli_name("aes192c"),
            Some(PrivProto::Aes192(KeyExtension::Reeder))
        );
        assert_eq!(priv_by_cli_name("AES"), Some(PrivProto::Aes128));
        assert_eq!(priv_by_cli_name("rot13"), None);
        assert_eq!(auth_by_mib_name("usmHMACMD4"), None);
    }

    #[test]
    fn passwords_under_eight_characters_are_refused_without_quoting_them() {
        use crate::credentials::secret::Secret;
        let e = check_password("authKey", &Secret::new("s3cr3t")).unwrap_err();
        assert_eq!(
            e,
            "authKey: 6 characters; SNMPv3 passwords have at least 8 (RFC 3414)"
        );
        assert!(check_password("privKey", &Secret::new("12345678")).is_ok());
    }
}
