//! LED (and laser-diode) electro-optical model: forward voltage, radiant flux, heat, beam shape.
//!
//! The plant needs, every control tick, how much of a string's electrical power leaves as light
//! (dose) and how much stays as heat (junction, board, skin temperature). Both depend on drive
//! current (droop) and junction temperature (domain.md §3.1), so they are evaluated at the live
//! operating point, not at the datasheet headline. Energy is conserved by construction:
//! heat = electrical − optical, and optical never exceeds electrical.

use core::f64::consts::{LN_2, PI};

/// Reference junction temperature of datasheet figures, °C (domain.md §3.1, T_ref; datasheets
/// quote flux and V_F at T_j = 25 °C, pulsed).
pub const T_REF_C: f64 = 25.0;

/// Emission band of an LED channel (domain.md §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wavelength {
    /// 630 nm AlInGaP red.
    Red630,
    /// 660 nm deep ("hyper") red.
    Red660,
    /// 810 nm NIR (GaAlAs laser diode or LED).
    Nir810,
    /// 850 nm NIR (GaAs/AlGaAs LED).
    Nir850,
}

impl Wavelength {
    /// Peak wavelength, nm.
    pub const fn nm(self) -> f64 {
        match self {
            Wavelength::Red630 => 630.0,
            Wavelength::Red660 => 660.0,
            Wavelength::Nir810 => 810.0,
            Wavelength::Nir850 => 850.0,
        }
    }

    /// True in the 780–3000 nm band, where the IEC 62471 eye IR limit applies (domain.md §5.3).
    pub const fn is_nir(self) -> bool {
        matches!(self, Wavelength::Nir810 | Wavelength::Nir850)
    }
}

/// Electro-optical and thermal parameters of one emitter type (per LED, not per string).
///
/// Model (domain.md §3.1):
/// `V_F(I,T) = V_F,ref + r_dyn·(I − I_ref) + k_V·(T_j − 25)`;
/// `Φ(I,T) = Φ_ref · g(I) · max(0, 1 + k_Φ·(T_j − 25))`,
/// `g = ℓ / (1 + d·(x − 1))`, `x = I/I_ref`, `ℓ = max(0, (I − I_th)/(I_ref − I_th))`
/// (for LEDs `I_th = 0`, so `ℓ = x`, the brief's droop law; laser diodes add a threshold).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LedParams {
    /// Part name for reports.
    pub name: &'static str,
    /// Emission band.
    pub wavelength: Wavelength,
    /// Reference current of the datasheet figures, mA.
    pub i_ref_ma: f64,
    /// Forward voltage at `i_ref_ma` and 25 °C, V.
    pub v_f_ref_v: f64,
    /// Dynamic (differential) resistance around the operating range, Ω.
    pub r_dyn_ohm: f64,
    /// Forward-voltage temperature coefficient, V/K (negative).
    pub k_v_v_per_k: f64,
    /// Radiant flux at `i_ref_ma` and 25 °C, W.
    pub flux_ref_w: f64,
    /// Droop coefficient `d` of the relative-flux law, dimensionless.
    pub droop: f64,
    /// Flux temperature coefficient `k_Φ`, 1/K (negative).
    pub k_phi_per_k: f64,
    /// Lasing threshold current, mA (0 for LEDs).
    pub threshold_ma: f64,
    /// Thermal resistance junction → solder point of one emitter, K/W (the board adds its own
    /// spreading/dielectric resistance in the device spec).
    pub r_th_js_k_per_w: f64,
    /// Maximum junction temperature, °C.
    pub tj_max_c: f64,
    /// Half-intensity half-angle of the beam as mounted (with any secondary optic), degrees.
    pub half_angle_deg: f64,
    /// Maximum continuous forward current, mA.
    pub i_max_ma: f64,
}

/// ams-OSRAM GH CSSRM4.24 Oslon Square Hyper Red 660 nm, the best-in-class deep-red part.
pub const HYPER_RED_660: LedParams = LedParams {
    name: "ams-OSRAM GH CSSRM4.24 (660 nm)",
    wavelength: Wavelength::Red660,
    // domain.md §3.2 [V] GH CSSRM4.24: figures given at 350 mA and 700 mA.
    i_ref_ma: 350.0,
    // domain.md §3.2 [D]: 530 mW at WPE 0.81 and 0.35 A ⇒ P_el 0.654 W ⇒ V_F 1.87 V.
    v_f_ref_v: 1.87,
    // domain.md §3.2 [D]: (2.02 V @ 700 mA [V] − 1.87 V @ 350 mA) / 0.35 A = 0.43 Ω.
    r_dyn_ohm: 0.43,
    // domain.md §3.2 [M]: AlInGaP red −2 mV/K.
    k_v_v_per_k: -0.002,
    // domain.md §3.2 [V] GH CSSRM4.24: 530 mW @ 350 mA.
    flux_ref_w: 0.530,
    // domain.md §3.2 [D]: 530 → 1045 mW at 350 → 700 mA ⇒ 2/(1+d) = 1045/530 ⇒ d = 0.0143.
    droop: 0.0143,
    // domain.md §3.2 [V] Vinogradova 2013: −7 % over 25 → 50 °C ⇒ −0.28 %/K.
    k_phi_per_k: -0.0028,
    threshold_ma: 0.0,
    // domain.md §3.2 [V]: high-power ceramic package R_th,js typical 5 K/W.
    r_th_js_k_per_w: 5.0,
    // domain.md §3.2 [V] Oslon Square: T_j,max 135 °C.
    tj_max_c: 135.0,
    // domain.md §3.2 [V]: 120° full angle ("Lambertian") ⇒ θ½ = 60°, m = 1.
    half_angle_deg: 60.0,
    // [M] Oslon Square hyper red absolute maximum 1 A (not in domain.md; verify on datasheet).
    i_max_ma: 1000.0,
};

/// Generic 630 nm AlInGaP 1 W-class red LED (no single named part in domain.md).
pub const RED_630: LedParams = LedParams {
    name: "generic 630 nm AlInGaP 1 W",
    wavelength: Wavelength::Red630,
    // Design choice: 1 W-class parts are specified at 350 mA like the 660 nm part.
    i_ref_ma: 350.0,
    // [M] typical AlInGaP 1 W red V_F at 350 mA; domain.md gives none.
    v_f_ref_v: 2.2,
    // [M] design choice: 1 W-class AlInGaP dynamic resistance ~1 Ω.
    r_dyn_ohm: 1.0,
    // domain.md §3.2 [M]: AlInGaP red −2 mV/K.
    k_v_v_per_k: -0.002,
    // domain.md §3.2 [M]: WPE 0.35 for 630 nm ⇒ 0.35 · 0.35 A · 2.2 V = 0.27 W [D].
    flux_ref_w: 0.27,
    // [M] design choice: stronger droop than the best-in-class 660 nm part.
    droop: 0.05,
    // domain.md §3.2 [M]: 615–635 nm AlInGaP −0.5 %/K.
    k_phi_per_k: -0.005,
    threshold_ma: 0.0,
    // domain.md §3.2 [M]: between high-power ceramic (5) and mid-power SMD (20) K/W.
    r_th_js_k_per_w: 8.0,
    // domain.md §3.2 [V] range 125–150 °C for high-power red; low end for a generic part.
    tj_max_c: 125.0,
    // Design choice: bare Lambertian package, 120° (domain.md §2.1).
    half_angle_deg: 60.0,
    // [M] design choice: 1 W-class 700 mA maximum.
    i_max_ma: 700.0,
};

/// ams-OSRAM SFH 4715AS Oslon Black 850 nm double-stack IRED.
pub const NIR_850: LedParams = LedParams {
    name: "ams-OSRAM SFH 4715AS (850 nm)",
    wavelength: Wavelength::Nir850,
    // domain.md §3.2 [V] SFH 4715AS: figures at 1 A.
    i_ref_ma: 1000.0,
    // domain.md §3.2 [V] SFH 4715AS: V_F 3.15 V @ 1 A.
    v_f_ref_v: 3.15,
    // [M] design choice: double-stack IRED dynamic resistance ~0.35 Ω.
    r_dyn_ohm: 0.35,
    // domain.md §3.2 [M]: −1.5 mV/K per junction ×2 for a double stack.
    k_v_v_per_k: -0.003,
    // domain.md §2.1/§3.2 [D]: 900 mW/sr @ 1 A [V] ÷ I0/Φ = 0.573 sr⁻¹ (θ½ 40°) = 1.571 W.
    flux_ref_w: 1.571,
    // [M] design choice: IRED droop similar to the 630 nm part.
    droop: 0.05,
    // domain.md §3.2 [M]: 810–850 nm −0.3 %/K.
    k_phi_per_k: -0.003,
    threshold_ma: 0.0,
    // domain.md §3.2 [V]: SFH 4715AS R_th,js 9 K/W (maximum; conservative).
    r_th_js_k_per_w: 9.0,
    // domain.md §3.2 [V]: T_j,max 145 °C for high-power IR.
    tj_max_c: 145.0,
    // domain.md §2.1 [V]: SFH 4715AS half angle 40° ⇒ m ≈ 2.6.
    half_angle_deg: 40.0,
    // domain.md §3.2 [V]: SFH 4715AS 1.5 A DC.
    i_max_ma: 1500.0,
};

/// Generic 810 nm GaAlAs laser diode behind the probe's diffusing window (class 3B probe).
pub const LASER_810: LedParams = LedParams {
    name: "generic 810 nm GaAlAs laser diode, 0.5 W",
    wavelength: Wavelength::Nir810,
    // [M] design choice: 0.5 W-class single-emitter diode at 600 mA.
    i_ref_ma: 600.0,
    // [M] typical GaAlAs diode V_F ~1.9 V near rated current.
    v_f_ref_v: 1.9,
    // [M] typical diode series resistance ~0.5 Ω.
    r_dyn_ohm: 0.5,
    // domain.md §3.2 [M]: GaAs/AlGaAs −1.5…−2 mV/K.
    k_v_v_per_k: -0.002,
    // Design choice: 0.5 W, the top of class 3B (domain.md §5.4 [V]).
    flux_ref_w: 0.5,
    // [M]: above threshold a laser diode's L–I curve is nearly linear.
    droop: 0.0,
    // [M] design choice: laser diodes lose output faster with temperature than LEDs.
    k_phi_per_k: -0.006,
    // [M] design choice: threshold ~25 % of rated current for a 0.5 W diode.
    threshold_ma: 150.0,
    // [M] design choice: TO-can diode on the probe's copper block.
    r_th_js_k_per_w: 10.0,
    // [M] design choice: laser-diode case ratings are low (~75–85 °C).
    tj_max_c: 85.0,
    // Design choice: the probe's diffusing window spreads the beam to θ½ 30° (m 4.82).
    half_angle_deg: 30.0,
    // [M] design choice: absolute maximum 800 mA.
    i_max_ma: 800.0,
};

/// One emitter at one instant: forward voltage and where the electrical power goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LedOperatingPoint {
    /// Forward voltage, V.
    pub v_f_v: f64,
    /// Electrical input power, W.
    pub p_el_w: f64,
    /// Radiant (optical) output power, W.
    pub p_opt_w: f64,
    /// Heat into the package, W; exactly `p_el_w − p_opt_w`, never negative.
    pub p_heat_w: f64,
}

/// Drive of a string: on-current, PWM duty and junction temperature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drive {
    /// Constant-current set-point while the PWM is on, mA.
    pub i_on_ma: f64,
    /// PWM duty, 0..=1.
    pub duty: f64,
    /// Junction temperature, °C.
    pub tj_c: f64,
}

/// A string of `n_series` emitters with `n_shorted` of them shorted, PWM-averaged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StringOperatingPoint {
    /// Voltage across the string while the PWM is on, V (what the voltage sense reads).
    pub v_on_v: f64,
    /// PWM-averaged current, mA (what the filtered current sense reads).
    pub i_avg_ma: f64,
    /// Average electrical power, W.
    pub p_el_w: f64,
    /// Average radiant output, W.
    pub p_opt_w: f64,
    /// Average heat, W; exactly `p_el_w − p_opt_w`.
    pub p_heat_w: f64,
}

impl LedParams {
    /// Forward voltage at `i_ma` and junction `tj_c`, V (domain.md §3.1); never negative.
    pub fn forward_voltage_v(&self, i_ma: f64, tj_c: f64) -> f64 {
        let v = self.v_f_ref_v
            + self.r_dyn_ohm * (i_ma - self.i_ref_ma) / 1000.0
            + self.k_v_v_per_k * (tj_c - T_REF_C);
        v.max(0.0)
    }

    /// Flux relative to `flux_ref_w` (at `i_ref_ma`, 25 °C): droop × thermal factor
    /// (domain.md §3.1, see the type's doc for `g`).
    pub fn relative_flux(&self, i_ma: f64, tj_c: f64) -> f64 {
        let x = i_ma / self.i_ref_ma;
        let above_threshold =
            ((i_ma - self.threshold_ma) / (self.i_ref_ma - self.threshold_ma)).max(0.0);
        let g = above_threshold / (1.0 + self.droop * (x - 1.0));
        let thermal = (1.0 + self.k_phi_per_k * (tj_c - T_REF_C)).max(0.0);
        g * thermal
    }

    /// One emitter at a DC current `i_ma` and junction temperature `tj_c`.
    pub fn operating_point(&self, i_ma: f64, tj_c: f64) -> LedOperatingPoint {
        let i_ma = i_ma.max(0.0);
        let v_f_v = self.forward_voltage_v(i_ma, tj_c);
        let p_el_w = v_f_v * i_ma / 1000.0;
        // A wall-plug efficiency above 1 is unphysical; clamping keeps heat ≥ 0 at extreme inputs.
        let p_opt_w = (self.flux_ref_w * self.relative_flux(i_ma, tj_c)).min(p_el_w);
        LedOperatingPoint {
            v_f_v,
            p_el_w,
            p_opt_w,
            p_heat_w: p_el_w - p_opt_w,
        }
    }

    /// A series string of `n_series` emitters, `n_shorted` of which are shorted (drop ~0 V and
    /// emit nothing), under PWM: averages are duty × on-values (domain.md §3.1, PWM line), valid
    /// because f_PWM ≫ 1/τ_junction.
    pub fn string_operating_point(
        &self,
        n_series: u32,
        n_shorted: u32,
        drive: Drive,
    ) -> StringOperatingPoint {
        let working = f64::from(n_series.saturating_sub(n_shorted));
        let duty = drive.duty.clamp(0.0, 1.0);
        let on = self.operating_point(drive.i_on_ma, drive.tj_c);
        let p_el_w = duty * working * on.p_el_w;
        let p_opt_w = duty * working * on.p_opt_w;
        StringOperatingPoint {
            v_on_v: working * on.v_f_v,
            i_avg_ma: duty * drive.i_on_ma.max(0.0),
            p_el_w,
            p_opt_w,
            p_heat_w: p_el_w - p_opt_w,
        }
    }

    /// Average optical output of one emitter under `drive`, relative to its output at
    /// `nominal_ma`, 25 °C and full duty: the factor by which the plant scales a string's
    /// reference irradiance map.
    pub fn drive_factor(&self, nominal_ma: f64, drive: Drive) -> f64 {
        let reference = self.operating_point(nominal_ma, T_REF_C).p_opt_w;
        let live = self.operating_point(drive.i_on_ma, drive.tj_c).p_opt_w;
        if reference > 0.0 {
            drive.duty.clamp(0.0, 1.0) * live / reference
        } else {
            0.0
        }
    }

    /// Generalized-Lambertian order of this emitter's beam.
    pub fn lambertian_order(&self) -> f64 {
        lambertian_order(self.half_angle_deg)
    }
}

/// Generalized-Lambertian order `m = −ln 2 / ln cos θ½` (domain.md §2.1), `half_angle_deg` in
/// degrees, 0 < θ½ < 90.
pub fn lambertian_order(half_angle_deg: f64) -> f64 {
    -LN_2 / half_angle_deg.to_radians().cos().ln()
}

/// On-axis intensity per unit flux, `I0/Φ = (m + 1)/(2π)` sr⁻¹ (domain.md §2.1).
pub fn on_axis_intensity_per_flux(m: f64) -> f64 {
    (m + 1.0) / (2.0 * PI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The §2.1 table prints m and I0/Φ to 3 decimals (m: 1–2 decimals for large values); half a
    /// unit in the last printed digit plus rounding of the θ½ entries themselves.
    const TABLE_3_DECIMALS: f64 = 5e-4;
    /// m is printed with fewer decimals for narrow beams (20.0, 45.3): half a unit of 0.1.
    const TABLE_1_DECIMAL: f64 = 0.05;
    /// Datasheet efficiencies are quoted to 2 digits (0.81, 0.74): half a unit in the last digit.
    const WPE_2_DIGITS: f64 = 0.005;
    /// Energy conservation is exact up to one floating-point subtraction.
    const ENERGY_TOL_W: f64 = 1e-12;

    #[test]
    #[expect(
        clippy::approx_constant,
        reason = "domain.md §2.1 prints I0/Φ for m = 1 as 0.318 (= 1/π to 3 decimals)"
    )]
    fn lambertian_table_of_domain_2_1() {
        // (θ½, m, I0/Φ) from domain.md §2.1 [D].
        let table = [
            (60.0, 1.00, 0.318),
            (40.0, 2.60, 0.573),
            (30.0, 4.82, 0.926),
            (22.5, 8.75, 1.553),
            (15.0, 20.0, 3.341),
            (10.0, 45.3, 7.365),
        ];
        for (half, m_table, ratio_table) in table {
            let m = lambertian_order(half);
            let m_tol = if m_table >= 20.0 {
                TABLE_1_DECIMAL
            } else {
                5e-3
            };
            assert!((m - m_table).abs() < m_tol, "θ½ {half}: m {m} vs {m_table}");
            let ratio = on_axis_intensity_per_flux(m);
            // I0/Φ inherits the m rounding at narrow angles: propagate m_tol/(2π).
            let tol = TABLE_3_DECIMALS + m_tol / (2.0 * PI);
            assert!(
                (ratio - ratio_table).abs() < tol,
                "θ½ {half}: I0/Φ {ratio} vs {ratio_table}"
            );
        }
    }

    #[test]
    fn hyper_red_efficiency_matches_datasheet() {
        let at = |i_ma| {
            let op = HYPER_RED_660.operating_point(i_ma, T_REF_C);
            op.p_opt_w / op.p_el_w
        };
        assert!(
            (at(350.0) - 0.81).abs() < WPE_2_DIGITS,
            "WPE@350 = {}",
            at(350.0)
        );
        assert!(
            (at(700.0) - 0.74).abs() < WPE_2_DIGITS,
            "WPE@700 = {}",
            at(700.0)
        );
        // 1045 mW @ 700 mA, 2.02 V @ 700 mA (domain.md §3.2 [V]), to the datasheet's 3 digits.
        let op = HYPER_RED_660.operating_point(700.0, T_REF_C);
        assert!(
            (op.p_opt_w - 1.045).abs() < 0.0015,
            "flux@700 {}",
            op.p_opt_w
        );
        assert!((op.v_f_v - 2.02).abs() < 0.005, "V_F@700 {}", op.v_f_v);
    }

    #[test]
    fn hyper_red_loses_seven_percent_from_25_to_50_c() {
        let cold = HYPER_RED_660.operating_point(350.0, 25.0).p_opt_w;
        let warm = HYPER_RED_660.operating_point(350.0, 50.0).p_opt_w;
        // Vinogradova 2013 quotes "−7 %" (one significant digit): half a percent either way.
        assert!((warm / cold - 0.93).abs() < 0.005, "ratio {}", warm / cold);
    }

    #[test]
    fn string_with_shorts_and_pwm() {
        let drive = Drive {
            i_on_ma: 200.0,
            duty: 0.5,
            tj_c: 40.0,
        };
        let full = NIR_850.string_operating_point(8, 0, drive);
        let two_short = NIR_850.string_operating_point(8, 2, drive);
        let one = NIR_850.operating_point(200.0, 40.0);
        assert!((full.v_on_v - 8.0 * one.v_f_v).abs() < ENERGY_TOL_W);
        assert!((two_short.v_on_v - 6.0 * one.v_f_v).abs() < ENERGY_TOL_W);
        assert!((full.p_opt_w - 0.5 * 8.0 * one.p_opt_w).abs() < ENERGY_TOL_W);
        assert!((two_short.p_opt_w - 0.5 * 6.0 * one.p_opt_w).abs() < ENERGY_TOL_W);
        assert_eq!(full.i_avg_ma, 100.0);
        let dark = NIR_850.string_operating_point(8, 8, drive);
        assert_eq!(dark.p_el_w, 0.0);
        assert_eq!(dark.v_on_v, 0.0);
    }

    #[test]
    fn laser_is_dark_below_threshold() {
        assert_eq!(LASER_810.operating_point(100.0, 25.0).p_opt_w, 0.0);
        assert!(LASER_810.operating_point(300.0, 25.0).p_opt_w > 0.0);
        assert!((LASER_810.operating_point(600.0, 25.0).p_opt_w - 0.5).abs() < ENERGY_TOL_W);
    }

    #[test]
    fn drive_factor_is_one_at_reference_and_scales_with_duty() {
        let nominal = Drive {
            i_on_ma: 200.0,
            duty: 1.0,
            tj_c: T_REF_C,
        };
        assert!((HYPER_RED_660.drive_factor(200.0, nominal) - 1.0).abs() < ENERGY_TOL_W);
        let half = Drive {
            duty: 0.5,
            ..nominal
        };
        assert!((HYPER_RED_660.drive_factor(200.0, half) - 0.5).abs() < ENERGY_TOL_W);
    }

    #[test]
    fn wavelengths() {
        assert!(Wavelength::Nir810.is_nir() && Wavelength::Nir850.is_nir());
        assert!(!Wavelength::Red630.is_nir() && !Wavelength::Red660.is_nir());
        assert_eq!(Wavelength::Red660.nm(), 660.0);
        for led in [HYPER_RED_660, RED_630, NIR_850, LASER_810] {
            assert!(led.lambertian_order() > 0.0);
        }
    }

    proptest! {
        #[test]
        fn heat_plus_light_is_electrical(
            part in 0usize..4, i_ma in 0.0f64..1500.0, tj_c in -20.0f64..200.0,
            duty in 0.0f64..=1.0, n in 1u32..20, shorted in 0u32..20,
        ) {
            let led = [HYPER_RED_660, RED_630, NIR_850, LASER_810][part];
            let op = led.operating_point(i_ma, tj_c);
            prop_assert!(op.p_heat_w >= 0.0 && op.p_opt_w >= 0.0);
            prop_assert!((op.p_heat_w + op.p_opt_w - op.p_el_w).abs() < ENERGY_TOL_W);
            let s = led.string_operating_point(n, shorted, Drive { i_on_ma: i_ma, duty, tj_c });
            prop_assert!(s.p_heat_w >= 0.0);
            prop_assert!((s.p_heat_w + s.p_opt_w - s.p_el_w).abs() < ENERGY_TOL_W * f64::from(n));
        }
    }
}
