//! Frames in, frames out: the reference firmware driven alone through a minimal ideal rig.
//!
//! One binary, one module per feature; each module has one `check` function and its cases as
//! data.

mod buttons;
mod caps;
mod faults;
mod interlocks;
mod nvm;
mod rig;
mod session;
mod thermal;
