//! The one integration-test binary: modules per area, data-driven where possible.

mod bench;
mod c_firmware;
mod calibration;
mod campaign;
mod charts;
mod common;
mod format;
mod library;
mod replay;
mod seeded_bugs;
mod transport;
