//! Reference firmware for home-use red/NIR light-therapy devices, and the firmware boundary.
//!
//! The crate is `#![no_std]` and allocates nothing: it is what a device maker would put on a
//! microcontroller. It receives time, ADC counts and digital inputs as arguments ([`boundary`]),
//! and answers with PWM duty, current set-points, outputs and NVM writes. It reads no clock and
//! draws no random number of its own, so a run is a pure function of its inputs.
#![no_std]

pub mod boundary;
