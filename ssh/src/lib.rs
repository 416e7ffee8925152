//! ksocket's SSH client, sans-IO (see docs/architecture.md, "SSH client").

pub mod keys;
pub mod wire;
pub mod cipher;
pub mod kex;
pub mod transport;
pub mod auth;
pub mod channel;
pub mod client;
