package mpipc

/*
#include "shim.h"
*/
import "C"

// Version is the library's version string, e.g. "0.1.0" (mp_version).
func Version() string { return C.GoString(C.mp_version()) }

// VersionNumber is the library's MAJOR*1000000 + MINOR*1000 + PATCH
// (mp_version_number).
func VersionNumber() uint32 { return uint32(C.mp_version_number()) }

// HeaderVersionNumber is MP_VERSION_NUMBER of the header this package was
// compiled against; it differs from VersionNumber when the loaded library
// is another version than the header.
const HeaderVersionNumber = C.MP_VERSION_NUMBER

// BindingVersion is the version of this Go package, which is released
// together with the library: tests/versions.rs checks that it equals
// Cargo.toml's version.
const BindingVersion = "0.1.0"
