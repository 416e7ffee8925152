//! The operating system: files, netlink, packet sockets, random numbers. The Linux
//! system calls the agent makes live here.

pub mod files;
pub mod net;
pub mod netlink;
pub mod packet;
pub mod ping;
pub mod probe;
pub mod random;
pub mod signals;
