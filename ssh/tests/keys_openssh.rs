//! Keys made by OpenSSH's ssh-keygen: every type, with and without a passphrase, in
//! each of its output formats; loaded, matched against the .pub file, signed with and
//! verified. Signatures are also crossed with OpenSSH through SSHSIG (`ssh-keygen -Y`):
//! we verify OpenSSH's, and OpenSSH verifies ours. Skipped (with a message) when
//! ssh-keygen is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use ksocket_ssh::keys::{KeyError, PrivateKey, PublicKey};
use ksocket_ssh::wire::{Reader, Write};

fn have_ssh_keygen() -> bool {
    let ok = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("SKIPPED: ssh-keygen is not installed (apt-get install openssh-client)");
    }
    ok
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "ksocket-ssh-keys-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generates a key; returns the private key file's path.
fn keygen(dir: &Path, name: &str, args: &[&str], pass: &str) -> PathBuf {
    let path = dir.join(name);
    run(Command::new("ssh-keygen")
        .args(["-q", "-C", "test@ksocket", "-N", pass, "-f"])
        .arg(&path)
        .args(args));
    path
}

fn pub_line(path: &Path) -> String {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    std::fs::read_to_string(p).unwrap()
}

fn check_key(path: &Path, pass: Option<&str>, what: &str) -> PrivateKey {
    let text = std::fs::read(path).unwrap();
    let key = PrivateKey::from_text(&text, pass.map(str::as_bytes))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let line = pub_line(path);
    let b64 = line.split_whitespace().nth(1).unwrap();
    assert_eq!(
        data_encoding::BASE64.encode(key.public().blob()),
        b64,
        "{what}: public blob"
    );
    let from_pub = PublicKey::from_openssh_line(&line).unwrap();
    assert_eq!(&from_pub, key.public());
    let debug = format!("{key:?}");
    assert!(debug.contains(&from_pub.fingerprint()), "{what}: {debug}");
    for alg in key.algorithms() {
        let sig = key.sign(alg, b"session id and userauth request").unwrap();
        assert_eq!(
            key.public()
                .verify(alg, b"session id and userauth request", &sig),
            Ok(()),
            "{what}: {alg}"
        );
        assert_eq!(
            key.public().verify(alg, b"something else", &sig),
            Err(KeyError::BadSignature),
            "{what}: {alg}"
        );
        // Deterministic signatures.
        assert_eq!(
            sig,
            key.sign(alg, b"session id and userauth request").unwrap()
        );
    }
    if pass.is_some() {
        assert_eq!(
            PrivateKey::from_text(&text, None).err(),
            Some(KeyError::NeedPassphrase),
            "{what}"
        );
        assert_eq!(
            PrivateKey::from_text(&text, Some(b"not the passphrase")).err(),
            Some(KeyError::WrongPassphrase),
            "{what}"
        );
    }
    key
}

const TYPES: &[(&str, &[&str])] = &[
    ("ed25519", &["-t", "ed25519"]),
    ("ecdsa", &["-t", "ecdsa", "-b", "256"]),
    ("rsa", &["-t", "rsa", "-b", "2048"]),
];

#[test]
fn every_type_and_format_loads_signs_and_verifies() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("formats");
    for (ty, args) in TYPES {
        for format in ["default", "PEM", "PKCS8"] {
            for pass in [None, Some("correct horse")] {
                let name = format!(
                    "{ty}-{format}-{}",
                    if pass.is_some() { "enc" } else { "plain" }
                );
                let mut a = args.to_vec();
                if format != "default" {
                    a.extend(["-m", format]);
                }
                let path = keygen(&dir.0, &name, &a, pass.unwrap_or(""));
                let text = std::fs::read_to_string(&path).unwrap();
                let first = text.lines().next().unwrap_or("");
                eprintln!("{name}: {first}");
                check_key(&path, pass, &name);
            }
        }
    }
}

#[test]
fn every_openssh_key_file_cipher() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("ciphers");
    for cipher in [
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
        "aes256-cbc",
        "aes128-cbc",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        let name = format!("ed25519-{}", cipher.replace('@', "_"));
        let path = keygen(
            &dir.0,
            &name,
            &["-t", "ed25519", "-Z", cipher, "-a", "4"],
            "pw",
        );
        check_key(&path, Some("pw"), &name);
    }
    // The bcrypt rounds bound: a file asking for more is refused, not run.
    let path = keygen(
        &dir.0,
        "many-rounds",
        &["-t", "ed25519", "-a", "2000"],
        "pw",
    );
    let text = std::fs::read(&path).unwrap();
    assert!(matches!(
        PrivateKey::from_text(&text, Some(b"pw")),
        Err(KeyError::Unsupported(_))
    ));
}

/// SSHSIG (OpenSSH's PROTOCOL.sshsig): what is signed for a message.
fn sshsig_signed_data(namespace: &str, message: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut d = b"SSHSIG".to_vec();
    d.put_string(namespace.as_bytes());
    d.put_string(b"");
    d.put_string(b"sha512");
    d.put_string(&sha2::Sha512::digest(message));
    d
}

fn sshsig_armor(public: &PublicKey, namespace: &str, signature: &[u8]) -> String {
    let mut b = b"SSHSIG".to_vec();
    b.put_u32(1);
    b.put_string(public.blob());
    b.put_string(namespace.as_bytes());
    b.put_string(b"");
    b.put_string(b"sha512");
    b.put_string(signature);
    let b64 = data_encoding::BASE64.encode(&b);
    let mut s = String::from("-----BEGIN SSH SIGNATURE-----\n");
    for chunk in b64.as_bytes().chunks(70) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str("-----END SSH SIGNATURE-----\n");
    s
}

#[test]
fn signatures_cross_with_openssh() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("sshsig");
    let message = b"a message for ssh-keygen -Y\n";
    let msg_path = dir.0.join("message");
    std::fs::write(&msg_path, message).unwrap();
    for (ty, args) in TYPES {
        let path = keygen(&dir.0, ty, args, "");
        let key = check_key(&path, None, ty);

        // OpenSSH signs, we verify.
        run(Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", "test", "-f"])
            .arg(&path)
            .arg(&msg_path));
        let armored = std::fs::read_to_string(dir.0.join("message.sig")).unwrap();
        let b64: String = armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let raw = data_encoding::BASE64.decode(b64.as_bytes()).unwrap();
        let mut r = Reader::new(raw.strip_prefix(b"SSHSIG").unwrap());
        assert_eq!(r.u32("version").unwrap(), 1);
        assert_eq!(r.string("pk").unwrap(), key.public().blob());
        assert_eq!(r.string("ns").unwrap(), b"test");
        r.string("reserved").unwrap();
        assert_eq!(r.string("hash").unwrap(), b"sha512");
        let sig = r.string("sig").unwrap();
        let alg = Reader::new(sig).utf8("alg").unwrap().to_string();
        let signed = sshsig_signed_data("test", message);
        assert_eq!(
            key.public().verify(&alg, &signed, sig),
            Ok(()),
            "{ty}: OpenSSH's {alg}"
        );
        assert_eq!(
            key.public().verify(&alg, b"other", sig),
            Err(KeyError::BadSignature)
        );

        // We sign, OpenSSH verifies (each algorithm the key has).
        let allowed = dir.0.join("allowed_signers");
        std::fs::write(
            &allowed,
            format!("me@ksocket {}\n", key.public().to_openssh_line()),
        )
        .unwrap();
        for alg in key.algorithms() {
            let ours = key.sign(alg, &signed).unwrap();
            let sig_path = dir.0.join(format!("ours-{ty}-{alg}.sig"));
            std::fs::write(&sig_path, sshsig_armor(key.public(), "test", &ours)).unwrap();
            let out = Command::new("ssh-keygen")
                .args(["-Y", "verify", "-n", "test", "-I", "me@ksocket", "-f"])
                .arg(&allowed)
                .arg("-s")
                .arg(&sig_path)
                .stdin(std::fs::File::open(&msg_path).unwrap())
                .output()
                .unwrap();
            // OpenSSH refuses SHA-1 RSA signatures for SSHSIG; every other must pass.
            if *alg == "ssh-rsa" {
                continue;
            }
            assert!(
                out.status.success(),
                "{ty} {alg}: ssh-keygen -Y verify: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::remove_file(dir.0.join("message.sig")).unwrap();
    }
}

#[test]
fn garbage_and_truncations_are_errors_not_panics() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("garbage");
    for (ty, args) in TYPES {
        for pass in ["", "pw"] {
            let path = keygen(&dir.0, &format!("{ty}{pass}"), args, pass);
            let text = std::fs::read(&path).unwrap();
            for cut in (0..text.len()).step_by(37) {
                let _ = PrivateKey::from_text(&text[..cut], Some(b"pw"));
            }
        }
    }
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("SKIPPED: openssl is not installed");
    }
    ok
}

fn openssl(args: &[&str]) {
    run(Command::new("openssl").args(args).stderr(Stdio::null()));
}

/// Loads `path` (with `pass`), signs and verifies, checks the wrong passphrase, and
/// returns the key.
fn check_openssl_key(path: &Path, pass: Option<&str>, what: &str) -> PrivateKey {
    let text = std::fs::read(path).unwrap();
    let key = PrivateKey::from_text(&text, pass.map(str::as_bytes))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    for alg in key.algorithms() {
        let sig = key.sign(alg, b"data").unwrap();
        assert_eq!(
            key.public().verify(alg, b"data", &sig),
            Ok(()),
            "{what} {alg}"
        );
    }
    if pass.is_some() {
        assert_eq!(
            PrivateKey::from_text(&text, None).err(),
            Some(KeyError::NeedPassphrase)
        );
        assert_eq!(
            PrivateKey::from_text(&text, Some(b"wrong")).err(),
            Some(KeyError::WrongPassphrase),
            "{what}"
        );
    }
    key
}

/// What ssh-keygen derives as the public key of an OpenSSL-written file.
fn ssh_keygen_public(path: &Path, pass: &str) -> PublicKey {
    let out = run(Command::new("ssh-keygen")
        .args(["-y", "-P", pass, "-f"])
        .arg(path));
    PublicKey::from_openssh_line(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

#[test]
fn openssl_written_keys() {
    if !have_ssh_keygen() || !have_openssl() {
        return;
    }
    let dir = TempDir::new("openssl");
    let p = |n: &str| dir.0.join(n).to_str().unwrap().to_string();

    // Ed25519 in PKCS#8 (ssh-keygen 9 does not write it), plain and PBES2.
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", &p("ed.pem")]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &p("ed.pem"),
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:pw",
        "-out",
        &p("ed-enc.pem"),
    ]);
    openssl(&[
        "pkey",
        "-in",
        &p("ed.pem"),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        &p("ed.pub.der"),
    ]);
    let spki = std::fs::read(p("ed.pub.der")).unwrap();
    let raw = &spki[spki.len() - 32..];
    for (file, pass) in [("ed.pem", None), ("ed-enc.pem", Some("pw"))] {
        let key = check_openssl_key(Path::new(&p(file)), pass, file);
        assert_eq!(
            &key.public().blob()[key.public().blob().len() - 32..],
            raw,
            "{file}"
        );
    }

    // Traditional PEM with AES-256-CBC and AES-192-CBC (ssh-keygen writes AES-128).
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &p("ec.pem"),
    ]);
    openssl(&[
        "ec",
        "-in",
        &p("ec.pem"),
        "-aes256",
        "-passout",
        "pass:pw",
        "-out",
        &p("ec-trad.pem"),
    ]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &p("rsa.pem"),
    ]);
    openssl(&[
        "rsa",
        "-in",
        &p("rsa.pem"),
        "-traditional",
        "-aes192",
        "-passout",
        "pass:pw",
        "-out",
        &p("rsa-trad.pem"),
    ]);
    // PKCS#8 with scrypt (OpenSSL's default cost: 16 MiB).
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &p("rsa.pem"),
        "-scrypt",
        "-passout",
        "pass:pw",
        "-out",
        &p("rsa-scrypt.pem"),
    ]);
    for (file, pass) in [
        ("ec.pem", None),
        ("ec-trad.pem", Some("pw")),
        ("rsa.pem", None),
        ("rsa-trad.pem", Some("pw")),
    ] {
        let key = check_openssl_key(Path::new(&p(file)), pass, file);
        assert_eq!(
            key.public(),
            &ssh_keygen_public(Path::new(&p(file)), pass.unwrap_or(""))
        );
    }
    // scrypt is refused by name, with the way out (and before asking for a passphrase
    // would help: the right one gives the same answer).
    let text = std::fs::read(p("rsa-scrypt.pem")).unwrap();
    match PrivateKey::from_text(&text, Some(b"pw")) {
        Err(KeyError::Unsupported(m)) => {
            assert!(m.contains("scrypt") && m.contains("ssh-keygen -p"), "{m}");
        }
        other => panic!("scrypt: {:?}", other.map(|k| k.public().clone())),
    }

    // PBES2 with both PRFs and every AES key size we read (OpenSSL's default is
    // hmacWithSHA256 and AES-256-CBC).
    for (cipher, prf) in [
        ("aes-128-cbc", "hmacWithSHA1"),
        ("aes-192-cbc", "hmacWithSHA256"),
        ("aes-256-cbc", "hmacWithSHA256"),
    ] {
        let file = format!("ec-{cipher}-{prf}.pem");
        openssl(&[
            "pkcs8",
            "-topk8",
            "-in",
            &p("ec.pem"),
            "-v2",
            cipher,
            "-v2prf",
            prf,
            "-passout",
            "pass:pw",
            "-out",
            &p(&file),
        ]);
        let key = check_openssl_key(Path::new(&p(&file)), Some("pw"), &file);
        assert_eq!(key.public(), &ssh_keygen_public(Path::new(&p(&file)), "pw"));
    }
    // Refused by name: PBES1, other PBES2 ciphers and PRFs (hmacWithSHA512 too: left
    // out to save size), too many iterations.
    for (file, args, what) in [
        (
            "pbes1.pem",
            &["-v1", "PBE-SHA1-3DES"][..],
            "scheme 1.2.840.113549.1.12.1.3",
        ),
        ("des3.pem", &["-v2", "des3"], "cipher 1.2.840.113549.3.7"),
        (
            "sha224.pem",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA224"],
            "PBKDF2 PRF 1.2.840.113549.2.8",
        ),
        (
            "sha512.pem",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA512"],
            "PBKDF2 PRF 1.2.840.113549.2.11",
        ),
        (
            "iter.pem",
            &["-v2", "aes-128-cbc", "-iter", "1000001"],
            "1000001 iterations",
        ),
    ] {
        let ec = p("ec.pem");
        let mut a = vec!["pkcs8", "-topk8", "-in", &ec];
        a.extend_from_slice(args);
        let out = p(file);
        a.extend_from_slice(&["-passout", "pass:pw", "-out", &out]);
        openssl(&a);
        let text = std::fs::read(&out).unwrap();
        match PrivateKey::from_text(&text, Some(b"pw")) {
            Err(KeyError::Unsupported(m)) => assert!(m.contains(what), "{file}: {m}"),
            other => panic!("{file}: {:?}", other.map(|k| k.public().clone())),
        }
    }

    // Other curves: refused as unsupported, by name.
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-out",
        &p("ec384.pem"),
    ]);
    let text = std::fs::read(p("ec384.pem")).unwrap();
    assert!(matches!(
        PrivateKey::from_text(&text, None),
        Err(KeyError::Unsupported(_))
    ));
}
