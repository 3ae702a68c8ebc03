//! The bench: plant and device under test in closed loop, in virtual time, judged by properties.

pub mod bench;
pub mod charts;
pub mod dut;
pub mod events;
pub mod export;
pub mod fieldlog;
pub mod format;
pub mod generate;
pub mod monitor;
pub mod plant_io;
pub mod prescription;
pub mod properties;
pub mod protocol;
pub mod record;
pub mod replay;
pub mod report;
pub mod result;
pub mod scenario;
pub mod transport;

pub use bench::{BenchError, run, run_reference};
