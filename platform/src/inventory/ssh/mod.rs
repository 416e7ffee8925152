//! The SSH collector: OS and packages of Linux hosts, over ksocket's own SSH client
//! (the `ksocket-ssh` crate, sans-IO; `session` drives it over sockets).

pub mod commands;
pub mod session;
// Declared once the session driver and known_hosts land (helpers at work):
// pub mod collector;
// pub mod known;
