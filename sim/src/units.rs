//! Unit newtypes for the public surface of the plant: temperature, irradiance, fluence, power.
//!
//! Hot paths keep plain `f64` with the unit in the field name; these types exist where a value
//! crosses an API and a mix-up (mW/cm² vs W/m², J/cm² vs mJ/cm²) would be silent. Only the
//! physically meaningful operators are implemented: irradiance × time = fluence (domain.md §1.1,
//! `H[J/cm²] = E[mW/cm²]·t[s]/1000`), sums of like quantities, and scaling by a dimensionless
//! factor (a duty cycle or a derating).

use core::ops::{Add, AddAssign, Mul, Sub};
use core::time::Duration;

/// Absolute zero in °C; no temperature may be below it.
pub const ABSOLUTE_ZERO_C: f64 = -273.15;

/// A temperature in degrees Celsius.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Celsius(f64);

impl Celsius {
    /// A temperature; panics (a programming error, not a plant state) below absolute zero or NaN.
    pub fn new(celsius: f64) -> Self {
        assert!(
            celsius >= ABSOLUTE_ZERO_C,
            "temperature {celsius} °C is below absolute zero"
        );
        Self(celsius)
    }

    /// The value in °C.
    pub fn c(self) -> f64 {
        self.0
    }

    /// The value in kelvin.
    pub fn kelvin(self) -> f64 {
        self.0 - ABSOLUTE_ZERO_C
    }
}

/// Difference of two temperatures, in kelvin.
impl Sub for Celsius {
    type Output = f64;
    fn sub(self, rhs: Self) -> f64 {
        self.0 - rhs.0
    }
}

/// Irradiance (power per area at the skin), mW/cm²; never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Irradiance(f64);

impl Irradiance {
    /// An irradiance in mW/cm²; panics if negative or NaN (light adds, it never subtracts).
    pub fn from_mw_cm2(mw_cm2: f64) -> Self {
        assert!(mw_cm2 >= 0.0, "irradiance {mw_cm2} mW/cm² is negative");
        Self(mw_cm2)
    }

    /// The value in mW/cm².
    pub fn mw_cm2(self) -> f64 {
        self.0
    }

    /// The value in W/m² (1 mW/cm² = 10 W/m², domain.md §0).
    pub fn w_m2(self) -> f64 {
        self.0 * 10.0
    }

    /// Fluence delivered when held for `dt_s` seconds (domain.md §1.1).
    pub fn over_s(self, dt_s: f64) -> Fluence {
        Fluence::from_j_cm2(self.0 * dt_s / 1000.0)
    }
}

/// Irradiance held for a duration gives fluence (domain.md §1.1).
impl Mul<Duration> for Irradiance {
    type Output = Fluence;
    fn mul(self, rhs: Duration) -> Fluence {
        self.over_s(rhs.as_secs_f64())
    }
}

/// Scaling by a dimensionless drive factor (duty, derating), which must not be negative.
impl Mul<f64> for Irradiance {
    type Output = Irradiance;
    fn mul(self, factor: f64) -> Irradiance {
        Irradiance::from_mw_cm2(self.0 * factor)
    }
}

impl Add for Irradiance {
    type Output = Irradiance;
    fn add(self, rhs: Self) -> Irradiance {
        Irradiance(self.0 + rhs.0)
    }
}

/// Fluence (energy per area, "dose"), J/cm²; never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Fluence(f64);

impl Fluence {
    /// A fluence in J/cm²; panics if negative or NaN.
    pub fn from_j_cm2(j_cm2: f64) -> Self {
        assert!(j_cm2 >= 0.0, "fluence {j_cm2} J/cm² is negative");
        Self(j_cm2)
    }

    /// The value in J/cm².
    pub fn j_cm2(self) -> f64 {
        self.0
    }

    /// The value in mJ/cm², the firmware's dose-estimate unit.
    pub fn mj_cm2(self) -> f64 {
        self.0 * 1000.0
    }
}

impl Add for Fluence {
    type Output = Fluence;
    fn add(self, rhs: Self) -> Fluence {
        Fluence(self.0 + rhs.0)
    }
}

impl AddAssign for Fluence {
    fn add_assign(&mut self, rhs: Self) {
        self.0 += rhs.0;
    }
}

/// A power, W (electrical, optical or heat; a heat flow may be negative).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Watts(pub f64);

impl Add for Watts {
    type Output = Watts;
    fn add(self, rhs: Self) -> Watts {
        Watts(self.0 + rhs.0)
    }
}

impl Sub for Watts {
    type Output = Watts;
    fn sub(self, rhs: Self) -> Watts {
        Watts(self.0 - rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round-trip tolerance: one multiplication and one division by 1000 in binary floating point.
    const ROUND_TRIP_TOL: f64 = 1e-12;

    #[test]
    fn irradiance_times_time_is_fluence_per_domain_example() {
        // domain.md §1.3: 40 mW/cm² × 10 min = 24 J/cm².
        let h = Irradiance::from_mw_cm2(40.0) * Duration::from_secs(600);
        assert!((h.j_cm2() - 24.0).abs() < ROUND_TRIP_TOL);
        assert!((h.mj_cm2() - 24_000.0).abs() < ROUND_TRIP_TOL * 1000.0);
    }

    #[test]
    fn conversions_and_differences() {
        assert!((Irradiance::from_mw_cm2(2.5).w_m2() - 25.0).abs() < ROUND_TRIP_TOL);
        assert!((Celsius::new(25.0).kelvin() - 298.15).abs() < ROUND_TRIP_TOL);
        assert!((Celsius::new(43.0) - Celsius::new(41.5) - 1.5).abs() < ROUND_TRIP_TOL);
        let mut h = Fluence::from_j_cm2(1.0);
        h += Fluence::from_j_cm2(0.5);
        assert!((h.j_cm2() - 1.5).abs() < ROUND_TRIP_TOL);
        assert_eq!((Watts(3.0) - Watts(1.0)).0, 2.0);
    }

    #[test]
    #[should_panic(expected = "negative")]
    fn negative_irradiance_is_rejected() {
        let _ = Irradiance::from_mw_cm2(-1.0);
    }

    #[test]
    #[should_panic(expected = "absolute zero")]
    fn temperature_below_absolute_zero_is_rejected() {
        let _ = Celsius::new(-300.0);
    }
}
