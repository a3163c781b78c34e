//! Release builds of the `ferrica` binary on x86_64 Linux hand `build/hot-symbols.txt` (written by
//! `scripts/symbol-order.sh`) to the linker, which then places the functions that everyday runs execute side by side.
//! The kernel maps code in windows of 64 KiB or more around each page touched, so packing the hot functions together
//! keeps most of the binary out of memory: `serve` idles in less memory and a CLI run touches fewer pages.
//!
//! Only rustc's default linker there (rust-lld, from Rust 1.90) is known to take the option; with an older rustc, a
//! configured linker or `FERRICA_NO_SYMBOL_ORDER=1`, the binary is linked in the default order.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=FERRICA_NO_SYMBOL_ORDER");
    let file = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("build/hot-symbols.txt");
    if wants_order() && file.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        // Names from another build (a different Cargo.lock or rustc) are skipped, not warned about one by one.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

fn wants_order() -> bool {
    let var = |k: &str| env::var(k).unwrap_or_default();
    if var("FERRICA_NO_SYMBOL_ORDER") == "1" || var("PROFILE") != "release" {
        return false;
    }
    if var("TARGET") != "x86_64-unknown-linux-gnu" {
        return false;
    }
    // A linker chosen by the user (cargo config, CARGO_TARGET_*_LINKER or -C linker / -C link-arg) may be GNU ld.
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    if !var("RUSTC_LINKER").is_empty() || flags.contains("linker") || flags.contains("fuse-ld") {
        return false;
    }
    rustc_minor().is_some_and(|minor| minor >= 90)
}

/// The minor version of the rustc that builds this (1.N.x).
fn rustc_minor() -> Option<u32> {
    let out = Command::new(env::var("RUSTC").ok()?).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.split('.').nth(1)?.parse().ok()
}
