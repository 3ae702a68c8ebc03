//! The one integration-test binary.

mod format;
