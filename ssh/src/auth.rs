//! User authentication messages (RFC 4252, RFC 4256 keyboard-interactive, RFC 8308
//! EXT_INFO): what the client sends, built here, and what the server answers, parsed
//! here with every length and count bounded. The state machine that uses them is in
//! `client`.

use crate::wire::{Malformed, Reader, Write};
use zeroize::Zeroizing;

pub const MSG_SERVICE_REQUEST: u8 = 5;
pub const MSG_SERVICE_ACCEPT: u8 = 6;
pub const MSG_EXT_INFO: u8 = 7;
pub const MSG_USERAUTH_REQUEST: u8 = 50;
pub const MSG_USERAUTH_FAILURE: u8 = 51;
pub const MSG_USERAUTH_SUCCESS: u8 = 52;
pub const MSG_USERAUTH_BANNER: u8 = 53;
/// PASSWD_CHANGEREQ (password), PK_OK (publickey) or INFO_REQUEST (keyboard-interactive):
/// the method in progress says which.
pub const MSG_USERAUTH_60: u8 = 60;
pub const MSG_USERAUTH_INFO_RESPONSE: u8 = 61;

pub const SERVICE_USERAUTH: &str = "ssh-userauth";
pub const SERVICE_CONNECTION: &str = "ssh-connection";

/// The most method names kept from a USERAUTH_FAILURE (OpenSSH sends at most 6).
pub const MAX_METHODS: usize = 16;
/// The longest method name kept.
pub const MAX_METHOD_LEN: usize = 64;
/// The longest banner kept (a longer one is cut, on a character boundary).
pub const MAX_BANNER: usize = 4096;
/// The most prompts one keyboard-interactive round may hold.
pub const MAX_PROMPTS: usize = 16;
/// The longest prompt, name or instruction kept.
pub const MAX_PROMPT_LEN: usize = 1024;
/// The most server-sig-algs names kept.
pub const MAX_SIG_ALGS: usize = 32;

/// A secret payload (it holds a password or answers): zeroed when dropped.
pub type Secret = Zeroizing<Vec<u8>>;

/// SERVICE_REQUEST.
pub fn service_request(name: &str) -> Vec<u8> {
    let mut b = vec![MSG_SERVICE_REQUEST];
    b.put_string(name.as_bytes());
    b
}

fn request_head(user: &str, method: &str) -> Vec<u8> {
    let mut b = vec![MSG_USERAUTH_REQUEST];
    b.put_string(user.as_bytes());
    b.put_string(SERVICE_CONNECTION.as_bytes());
    b.put_string(method.as_bytes());
    b
}

/// USERAUTH_REQUEST "none": asks which methods the server accepts.
pub fn request_none(user: &str) -> Vec<u8> {
    request_head(user, "none")
}

/// USERAUTH_REQUEST "password" (RFC 4252 §8).
pub fn request_password(user: &str, password: &[u8]) -> Secret {
    let mut b = Zeroizing::new(request_head(user, "password"));
    b.put_bool(false);
    b.put_string(password);
    b
}

/// USERAUTH_REQUEST "keyboard-interactive" (RFC 4256 §3.1), no language, no submethods.
pub fn request_keyboard_interactive(user: &str) -> Vec<u8> {
    let mut b = request_head(user, "keyboard-interactive");
    b.put_string(b"");
    b.put_string(b"");
    b
}

/// The data a publickey signature covers (RFC 4252 §7).
pub fn publickey_signed_data(
    session_id: &[u8],
    user: &str,
    algorithm: &str,
    blob: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(session_id.len() + blob.len() + 128);
    b.put_string(session_id);
    b.extend_from_slice(&publickey_body(user, algorithm, blob));
    b
}

fn publickey_body(user: &str, algorithm: &str, blob: &[u8]) -> Vec<u8> {
    let mut b = request_head(user, "publickey");
    b.put_bool(true);
    b.put_string(algorithm.as_bytes());
    b.put_string(blob);
    b
}

/// USERAUTH_REQUEST "publickey" with its signature (RFC 4252 §7). `signature` is the
/// SSH encoding (string algorithm, string blob).
pub fn request_publickey(user: &str, algorithm: &str, blob: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut b = publickey_body(user, algorithm, blob);
    b.put_string(signature);
    b
}

/// USERAUTH_INFO_RESPONSE with these answers.
pub fn info_response(answers: &[&[u8]]) -> Secret {
    let mut b = Zeroizing::new(vec![MSG_USERAUTH_INFO_RESPONSE]);
    b.put_u32(answers.len() as u32);
    for a in answers {
        b.put_string(a);
    }
    b
}

/// A string the peer sent, as text: invalid UTF-8 replaced, control characters other
/// than newline and tab dropped (it may be logged or shown), cut at `max` bytes.
pub fn text(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::new();
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

fn expect(r: &mut Reader<'_>, code: u8, what: &'static str) -> Result<(), Malformed> {
    if r.u8(what)? != code {
        return Err(Malformed(what));
    }
    Ok(())
}

/// SERVICE_ACCEPT: the service's name.
pub fn parse_service_accept(p: &[u8]) -> Result<&str, Malformed> {
    let mut r = Reader::new(p);
    expect(&mut r, MSG_SERVICE_ACCEPT, "service accept")?;
    r.utf8("service accept name")
}

/// USERAUTH_FAILURE: the methods that can continue, and partial success.
pub fn parse_failure(p: &[u8]) -> Result<(Vec<String>, bool), Malformed> {
    let mut r = Reader::new(p);
    expect(&mut r, MSG_USERAUTH_FAILURE, "userauth failure")?;
    let list = r.name_list("userauth failure methods")?;
    let partial = r.bool("userauth failure partial")?;
    let methods = list
        .iter()
        .filter(|m| m.len() <= MAX_METHOD_LEN)
        .take(MAX_METHODS)
        .map(str::to_owned)
        .collect();
    Ok((methods, partial))
}

/// USERAUTH_BANNER: the message, as text, cut at [`MAX_BANNER`].
pub fn parse_banner(p: &[u8]) -> Result<String, Malformed> {
    let mut r = Reader::new(p);
    expect(&mut r, MSG_USERAUTH_BANNER, "userauth banner")?;
    let msg = r.string("userauth banner message")?;
    // The language tag is optional in practice (some servers leave it out).
    Ok(text(msg, MAX_BANNER))
}

/// One keyboard-interactive round (USERAUTH_INFO_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    pub name: String,
    pub instruction: String,
    /// Each prompt and whether the answer may be echoed.
    pub prompts: Vec<(String, bool)>,
}

/// USERAUTH_INFO_REQUEST (RFC 4256 §3.2); more than [`MAX_PROMPTS`] prompts is refused.
pub fn parse_info_request(p: &[u8]) -> Result<InfoRequest, Malformed> {
    let mut r = Reader::new(p);
    expect(&mut r, MSG_USERAUTH_60, "info request")?;
    let name = text(r.string("info request name")?, MAX_PROMPT_LEN);
    let instruction = text(r.string("info request instruction")?, MAX_PROMPT_LEN);
    r.string("info request language")?;
    let n = r.u32("info request prompt count")? as usize;
    if n > MAX_PROMPTS {
        return Err(Malformed("info request: too many prompts"));
    }
    let mut prompts = Vec::with_capacity(n);
    for _ in 0..n {
        let prompt = text(r.string("info request prompt")?, MAX_PROMPT_LEN);
        let echo = r.bool("info request echo")?;
        prompts.push((prompt, echo));
    }
    Ok(InfoRequest {
        name,
        instruction,
        prompts,
    })
}

/// EXT_INFO (RFC 8308 §2.3): the value of "server-sig-algs" if present.
pub fn parse_ext_info(p: &[u8]) -> Result<Option<Vec<String>>, Malformed> {
    let mut r = Reader::new(p);
    expect(&mut r, MSG_EXT_INFO, "ext info")?;
    let n = r.u32("ext info count")?;
    let mut sig_algs = None;
    for _ in 0..n {
        let name = r.string("ext info name")?;
        let value = r.string("ext info value")?;
        if name == b"server-sig-algs" {
            let list = core::str::from_utf8(value).map_err(|_| Malformed("server-sig-algs"))?;
            sig_algs = Some(
                list.split(',')
                    .filter(|a| !a.is_empty() && a.len() <= MAX_METHOD_LEN)
                    .take(MAX_SIG_ALGS)
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    Ok(sig_algs)
}

/// The answers to one keyboard-interactive round: the password to every prompt that
/// mentions a password (any case), an empty answer to any other.
pub fn answer_prompts(req: &InfoRequest, password: &[u8]) -> Secret {
    let answers: Vec<&[u8]> = req
        .prompts
        .iter()
        .map(|(p, _)| {
            if p.to_ascii_lowercase().contains("password") {
                password
            } else {
                &b""[..]
            }
        })
        .collect();
    info_response(&answers)
}

/// The signature algorithms to try for a key, best first. For RSA: the first rsa-sha2
/// algorithm (in the key's order) the server announced in server-sig-algs, or
/// rsa-sha2-512 when it announced nothing; then "ssh-rsa" (SHA-1) only when `legacy`
/// allows it and the server offered it or announced nothing. Other keys have one
/// algorithm, always tried.
pub fn signature_algorithms(
    key_algorithms: &[&'static str],
    server_sig_algs: Option<&[String]>,
    legacy: bool,
) -> Vec<&'static str> {
    let offered = |a: &str| server_sig_algs.is_none_or(|s| s.iter().any(|x| x == a));
    let mut out = Vec::new();
    let mut rsa2 = false;
    for &a in key_algorithms {
        match a {
            "ssh-rsa" => {
                if legacy && offered(a) {
                    out.push(a);
                }
            }
            "rsa-sha2-512" | "rsa-sha2-256" => {
                if !rsa2 && offered(a) {
                    out.push(a);
                    rsa2 = true;
                }
            }
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_as_rfc_4252() {
        let b = request_none("root");
        let mut r = Reader::new(&b);
        assert_eq!(r.u8("").unwrap(), 50);
        assert_eq!(r.utf8("").unwrap(), "root");
        assert_eq!(r.utf8("").unwrap(), "ssh-connection");
        assert_eq!(r.utf8("").unwrap(), "none");
        assert!(r.is_empty());

        let b = request_password("u", b"pw");
        let mut r = Reader::new(&b);
        r.u8("").unwrap();
        r.string("").unwrap();
        r.string("").unwrap();
        assert_eq!(r.utf8("").unwrap(), "password");
        assert!(!r.bool("").unwrap());
        assert_eq!(r.string("").unwrap(), b"pw");
        assert!(r.is_empty());

        let b = request_keyboard_interactive("u");
        let mut r = Reader::new(&b);
        r.u8("").unwrap();
        r.string("").unwrap();
        r.string("").unwrap();
        assert_eq!(r.utf8("").unwrap(), "keyboard-interactive");
        assert_eq!(r.string("").unwrap(), b"");
        assert_eq!(r.string("").unwrap(), b"");
        assert!(r.is_empty());

        assert_eq!(
            service_request("ssh-userauth"),
            b"\x05\0\0\0\x0cssh-userauth"
        );
    }

    #[test]
    fn publickey_signature_covers_session_id_and_request() {
        let data = publickey_signed_data(b"SID", "u", "ssh-ed25519", b"BLOB");
        let req = request_publickey("u", "ssh-ed25519", b"BLOB", b"SIG");
        // The signed data is string(session id) then the request without signature.
        assert_eq!(&data[..7], b"\0\0\0\x03SID");
        assert_eq!(&data[7..], &req[..req.len() - 7]);
        let mut r = Reader::new(&req);
        assert_eq!(r.u8("").unwrap(), 50);
        r.string("").unwrap();
        r.string("").unwrap();
        assert_eq!(r.utf8("").unwrap(), "publickey");
        assert!(r.bool("").unwrap());
        assert_eq!(r.utf8("").unwrap(), "ssh-ed25519");
        assert_eq!(r.string("").unwrap(), b"BLOB");
        assert_eq!(r.string("").unwrap(), b"SIG");
        assert!(r.is_empty());
    }

    #[test]
    fn failure_and_banner_parse_bounded() {
        let mut b = vec![51];
        b.put_name_list(["publickey", "password"]);
        b.put_bool(true);
        assert_eq!(
            parse_failure(&b).unwrap(),
            (vec!["publickey".into(), "password".into()], true)
        );
        assert!(parse_failure(&b[..b.len() - 1]).is_err());
        let many: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        let mut b = vec![51];
        b.put_name_list(many.iter().map(String::as_str));
        b.put_bool(false);
        assert_eq!(parse_failure(&b).unwrap().0.len(), MAX_METHODS);

        let mut b = vec![53];
        b.put_string(&vec![b'x'; 10_000]);
        assert_eq!(parse_banner(&b).unwrap().len(), MAX_BANNER);
        let mut b = vec![53];
        b.put_string(b"hi\x1b[31m\n");
        b.put_string(b"");
        assert_eq!(parse_banner(&b).unwrap(), "hi[31m\n");
    }

    fn info(prompts: &[(&str, bool)]) -> Vec<u8> {
        let mut b = vec![60];
        b.put_string(b"name");
        b.put_string(b"instr");
        b.put_string(b"");
        b.put_u32(prompts.len() as u32);
        for (p, e) in prompts {
            b.put_string(p.as_bytes());
            b.put_bool(*e);
        }
        b
    }

    #[test]
    fn keyboard_interactive_answers() {
        let req = parse_info_request(&info(&[("Password: ", false), ("Code: ", true)])).unwrap();
        assert_eq!(req.prompts.len(), 2);
        let resp = answer_prompts(&req, b"s3cret");
        let mut r = Reader::new(&resp);
        assert_eq!(r.u8("").unwrap(), 61);
        assert_eq!(r.u32("").unwrap(), 2);
        assert_eq!(r.string("").unwrap(), b"s3cret");
        assert_eq!(r.string("").unwrap(), b"");
        assert!(r.is_empty());
        let req = parse_info_request(&info(&[("root's PASSWORD:", false)])).unwrap();
        assert!(answer_prompts(&req, b"x").ends_with(b"\0\0\0\x01x"));
        let req = parse_info_request(&info(&[])).unwrap();
        assert_eq!(&answer_prompts(&req, b"x")[..], b"\x3d\0\0\0\0");
        // Too many prompts, or a count past the end.
        let many: Vec<(&str, bool)> = (0..17).map(|_| ("p", false)).collect();
        assert!(parse_info_request(&info(&many)).is_err());
        let mut b = info(&[]);
        let n = b.len();
        b[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_info_request(&b).is_err());
    }

    #[test]
    fn ext_info_and_rsa_choice() {
        let mut b = vec![7];
        b.put_u32(2);
        b.put_string(b"server-sig-algs");
        b.put_string(b"ssh-ed25519,rsa-sha2-256,rsa-sha2-512");
        b.put_string(b"publickey-hostbound@openssh.com");
        b.put_string(b"0");
        let algs = parse_ext_info(&b).unwrap().unwrap();
        assert_eq!(algs.len(), 3);
        let rsa: &[&'static str] = &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
        assert_eq!(
            signature_algorithms(rsa, Some(&algs), true),
            ["rsa-sha2-512"]
        );
        let only256 = vec!["rsa-sha2-256".to_string(), "ssh-rsa".to_string()];
        assert_eq!(
            signature_algorithms(rsa, Some(&only256), false),
            ["rsa-sha2-256"]
        );
        let old = vec!["ssh-rsa".to_string()];
        assert!(signature_algorithms(rsa, Some(&old), false).is_empty());
        assert_eq!(signature_algorithms(rsa, Some(&old), true), ["ssh-rsa"]);
        assert_eq!(signature_algorithms(rsa, None, false), ["rsa-sha2-512"]);
        assert_eq!(
            signature_algorithms(rsa, None, true),
            ["rsa-sha2-512", "ssh-rsa"]
        );
        assert_eq!(
            signature_algorithms(&["ssh-ed25519"], Some(&algs), false),
            ["ssh-ed25519"]
        );
        let mut b = vec![7];
        b.put_u32(3);
        assert!(parse_ext_info(&b).is_err());
    }
}
