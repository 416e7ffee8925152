//! TLS for `serve`: the operator's certificate and key, or a self-signed certificate
//! made once and kept in the data directory. rustls with the ring provider only.

use crate::util::sha256_hex;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("making a certificate: {0}")]
    Make(String),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// What serve needs: the configuration, and the certificate's SHA-256 (of its DER,
/// lowercase hex: what agents pin with connect.pinnedSha256).
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub fingerprint: String,
    pub cert_file: PathBuf,
}

fn file_err(path: &Path, why: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

/// The given certificate and key, or DIR/tls/cert.pem and key.pem, made when absent.
pub fn load_or_make(
    data: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
    names: &[String],
) -> Result<Tls, TlsError> {
    let (cert_file, key_file) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf()),
        (None, None) => {
            let dir = data.join("tls");
            let c = dir.join("cert.pem");
            let k = dir.join("key.pem");
            if !c.exists() || !k.exists() {
                make(&dir, &c, &k, names)?;
            }
            (c, k)
        }
        _ => {
            return Err(TlsError::Make(
                "--tls-cert and --tls-key go together".into(),
            ));
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .map_err(|e| file_err(&cert_file, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(&cert_file, e))?;
    let first = certs
        .first()
        .ok_or_else(|| file_err(&cert_file, "no certificate in the file"))?;
    let fingerprint = sha256_hex(first.as_ref());
    let key = PrivateKeyDer::from_pem_file(&key_file).map_err(|e| file_err(&key_file, e))?;
    // ring, as chosen for the whole project (docs/controller.md); rustls 0.23.48
    // deprecates its constructor only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        cert_file,
    })
}

fn make(dir: &Path, cert: &Path, key: &Path, names: &[String]) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    for n in names {
        if !sans.contains(n) && !n.is_empty() && n != "0.0.0.0" && n != "::" {
            sans.push(n.clone());
        }
    }
    let made =
        rcgen::generate_simple_self_signed(sans).map_err(|e| TlsError::Make(e.to_string()))?;
    write_private(key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, made.cert.pem()).map_err(|e| file_err(cert, e))?;
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| file_err(path, e))?;
    f.write_all(data).map_err(|e| file_err(path, e))
}
