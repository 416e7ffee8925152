//! Drives the sans-IO SSH client over a socket (being written).
