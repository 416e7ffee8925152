//! ksocket's SSH client, sans-IO (see docs/architecture.md, "SSH client").

pub mod auth;
pub mod channel;
pub mod cipher;
pub mod client;
pub mod kex;
pub mod keys;
pub mod known_hosts;
pub mod transport;
pub mod wire;
