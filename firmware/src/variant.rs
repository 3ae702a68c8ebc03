//! The seeded-bug seam: the smallest decisions a realistic firmware bug changes, as hooks.
//!
//! A property suite that never fails has not been shown to work (product.md "Properties"): the
//! integration tests prove that the bench catches bugs by running *variants* of this firmware,
//! each one decision changed, and asserting that a property is violated. [`Firmware`] is generic
//! over [`Variant`] with [`Reference`] as the default type parameter, so `Firmware` is the shipped
//! firmware, unchanged: every hook's default body is the reference decision, every hook is
//! `#[inline]` and [`Reference`] is a zero-sized type, so the seam costs nothing at run time
//! beyond one unused field.
//! The bugs themselves live only in the tests (`tests/seeded_bugs.rs`), never in this crate.
//!
//! Hooks take `&self` so that a variant could carry a parameter; every variant in the tests is a
//! unit struct.
//!
//! [`Firmware`]: crate::machine::Firmware

use crate::device::{DeviceClass, ZoneId};
use crate::dose;
use crate::ntc::{self, NtcReading};
use crate::programs::{self, CAP_POLICY};
use crate::thermal::LIMITS;

/// One decision per hook; the default body is the reference firmware's.
pub trait Variant: Copy + Default + core::fmt::Debug + PartialEq {
    /// Junction-temperature output factor the dose integrator applies, dimensionless, from the
    /// channel's `k_Φ` (1/K) and the junction estimate (°C): [`dose::thermal_factor`]
    /// (domain.md §3.1 `1 + k_Φ (T_j − 25 °C)`).
    #[inline]
    fn output_factor(&self, k_phi_per_k: f32, t_j_c: f32) -> f32 {
        dose::thermal_factor(k_phi_per_k, t_j_c)
    }

    /// Milliseconds between two readings of the free-running `u32` ms counter, `then` first: the
    /// wrapping difference, so the wrap after 49.7 days is a step like any other.
    #[inline]
    fn elapsed_ms(&self, now_ms: u32, then_ms: u32) -> u32 {
        now_ms.wrapping_sub(then_ms)
    }

    /// NTC divider code to a classified reading: [`ntc::read`] (Beta model, domain.md §6.5).
    #[inline]
    fn ntc_to_c(&self, counts: u16) -> NtcReading {
        ntc::read(counts)
    }

    /// Hysteresis of the covered-device derate, K: the verdict turns on at a board excess of
    /// [`LIMITS`]`.covered_on_k` and off only this much lower (module table of
    /// [`crate::thermal`], domain.md §6.2 covered/blanket detection).
    #[inline]
    fn derate_hysteresis_k(&self) -> f32 {
        LIMITS.covered_on_k - LIMITS.covered_off_k
    }

    /// Whether a resumed session keeps the dose it delivered before the pause (domain.md §6.1
    /// "no silent restart": a resume continues the same session).
    #[inline]
    fn keeps_dose_on_resume(&self) -> bool {
        true
    }

    /// Whether the session history that the caps count is restored from NVM at boot (domain.md
    /// §6.1: the caps survive a power cycle).
    #[inline]
    fn persist_caps(&self) -> bool {
        true
    }

    /// How long skin contact must be lost before the session pauses, ms. The reference pauses on
    /// the same step: the interlock budget is 100 ms (domain.md §6.4).
    #[inline]
    fn contact_debounce_ms(&self) -> u64 {
        0
    }

    /// Whether an NTC code at the top rail (open sensor) is a fault (domain.md §6.3 "ADC code
    /// within a few LSB of the rail").
    #[inline]
    fn open_ntc_is_fault(&self) -> bool {
        true
    }

    /// Minimum uptime between the end of one session on a zone and the start of the next, s:
    /// [`CAP_POLICY`]`.min_gap_s` (domain.md §6.1 gap between sessions).
    #[inline]
    fn min_gap_s(&self) -> u32 {
        CAP_POLICY.min_gap_s
    }

    /// Whether the eye-shield interlock is checked on every step of a NIR session, not only at
    /// start (domain.md §6.4: no NIR emission without eye shields).
    #[inline]
    fn eye_interlock_while_treating(&self) -> bool {
        true
    }

    /// Index of `zone`'s row in the ledger's cap table: [`programs::zone_slot`].
    #[inline]
    fn zone_slot(&self, class: DeviceClass, zone: ZoneId) -> Option<usize> {
        programs::zone_slot(class, zone)
    }

    /// Whether a ledger record's CRC is checked at boot, so that a torn write falls back to the
    /// previous complete record ([`crate::nvm`] record format).
    #[inline]
    fn check_record_crc(&self) -> bool {
        true
    }
}

/// The reference firmware's decisions: every hook at its default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reference;

impl Variant for Reference {}
