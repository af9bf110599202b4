//! Version agreement (issue 10): every place that states the package
//! version says Cargo.toml's version.
//!
//! - the header's `MP_VERSION_MAJOR/MINOR/PATCH/NUMBER` macros,
//! - `mp_version()` and `mp_version_number()` (called through the crate),
//! - the pkg-config file and the CMake version file, rendered by
//!   `scripts/install.sh --render-only` exactly as `make install` writes
//!   them (the install test checks the installed copies again),
//! - bindings/node/package.json, bindings/python/pyproject.toml and the Go
//!   binding's `BindingVersion` constant.
//!
//! Each check reads the file as text, so a failure names the file to fix.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository root (this test is declared by capi/Cargo.toml).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("capi/ has a parent")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The value on the first line of `text` that starts with `prefix`,
/// without a trailing `,` or `)` and surrounding quotes.
fn find_value(text: &str, prefix: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| l.starts_with(prefix))?;
    Some(line[prefix.len()..].trim().trim_end_matches([',', ')']).trim().trim_matches('"').to_owned())
}

/// [`find_value`], failing the test (naming `what`) when there is no such line.
fn value_after(text: &str, prefix: &str, what: &str) -> String {
    find_value(text, prefix).unwrap_or_else(|| panic!("{what}: no line starting with {prefix:?}"))
}

fn parts() -> (u32, u32, u32) {
    let v: Vec<u32> = VERSION.split('.').map(|p| p.parse().expect("numeric version")).collect();
    assert_eq!(v.len(), 3, "Cargo.toml version {VERSION} is not MAJOR.MINOR.PATCH");
    (v[0], v[1], v[2])
}

#[test]
fn header_macros_agree() {
    let h = read("include/mpipc.h");
    let (major, minor, patch) = parts();
    let number = major * 1_000_000 + minor * 1000 + patch;
    for (name, want) in [
        ("MP_VERSION_MAJOR", major),
        ("MP_VERSION_MINOR", minor),
        ("MP_VERSION_PATCH", patch),
        ("MP_VERSION_NUMBER", number),
    ] {
        let got = value_after(&h, &format!("#define {name} "), "include/mpipc.h");
        assert_eq!(got, want.to_string(), "include/mpipc.h: {name}");
    }
}

#[test]
fn runtime_agrees() {
    let (major, minor, patch) = parts();
    assert_eq!(mpipc_ffi::version::mp_version_number(), major * 1_000_000 + minor * 1000 + patch);
    // SAFETY: mp_version returns a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(mpipc_ffi::version::mp_version()) };
    assert_eq!(s.to_str().unwrap(), VERSION, "mp_version()");
    assert_eq!(mpipc::VERSION, VERSION);
}

#[test]
fn bindings_agree() {
    let node = read("bindings/node/package.json");
    assert_eq!(value_after(&node, "\"version\":", "package.json"), VERSION, "bindings/node/package.json");
    let py = read("bindings/python/pyproject.toml");
    assert_eq!(value_after(&py, "version =", "pyproject.toml"), VERSION, "bindings/python/pyproject.toml");
    let go = read("bindings/go/version.go");
    assert_eq!(value_after(&go, "const BindingVersion =", "version.go"), VERSION, "bindings/go/version.go");
}

#[test]
fn pkg_config_and_cmake_files_agree() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("versions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new("bash")
        .arg(root().join("scripts/install.sh"))
        .arg("--render-only")
        .arg(&dir)
        .arg("/usr/local")
        .output()
        .expect("run scripts/install.sh");
    assert!(out.status.success(), "install.sh --render-only: {}", String::from_utf8_lossy(&out.stderr));
    let rd = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let pc = rd("lib/pkgconfig/mpipc.pc");
    assert_eq!(value_after(&pc, "Version:", "mpipc.pc"), VERSION, "mpipc.pc");
    let cv = rd("lib/cmake/mpipc/mpipcConfigVersion.cmake");
    assert_eq!(value_after(&cv, "set(PACKAGE_VERSION ", "mpipcConfigVersion.cmake"), VERSION);
    let cfg = rd("lib/cmake/mpipc/mpipcConfig.cmake");
    assert_eq!(value_after(&cfg, "set(mpipc_VERSION ", "mpipcConfig.cmake"), VERSION);
    assert!(cfg.contains(&format!("libmpipc.so.{VERSION}\"")), "mpipcConfig.cmake names the library file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_disagreement_is_detected() {
    // The parser must not accept a wrong version by reading the wrong line.
    let fake = "{\n  \"name\": \"mpipc\",\n  \"version\": \"9.9.9\",\n}";
    assert_eq!(find_value(fake, "\"version\":").as_deref(), Some("9.9.9"));
    assert_eq!(find_value("set(PACKAGE_VERSION \"1.2.3\")", "set(PACKAGE_VERSION ").as_deref(), Some("1.2.3"));
    assert_eq!(find_value("nothing here", "Version:"), None, "a missing line must fail the check");
}
