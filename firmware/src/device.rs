//! The hardware the firmware is written for: device classes, body zones, and the factory
//! calibration of each class (the firmware's "schematic and calibration sheet").
//!
//! Real firmware knows its board from constants burnt in at build or at end-of-line calibration;
//! it never asks the plant. Everything here that describes the *plant* (irradiance, LED counts,
//! thermal resistances) is gathered in one table, [`CALIBRATION`], marked PROVISIONAL: the plant
//! is designed in parallel and the lead replaces these numbers with the plant's measured values
//! without touching any logic.

use crate::boundary::{MAX_CHANNELS, STRINGS_PER_CHANNEL};

/// The device classes of `domain.md` §1.3, as the firmware is built for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum DeviceClass {
    /// Flexible contact wrap (calves, quadriceps, hamstrings).
    Wrap = 0,
    /// Flat contact pad (glutes, back, quadriceps).
    Pad = 1,
    /// Flat panel used at a distance (quadriceps, hamstrings, glutes, back).
    Panel = 2,
    /// Face mask.
    Mask = 3,
    /// Hand-held LED cluster pen (Achilles, knees, hip).
    Pen = 4,
    /// Hand-held class 3B laser probe (Achilles, knees, hip).
    LaserProbe = 5,
}

impl DeviceClass {
    /// Every class, in code order.
    pub const ALL: [DeviceClass; 6] = [
        DeviceClass::Wrap,
        DeviceClass::Pad,
        DeviceClass::Panel,
        DeviceClass::Mask,
        DeviceClass::Pen,
        DeviceClass::LaserProbe,
    ];

    /// Decode a class code; `None` for codes outside the set.
    pub fn from_u8(code: u8) -> Option<DeviceClass> {
        DeviceClass::ALL.get(usize::from(code)).copied()
    }

    /// The class code (the `#[repr(u8)]` discriminant).
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A treated body zone, as the firmware numbers them (stable wire and NVM ids: keep the order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ZoneId {
    /// Left calf (triceps surae).
    LeftCalf = 0,
    /// Right calf.
    RightCalf = 1,
    /// Left quadriceps.
    LeftQuad = 2,
    /// Right quadriceps.
    RightQuad = 3,
    /// Left hamstrings.
    LeftHamstring = 4,
    /// Right hamstrings.
    RightHamstring = 5,
    /// Glutes.
    Glutes = 6,
    /// Lower back.
    Back = 7,
    /// Left Achilles tendon.
    LeftAchilles = 8,
    /// Right Achilles tendon.
    RightAchilles = 9,
    /// Left knee (patellar tendon).
    LeftKnee = 10,
    /// Right knee.
    RightKnee = 11,
    /// Hip (trochanter major).
    Hip = 12,
    /// Face.
    Face = 13,
}

impl ZoneId {
    /// Every zone, in id order.
    pub const ALL: [ZoneId; 14] = [
        ZoneId::LeftCalf,
        ZoneId::RightCalf,
        ZoneId::LeftQuad,
        ZoneId::RightQuad,
        ZoneId::LeftHamstring,
        ZoneId::RightHamstring,
        ZoneId::Glutes,
        ZoneId::Back,
        ZoneId::LeftAchilles,
        ZoneId::RightAchilles,
        ZoneId::LeftKnee,
        ZoneId::RightKnee,
        ZoneId::Hip,
        ZoneId::Face,
    ];

    /// Decode a zone id; `None` outside the set.
    pub fn from_u8(code: u8) -> Option<ZoneId> {
        ZoneId::ALL.get(usize::from(code)).copied()
    }

    /// The zone id (the `#[repr(u8)]` discriminant).
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// LED emitter families the devices use, with their output-model constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wavelength {
    /// 630 nm AlInGaP red.
    Red630,
    /// 660 nm deep red.
    Red660,
    /// 810 nm NIR (laser diode in the probe).
    Nir810,
    /// 850 nm NIR.
    Nir850,
}

impl Wavelength {
    /// Peak wavelength, nm.
    pub fn nm(self) -> u16 {
        match self {
            Wavelength::Red630 => 630,
            Wavelength::Red660 => 660,
            Wavelength::Nir810 => 810,
            Wavelength::Nir850 => 850,
        }
    }

    /// True for the IR-A band (780–3000 nm) that the eye limits of IEC 62471 apply to
    /// (domain.md §5.3 \[M\]).
    pub fn is_nir(self) -> bool {
        self.nm() >= 780
    }

    /// Droop constant `d` of the relative-flux curve `g(x) = x / (1 + d (x − 1))`, dimensionless.
    ///
    /// 660 nm: 0.0143, from the ams-OSRAM GH CSSRM4.24 datasheet (530 mW at 350 mA, 1045 mW at
    /// 700 mA: g(2) = 1.972) (domain.md §3.2 \[V\]); other families: 0.05, a typical droop
    /// (domain.md §3.1 \[M\]).
    pub const fn droop(self) -> f32 {
        match self {
            Wavelength::Red660 => 0.0143,
            Wavelength::Red630 | Wavelength::Nir810 | Wavelength::Nir850 => 0.05,
        }
    }

    /// Output temperature coefficient `k_Φ`, 1/K (relative change of radiant flux per kelvin of
    /// junction temperature above 25 °C).
    ///
    /// 660 nm: −0.28 %/K (domain.md §3.2 \[V\] Vinogradova 2013); 630 nm: −0.5 %/K (domain.md §3.2
    /// \[M\]); 810/850 nm: −0.3 %/K (domain.md §3.2 \[M\]).
    pub const fn k_phi_per_k(self) -> f32 {
        match self {
            Wavelength::Red660 => -0.0028,
            Wavelength::Red630 => -0.005,
            Wavelength::Nir810 | Wavelength::Nir850 => -0.003,
        }
    }
}

/// Factory calibration of one LED channel (one wavelength group of parallel strings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelCalibration {
    /// Emitter family.
    pub wavelength: Wavelength,
    /// Strings fitted on this channel (1..=`STRINGS_PER_CHANNEL`); string `s` of channel `c` is
    /// boundary string `c * STRINGS_PER_CHANNEL + s`.
    pub strings: u8,
    /// Nominal drive current per string, mA (the brief's device table).
    pub nominal_ma: u16,
    /// Zone-mean irradiance of the whole channel at nominal current, T_j 25 °C, duty 100 %
    /// (panels: at the reference distance), mW/cm² (the brief's device table; PROVISIONAL).
    pub irradiance_mw_cm2: f32,
    /// Peak-point to zone-mean irradiance ratio, dimensionless (brief: 2.0 for contact devices,
    /// 1.3 for the panel; PROVISIONAL).
    pub peak_to_mean: f32,
    /// LEDs in series per string.
    pub leds_per_string: u8,
    /// Lowest forward voltage of one healthy LED over the operating range (hot junction, lowest
    /// current), mV; a string reading below `(n − ½)·V_F,min` has a shorted LED (domain.md §6.3).
    pub vf_min_mv: u16,
    /// Wall-plug efficiency, for the heat estimate `P_heat = P_el (1 − WPE)` (domain.md §3.1).
    pub wpe: f32,
    /// Junction-to-board thermal resistance of one LED, K/W (domain.md §3.2).
    pub r_th_jb_k_per_w: f32,
    /// Maximum junction temperature, °C (domain.md §3.2 \[V\]: 135 °C red, 145 °C IR).
    pub t_j_max_c: f32,
    /// Output temperature coefficient `k_Φ` of the fitted part, 1/K: the family's
    /// [`Wavelength::k_phi_per_k`] unless the part's datasheet says otherwise (the laser diode).
    pub k_phi_per_k: f32,
    /// Droop constant `d` of the fitted part, dimensionless: the family's [`Wavelength::droop`]
    /// unless the part's datasheet says otherwise.
    pub droop: f32,
}

/// Factory calibration of one device class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceCalibration {
    /// The class this sheet describes.
    pub class: DeviceClass,
    /// Channel 0 (red, or the laser) and channel 1 (NIR); `None` when not fitted.
    pub channels: [Option<ChannelCalibration>; MAX_CHANNELS],
    /// Contact NTCs fitted (boundary indices `0..contact_ntcs`).
    pub contact_ntcs: u8,
    /// Skin-contact sensor fitted; emission requires contact (domain.md §6.4).
    pub skin_contact: bool,
    /// Eye-shield detect fitted; NIR requires shields (domain.md §6.4).
    pub eye_shield: bool,
    /// Fan with tachometer fitted (domain.md §6.3, fan failure).
    pub fan: bool,
    /// Time-of-flight distance sensor fitted; dose scales with [`PANEL_DISTANCE_TABLE`].
    pub distance_sensor: bool,
    /// Board-to-ambient thermal resistance of the whole LED board, K/W: the covered-device
    /// monitor's model of how far the board should rise for the heat it dissipates (domain.md
    /// §6.2 "rise vs model prediction").
    pub board_r_th_k_per_w: f32,
    /// Board thermal time constant, s (same model).
    pub board_tau_s: f32,
    /// LED rail the string sinks hang from, mV (the schematic): an open string's voltage sense
    /// reads the rail, so the open-string test compares against it, not the sense full scale
    /// (a pen's 15 V rail never reaches 90 % of the 40 V sense).
    pub led_rail_mv: u16,
}

impl DeviceCalibration {
    /// Boundary string indices fitted on channel `c`.
    #[inline]
    pub fn strings_of(&self, c: usize) -> core::ops::Range<usize> {
        let n = self.channels[c]
            .as_ref()
            .map_or(0, |ch| usize::from(ch.strings));
        c * STRINGS_PER_CHANNEL..c * STRINGS_PER_CHANNEL + n
    }
}

/// Reference distance of the panel's calibrated irradiance, mm (domain.md §1.3: 15 cm typical).
pub const PANEL_REFERENCE_DISTANCE_MM: u16 = 150;

/// Panel irradiance relative to [`PANEL_REFERENCE_DISTANCE_MM`] against distance, (mm, ratio).
///
/// PROVISIONAL: the centre view factor of a 30 × 45 cm Lambertian panel (domain.md §2.3 \[D\]:
/// F = 0.937, 0.793, 0.635, 0.314, 0.172 at 5, 10, 15, 30, 45 cm), normalised to 15 cm. The plant's
/// measured dosing chart replaces it. Linear interpolation between rows; the firmware refuses
/// distances outside the table's allowed range ([`PANEL_MIN_DISTANCE_MM`],
/// [`PANEL_MAX_DISTANCE_MM`]).
pub const PANEL_DISTANCE_TABLE: [(u16, f32); 4] =
    [(100, 1.081), (150, 1.0), (300, 0.668), (450, 0.430)];

/// Closest allowed panel distance, mm (brief: refuse < 10 cm; domain.md §6.4).
pub const PANEL_MIN_DISTANCE_MM: u16 = 100;
/// Farthest allowed panel distance, mm: the end of [`PANEL_DISTANCE_TABLE`] (no extrapolation).
pub const PANEL_MAX_DISTANCE_MM: u16 = 450;

/// Relative panel irradiance at `distance_mm` (1.0 at the reference distance), from
/// [`PANEL_DISTANCE_TABLE`]; clamped to the table's ends.
pub fn panel_distance_factor(distance_mm: u16) -> f32 {
    let t = &PANEL_DISTANCE_TABLE;
    if distance_mm <= t[0].0 {
        return t[0].1;
    }
    for w in t.windows(2) {
        let ((d0, f0), (d1, f1)) = (w[0], w[1]);
        if distance_mm <= d1 {
            let u = f32::from(distance_mm - d0) / f32::from(d1 - d0);
            return f0 + (f1 - f0) * u;
        }
    }
    t[t.len() - 1].1
}

#[expect(
    clippy::too_many_arguments,
    reason = "one row of the calibration sheet"
)]
const fn channel(
    wavelength: Wavelength,
    strings: u8,
    nominal_ma: u16,
    irradiance_mw_cm2: f32,
    peak_to_mean: f32,
    leds_per_string: u8,
    r_th_jb_k_per_w: f32,
    vf_min_mv: u16,
    wpe: f32,
    t_j_max_c: f32,
) -> Option<ChannelCalibration> {
    Some(ChannelCalibration {
        wavelength,
        strings,
        nominal_ma,
        irradiance_mw_cm2,
        peak_to_mean,
        leds_per_string,
        vf_min_mv,
        wpe,
        r_th_jb_k_per_w,
        t_j_max_c,
        k_phi_per_k: wavelength.k_phi_per_k(),
        droop: wavelength.droop(),
    })
}

/// A channel whose part departs from its family's temperature coefficient and droop.
const fn with_part(
    ch: Option<ChannelCalibration>,
    k_phi_per_k: f32,
    droop: f32,
) -> Option<ChannelCalibration> {
    match ch {
        Some(mut c) => {
            c.k_phi_per_k = k_phi_per_k;
            c.droop = droop;
            Some(c)
        }
        None => None,
    }
}

/// Factory calibration, one row per class, in [`DeviceClass`] code order.
///
/// Measured on the calibration rig (the plant model's device catalog at nominal current, 25 °C,
/// full duty, on the 16×16 treated-zone grid): strings, nominal current, zone-mean irradiance,
/// peak/mean ratio, LEDs per string, R_th,jb per LED, V_F,min (hot junction, 30 % of nominal
/// current, rounded down), wall-plug efficiency at nominal and T_j,max of the fitted part. The
/// board model (for covered-device detection) is the steady board rise per watt, board to ambient
/// in parallel with the skin contact, with a time constant of the board's fast stage (30 s, or
/// the panel's single stage): a first-order model must never predict less rise than the real
/// two-stage board and housing, or it would call every session "covered".
/// The integration test `tests/calibration.rs` checks this sheet against the plant; every number
/// the device design fixes belongs here and nowhere else.
pub const CALIBRATION: [DeviceCalibration; 6] = [
    DeviceCalibration {
        class: DeviceClass::Wrap,
        channels: [
            channel(
                Wavelength::Red660,
                2,
                200,
                7.97,
                2.87,
                8,
                10.0,
                1500,
                0.84,
                135.0,
            ),
            channel(
                Wavelength::Nir850,
                2,
                187,
                8.01,
                2.87,
                8,
                14.0,
                2400,
                0.57,
                145.0,
            ),
        ],
        contact_ntcs: 2,
        skin_contact: true,
        eye_shield: false,
        fan: false,
        distance_sensor: false,
        board_r_th_k_per_w: 0.93,
        board_tau_s: 30.0,
        led_rail_mv: 38000,
    },
    DeviceCalibration {
        class: DeviceClass::Pad,
        channels: [
            channel(
                Wavelength::Red630,
                2,
                350,
                5.98,
                5.63,
                14,
                13.0,
                1700,
                0.35,
                125.0,
            ),
            channel(
                Wavelength::Nir850,
                2,
                235,
                6.08,
                7.48,
                10,
                14.0,
                2400,
                0.57,
                145.0,
            ),
        ],
        contact_ntcs: 2,
        skin_contact: true,
        eye_shield: false,
        fan: false,
        distance_sensor: false,
        board_r_th_k_per_w: 0.38,
        board_tau_s: 30.0,
        led_rail_mv: 38000,
    },
    DeviceCalibration {
        class: DeviceClass::Panel,
        channels: [
            channel(
                Wavelength::Red660,
                2,
                708,
                25.0,
                1.06,
                18,
                5.76,
                1550,
                0.74,
                135.0,
            ),
            channel(
                Wavelength::Nir850,
                2,
                1060,
                24.6,
                1.11,
                11,
                9.76,
                2500,
                0.49,
                145.0,
            ),
        ],
        contact_ntcs: 0,
        skin_contact: false,
        eye_shield: false,
        fan: true,
        distance_sensor: true,
        board_r_th_k_per_w: 0.07,
        board_tau_s: 110.0,
        led_rail_mv: 39000,
    },
    DeviceCalibration {
        class: DeviceClass::Mask,
        channels: [
            channel(
                Wavelength::Red630,
                2,
                189,
                10.0,
                1.49,
                12,
                13.0,
                1650,
                0.39,
                125.0,
            ),
            channel(
                Wavelength::Nir850,
                2,
                175,
                5.02,
                4.32,
                3,
                14.0,
                2400,
                0.57,
                145.0,
            ),
        ],
        contact_ntcs: 1,
        skin_contact: true,
        eye_shield: true,
        fan: false,
        distance_sensor: false,
        board_r_th_k_per_w: 2.09,
        board_tau_s: 30.0,
        led_rail_mv: 38000,
    },
    DeviceCalibration {
        class: DeviceClass::Pen,
        channels: [
            channel(
                Wavelength::Red660,
                1,
                67,
                39.8,
                3.26,
                4,
                5.76,
                1450,
                0.87,
                135.0,
            ),
            channel(
                Wavelength::Nir850,
                1,
                79,
                40.1,
                6.49,
                3,
                9.76,
                2400,
                0.58,
                145.0,
            ),
        ],
        contact_ntcs: 1,
        skin_contact: true,
        eye_shield: false,
        fan: false,
        distance_sensor: false,
        board_r_th_k_per_w: 1.10,
        board_tau_s: 30.0,
        led_rail_mv: 15000,
    },
    DeviceCalibration {
        class: DeviceClass::LaserProbe,
        channels: [
            // The 810 nm laser diode loses output twice as fast with temperature as NIR LEDs
            // (−0.6 %/K, [M] design choice of the part, the plant's `LASER_810`) and its L–I curve
            // is linear above threshold (no droop). A campaign found the family's −0.3 %/K
            // over-reporting dose by ~5 % in a 37 °C room.
            with_part(
                channel(
                    Wavelength::Nir810,
                    1,
                    315,
                    125.3,
                    2.09,
                    1,
                    10.76,
                    1450,
                    0.33,
                    85.0,
                ),
                -0.006,
                0.0,
            ),
            None,
        ],
        contact_ntcs: 1,
        skin_contact: true,
        eye_shield: false,
        fan: false,
        distance_sensor: false,
        board_r_th_k_per_w: 7.64,
        board_tau_s: 30.0,
        led_rail_mv: 5000,
    },
];

/// The calibration sheet of `class`.
pub fn calibration(class: DeviceClass) -> &'static DeviceCalibration {
    &CALIBRATION[usize::from(class.as_u8())]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Interpolation of a 5-row table in f32: the ratios carry 3–4 significant digits, so
    /// anything within 1e-4 is the same number.
    const TABLE_TOLERANCE: f32 = 1e-4;

    #[test]
    fn codes_round_trip_and_tables_are_in_order() {
        for (i, c) in DeviceClass::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.as_u8()), i);
            assert_eq!(DeviceClass::from_u8(c.as_u8()), Some(*c));
            assert_eq!(calibration(*c).class, *c);
        }
        assert_eq!(DeviceClass::from_u8(6), None);
        for (i, z) in ZoneId::ALL.iter().enumerate() {
            assert_eq!(usize::from(z.as_u8()), i);
            assert_eq!(ZoneId::from_u8(z.as_u8()), Some(*z));
        }
        assert_eq!(ZoneId::from_u8(14), None);
    }

    #[test]
    fn panel_distance_factor_interpolates_and_clamps() {
        let cases: &[(u16, f32)] = &[
            (0, 1.081),
            (50, 1.081),
            (100, 1.081),
            (125, 1.0405),
            (150, 1.0),
            (225, 0.834),
            (450, 0.430),
            (900, 0.430),
        ];
        for &(d, want) in cases {
            let got = panel_distance_factor(d);
            assert!(
                (got - want).abs() < TABLE_TOLERANCE,
                "d {d}: {got} != {want}"
            );
        }
    }

    #[test]
    fn nir_band_and_strings() {
        assert!(Wavelength::Nir810.is_nir() && Wavelength::Nir850.is_nir());
        assert!(!Wavelength::Red630.is_nir() && !Wavelength::Red660.is_nir());
        assert_eq!(calibration(DeviceClass::Pen).strings_of(1), 2..3);
        assert_eq!(calibration(DeviceClass::LaserProbe).strings_of(1), 2..2);
        assert_eq!(calibration(DeviceClass::Wrap).strings_of(0), 0..2);
    }
}
