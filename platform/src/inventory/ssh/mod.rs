//! The SSH collector: OS and packages of Linux hosts, over ksocket's own SSH client
//! (the `ksocket-ssh` crate, sans-IO; `session` drives it over sockets).

pub mod collector;
pub mod commands;
pub mod known;
pub mod session;
