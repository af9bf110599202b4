//! Build script: gives the shared library its soname.
//!
//! `libmpipc_ffi.so` is linked with `-Wl,-soname,libmpipc.so.<MAJOR>` (a
//! cdylib-only link argument, so the rlib, the staticlib, the binaries and
//! the tests are untouched): whatever its file is called, a program linked
//! against it records `libmpipc.so.<MAJOR>`, the name `make install`, the
//! Debian package and the language packages install it under
//! (docs/DECISIONS.md, "Packaging"). Doing it here, rather than with
//! `cargo rustc -- -C link-arg=...`, keeps one build.
//!
//! Nothing is written outside OUT_DIR: the in-tree names next to the build
//! (libmpipc.so, libmpipc.so.0, libmpipc.a) are made by
//! scripts/link-outputs.sh, which the Makefile runs after cargo.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmpipc.so.{major}");
    }
}
