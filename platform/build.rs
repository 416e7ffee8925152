//! Records the target triple and the build profile for `ksocket version`; relinks when
//! targets/hot-text.ld changes.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=KSOCKET_TARGET={target}");
    println!("cargo:rustc-env=KSOCKET_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
    // The static builds link with this script (targets/*-musl*.toml), a file cargo
    // does not track: a new one must relink.
    println!("cargo:rerun-if-changed=../targets/hot-text.ld");
}
