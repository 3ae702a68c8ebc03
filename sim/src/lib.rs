//! The plant: LED optics, electro-thermal network, skin and tissue, sensors.
//!
//! Pure physics. No IO, no clock, no randomness it did not receive as a seed, no `Result` in the
//! physics: a plant step cannot fail.

pub mod body;
pub mod cem43;
pub mod device;
pub mod led;
pub mod linalg;
pub mod network;
pub mod optics;
pub mod plant;
pub mod sensors;
pub mod tissue;
pub mod units;
