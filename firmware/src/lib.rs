//! Reference firmware for home-use red/NIR light-therapy devices, and the firmware boundary.
//!
//! The crate is `#![no_std]` and allocates nothing (no `alloc`, and no dependency but `libm`):
//! it is what a device maker would put on a microcontroller. It receives time, ADC counts and
//! digital inputs as arguments ([`boundary`]), and answers with PWM duty, current set-points,
//! outputs and NVM writes. It reads no clock and draws no random number of its own, so a run is
//! a pure function of its inputs. The whole state is one fixed-size `Copy` value, [`Firmware`].
//!
//! # Map
//! - [`device`]: device classes, zones, and the PROVISIONAL factory calibration table.
//! - [`programs`](mod@programs): the program table per class and the per-zone caps.
//! - [`ntc`]: thermistor counts to °C; [`dose`]: the output model and integrator;
//!   [`thermal`]: thresholds, derating, CEM43, covered detection; [`faults`]: fault codes and
//!   checks; [`nvm`]: the power-loss-safe dose ledger; [`machine`]: the state machine;
//!   [`variant`]: the seam the tests' seeded bugs plug into (the reference is the default).
//!
//! # The state machine
//! ```text
//!                      START, all checks pass:            reservation record
//!   boot ──► Idle ───  reserve session in the ledger ──► Arming ──committed (2 writes)──┐
//!             ▲  ▲                                          │ STOP                     ▼
//!             │  └─ START, a check fails ──► Refused        ▼                  ┌──► Treating ◄──┐
//!             │                                      Stopped/Completed ◄──end──┘      │        │
//!   Completed/Stopped/Refused: the next START re-runs the checks              PAUSE,  │  START, │
//!                                                                       contact lost, │interlock│
//!   any state ── fault confirmed (30 ms) ──► Fault (latched until power cycle) shields,▼   ok    │
//!                                                                       distance ──► Paused ──┘
//!                                                     Paused ── STOP / 5 min ──► Stopped
//! ```
//! | transition | condition | source |
//! |---|---|---|
//! | Idle → Refused | program index invalid; no skin contact (wrap, pad, pen, probe; the mask's wear sensor); NIR program without eye shields (mask); panel distance outside 100–450 mm; contact NTC > 38 °C; board (ambient at rest) outside 5–40 °C; target needs > 80 % of the time limit at nominal output; < 6 h since the zone's last session; 2 sessions in 24 h or 6 in 7 × 24 h of uptime; daily (2.2 × target) or weekly (5.5 × target) fluence cap; history lost (NVM unreadable or clock implausible, 1 week of uptime) | domain.md §6.1, §6.2, §6.4 |
//! | Arming → Treating | the record reserving the session (target + 0.25 J/cm²) is fully written | [`nvm`] power-loss rule |
//! | Treating → Paused | PAUSE; skin contact lost (same step: the bench steps on every input change, and the tick is 10 ms, inside the 100 ms budget); eye shields removed during NIR; panel distance out of range | domain.md §6.4 |
//! | Paused → Treating | START with the interlock satisfied (never a silent restart) | domain.md §6.1 |
//! | Treating → Completed | estimate ≥ target; or timer with ≥ 85 % of target | program table |
//! | Treating → Stopped | timer with < 85 %; peak-point estimate ≥ session cap; contact ≥ 41 °C; session CEM43 (at measured + 0.5 K) ≥ 0.5; board ≥ 85 °C; STOP; clock implausible | [`thermal`] table |
//! | Paused → Stopped | STOP, or paused 5 min | domain.md §6.1 auto-off |
//! | any → Fault | a §6.3 fault held ≥ 30 ms: NTC open/short/out of range/> 5 K/s/mean sensor > 5 K above the hot-spot one (or the spot > 10 K above the mean) for 10 s/> 5 K below ambient for 10 s/stuck/hot-spot sensor detached (its excess over the mean sensor falls > 2 K while the drive holds); string open, short, over-current; current while commanded off (hardware enable dropped); contact ≥ 42 °C or > 0.5 K/s above 38 °C; panel fan absent 2 s | [`faults`], domain.md §6.2, §6.3 |
//!
//! While Treating, each channel's duty is the program's duty × the contact derate (100 % at
//! 39.5 °C → 0 at 40.5 °C) × the junction derate (T_j,est from T_j,max − 35 K to − 25 K) × ½ when
//! covered. A suspected (not yet confirmed) sensor or over-temperature fault zeroes the duty for
//! that step; a suspected LED-string fault keeps the drive so that its evidence stays visible.
//!
//! `OutputFrame::state` is the standard [`boundary::SessionState`] of the phase (Arming reports
//! `Treating`); `OutputFrame::detail` is [`machine::Phase::detail`]: phase in the high nibble
//! (1 Idle, 2 Arming, 3 Treating, 4 Paused, 5 Completed, 6 Stopped, 7 Refused, 8 Fault) and
//! [`machine::PauseReason`], [`machine::SessionEnd`] or [`machine::Refusal`] in the low nibble.
//! `OutputFrame::fault_code` is [`faults::Fault::code`]. `dose_estimate_mj_cm2` is the running
//! session's zone-mean estimate, and after it ends, the last session's.
//!
//! Timing: 10 ms ticks while a session is open or anything is pending (a button settling, a fault
//! being confirmed, an NVM record in flight), 100 ms while paused, 60 s at rest (the drivers'
//! hardware enable is off at rest, and every input change runs the firmware anyway).
//!
//! # no_std
//! `#![no_std]` without `extern crate alloc` is the guarantee that nothing allocates; the only
//! dependency, `libm`, is `no_std` too. (No embedded target is installed on the build machine, so
//! CI builds for the host; `cargo tree -p firmware` shows `libm` alone.)
#![no_std]

#[cfg(test)]
extern crate std;

pub mod boundary;
pub mod device;
pub mod dose;
pub mod faults;
pub mod machine;
pub mod ntc;
pub mod nvm;
pub mod programs;
pub mod thermal;
pub mod variant;

pub use device::{DeviceClass, ZoneId};
pub use machine::Firmware;
pub use programs::{Program, programs};
