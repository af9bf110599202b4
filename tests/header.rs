//! The committed C header must be exactly what cbindgen generates from the
//! current source. `MPIPC_BLESS_HEADER=1 cargo test --test header` (or
//! `make header`) rewrites it.

use std::path::Path;

#[test]
fn committed_header_is_fresh() {
    // The C library crate (capi/, which declares this test) is what
    // cbindgen reads; the header lives at the repository root.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("capi/cbindgen.toml");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut fresh);
    let path = crate_dir.join("../include/mpipc.h");
    if std::env::var_os("MPIPC_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(committed == fresh, "include/mpipc.h is stale: run `make header` and commit the result");
}
