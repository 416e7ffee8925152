//! What a scan needs loaded once: the credential store of the configuration (which
//! `main` reads once per process).

use crate::config::{self, Config};
use crate::credentials::Store;
use std::path::PathBuf;

pub struct Context {
    pub credentials: Store,
}

impl Context {
    /// The context of `config` (read once by `main`): every credential file of its
    /// credentials directory, read, decrypted and parsed once. A broken credential
    /// file is a problem of the store, said by whoever uses it.
    pub fn new(config: &Config) -> Context {
        let dir = PathBuf::from(config::expand(&config.directories.credentials));
        Context {
            credentials: Store::load(&dir),
        }
    }
}
