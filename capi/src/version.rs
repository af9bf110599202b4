//! Library version, for the header macros and run-time checks.

use std::ffi::c_char;

/// Major version (Cargo.toml); a test checks they agree.
pub const MP_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const MP_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const MP_VERSION_PATCH: u32 = 0;
/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`, as `mp_version_number()`.
pub const MP_VERSION_NUMBER: u32 = 1000;
/// The ABI generation: bumped only if a released signature ever had to
/// change incompatibly (which the rules forbid: new functions get `_v2`).
pub const MP_ABI_VERSION: u32 = 1;

/// The library version as a static string, e.g. `"0.1.0"`. Never freed.
#[no_mangle]
pub extern "C" fn mp_version() -> *const c_char {
    c"0.1.0".as_ptr()
}

/// The library version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`; compare
/// with the header's `MP_VERSION_NUMBER` to detect a header/library mismatch.
#[no_mangle]
pub extern "C" fn mp_version_number() -> u32 {
    MP_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_agree_with_cargo_toml() {
        let cargo = |k: &str| k.parse::<u32>().unwrap();
        assert_eq!(MP_VERSION_MAJOR, cargo(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(MP_VERSION_MINOR, cargo(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(MP_VERSION_PATCH, cargo(env!("CARGO_PKG_VERSION_PATCH")));
        assert_eq!(MP_VERSION_NUMBER, MP_VERSION_MAJOR * 1_000_000 + MP_VERSION_MINOR * 1000 + MP_VERSION_PATCH);
        assert_eq!(mp_version_number(), MP_VERSION_NUMBER);
        // SAFETY: mp_version returns a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(mp_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
