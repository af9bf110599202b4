//! Build script: gives the shared library its soname.
//!
//! `libmpipc.so` is linked with `-Wl,-soname,libmpipc.so.<MAJOR>` (a
//! cdylib-only link argument, so the rlib, the staticlib, the binaries and
//! the tests are untouched), which is what `make install` needs to install
//! `libmpipc.so.0.1.0` with the `libmpipc.so.0` and `libmpipc.so` links
//! (docs/DECISIONS.md, "Packaging"). Doing it here, rather than with
//! `cargo rustc -- -C link-arg=...`, keeps one build: `cargo build --locked
//! --release` from the Makefile produces the library that gets installed.
//!
//! A program linked against a library with a soname looks for the soname
//! at run time, so the script also makes `libmpipc.so.<MAJOR>` ->
//! `libmpipc.so` next to the built library (target/<profile>/): the in-tree
//! C tests, examples and the Go binding, which link `-lmpipc` with an rpath
//! to target/<profile>, keep working without `make install`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let soname = format!("libmpipc.so.{major}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is <target>/<profile>/build/mpipc-<hash>/out: the library
    // lands three directories up.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let Some(profile_dir) = out_dir.ancestors().nth(3) else {
        println!("cargo:warning=unexpected OUT_DIR {}; not linking {soname}", out_dir.display());
        return;
    };
    let link = profile_dir.join(&soname);
    if std::fs::symlink_metadata(&link).is_ok() {
        return;
    }
    if let Err(e) = std::os::unix::fs::symlink("libmpipc.so", &link) {
        println!("cargo:warning=cannot create {}: {e}", link.display());
    }
}
