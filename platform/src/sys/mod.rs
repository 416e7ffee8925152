//! The operating system: files, netlink, packet sockets, random numbers. The Linux
//! system calls the agent makes live here.

pub mod files;
pub mod netlink;
pub mod packet;
pub mod random;
