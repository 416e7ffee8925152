//! Secrets (communities, passwords, tokens, keys) that cannot reach a log by mistake:
//! `Debug` and `Display` print `***`; the value is read only through `expose()`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Keys whose values are secrets, in ksocket.toml and credential files.
pub const SECRET_KEYS: [&str; 7] = [
    "token",
    "password",
    "passphrase",
    "community",
    "authKey",
    "privKey",
    "secret",
];

/// The secret key a TOML line assigns (`token = ...`, `"community" = ...`, or inside an
/// inline table `authData = { community = ... }`), if any.
fn secret_assigned(line: &str) -> Option<&'static str> {
    line.split(['{', ',']).find_map(|seg| {
        let (key, _) = seg.split_once('=')?;
        let last = key
            .trim()
            .rsplit('.')
            .next()?
            .trim()
            .trim_matches(['"', '\'']);
        SECRET_KEYS.iter().find(|k| **k == last).copied()
    })
}

/// The message of a TOML error (syntax or type) at byte `offset` of `text`, made safe:
/// when the line at fault assigns a secret, or the message quotes a value that some
/// line assigns to a secret, the message names the key and the kind of mistake but
/// never the value (serde quotes integers, floats and strings it did not expect).
pub fn redact_toml_error(text: &str, offset: usize, msg: &str) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let quoted = text.lines().filter_map(|l| {
        secret_assigned(l)?;
        let v = l
            .split_once('=')?
            .1
            .trim()
            .trim_matches(['"', '\'', '[', ']', '{', '}']);
        (!v.is_empty()).then_some(v)
    });
    let named = secret_assigned(line);
    let leaked = quoted.into_iter().any(|v| msg.contains(v));
    match (named, leaked) {
        (None, false) => msg.to_string(),
        (key, _) => format!(
            "invalid value for {} (not shown: it holds a secret; write it as a quoted string, \"...\")",
            key.map_or("a secret key".to_string(), |k| format!("`{k}`"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_about_secrets_never_quote_them() {
        for (text, at) in [
            ("community = 86753091\n", 12),
            ("[connect]\ntoken = 1.5e3\n", 18),
            ("password = [\"hunter2x\"]\n", 11),
            ("authData = { privKey = 42424242 }\n", 23),
            ("token = \"unterminated-tok\nport = 1\n", 26),
        ] {
            let msg = format!("invalid type: integer `86753091` {text}");
            let r = redact_toml_error(text, at, &msg);
            for v in [
                "86753091",
                "1.5e3",
                "hunter2x",
                "42424242",
                "unterminated-tok",
            ] {
                assert!(!r.contains(v), "{text:?}: {r}");
            }
            assert!(r.contains("secret"), "{r}");
        }
        // Other keys keep their message.
        let text = "port = \"https\"\ntoken = \"t0k\"\n";
        assert_eq!(redact_toml_error(text, 7, "invalid type"), "invalid type");
        // A message that quotes a secret assigned elsewhere is redacted too.
        assert!(!redact_toml_error(text, 7, "saw `t0k`").contains("t0k"));
    }

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("public-s3cret");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(s.expose(), "public-s3cret");
    }
}
