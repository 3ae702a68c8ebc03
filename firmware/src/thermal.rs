//! Thermal protection: contact-temperature thresholds, derating, CEM43, the junction estimate
//! and the covered-device monitor.
//!
//! The contact NTC sees the skin through a lag (τ ≈ 10 s, domain.md §4.1 \[M\]) and a gradient
//! (0.5–2 K, domain.md §6.5 \[M\]), while the bench judges the *true* skin against 41 °C (normal),
//! 43 °C (absolute) and 1 CEM43 per session. The thresholds below are therefore set below the
//! §6.2 defaults by a sensor-error margin:
//!
//! | threshold (measured, max of contact NTCs) | value | reasoning |
//! |---|---|---|
//! | warn on / off | 39.0 / 38.5 °C | indicator only; 0.5 K hysteresis against LSB flicker |
//! | derate start → zero | 39.5 → 40.5 °C | §6.2 derates 40 → 41.5; shifted 0.5 K down and narrowed so the loop settles ≤ 40.5 measured, ~1 K under skin.normal for a 0.5–1 K gradient, and ≤ 0.6 CEM43 in 20 min (§5.5: 0.031/min at 40.5) |
//! | stop (session ends, not latched) | 41.0 °C | §6.2 hard off 42, minus the 1 K budget of §6.5 |
//! | latch (fault until power cycle) | 42.0 °C, or dT/dt > 0.5 K/s at ≥ 38 °C | §6.2 latch 43 / 0.5 K/s, minus 1 K (§6.5 "budget ≥ 1 K between cut-off and the limit") |
//! | refuse start | > 38.0 °C contact; ambient (board at rest) outside 5–40 °C | §6.2 ambient/start checks |
//! | CEM43 stop | 0.5 CEM43 per session, computed at measured + 0.5 K | half the 1 CEM43 property for the lag and gradient (§5.5) |
//! | junction derate | T_j,est from T_j,max − 35 K (100 %) to T_j,max − 25 K (0 %) | §6.2 off at T_j,max − 20 K, minus 5 K for the estimate's error |
//! | board stop | 85 °C | §6.2 "derate above T_board 70–85 °C" |
//! | covered | board rise exceeds the model by > 3 K (on), < 1.5 K (off): duty × ½ | §6.2 covered/blanket detection |
//!
//! The rate trigger is gated at 38 °C because placing a device on warm skin legitimately moves a
//! lagging sensor by ~1 K/s for a few seconds (a 15 K step through τ = 10 s), far below 38 °C.

use crate::boundary::hw;
use crate::ntc;

/// Thermal thresholds, all in °C or K as named; see the module table for the reasoning.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThermalLimits {
    /// Warning indicator on at or above, °C.
    pub warn_on_c: f32,
    /// Warning indicator off below, °C.
    pub warn_off_c: f32,
    /// Full duty at or below, °C.
    pub derate_start_c: f32,
    /// Zero duty at or above, °C.
    pub derate_end_c: f32,
    /// Session stops (not latched) at or above, °C.
    pub stop_c: f32,
    /// Over-temperature fault latched at or above, °C.
    pub latch_c: f32,
    /// Over-temperature fault latched above this heating rate, K/s ...
    pub latch_rate_k_per_s: f32,
    /// ... when the contact reads at least this, °C.
    pub latch_rate_gate_c: f32,
    /// Start refused above this contact temperature, °C (domain.md §6.2).
    pub start_max_contact_c: f32,
    /// Start refused below this ambient (board at rest), °C (domain.md §6.2, IEC 60601-1-11 \[M\]).
    pub ambient_min_c: f32,
    /// Start refused above this ambient, °C.
    pub ambient_max_c: f32,
    /// Session stops at this CEM43 estimate, min.
    pub cem43_stop_min: f32,
    /// Margin added to the measured contact temperature for the CEM43 estimate, K.
    pub cem43_margin_k: f32,
    /// Junction derate reaches zero this far below T_j,max, K.
    pub junction_zero_below_max_k: f32,
    /// Width of the junction derate band, K.
    pub junction_band_k: f32,
    /// Session stops at this board temperature, °C.
    pub board_stop_c: f32,
    /// Covered: board rise above the model's, on, K.
    pub covered_on_k: f32,
    /// Covered: off below, K.
    pub covered_off_k: f32,
    /// Duty factor while covered.
    pub covered_duty_factor: f32,
}

/// The thresholds the reference firmware uses.
pub const LIMITS: ThermalLimits = ThermalLimits {
    warn_on_c: 39.0,
    warn_off_c: 38.5,
    derate_start_c: 39.5,
    derate_end_c: 40.5,
    stop_c: 41.0,
    latch_c: 42.0,
    latch_rate_k_per_s: 0.5,
    latch_rate_gate_c: 38.0,
    start_max_contact_c: 38.0,
    ambient_min_c: 5.0,
    ambient_max_c: 40.0,
    cem43_stop_min: 0.5,
    cem43_margin_k: 0.5,
    junction_zero_below_max_k: 25.0,
    junction_band_k: 10.0,
    board_stop_c: 85.0,
    covered_on_k: 3.0,
    covered_off_k: 1.5,
    covered_duty_factor: 0.5,
};

/// Linear ramp from 1 at or below `start` to 0 at or above `end`.
#[inline]
fn ramp_down(value: f32, start: f32, end: f32) -> f32 {
    ((end - value) / (end - start)).clamp(0.0, 1.0)
}

/// Duty factor from the hottest contact temperature, dimensionless (module table).
#[inline]
pub fn contact_derate(contact_c: f32) -> f32 {
    ramp_down(contact_c, LIMITS.derate_start_c, LIMITS.derate_end_c)
}

/// Duty factor from the estimated junction temperature, dimensionless (module table).
#[inline]
pub fn junction_derate(t_j_c: f32, t_j_max_c: f32) -> f32 {
    let end = t_j_max_c - LIMITS.junction_zero_below_max_k;
    ramp_down(t_j_c, end - LIMITS.junction_band_k, end)
}

/// [`junction_derate`] for one channel, with its constants taken once.
///
/// With at least a whole span of room below the ramp's end (`end − T_j ≥ end − start`, the
/// span positive and finite) the ramp's quotient is at least 1 (a division rounds
/// monotonically, and 1 is a float), which its clamp makes exactly 1. The usual case, nothing
/// derated, then takes 1 without waiting for a division, whose latency sits on the control
/// tick's path from the string sense to the duty; otherwise it is [`junction_derate`] itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JunctionRamp {
    /// T_j,max of the channel, °C.
    t_j_max_c: f32,
    /// The ramp's end (zero output), °C, as [`junction_derate`] computes it.
    end_c: f32,
    /// The room below the end that means no derating, K: the ramp's span, or NaN (never
    /// reached) if the span is not positive and finite.
    full_room_k: f32,
}

impl JunctionRamp {
    /// The ramp of a channel whose junction is rated `t_j_max_c` (°C).
    pub fn new(t_j_max_c: f32) -> JunctionRamp {
        let end_c = t_j_max_c - LIMITS.junction_zero_below_max_k;
        let span_k = end_c - (end_c - LIMITS.junction_band_k);
        JunctionRamp {
            t_j_max_c,
            end_c,
            full_room_k: if span_k > 0.0 && span_k < f32::INFINITY {
                span_k
            } else {
                f32::NAN
            },
        }
    }

    /// [`junction_derate`] at the estimated junction temperature `t_j_c` (°C), bit for bit.
    #[inline]
    pub fn derate(&self, t_j_c: f32) -> f32 {
        if self.end_c - t_j_c >= self.full_room_k {
            return 1.0;
        }
        junction_derate(t_j_c, self.t_j_max_c)
    }
}

/// Junction temperature estimate, °C: `T_j = T_board + R_th,jb · P_heat` (domain.md §3.1), with
/// T_board in °C, R_th,jb in K/W and the heat of one LED P_heat in W.
#[inline]
pub fn junction_estimate_c(board_c: f32, r_th_jb_k_per_w: f32, heat_per_led_w: f32) -> f32 {
    board_c + r_th_jb_k_per_w * heat_per_led_w
}

/// CEM43 accumulated in `elapsed_ms` at `t_c` °C, minutes:
/// `Δt · R^(43 − T)`, R = 0.5 at or above 43 °C, 0.25 below (Sapareto & Dewey 1984; domain.md
/// §5.5 \[V2\]), Δt in minutes.
pub fn cem43_increment_min(t_c: f32, elapsed_ms: u32) -> f32 {
    let minutes = elapsed_ms as f32 / 60_000.0;
    // R^(43−T) = 2^(−k(43−T)) with k = 1 (R = 0.5) or 2 (R = 0.25).
    let k = if t_c >= 43.0 { 1.0 } else { 2.0 };
    minutes * libm::exp2f(-k * (43.0 - t_c))
}

/// [`cem43_increment_min`] at the temperature an NTC code reads ([`crate::ntc::read`]) plus
/// [`ThermalLimits::cem43_margin_k`], from a table of the rate `R^(43 − T)` per code, min: the same
/// number, bit for bit (tested for every code), without a power per control tick. `counts` must be
/// off the rails (a code [`crate::ntc::read`] converts).
#[inline]
pub fn cem43_increment_at_code_min(counts: u16, elapsed_ms: u32) -> f32 {
    cem43_minutes(elapsed_ms) * cem43_rate_at_code(counts)
}

/// A step of `elapsed_ms` in minutes, as [`cem43_increment_min`] converts it (ms / 60 000): a
/// caller with a fixed tick can hold the value as a constant, the same quotient bit for bit.
#[inline]
pub const fn cem43_minutes(elapsed_ms: u32) -> f32 {
    elapsed_ms as f32 / 60_000.0
}

/// The rate `R^(43 − T)` per minute of [`cem43_increment_at_code_min`] (CEM43 min per min) at
/// the code's temperature plus the margin; `counts` off the rails.
#[inline]
pub fn cem43_rate_at_code(counts: u16) -> f32 {
    CEM43_RATE_BY_CODE[usize::from(counts)]
}

/// `R^(43 − T)` of [`cem43_increment_min`] for each NTC code's temperature plus the CEM43 margin,
/// dimensionless (0 on the rail codes, which are never looked up). Built by the compiler with
/// the roundings `libm::exp2f` makes ([`exp2`]).
static CEM43_RATE_BY_CODE: [f32; ntc::ADC_CODES] = cem43_rate_table();

const fn cem43_rate_table() -> [f32; ntc::ADC_CODES] {
    let mut table = [0.0; ntc::ADC_CODES];
    let mut counts = ntc::RAIL_MARGIN_COUNTS + 1;
    while counts < hw::ADC_MAX - ntc::RAIL_MARGIN_COUNTS {
        let t_c = ntc::beta_celsius(counts) + LIMITS.cem43_margin_k;
        let k = if t_c >= 43.0 { 1.0 } else { 2.0 };
        table[counts as usize] = exp2(-k * (43.0 - t_c));
        counts += 1;
    }
    table
}

/// `2^x`: `libm::exp2f` (FreeBSD `s_exp2f.c`, David Schultz 2005, BSD licence) operation for
/// operation, as a `const fn` so that [`CEM43_RATE_BY_CODE`] is built at compile time with the
/// roundings `libm::exp2f` makes (its floating-point exception side effects, which change no
/// value, are left out).
const fn exp2(x: f32) -> f32 {
    const TABLE: [u64; 16] = [
        0x3fe6_a09e_667f_3bcd,
        0x3fe7_a114_73eb_0187,
        0x3fe8_ace5_422a_a0db,
        0x3fe9_c491_82a3_f090,
        0x3fea_e89f_995a_d3ad,
        0x3fec_199b_dd85_529c,
        0x3fed_5818_dcfb_a487,
        0x3fee_a4af_a2a4_90da,
        0x3ff0_0000_0000_0000,
        0x3ff0_b558_6cf9_890f,
        0x3ff1_72b8_3c7d_517b,
        0x3ff2_387a_6e75_6238,
        0x3ff3_06fe_0a31_b715,
        0x3ff3_dea6_4c12_3422,
        0x3ff4_bfda_d536_2a27,
        0x3ff5_ab07_dd48_5429,
    ];
    let redux = f32::from_bits(0x4b40_0000) / 16.0;
    let p1 = f32::from_bits(0x3f31_7218) as f64;
    let p2 = f32::from_bits(0x3e75_fdf0) as f64;
    let p3 = f32::from_bits(0x3d63_59a4) as f64;
    let p4 = f32::from_bits(0x3c1d_964e) as f64;
    let ui = x.to_bits();
    let ix = ui & 0x7fff_ffff;
    if ix > 0x42fc_0000 {
        // |x| > 126: NaN, overflow, or underflow to zero.
        if ix > 0x7f80_0000 {
            return x;
        }
        if ui >= 0x4300_0000 && ui < 0x8000_0000 {
            return x * f32::from_bits(0x7f00_0000);
        }
        if ui >= 0xc316_0000 {
            return 0.0;
        }
    } else if ix <= 0x3300_0000 {
        // |x| <= 2^-25.
        return 1.0 + x;
    }
    // x = k/16 + z with |z| <= 1/32: 2^x = 2^(k/16) · p(z).
    let ui = (x + redux).to_bits();
    let mut i0 = ui + 8;
    let k = i0 / 16;
    let ukf = f64::from_bits(((0x3ff + k) as u64) << 52);
    i0 &= 15;
    let uf = f32::from_bits(ui) - redux;
    let z = (x - uf) as f64;
    let r = f64::from_bits(TABLE[i0 as usize]);
    let t = r * z;
    let r = r + t * (p1 + z * p2) + t * (z * z) * (p3 + z * p4);
    (r * ukf) as f32
}

/// The covered-device monitor: a first-order model of the board's rise for the heat it
/// dissipates, against the measured rise (domain.md §6.2, §4.1 blanket scenario: a cover cuts the
/// outer coefficient ~4× and the board runs hotter than the model).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CoveredMonitor {
    /// Board temperature when the session started, °C.
    pub board_start_c: f32,
    /// Modelled board rise, K.
    pub predicted_rise_k: f32,
    /// Latched-with-hysteresis verdict.
    pub covered: bool,
}

/// The covered monitor's first-order gain for a step of `elapsed_ms` through the board's time
/// constant `tau_s` (s): `min(Δt/τ, 1)`, Δt in s (the explicit Euler step of the board model).
#[inline]
pub fn covered_gain(elapsed_ms: u32, tau_s: f32) -> f32 {
    (elapsed_ms as f32 / 1000.0 / tau_s).min(1.0)
}

impl CoveredMonitor {
    /// A monitor starting from the board temperature at session start.
    pub fn new(board_start_c: f32) -> CoveredMonitor {
        CoveredMonitor {
            board_start_c,
            predicted_rise_k: 0.0,
            covered: false,
        }
    }

    /// Advance the model by `elapsed_ms` with `heat_w` W dissipated on the board, R in K/W, τ in s
    /// (forward Euler of `τ dΔ/dt = R·P − Δ`, stable since ticks ≪ τ), and judge the measured
    /// board temperature (°C) against its reference: the warmer of the board's own temperature at
    /// session start and `sink_c`, the skin under a contact device (its heat sink, read by the
    /// contact NTCs; `None` for devices in air). A device strapped onto 34 °C skin warms towards
    /// it whatever its LEDs do; a board still warm from the last session starts above it.
    /// Returns whether the device is judged covered.
    pub fn update(
        &mut self,
        elapsed_ms: u32,
        heat_w: f32,
        r_th_k_per_w: f32,
        tau_s: f32,
        board_c: f32,
        sink_c: Option<f32>,
    ) -> bool {
        let hysteresis_k = LIMITS.covered_on_k - LIMITS.covered_off_k;
        self.update_with_hysteresis(
            hysteresis_k,
            elapsed_ms,
            heat_w,
            r_th_k_per_w,
            tau_s,
            board_c,
            sink_c,
        )
    }

    /// [`Self::update`] with the verdict turning off `hysteresis_k` K below the on threshold
    /// (the reference's is `covered_on_k − covered_off_k`, module table).
    #[expect(
        clippy::too_many_arguments,
        reason = "the monitor's inputs are one step's samples; a struct would be built per tick"
    )]
    #[inline]
    pub fn update_with_hysteresis(
        &mut self,
        hysteresis_k: f32,
        elapsed_ms: u32,
        heat_w: f32,
        r_th_k_per_w: f32,
        tau_s: f32,
        board_c: f32,
        sink_c: Option<f32>,
    ) -> bool {
        let a = covered_gain(elapsed_ms, tau_s);
        self.update_with_gain(hysteresis_k, a, heat_w, r_th_k_per_w, board_c, sink_c)
    }

    /// [`Self::update_with_hysteresis`] with the model's gain for the step already computed
    /// ([`covered_gain`]): a control tick of fixed length holds it as a constant.
    #[inline]
    pub fn update_with_gain(
        &mut self,
        hysteresis_k: f32,
        a: f32,
        heat_w: f32,
        r_th_k_per_w: f32,
        board_c: f32,
        sink_c: Option<f32>,
    ) -> bool {
        self.predicted_rise_k += (r_th_k_per_w * heat_w - self.predicted_rise_k) * a;
        let reference_c = sink_c.map_or(self.board_start_c, |s| s.max(self.board_start_c));
        let excess = (board_c - reference_c) - self.predicted_rise_k;
        if excess > LIMITS.covered_on_k {
            self.covered = true;
        } else if excess < LIMITS.covered_on_k - hysteresis_k {
            self.covered = false;
        }
        self.covered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Piecewise-linear and exp2 in f32: 1e-5 relative is float noise, not a model difference.
    const MODEL_TOLERANCE: f32 = 1e-5;

    fn close(got: f32, want: f32) -> bool {
        (got - want).abs() <= MODEL_TOLERANCE * want.abs().max(1.0)
    }

    #[test]
    fn derate_cases() {
        // (contact °C, factor)
        let cases = [
            (30.0, 1.0),
            (39.5, 1.0),
            (40.0, 0.5),
            (40.5, 0.0),
            (45.0, 0.0),
        ];
        for (t, want) in cases {
            assert!(close(contact_derate(t), want), "contact {t}");
        }
        // (T_j, T_j,max, factor): zero at T_j,max − 25, full at − 35.
        let cases = [
            (90.0, 135.0, 1.0),
            (100.0, 135.0, 1.0),
            (105.0, 135.0, 0.5),
            (110.0, 135.0, 0.0),
            (115.0, 145.0, 0.5),
        ];
        for (t, max, want) in cases {
            assert!(close(junction_derate(t, max), want), "junction {t}/{max}");
        }
        assert!(close(junction_estimate_c(40.0, 20.0, 0.25), 45.0));
    }

    /// The junction ramp's shortcut is [`junction_derate`] bit for bit: on and around each
    /// ramp's edges and middle (to eight units in the last place), far outside, for the
    /// non-finite temperatures, and for ratings whose span is not a positive finite number.
    #[test]
    fn junction_ramp_is_junction_derate() {
        let mut compared = 0;
        let mut ones = 0;
        for t_j_max in [
            85.0f32,
            125.0,
            135.0,
            145.0,
            f32::INFINITY,
            f32::NAN,
            1.0e30,
        ] {
            let ramp = JunctionRamp::new(t_j_max);
            let end = t_j_max - LIMITS.junction_zero_below_max_k;
            let mut values = [0.0f32; 64];
            let mut n = 0;
            for edge in [
                end - LIMITS.junction_band_k,
                end,
                end - 0.5 * LIMITS.junction_band_k,
            ] {
                let bits = edge.to_bits();
                for d in 0..8 {
                    values[n] = f32::from_bits(bits.wrapping_sub(d));
                    values[n + 1] = f32::from_bits(bits.wrapping_add(d));
                    n += 2;
                }
            }
            for v in [
                f32::NEG_INFINITY,
                f32::INFINITY,
                f32::NAN,
                -1.0e30,
                1.0e30,
                0.0,
                -0.0,
            ] {
                values[n] = v;
                n += 1;
            }
            for &v in &values[..n] {
                let (got, want) = (ramp.derate(v), junction_derate(v, t_j_max));
                assert_eq!(got.to_bits(), want.to_bits(), "{v} for T_j,max {t_j_max}");
                compared += 1;
                ones += u32::from(got == 1.0);
            }
        }
        assert!(compared > 300 && ones > 50, "{compared} {ones}");
    }

    #[test]
    fn cem43_matches_domain_table() {
        // domain.md §5.5 [D]: CEM43 per minute at 39..46 °C.
        let cases = [
            (39.0, 0.00390625),
            (41.0, 0.0625),
            (42.0, 0.25),
            (43.0, 1.0),
            (44.0, 2.0),
            (46.0, 8.0),
        ];
        for (t, per_min) in cases {
            assert!(close(cem43_increment_min(t, 60_000), per_min), "{t} °C");
        }
        assert!(close(cem43_increment_min(43.0, 30_000), 0.5));
    }

    #[test]
    fn cem43_table_is_the_formula_bit_for_bit() {
        for counts in ntc::RAIL_MARGIN_COUNTS + 1..hw::ADC_MAX - ntc::RAIL_MARGIN_COUNTS {
            let ntc::NtcReading::Celsius(t) = ntc::read(counts) else {
                panic!("{counts} read as a rail")
            };
            for elapsed_ms in [10, 100, 60_000] {
                let want = cem43_increment_min(t + LIMITS.cem43_margin_k, elapsed_ms);
                let got = cem43_increment_at_code_min(counts, elapsed_ms);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{counts} ({t} °C): {got} {want}"
                );
            }
        }
    }

    #[test]
    fn covered_monitor_follows_model_with_hysteresis() {
        // (heat W, measured board °C, covered?) applied in order, 60 s each, R 4 K/W, τ 300 s.
        let mut m = CoveredMonitor::new(25.0);
        let steps = [
            (2.0, 25.0, false),
            (2.0, 30.0, false), // model ≈ 2.9 K after 120 s, measured 5 K: excess 2.1 < 3
            (2.0, 34.0, true),  // model ≈ 3.9 K, measured 9 K
            (2.0, 31.5, true),  // model ≈ 4.7 K, measured 6.5 K: excess 1.8, inside hysteresis
            (2.0, 30.0, false), // model ≈ 5.4 K, measured 5 K
        ];
        for (i, (heat, board, want)) in steps.into_iter().enumerate() {
            assert_eq!(
                m.update(60_000, heat, 4.0, 300.0, board, None),
                want,
                "step {i}"
            );
        }
    }
}
