//! Dose estimation: the output model and the fluence integrator.
//!
//! The firmware has no photodiode, so its dose is a model of what it commanded: the calibrated
//! irradiance of each channel, scaled by the droop curve at the commanded current, by the
//! junction-temperature coefficient at the estimated junction temperature, by the PWM duty, and
//! (panels) by the distance table. Using the nominal output instead over-reports late in a
//! session, when the LEDs are hot (domain.md §8.8).
//!
//! Fluence is accumulated as integers (µW/cm² × ms = nJ/cm²) so that a 20-minute session of
//! 10 ms ticks loses nothing to float rounding and two runs agree bit for bit.

use crate::boundary::MAX_CHANNELS;
use crate::device::{ChannelCalibration, DeviceCalibration};

/// Relative radiant flux at current ratio `x = I/I_nom` (dimensionless), droop `d` (dimensionless):
/// `g(x) = x / (1 + d (x − 1))`, g(1) = 1 (brief; domain.md §3.1 "g(I) is sub-linear").
#[inline]
pub fn relative_flux(x: f32, droop: f32) -> f32 {
    if x <= 0.0 {
        0.0
    } else {
        x / (1.0 + droop * (x - 1.0))
    }
}

/// Junction-temperature factor `1 + k_Φ (T_j − 25 °C)` (domain.md §3.1), k_Φ in 1/K, T_j in °C;
/// never negative.
#[inline]
pub fn thermal_factor(k_phi_per_k: f32, t_j_c: f32) -> f32 {
    (1.0 + k_phi_per_k * (t_j_c - 25.0)).max(0.0)
}

/// Modelled zone-mean irradiance of one channel, µW/cm²:
/// `E = E_cal · g(I/I_nom) · (1 + k_Φ (T_j − 25)) · duty · distance_factor` (domain.md §3.1,
/// `⟨Φ_e⟩ = D · Φ_e(I_on, T_j)`), E_cal in mW/cm², I in mA, T_j in °C, duty in ‰.
pub fn channel_irradiance_uw_cm2(
    ch: &ChannelCalibration,
    current_ma: u16,
    duty_permille: u16,
    t_j_c: f32,
    distance_factor: f32,
) -> u32 {
    channel_irradiance_with_factor_uw_cm2(
        ch,
        current_ma,
        duty_permille,
        thermal_factor(ch.k_phi_per_k, t_j_c),
        distance_factor,
    )
}

/// [`channel_irradiance_uw_cm2`] with the junction-temperature factor given (dimensionless,
/// [`thermal_factor`] for the reference firmware) instead of T_j, µW/cm².
pub fn channel_irradiance_with_factor_uw_cm2(
    ch: &ChannelCalibration,
    current_ma: u16,
    duty_permille: u16,
    thermal_factor: f32,
    distance_factor: f32,
) -> u32 {
    irradiance_from_flux_uw_cm2(
        channel_flux_mw_cm2(ch, current_ma),
        duty_permille,
        thermal_factor,
        distance_factor,
    )
}

/// The part of the output model that depends on the current alone, `E_cal · g(I/I_nom)`,
/// mW/cm² (E_cal in mW/cm², I in mA): a session drives one current, so the control tick keeps it.
pub fn channel_flux_mw_cm2(ch: &ChannelCalibration, current_ma: u16) -> f32 {
    let x = f32::from(current_ma) / f32::from(ch.nominal_ma);
    ch.irradiance_mw_cm2 * relative_flux(x, ch.droop)
}

/// [`channel_irradiance_with_factor_uw_cm2`] from its current-only part `flux_mw_cm2`
/// ([`channel_flux_mw_cm2`], mW/cm²), duty in ‰, the factors dimensionless, µW/cm²; the same
/// operations in the same order.
#[inline]
pub fn irradiance_from_flux_uw_cm2(
    flux_mw_cm2: f32,
    duty_permille: u16,
    thermal_factor: f32,
    distance_factor: f32,
) -> u32 {
    irradiance_from_fraction_uw_cm2(
        flux_mw_cm2,
        duty_fraction(duty_permille),
        thermal_factor,
        distance_factor,
    )
}

/// A duty in ‰ as the fraction [`irradiance_from_flux_uw_cm2`] multiplies by (‰ / 1000): a
/// command held for many ticks can keep it.
#[inline]
pub fn duty_fraction(duty_permille: u16) -> f32 {
    f32::from(duty_permille) / 1000.0
}

/// [`irradiance_from_flux_uw_cm2`] with the duty already a fraction ([`duty_fraction`]),
/// µW/cm²; the same operations in the same order.
#[inline]
pub fn irradiance_from_fraction_uw_cm2(
    flux_mw_cm2: f32,
    duty_fraction: f32,
    thermal_factor: f32,
    distance_factor: f32,
) -> u32 {
    let e_mw_cm2 = flux_mw_cm2 * thermal_factor * duty_fraction * distance_factor;
    round_to_u32(e_mw_cm2 * 1000.0)
}

/// `libm::roundf(x) as u32` (half away from zero, saturating; NaN and negatives to 0), without
/// the general rounding routine: `x + (½ − 2⁻²⁵)` truncated (the control tick rounds a few values
/// every 10 ms, and the rounding sits on its longest dependency chain: one addition and one
/// conversion instead of a conversion there and back, a subtraction and a compare).
///
/// Why it is exact, for `x = n + f` (`n` an integer, `0 ≤ f < 1`): the constant is the largest
/// f32 below ½, so the exact sum is below `n + 1` by more than `2⁻²⁵` when `f < ½`, and at most
/// `2⁻²⁵` below it when `f ≥ ½`; the f32 spacing below `n + 1` is at least `2⁻²⁴`, so the sum
/// rounds to below `n + 1` exactly in the first case (for `n ≥ 1` the spacing near `x` is at
/// least half the spacing below `n + 1`, which keeps a rounded-up sum short of it), and to
/// `n + 1` in the second; from 2²³ on every f32 is an integer and the sum rounds back to `x`.
/// Below 0 the sum truncates to 0 and `as` saturates at both ends and sends NaN to 0, as
/// before. Checked against the earlier `i + (x − i ≥ ½)` form on all 2³² bit patterns
/// (offline); the tests compare with `roundf` around every tie and integer of the drive's and
/// the dose's ranges.
#[inline]
pub fn round_to_u32(x: f32) -> u32 {
    (x + BELOW_HALF) as u32
}

/// The largest f32 below ½: `½ − 2⁻²⁵` (the f32 spacing in `[¼, ½)` is 2⁻²⁵), exact.
const BELOW_HALF: f32 = 0.5 - f32::EPSILON / 4.0;

/// Delivered fluence of one session, per channel, as the firmware estimates it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoseMeter {
    channel_nj_cm2: [u64; MAX_CHANNELS],
    /// [`Self::mean_mj_cm2`] of `channel_nj_cm2`, kept by [`Self::add`] (0 for the empty
    /// meter): the control tick reads the mean twice (the session end and the output frame),
    /// and a tick that emits adds once.
    mean_mj_cm2: u32,
}

impl DoseMeter {
    /// Add `elapsed_ms` at the given per-channel irradiance (`H = E·t`, domain.md §1.1):
    /// µW/cm² × ms = nJ/cm².
    #[inline]
    pub fn add(&mut self, irradiance_uw_cm2: [u32; MAX_CHANNELS], elapsed_ms: u32) {
        for (h, e) in self.channel_nj_cm2.iter_mut().zip(irradiance_uw_cm2) {
            *h += u64::from(e) * u64::from(elapsed_ms);
        }
        self.mean_mj_cm2 = (self.channel_nj_cm2.iter().sum::<u64>() / 1_000_000) as u32;
    }

    /// Zone-mean fluence of channel `c`, mJ/cm² (rounded down).
    pub fn channel_mj_cm2(&self, c: usize) -> u32 {
        (self.channel_nj_cm2[c] / 1_000_000) as u32
    }

    /// Zone-mean fluence over all channels, mJ/cm² (rounded down).
    #[inline]
    pub fn mean_mj_cm2(&self) -> u32 {
        self.mean_mj_cm2
    }

    /// Peak-point fluence bound, mJ/cm²: Σ_c peak/mean_c · H_c. An upper bound, since the
    /// channels' hot spots need not coincide.
    pub fn peak_mj_cm2(&self, cal: &DeviceCalibration) -> u32 {
        let mut nj = 0.0f32;
        for (h, ch) in self.channel_nj_cm2.iter().zip(cal.channels.iter()) {
            if let Some(ch) = ch {
                nj += *h as f32 * ch.peak_to_mean;
            }
        }
        libm::ceilf(nj / 1.0e6) as u32
    }
}

/// An integer screen for one session-cap test: decides "the peak-point bound has not reached
/// the cap" without the f32 sum of [`DoseMeter::peak_mj_cm2`] (two u64→f32 conversions and a
/// ceiling), which the control tick would otherwise evaluate every 10 ms although only the last
/// few ticks before the cap can reach it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeakScreen {
    /// Per channel, an integer not below 1000 × the calibrated peak/mean ratio (0 when the
    /// channel is not fitted), ‰.
    peak_to_mean_permille: [u64; MAX_CHANNELS],
    /// The cap, mJ/cm².
    cap_mj_cm2: u32,
    /// `S = Σ_c H_c · peak_to_mean_permille_c` (nJ/cm² · ‰) at or below which the bound is
    /// surely under the cap; `None` when no dose is (caps of 0 or 1 mJ/cm²).
    limit: Option<u64>,
}

impl PeakScreen {
    /// The screen of `cap_mj_cm2` for one calibration sheet.
    ///
    /// Why the limit is safe: with `S ≤ (C − q − 5) · 1000`, `C = (cap − 1) · 10⁶` nJ/cm² and
    /// `q = ⌊C / 10⁶⌋`, the real bound `Σ_c H_c (peak/mean)_c ≤ S / 1000 ≤ C − q − 5`. The f32
    /// evaluation of [`DoseMeter::peak_mj_cm2`] rounds at most four times (conversion, product,
    /// sum, division: relative error ≤ 4 · 2⁻²⁴ < 10⁻⁶), so before its ceiling it is below
    /// `(C − q − 5)(1 + 10⁻⁶) / 10⁶ < (C − 4) / 10⁶ < cap − 1`, and the ceiling is at most
    /// `cap − 1`.
    pub fn new(cal: &DeviceCalibration, cap_mj_cm2: u32) -> PeakScreen {
        let mut peak_to_mean_permille = [0; MAX_CHANNELS];
        for (p, ch) in peak_to_mean_permille.iter_mut().zip(&cal.channels) {
            if let Some(ch) = ch {
                // `ptm · 1000` rounded in f32 may fall below the real product by far less than
                // one unit: the ceiling plus one is an upper bound.
                *p = libm::ceilf(ch.peak_to_mean * 1000.0) as u64 + 1;
            }
        }
        let c_nj = u64::from(cap_mj_cm2.saturating_sub(1)) * 1_000_000;
        let limit = c_nj.checked_sub(c_nj / 1_000_000 + 5).map(|l| l * 1000);
        PeakScreen {
            peak_to_mean_permille,
            cap_mj_cm2,
            limit,
        }
    }
}

impl DoseMeter {
    /// Whether `self.peak_mj_cm2(cal) >= cap` for the cap of `screen` (built from the same
    /// `cal`): in integers while the dose is surely below the cap, from the bound itself near it.
    #[inline]
    pub fn peak_reaches(&self, cal: &DeviceCalibration, screen: &PeakScreen) -> bool {
        !self.surely_below(screen) && self.peak_mj_cm2(cal) >= screen.cap_mj_cm2
    }

    /// The integer half of [`Self::peak_reaches`]: true only if the peak-point bound is surely
    /// below the cap ([`PeakScreen::new`] says why).
    #[inline]
    fn surely_below(&self, screen: &PeakScreen) -> bool {
        let Some(limit) = screen.limit else {
            return false;
        };
        let [h0, h1] = self.channel_nj_cm2;
        let [p0, p1] = screen.peak_to_mean_permille;
        h0.saturating_mul(p0).saturating_add(h1.saturating_mul(p1)) <= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceClass, Wavelength, calibration};

    /// The kept mean is the sum's quotient after every addition, across the mJ boundaries.
    #[test]
    fn the_kept_mean_is_the_sum_divided() {
        let mut meter = DoseMeter::default();
        assert_eq!(meter.mean_mj_cm2(), 0);
        for k in 0..5_000u32 {
            meter.add([k * 37 % 9_001, k * 11 % 4_999], 10 + k % 3);
            let sum: u64 = meter.channel_nj_cm2.iter().sum();
            assert_eq!(meter.mean_mj_cm2(), (sum / 1_000_000) as u32);
        }
    }

    /// f32 evaluation of a rational expression of a few terms: relative error ~1e-7; 1e-5 is
    /// "the same number" with room for the constants' own rounding.
    const MODEL_TOLERANCE: f32 = 1e-5;

    #[test]
    fn output_model_cases() {
        // (x, droop, g) — g(1) = 1; g(2) for 660 nm matches the datasheet 1045/530 = 1.972
        // (domain.md §3.2 [V]) to the 3 digits the droop constant carries.
        let cases = [
            (1.0, 0.014, 1.0),
            (0.0, 0.05, 0.0),
            (2.0, 0.014, 2.0 / 1.014),
            (0.5, 0.05, 0.5 / 0.975),
            (-1.0, 0.05, 0.0),
        ];
        for (x, d, want) in cases {
            let got = relative_flux(x, d);
            assert!(
                (got - want).abs() < MODEL_TOLERANCE,
                "g({x}, {d}) = {got}, want {want}"
            );
        }
        // (k, T_j, factor): 660 nm loses 7 % from 25 to 50 °C (domain.md §0.1 #8 [V]).
        let cases = [
            (Wavelength::Red660.k_phi_per_k(), 50.0, 0.93),
            (Wavelength::Red630.k_phi_per_k(), 45.0, 0.90),
            (Wavelength::Nir850.k_phi_per_k(), 25.0, 1.0),
            (Wavelength::Red630.k_phi_per_k(), 400.0, 0.0),
        ];
        for (k, t, want) in cases {
            let got = thermal_factor(k, t);
            assert!(
                (got - want).abs() < MODEL_TOLERANCE,
                "f({k}, {t}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn channel_irradiance_cases() {
        let wrap = calibration(DeviceClass::Wrap);
        let red = wrap.channels[0].unwrap();
        // (current, duty, T_j, distance factor, µW/cm²)
        let cases = [
            // 7.97 mW/cm² at nominal; −0.28 %/K × 25 K = −7 % at 50 °C.
            (200, 1000, 25.0, 1.0, 7970),
            (200, 500, 25.0, 1.0, 3985),
            (200, 1000, 50.0, 1.0, 7412),
            (0, 1000, 25.0, 1.0, 0),
            (200, 1000, 25.0, 0.5, 3985),
        ];
        for (i, d, t, f, want) in cases {
            assert_eq!(
                channel_irradiance_uw_cm2(&red, i, d, t, f),
                want,
                "{i} mA {d} ‰ {t} °C x{f}"
            );
        }
    }

    #[test]
    fn round_to_u32_is_roundf() {
        // Ties, the largest float below ½ (whose x + 0.5 rounds up in f32), the end of exact
        // fractions (2²³), odd integers above 2²⁴, the u32 range's end, and the non-finite.
        let cases = [
            0.0,
            -0.0,
            0.25,
            0.5,
            f32::from_bits(0.5f32.to_bits() - 1),
            1.5,
            2.5,
            999.4999,
            7970.5,
            8_388_607.5,
            8_388_608.0,
            16_777_218.0,
            4_294_967_040.0,
            4_294_967_296.0,
            1.0e12,
            -0.5,
            -3.7,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for x in cases {
            assert_eq!(round_to_u32(x), libm::roundf(x) as u32, "{x}");
        }
        // Every hundredth of a unit up to 2000: the drive's duty range and beyond.
        for k in 0..200_000u32 {
            let x = k as f32 / 100.0;
            assert_eq!(round_to_u32(x), libm::roundf(x) as u32, "{x}");
        }
        // The eight floats on each side of every tie and every integer up to 2¹⁷, and of every
        // 97th integer up to 2²⁵ (past the end of fractions), where a rounding shortcut fails
        // if it fails anywhere.
        let near = |x: f32| {
            let b = x.to_bits();
            (b.saturating_sub(8)..=b + 8).map(f32::from_bits)
        };
        let edges = (0..1u32 << 17)
            .flat_map(|n| [n as f32, n as f32 + 0.5])
            .chain((0..1u32 << 25).step_by(97).map(|n| n as f32));
        for edge in edges {
            for x in near(edge) {
                assert_eq!(round_to_u32(x), libm::roundf(x) as u32, "{x}");
            }
        }
    }

    #[test]
    fn peak_screen_agrees_with_the_bound() {
        // Every class; doses from nothing to past any cap, in uneven steps per channel (a
        // deterministic walk), against caps at, around and far from the peak bound.
        for cal in &crate::device::CALIBRATION {
            let mut m = DoseMeter::default();
            for k in 0..2000u32 {
                let peak = m.peak_mj_cm2(cal);
                for cap in [
                    0,
                    1,
                    2,
                    peak / 2,
                    peak.saturating_sub(1),
                    peak,
                    peak + 1,
                    peak * 2 + 5,
                ] {
                    let screen = PeakScreen::new(cal, cap);
                    assert_eq!(
                        m.peak_reaches(cal, &screen),
                        peak >= cap,
                        "{:?} {m:?} cap {cap}",
                        cal.class
                    );
                    if m.surely_below(&screen) {
                        assert!(peak < cap, "{:?} {m:?} cap {cap}", cal.class);
                    }
                }
                // Worth having: a cap 1 % and ten units above the bound is decided in integers.
                let far = PeakScreen::new(cal, peak + peak / 100 + 10);
                assert!(m.surely_below(&far), "{:?} {m:?}", cal.class);
                m.add([17_123 + k * 37, 9_001 + (k * 7919) % 50_000], 10_000);
            }
        }
    }

    #[test]
    fn meter_integrates_exactly() {
        let mut m = DoseMeter::default();
        // 16 mW/cm² for 562.5 s in 10 ms ticks is 9000 mJ/cm², exactly.
        for _ in 0..56_250 {
            m.add([8000, 8000], 10);
        }
        assert_eq!(m.mean_mj_cm2(), 9000);
        assert_eq!(m.channel_mj_cm2(1), 4500);
        // Peak bound Σ_c (peak/mean)_c · H_c: wrap 2.87 × 9000; panel 1.06 × 4500 + 1.11 × 4500.
        assert_eq!(m.peak_mj_cm2(calibration(DeviceClass::Wrap)), 25830);
        assert_eq!(m.peak_mj_cm2(calibration(DeviceClass::Panel)), 9765);
    }
}
