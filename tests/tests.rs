//! The one integration-test binary: modules per area, data-driven where possible.

mod bench;
mod campaign;
mod calibration;
mod common;
mod format;
mod library;
