//! The `pbm-hil` command line: argument parsing, output files and exit codes.
//!
//! The bench, the plant and the firmware live in the workspace crates (`harness`, `sim`,
//! `firmware`); this crate turns their results into what a CI job and an engineer read.

pub mod campaign;
pub mod cli;
pub mod output;
pub mod replay;
