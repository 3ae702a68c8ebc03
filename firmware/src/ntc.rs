//! NTC thermistor counts to temperature, and the open/short rail checks.
//!
//! The divider is NTC to ground, fixed resistor to the ratiometric reference ([`hw`]), so the
//! code is `ADC_MAX · R/(R_f + R)` and the reference cancels (domain.md §6.5). An open NTC pulls
//! the input to full scale and a short to zero: both are recognised before any conversion, so a
//! broken sensor can never read as a plausible temperature.

use crate::boundary::hw;

/// Codes this close to a rail are a broken sensor, not a temperature, counts.
///
/// domain.md §6.3: "ADC code within a few LSB of the rail". 8 LSB at the top is R ≥ 5 MΩ (below
/// −80 °C); at the bottom R ≤ 20 Ω (above 250 °C): no working sensor in a body-worn device reads
/// there.
pub const RAIL_MARGIN_COUNTS: u16 = 8;

/// 0 °C in kelvin.
const KELVIN_OFFSET: f32 = 273.15;
/// Beta-model reference temperature T25, K (domain.md §6.5).
const T25_K: f32 = 298.15;

/// One NTC sample, classified.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NtcReading {
    /// A temperature, °C (Beta model).
    Celsius(f32),
    /// Code at the top rail: the NTC is open (or disconnected).
    Open,
    /// Code at the bottom rail: the NTC or its input is shorted to ground.
    Short,
}

/// Classify and convert one divider code.
///
/// Beta model (domain.md §6.5): `1/T = 1/T25 + (1/B)·ln(R/R25)`, R from the divider
/// `R = R_f · code / (ADC_MAX − code)`; T in K, R in Ω, B = [`hw::NTC_BETA_K`] in K. The model is
/// evaluated once per code at build time (a table): a 12-bit ADC has only 4096 codes,
/// and the control tick converts three sensors every 10 ms.
pub fn read(counts: u16) -> NtcReading {
    if counts >= hw::ADC_MAX - RAIL_MARGIN_COUNTS {
        return NtcReading::Open;
    }
    if counts <= RAIL_MARGIN_COUNTS {
        return NtcReading::Short;
    }
    NtcReading::Celsius(CELSIUS_BY_CODE[usize::from(counts)])
}

/// Number of ADC codes, `ADC_MAX + 1`.
pub(crate) const ADC_CODES: usize = hw::ADC_MAX as usize + 1;

/// [`beta_celsius`] of every code between the rail margins, °C (the rail codes hold 0 and are
/// never read: [`read`] classifies them first). Built by the compiler, so it is exactly what the
/// conversion would compute at run time (the tests compare all codes bit for bit against the
/// formula with `libm::logf`).
static CELSIUS_BY_CODE: [f32; ADC_CODES] = celsius_table();

const fn celsius_table() -> [f32; ADC_CODES] {
    let mut table = [0.0; ADC_CODES];
    let mut counts = RAIL_MARGIN_COUNTS + 1;
    while counts < hw::ADC_MAX - RAIL_MARGIN_COUNTS {
        table[counts as usize] = beta_celsius(counts);
        counts += 1;
    }
    table
}

/// The Beta model of [`read`] for one code, °C (domain.md §6.5; units there).
pub(crate) const fn beta_celsius(counts: u16) -> f32 {
    let code = counts as f32;
    let r_ohm = hw::NTC_R_FIXED_OHM * code / (hw::ADC_MAX as f32 - code);
    let inv_t = 1.0 / T25_K + ln(r_ohm / hw::NTC_R25_OHM) / hw::NTC_BETA_K;
    1.0 / inv_t - KELVIN_OFFSET
}

/// Natural logarithm for positive, normal `x`: `libm::logf` (FreeBSD `e_logf.c`, Sun Microsystems
/// 1993, freely distributable) operation for operation, as a `const fn` so that
/// [`CELSIUS_BY_CODE`] can be built at compile time with the very roundings `libm::logf` makes.
/// Zero, negative, subnormal and non-finite arguments (which no NTC code produces) are left out.
const fn ln(x: f32) -> f32 {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
    const LG1: f32 = f32::from_bits(0x3f2a_aaaa);
    const LG2: f32 = f32::from_bits(0x3ecc_ce13);
    const LG3: f32 = f32::from_bits(0x3e91_e9ee);
    const LG4: f32 = f32::from_bits(0x3e78_9e26);
    let mut ix = x.to_bits();
    if ix == 0x3f80_0000 {
        return 0.0;
    }
    // Reduce x into [sqrt(2)/2, sqrt(2)]: x = 2^k · (1 + f).
    ix += 0x3f80_0000 - 0x3f35_04f3;
    let k = ((ix >> 23) as i32) - 0x7f;
    ix = (ix & 0x007f_ffff) + 0x3f35_04f3;
    let f = f32::from_bits(ix) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * LG4);
    let t2 = z * (LG1 + w * LG3);
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    let dk = k as f32;
    s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI
}

/// The divider code a perfect sensor at `celsius` gives (the inverse of [`read`]), rounded.
///
/// For tests and for anyone who needs the firmware's view of a temperature (the plant's sensor
/// model has its own, with tolerances and lag).
pub fn counts_from_celsius(celsius: f32) -> u16 {
    let t_k = celsius + KELVIN_OFFSET;
    let r_ohm = hw::NTC_R25_OHM * libm::expf(hw::NTC_BETA_K * (1.0 / t_k - 1.0 / T25_K));
    let code = f32::from(hw::ADC_MAX) * r_ohm / (hw::NTC_R_FIXED_OHM + r_ohm);
    libm::roundf(code) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// domain.md §6.5 tabulates codes rounded to the count; converting those back loses up to half
    /// an LSB, 0.5/counts-per-K ≈ 0.07 K at 100 °C (7.1 counts/K), and the table's own rounding
    /// of R adds a little: 0.1 K covers both.
    const TABLE_TOLERANCE_K: f32 = 0.1;

    fn check(counts: u16, want: NtcReading) {
        match (read(counts), want) {
            (NtcReading::Celsius(got), NtcReading::Celsius(want)) => {
                assert!(
                    (got - want).abs() < TABLE_TOLERANCE_K,
                    "{counts}: {got} != {want}"
                );
            }
            (got, want) => assert_eq!(got, want, "{counts}"),
        }
    }

    /// The Beta model with `libm::logf`, as [`read`] computed it before the table.
    fn formula(counts: u16) -> f32 {
        let code = f32::from(counts);
        let r_ohm = hw::NTC_R_FIXED_OHM * code / (f32::from(hw::ADC_MAX) - code);
        let inv_t = 1.0 / T25_K + libm::logf(r_ohm / hw::NTC_R25_OHM) / hw::NTC_BETA_K;
        1.0 / inv_t - KELVIN_OFFSET
    }

    #[test]
    fn table_is_the_formula_bit_for_bit() {
        for counts in RAIL_MARGIN_COUNTS + 1..hw::ADC_MAX - RAIL_MARGIN_COUNTS {
            let NtcReading::Celsius(got) = read(counts) else {
                panic!("{counts} read as a rail")
            };
            assert_eq!(got.to_bits(), formula(counts).to_bits(), "{counts}: {got}");
        }
    }

    #[test]
    fn domain_table_and_rails() {
        // (code, expected) from domain.md §6.5 (10k/B3950, 10 kΩ, 12 bit) and the rail margins.
        let cases = [
            (2278, NtcReading::Celsius(20.0)),
            (2048, NtcReading::Celsius(25.0)),
            (1534, NtcReading::Celsius(37.0)),
            (1382, NtcReading::Celsius(41.0)),
            (1310, NtcReading::Celsius(43.0)),
            (815, NtcReading::Celsius(60.0)),
            (267, NtcReading::Celsius(100.0)),
            (4095, NtcReading::Open),
            (4087, NtcReading::Open),
            (0, NtcReading::Short),
            (8, NtcReading::Short),
        ];
        for (counts, want) in cases {
            check(counts, want);
        }
        assert!(matches!(read(4086), NtcReading::Celsius(_)));
        assert!(matches!(read(9), NtcReading::Celsius(_)));
    }

    /// Half a count each way (rounding in the inverse) at the flattest point of the range, 85 °C
    /// with 11.1 counts/K (domain.md §6.5), is 0.045 K; 0.1 K leaves room for f32 rounding.
    const ROUND_TRIP_TOLERANCE_K: f32 = 0.1;

    #[test]
    fn inverse_round_trips_within_one_count() {
        for c in [0.0f32, 5.0, 25.0, 38.0, 41.0, 43.0, 85.0] {
            let code = counts_from_celsius(c);
            let NtcReading::Celsius(back) = read(code) else {
                panic!("{c} read as a rail")
            };
            assert!(
                (back - c).abs() < ROUND_TRIP_TOLERANCE_K,
                "{c} -> {code} -> {back}"
            );
        }
    }
}
