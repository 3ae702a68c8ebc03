//! Device catalog: the six device classes as data (LED channels, emitter layout, optics geometry,
//! thermal parameters for the electro-thermal network, sensors).
//!
//! A scenario names a device kind; everything the plant needs to simulate that device comes from
//! [`spec`]. The numbers are chosen so each device hits its design irradiance (zone mean per
//! channel at nominal current, full duty, T_j = 25 °C) with every string voltage inside the
//! boundary's 40 V sense full scale; the tests in this module hold those targets.
//!
//! Thermal nodes follow domain.md §4.1: J (junction, one per channel) → B (LED board) → H
//! (housing: silicone/diffuser body, heatsink or shell) → A (ambient), and H → skin contact.
//! Each resistance and capacity is computed here from geometry and the §4.1 material table, so a
//! change of footprint or standoff carries through.

use crate::led::{HYPER_RED_660, LASER_810, LedParams, NIR_850, RED_630, T_REF_C, Wavelength};
use crate::optics::{Beam, Emitter, Placement, SkinGrid, StringMaps, Vec3, ZoneStats};

/// LED channels (wavelength groups) a device can have; must match `firmware::boundary::MAX_CHANNELS`.
pub const MAX_CHANNELS: usize = 2;
/// Parallel strings per channel, each with its own sink and sense; must match
/// `firmware::boundary::STRINGS_PER_CHANNEL`.
pub const STRINGS_PER_CHANNEL: usize = 2;
/// Global strings; string `s` belongs to channel `s / STRINGS_PER_CHANNEL`.
pub const MAX_STRINGS: usize = MAX_CHANNELS * STRINGS_PER_CHANNEL;
/// Contact NTCs a device can have; must match `firmware::boundary::MAX_CONTACT_NTCS`.
pub const MAX_CONTACT_NTCS: usize = 2;

/// Insulation a blanket or duvet adds over the outer surface, m²K/W (domain.md §4.1 \[D\] blanket
/// scenario, R'' = 0.3).
pub const BLANKET_R_M2K_PER_W: f64 = 0.3;

/// Voltage a constant-current sink needs across itself to regulate, V (design choice: typical
/// low-side linear sink with a sense resistor).
pub const SINK_HEADROOM_V: f64 = 1.0;

/// Coldest junction temperature at which a string must still fit under the rail: the 5 °C low end
/// of the home-use operating range (domain.md §6.2, IEC 60601-1-11 \[M\]).
pub const COLDEST_START_C: f64 = 5.0;

// Material and boundary constants (domain.md §4.1 table, SI units).
/// Silicone rubber conductivity, W/mK (domain.md §4.1 \[M\]).
const K_SILICONE: f64 = 0.2;
/// Silicone volumetric heat capacity ρc, J/m³K (domain.md §4.1 \[M\]: 1150 kg/m³ × 1300 J/kgK).
const RHO_C_SILICONE: f64 = 1150.0 * 1300.0;
/// Aluminium volumetric heat capacity, J/m³K (domain.md §4.1 \[M\]: 2700 × 900).
const RHO_C_ALUMINIUM: f64 = 2700.0 * 900.0;
/// Aluminium specific heat, J/kgK (domain.md §4.1 \[M\]).
const C_ALUMINIUM: f64 = 900.0;
/// FR4 volumetric heat capacity, J/m³K (domain.md §4.1 \[M\]: 1850 × 1100), also used for flex
/// and plastic shells (polyimide/PC are within 20 % of it).
const RHO_C_FR4: f64 = 1850.0 * 1100.0;
/// MCPCB dielectric area resistance, m²K/W (domain.md §4.1 \[M\]/\[D\]: 0.38 K·cm²/W).
const R_MCPCB_M2K_PER_W: f64 = 0.38e-4;
/// Polyimide flex area resistance, m²K/W (domain.md §4.1 \[M\]/\[D\]: 1.7–3.3 K·cm²/W, mid 2.5).
const R_FLEX_M2K_PER_W: f64 = 2.5e-4;
/// Board area under one emitter that carries its heat through the dielectric, m² (design choice:
/// copper pad plus spreading, ~0.5 cm²).
const SPREAD_AREA_M2: f64 = 0.5e-4;
/// Heat capacity of one emitter package with its pad, J/K (domain.md §4.1 "small C" \[D\]:
/// 3 × 3 × 1 mm ceramic at ρc ≈ 3e6 J/m³K ≈ 0.027 J/K, rounded up for the solder pad).
const C_PACKAGE_J_PER_K: f64 = 0.03;
/// Natural convection coefficient, W/m²K (domain.md §4.1 \[M\]: 3–6, mid value).
const H_NATURAL: f64 = 4.0;
/// Linearized radiation coefficient, W/m²K (domain.md §4.1 \[M\]/\[D\]: ε 0.9 at 300–320 K).
const H_RADIATION: f64 = 6.0;
/// Forced convection with the panel fan running, W/m²K (domain.md §4.1 \[M\]).
const H_FAN: f64 = 30.0;
/// Textile cover area resistance, m²K/W (domain.md §4.1 \[D\], 0.5 mm cover).
const R_TEXTILE_M2K_PER_W: f64 = 0.01;
/// Dry skin–device contact area resistance, m²K/W (domain.md §4.1 \[M\]).
const R_CONTACT_M2K_PER_W: f64 = 1e-3;
/// Still-air conductivity, W/mK (textbook \[M\]), for the mask's air gap to the face.
const K_AIR: f64 = 0.026;

/// The device classes of the product (product.md, domain.md §1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKind {
    /// Flexible contact wrap for thigh or calf.
    Wrap,
    /// Flat contact pad for glutes or back.
    Pad,
    /// Flat panel used at a distance.
    Panel,
    /// Face mask.
    Mask,
    /// Handheld LED-cluster pen.
    Pen,
    /// Handheld class 3B laser probe.
    LaserProbe,
}

impl DeviceKind {
    /// Every kind, in catalog order.
    pub const ALL: [DeviceKind; 6] = [
        DeviceKind::Wrap,
        DeviceKind::Pad,
        DeviceKind::Panel,
        DeviceKind::Mask,
        DeviceKind::Pen,
        DeviceKind::LaserProbe,
    ];
}

/// One LED channel (a wavelength group) of a device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelSpec {
    /// Emission band.
    pub wavelength: Wavelength,
    /// Emitter part, as mounted (half-angle includes any lens or diffuser).
    pub led: LedParams,
    /// Emitters in series per string.
    pub leds_per_string: u32,
    /// Parallel strings, 1..=2.
    pub strings: u32,
    /// Nominal on-current per string, mA (the design point the irradiance targets refer to).
    pub nominal_current_ma: f64,
    /// Largest current the driver is designed for, mA.
    pub max_current_ma: f64,
}

/// Thermal parameters of the device for the electro-thermal network (domain.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThermalSpec {
    /// Junction heat capacity per channel (all its emitters), J/K; 0 for an absent channel.
    pub junction_c_j_per_k: [f64; MAX_CHANNELS],
    /// Junction → board resistance per channel (its emitters in parallel), K/W; infinite (no
    /// path) for an absent channel.
    pub junction_board_r_k_per_w: [f64; MAX_CHANNELS],
    /// Board heat capacity, J/K.
    pub board_c_j_per_k: f64,
    /// Board → housing resistance, K/W.
    pub board_housing_r_k_per_w: f64,
    /// Housing heat capacity, J/K.
    pub housing_c_j_per_k: f64,
    /// Housing → ambient, uncovered, natural convection + radiation, K/W.
    pub housing_ambient_r_k_per_w: f64,
    /// Housing → ambient with the fan running (panels), K/W.
    pub housing_ambient_fan_r_k_per_w: Option<f64>,
    /// Housing → skin surface (contact resistance plus the skin-side half of the housing layer,
    /// or the air gap for a mask), K/W; `None` when the device does not face the skin closely.
    pub housing_skin_r_k_per_w: Option<f64>,
    /// Outer (ambient-facing) area, m².
    pub outer_area_m2: f64,
    /// Area in contact with (or facing) the skin, m².
    pub skin_area_m2: f64,
}

impl ThermalSpec {
    /// Housing → ambient with a blanket of [`BLANKET_R_M2K_PER_W`] over the outer area, K/W
    /// (series resistance; domain.md §4.1 blanket scenario).
    pub fn housing_ambient_covered_r_k_per_w(&self) -> f64 {
        self.housing_ambient_r_k_per_w + BLANKET_R_M2K_PER_W / self.outer_area_m2
    }
}

/// Sensors and inputs a device has (what the firmware's `InputFrame` carries for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SensorSpec {
    /// Contact NTCs on the skin side, 0..=2.
    pub contact_ntcs: u8,
    /// LED-board NTC fitted.
    pub board_ntc: bool,
    /// Skin-contact / proximity sensor fitted.
    pub skin_contact: bool,
    /// Eye-shield detect fitted.
    pub eye_shield: bool,
    /// Cooling fan with tachometer fitted.
    pub fan: bool,
    /// Time-of-flight distance sensor fitted.
    pub distance: bool,
}

/// Everything the plant needs to know about one device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSpec {
    /// Device class.
    pub kind: DeviceKind,
    /// Name for reports.
    pub name: &'static str,
    /// Channels; channel `c` owns strings `2c` and `2c + 1`.
    pub channels: Vec<ChannelSpec>,
    /// Every emitter, in the device frame (LED plane z = 0, facing −z).
    pub emitters: Vec<Emitter>,
    /// LED-area footprint, cm × cm (x × y).
    pub footprint_cm: [f64; 2],
    /// True for devices worn or held on the skin.
    pub contact: bool,
    /// LED plane to skin, cm: the standoff of a contact device, the nominal distance of a panel.
    pub distance_cm: f64,
    /// Thermal network parameters.
    pub thermal: ThermalSpec,
    /// Sensors fitted.
    pub sensors: SensorSpec,
    /// Skin grid of the treated zone (centred on the device axis).
    pub skin_grid: SkinGrid,
    /// Eye points for NIR exposure (masks), on the skin plane with normal +z; empty otherwise.
    pub eye_points: Vec<Vec3>,
    /// Supply (adapter or battery) voltage, V, as the supply sense reads it.
    pub supply_v: f64,
    /// LED rail (boost output) the string sinks hang from, V; an open string reads it.
    pub led_rail_v: f64,
}

impl DeviceSpec {
    /// Channel of global string `s`, if the device has that string.
    pub fn string_channel(&self, s: usize) -> Option<&ChannelSpec> {
        let ch = self.channels.get(s / STRINGS_PER_CHANNEL)?;
        ((s % STRINGS_PER_CHANNEL) < ch.strings as usize).then_some(ch)
    }

    /// Emitters in series in string `s` (0 when absent).
    pub fn string_leds(&self, s: usize) -> u32 {
        self.string_channel(s).map_or(0, |c| c.leds_per_string)
    }

    /// Beam of one emitter of each string at the reference drive (nominal current, 25 °C, full
    /// duty); zero flux for absent strings.
    pub fn reference_beams(&self) -> [Beam; MAX_STRINGS] {
        core::array::from_fn(|s| match self.string_channel(s) {
            Some(ch) => {
                let flux_w = ch
                    .led
                    .operating_point(ch.nominal_current_ma, T_REF_C)
                    .p_opt_w;
                Beam::from_flux(flux_w * 1000.0, ch.led.lambertian_order())
            }
            None => Beam {
                i0_mw_sr: 0.0,
                m: 1.0,
            },
        })
    }

    /// The placement the targets refer to: centred, at the standoff or nominal distance.
    pub fn nominal_placement(&self) -> Placement {
        Placement::centred(self.distance_cm)
    }

    /// Reference irradiance maps per string on the device's skin grid at `placement`.
    pub fn reference_maps(&self, placement: Placement) -> StringMaps {
        StringMaps::compute(
            &self.emitters,
            &self.reference_beams(),
            self.skin_grid,
            placement,
        )
    }

    /// Zone statistics per channel at the reference drive (`None` for an absent channel).
    pub fn channel_stats(&self, placement: Placement) -> [Option<ZoneStats>; MAX_CHANNELS] {
        let maps = self.reference_maps(placement);
        core::array::from_fn(|c| {
            self.channels.get(c).map(|_| {
                let mut factors = [0.0; MAX_STRINGS];
                factors[c * STRINGS_PER_CHANNEL..(c + 1) * STRINGS_PER_CHANNEL].fill(1.0);
                maps.combined(&factors).stats()
            })
        })
    }

    /// Irradiance at each eye point per string at the reference drive, mW/cm² (eyes face the
    /// device: normal +z).
    pub fn eye_irradiance(&self, placement: Placement) -> Vec<[f64; MAX_STRINGS]> {
        let beams = self.reference_beams();
        self.eye_points
            .iter()
            .map(|&p| {
                crate::optics::irradiance_per_string(&self.emitters, &beams, placement, p, Vec3::UP)
            })
            .collect()
    }
}

/// Emitter positions on a `cols × rows` lattice over `width × height` cm centred on the origin;
/// `row_phase` (0..1) shifts the rows so two channels' lattices interleave row by row
/// (0.25 and 0.75 give evenly spaced alternating rows).
fn lattice(cols: u32, rows: u32, width_cm: f64, height_cm: f64, row_phase: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let x = (f64::from(c) + 0.5) * width_cm / f64::from(cols) - width_cm / 2.0;
            let y = (f64::from(r) + row_phase) * height_cm / f64::from(rows) - height_cm / 2.0;
            out.push((x, y));
        }
    }
    out
}

/// Emitters of `channel` at `positions`, split into `strings` strings by position (left half of
/// the channel's emitters, ordered by x then y, is string 0), so an open string darkens a region
/// as it would on a real board.
fn channel_emitters(channel: usize, strings: u32, mut positions: Vec<(f64, f64)>) -> Vec<Emitter> {
    positions.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let per_string = positions.len().div_ceil(strings as usize);
    positions
        .into_iter()
        .enumerate()
        .map(|(i, (x, y))| Emitter {
            pos_cm: Vec3::new(x, y, 0.0),
            normal: Vec3::DOWN,
            string: channel * STRINGS_PER_CHANNEL + i / per_string,
        })
        .collect()
}

/// Conduction resistance of a slab, K/W: `R = t/(k·A)` (t m, k W/mK, A m²).
fn slab_r(thickness_m: f64, k: f64, area_m2: f64) -> f64 {
    thickness_m / (k * area_m2)
}

/// Surface-to-ambient resistance, K/W: `1/((h_c + h_r)·A)` plus any cover `R''/A`
/// (domain.md §4.1).
fn surface_r(h_w_m2k: f64, cover_r_m2k_per_w: f64, area_m2: f64) -> f64 {
    1.0 / (h_w_m2k * area_m2) + cover_r_m2k_per_w / area_m2
}

/// Junction capacity and junction → board resistance per channel: packages in parallel, each
/// `R_th,js + R''_board / A_spread` (domain.md §3.2, §4.1).
fn junction_params(
    channels: &[ChannelSpec],
    board_r_m2k_per_w: f64,
) -> ([f64; MAX_CHANNELS], [f64; MAX_CHANNELS]) {
    let mut c = [0.0; MAX_CHANNELS];
    let mut r = [f64::INFINITY; MAX_CHANNELS];
    for (i, ch) in channels.iter().enumerate() {
        let n = f64::from(ch.leds_per_string * ch.strings);
        c[i] = n * C_PACKAGE_J_PER_K;
        r[i] = (ch.led.r_th_js_k_per_w + board_r_m2k_per_w / SPREAD_AREA_M2) / n;
    }
    (c, r)
}

/// Thermal spec of a flat contact device (wrap, pad): flex board in the middle of a silicone and
/// diffuser body whose skin-side layer is the standoff, textile cover outside.
fn contact_body_thermal(
    channels: &[ChannelSpec],
    width_cm: f64,
    height_cm: f64,
    standoff_cm: f64,
) -> ThermalSpec {
    let area_m2 = width_cm * height_cm * 1e-4;
    let layer_m = standoff_cm * 1e-2;
    let (junction_c_j_per_k, junction_board_r_k_per_w) =
        junction_params(channels, R_FLEX_M2K_PER_W);
    // Design choice: flex board 0.1 mm thick (polyimide + copper) at FR4-like ρc.
    let board_c_j_per_k = area_m2 * 0.1e-3 * RHO_C_FR4;
    ThermalSpec {
        junction_c_j_per_k,
        junction_board_r_k_per_w,
        board_c_j_per_k,
        // The housing node sits at mid-layer: half the silicone on each side of it.
        board_housing_r_k_per_w: slab_r(layer_m / 2.0, K_SILICONE, area_m2),
        housing_c_j_per_k: area_m2 * layer_m * RHO_C_SILICONE,
        housing_ambient_r_k_per_w: surface_r(H_NATURAL + H_RADIATION, R_TEXTILE_M2K_PER_W, area_m2),
        housing_ambient_fan_r_k_per_w: None,
        housing_skin_r_k_per_w: Some(
            slab_r(layer_m / 2.0, K_SILICONE, area_m2) + R_CONTACT_M2K_PER_W / area_m2,
        ),
        outer_area_m2: area_m2,
        skin_area_m2: area_m2,
    }
}

/// Wrap for thigh or calf: 660 + 850 nm, 30 × 15 cm, 0.9 cm silicone + diffuser standoff.
fn wrap() -> DeviceSpec {
    let (w, h, standoff) = (30.0, 15.0, 0.9);
    let red = ChannelSpec {
        wavelength: Wavelength::Red660,
        led: HYPER_RED_660,
        leds_per_string: 8,
        strings: 2,
        nominal_current_ma: 200.0,
        max_current_ma: 250.0,
    };
    let nir = ChannelSpec {
        wavelength: Wavelength::Nir850,
        // Design choice: the diffuser spreads the 40° IRED to a Lambertian beam.
        led: LedParams {
            half_angle_deg: 60.0,
            ..NIR_850
        },
        leds_per_string: 8,
        strings: 2,
        nominal_current_ma: 187.0,
        max_current_ma: 250.0,
    };
    let mut emitters = channel_emitters(0, red.strings, lattice(8, 2, w, h, 0.25));
    emitters.extend(channel_emitters(1, nir.strings, lattice(8, 2, w, h, 0.75)));
    let channels = vec![red, nir];
    DeviceSpec {
        kind: DeviceKind::Wrap,
        name: "contact wrap (thigh/calf) 660 + 850 nm",
        thermal: contact_body_thermal(&channels, w, h, standoff),
        channels,
        emitters,
        footprint_cm: [w, h],
        contact: true,
        distance_cm: standoff,
        sensors: SensorSpec {
            contact_ntcs: 2,
            board_ntc: true,
            skin_contact: true,
            eye_shield: false,
            fan: false,
            distance: false,
        },
        skin_grid: SkinGrid::covering(w, h),
        eye_points: Vec::new(),
        supply_v: 24.0,
        led_rail_v: 38.0,
    }
}

/// Pad for glutes or back: 630 + 850 nm, 40 × 25 cm, 0.8 cm standoff.
fn pad() -> DeviceSpec {
    let (w, h, standoff) = (40.0, 25.0, 0.8);
    let red = ChannelSpec {
        wavelength: Wavelength::Red630,
        led: RED_630,
        leds_per_string: 14,
        strings: 2,
        nominal_current_ma: 350.0,
        max_current_ma: 450.0,
    };
    let nir = ChannelSpec {
        wavelength: Wavelength::Nir850,
        led: LedParams {
            half_angle_deg: 60.0,
            ..NIR_850
        },
        leds_per_string: 10,
        strings: 2,
        nominal_current_ma: 235.0,
        max_current_ma: 350.0,
    };
    let mut emitters = channel_emitters(0, red.strings, lattice(7, 4, w, h, 0.25));
    emitters.extend(channel_emitters(1, nir.strings, lattice(5, 4, w, h, 0.75)));
    let channels = vec![red, nir];
    DeviceSpec {
        kind: DeviceKind::Pad,
        name: "contact pad (glutes/back) 630 + 850 nm",
        thermal: contact_body_thermal(&channels, w, h, standoff),
        channels,
        emitters,
        footprint_cm: [w, h],
        contact: true,
        distance_cm: standoff,
        sensors: SensorSpec {
            contact_ntcs: 2,
            board_ntc: true,
            skin_contact: true,
            eye_shield: false,
            fan: false,
            distance: false,
        },
        skin_grid: SkinGrid::covering(w, h),
        eye_points: Vec::new(),
        supply_v: 24.0,
        led_rail_v: 38.0,
    }
}

/// Panel: 660 + 850 nm, 30 × 45 cm aluminium heatsink with fan, used at 15 cm.
fn panel() -> DeviceSpec {
    let (w, h) = (30.0, 45.0);
    let red = ChannelSpec {
        wavelength: Wavelength::Red660,
        // Design choice: 60° secondary lenses (θ½ 30°, m 4.82), as domain.md §1.3 discusses for
        // reaching vendor-class irradiance at 15 cm.
        led: LedParams {
            half_angle_deg: 30.0,
            ..HYPER_RED_660
        },
        leds_per_string: 18,
        strings: 2,
        nominal_current_ma: 708.0,
        max_current_ma: 760.0,
    };
    let nir = ChannelSpec {
        wavelength: Wavelength::Nir850,
        led: LedParams {
            half_angle_deg: 30.0,
            ..NIR_850
        },
        leds_per_string: 11,
        strings: 2,
        nominal_current_ma: 1060.0,
        max_current_ma: 1150.0,
    };
    let mut emitters = channel_emitters(0, red.strings, lattice(6, 6, w, h, 0.25));
    emitters.extend(channel_emitters(1, nir.strings, lattice(2, 11, w, h, 0.75)));
    let channels = vec![red, nir];
    let area_m2 = w * h * 1e-4;
    let (junction_c_j_per_k, junction_board_r_k_per_w) =
        junction_params(&channels, R_MCPCB_M2K_PER_W);
    // Design choice: 1.2 kg finned aluminium heatsink with 0.4 m² of outer surface.
    let (sink_kg, outer_m2) = (1.2, 0.4);
    let thermal = ThermalSpec {
        junction_c_j_per_k,
        junction_board_r_k_per_w,
        // Design choice: 1.5 mm aluminium MCPCB over the whole panel.
        board_c_j_per_k: area_m2 * 1.5e-3 * RHO_C_ALUMINIUM,
        // Design choice: thermal interface pad, 1 K·cm²/W, over the board area.
        board_housing_r_k_per_w: 1e-4 / area_m2,
        housing_c_j_per_k: sink_kg * C_ALUMINIUM,
        housing_ambient_r_k_per_w: surface_r(H_NATURAL + H_RADIATION, 0.0, outer_m2),
        housing_ambient_fan_r_k_per_w: Some(surface_r(H_FAN + H_RADIATION, 0.0, outer_m2)),
        housing_skin_r_k_per_w: None,
        outer_area_m2: outer_m2,
        skin_area_m2: 0.0,
    };
    DeviceSpec {
        kind: DeviceKind::Panel,
        name: "flat panel 660 + 850 nm, 30 × 45 cm",
        thermal,
        channels,
        emitters,
        footprint_cm: [w, h],
        contact: false,
        // domain.md §1.3 [V2]: 15 cm (6 in) typical use distance.
        distance_cm: 15.0,
        sensors: SensorSpec {
            contact_ntcs: 0,
            board_ntc: true,
            skin_contact: false,
            eye_shield: false,
            fan: true,
            distance: true,
        },
        // Brief: zone grid ~15 × 30 cm centred (a limb under the panel).
        skin_grid: SkinGrid::covering(15.0, 30.0),
        eye_points: Vec::new(),
        supply_v: 24.0,
        // Design choice: 39 V boost so 18 red LEDs at 760 mA and 5 °C keep the sink headroom.
        led_rail_v: 39.0,
    }
}

/// Face mask: 630 + 850 nm, face 15 × 20 cm at 2 cm, NIR kept off the periocular region.
fn mask() -> DeviceSpec {
    let (w, h, standoff) = (15.0, 20.0, 2.0);
    let red = ChannelSpec {
        wavelength: Wavelength::Red630,
        led: RED_630,
        leds_per_string: 12,
        strings: 2,
        nominal_current_ma: 189.0,
        max_current_ma: 300.0,
    };
    let nir = ChannelSpec {
        wavelength: Wavelength::Nir850,
        led: LedParams {
            half_angle_deg: 60.0,
            ..NIR_850
        },
        leds_per_string: 3,
        strings: 2,
        nominal_current_ma: 175.0,
        max_current_ma: 300.0,
    };
    let mut emitters = channel_emitters(0, red.strings, lattice(4, 6, w, h, 0.5));
    // NIR only on forehead (y = +7.5) and lower face (y = −6); eyes are at y = +3 (domain.md §6.4).
    let nir_sites = vec![
        (-4.0, 7.5),
        (0.0, 7.5),
        (4.0, 7.5),
        (-4.0, -6.0),
        (0.0, -6.0),
        (4.0, -6.0),
    ];
    emitters.extend(channel_emitters(1, nir.strings, nir_sites));
    let channels = vec![red, nir];
    let area_m2 = w * h * 1e-4;
    let (junction_c_j_per_k, junction_board_r_k_per_w) =
        junction_params(&channels, R_FLEX_M2K_PER_W);
    let thermal = ThermalSpec {
        junction_c_j_per_k,
        junction_board_r_k_per_w,
        board_c_j_per_k: area_m2 * 0.1e-3 * RHO_C_FR4,
        // Design choice: board bonded to a 2 mm plastic shell (k ≈ silicone's), half its thickness.
        board_housing_r_k_per_w: slab_r(1e-3, K_SILICONE, area_m2),
        housing_c_j_per_k: area_m2 * 2e-3 * RHO_C_FR4,
        housing_ambient_r_k_per_w: surface_r(H_NATURAL + H_RADIATION, 0.0, area_m2),
        housing_ambient_fan_r_k_per_w: None,
        // The 2 cm air gap to the face: still-air conduction plus linearized radiation.
        housing_skin_r_k_per_w: Some(surface_r(
            K_AIR / (standoff * 1e-2) + H_RADIATION,
            0.0,
            area_m2,
        )),
        outer_area_m2: area_m2,
        skin_area_m2: area_m2,
    };
    DeviceSpec {
        kind: DeviceKind::Mask,
        name: "face mask 630 + 850 nm",
        thermal,
        channels,
        emitters,
        footprint_cm: [w, h],
        contact: false,
        distance_cm: standoff,
        sensors: SensorSpec {
            contact_ntcs: 1,
            board_ntc: true,
            // A reflectance wear sensor (domain.md §6.4 [M]: "don't start if the mask is not
            // worn (e.g. detection by reflectance)"): reported on the skin-contact input. A
            // campaign found why it matters: a mask taken off mid-session kept emitting and
            // reported a completed session its wearer never received.
            skin_contact: true,
            eye_shield: true,
            fan: false,
            distance: false,
        },
        skin_grid: SkinGrid::covering(w, h),
        // Design choice: eyes 6.4 cm apart (adult interpupillary distance [M]), 3 cm above the
        // face centre.
        eye_points: vec![Vec3::new(-3.2, 3.0, 0.0), Vec3::new(3.2, 3.0, 0.0)],
        supply_v: 12.0,
        led_rail_v: 38.0,
    }
}

/// Thermal spec of a handheld head (pen, probe): aluminium head of `head_kg` and `outer_m2`,
/// a small MCPCB, a contact window of `window_cm2`.
fn handheld_thermal(
    channels: &[ChannelSpec],
    head_kg: f64,
    outer_m2: f64,
    window_cm2: f64,
) -> ThermalSpec {
    let window_m2 = window_cm2 * 1e-4;
    let (junction_c_j_per_k, junction_board_r_k_per_w) =
        junction_params(channels, R_MCPCB_M2K_PER_W);
    ThermalSpec {
        junction_c_j_per_k,
        junction_board_r_k_per_w,
        // Design choice: 1.5 mm MCPCB disc twice the window area.
        board_c_j_per_k: 2.0 * window_m2 * 1.5e-3 * RHO_C_ALUMINIUM,
        // Design choice: board screwed to the head with paste, 1 K·cm²/W over twice the window.
        board_housing_r_k_per_w: 1e-4 / (2.0 * window_m2),
        housing_c_j_per_k: head_kg * C_ALUMINIUM,
        housing_ambient_r_k_per_w: surface_r(H_NATURAL + H_RADIATION, 0.0, outer_m2),
        housing_ambient_fan_r_k_per_w: None,
        housing_skin_r_k_per_w: Some(R_CONTACT_M2K_PER_W / window_m2),
        outer_area_m2: outer_m2,
        skin_area_m2: window_m2,
    }
}

/// LED-cluster pen: 4 × 660 nm + 3 × 850 nm behind a window 0.5 cm from the skin, 3 cm spot.
fn pen() -> DeviceSpec {
    let spot = 3.0;
    let red = ChannelSpec {
        wavelength: Wavelength::Red660,
        led: HYPER_RED_660,
        leds_per_string: 4,
        strings: 1,
        nominal_current_ma: 67.0,
        max_current_ma: 150.0,
    };
    let nir = ChannelSpec {
        wavelength: Wavelength::Nir850,
        led: NIR_850,
        leds_per_string: 3,
        strings: 1,
        nominal_current_ma: 79.0,
        max_current_ma: 150.0,
    };
    let mut emitters = channel_emitters(
        0,
        1,
        vec![(-0.6, -0.6), (0.6, -0.6), (-0.6, 0.6), (0.6, 0.6)],
    );
    emitters.extend(channel_emitters(
        1,
        1,
        vec![(0.0, 0.0), (0.0, -1.1), (0.0, 1.1)],
    ));
    let channels = vec![red, nir];
    DeviceSpec {
        kind: DeviceKind::Pen,
        name: "LED cluster pen 660 + 850 nm",
        // Design choice: 60 g aluminium head, 2 cm × 10 cm body (60 cm² outer).
        thermal: handheld_thermal(&channels, 0.06, 60e-4, spot * spot),
        channels,
        emitters,
        footprint_cm: [spot, spot],
        contact: true,
        distance_cm: 0.5,
        sensors: SensorSpec {
            contact_ntcs: 1,
            board_ntc: true,
            skin_contact: true,
            eye_shield: false,
            fan: false,
            distance: false,
        },
        skin_grid: SkinGrid::covering(spot, spot),
        eye_points: Vec::new(),
        supply_v: 7.4,
        led_rail_v: 15.0,
    }
}

/// Class 3B laser probe: one 810 nm diode behind a diffusing window, ~1 cm² spot.
fn laser_probe() -> DeviceSpec {
    let spot = 1.0;
    let ld = ChannelSpec {
        wavelength: Wavelength::Nir810,
        led: LASER_810,
        leds_per_string: 1,
        strings: 1,
        nominal_current_ma: 315.0,
        max_current_ma: 600.0,
    };
    let emitters = channel_emitters(0, 1, vec![(0.0, 0.0)]);
    let channels = vec![ld];
    DeviceSpec {
        kind: DeviceKind::LaserProbe,
        name: "810 nm laser probe (class 3B)",
        // Design choice: 40 g aluminium head, 40 cm² outer.
        thermal: handheld_thermal(&channels, 0.04, 40e-4, spot * spot),
        channels,
        emitters,
        footprint_cm: [spot, spot],
        contact: true,
        distance_cm: 0.8,
        sensors: SensorSpec {
            contact_ntcs: 1,
            board_ntc: true,
            skin_contact: true,
            eye_shield: false,
            fan: false,
            distance: false,
        },
        skin_grid: SkinGrid::covering(spot, spot),
        eye_points: Vec::new(),
        supply_v: 7.4,
        led_rail_v: 5.0,
    }
}

/// The catalog: the specification of a device kind.
pub fn spec(kind: DeviceKind) -> DeviceSpec {
    match kind {
        DeviceKind::Wrap => wrap(),
        DeviceKind::Pad => pad(),
        DeviceKind::Panel => panel(),
        DeviceKind::Mask => mask(),
        DeviceKind::Pen => pen(),
        DeviceKind::LaserProbe => laser_probe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::led::Drive;

    /// Design-target tolerance on a channel's zone mean (brief: aim within ±5 %).
    const TARGET_REL_TOL: f64 = 0.05;
    /// Eye IR limit for long exposures, mW/cm² (domain.md §5.3 \[M\], 100 W/m² for t > 1000 s).
    const EYE_IR_LIMIT_MW_CM2: f64 = 10.0;
    /// String-voltage sense full scale, V; must match `firmware::boundary::hw`.
    const STRING_SENSE_FULL_SCALE_V: f64 = crate::sensors::STRING_VOLTAGE_FULL_SCALE_MV / 1000.0;

    /// Each device against its design targets (zone mean per channel, mW/cm², at nominal current,
    /// full duty, 25 °C, nominal placement) and its electrical limits.
    fn check(kind: DeviceKind, targets: &[f64]) {
        let d = spec(kind);
        assert_eq!(d.channels.len(), targets.len(), "{kind:?} channel count");
        let stats = d.channel_stats(d.nominal_placement());
        for (c, target) in targets.iter().enumerate() {
            let s = stats[c].expect("channel present");
            assert!(
                (s.mean / target - 1.0).abs() < TARGET_REL_TOL,
                "{kind:?} channel {c}: zone mean {:.2} vs target {target}",
                s.mean
            );
            assert!(s.min >= 0.0 && s.max >= s.mean);
        }
        assert!(
            d.led_rail_v <= STRING_SENSE_FULL_SCALE_V,
            "{kind:?} rail above the sense full scale"
        );
        for (c, ch) in d.channels.iter().enumerate() {
            assert_eq!(
                ch.wavelength, ch.led.wavelength,
                "{kind:?} channel {c} wavelength"
            );
            assert!((1..=STRINGS_PER_CHANNEL as u32).contains(&ch.strings));
            assert!(
                ch.nominal_current_ma <= ch.max_current_ma && ch.max_current_ma <= ch.led.i_max_ma
            );
            // Worst case for the rail: maximum current into a cold string.
            let cold = Drive {
                i_on_ma: ch.max_current_ma,
                duty: 1.0,
                tj_c: COLDEST_START_C,
            };
            let v = ch
                .led
                .string_operating_point(ch.leds_per_string, 0, cold)
                .v_on_v;
            assert!(
                v + SINK_HEADROOM_V <= d.led_rail_v,
                "{kind:?} channel {c}: string {v:.2} V on a {} V rail",
                d.led_rail_v
            );
            for k in 0..ch.strings as usize {
                let s = c * STRINGS_PER_CHANNEL + k;
                let n = d.emitters.iter().filter(|e| e.string == s).count();
                assert_eq!(
                    n, ch.leds_per_string as usize,
                    "{kind:?} string {s} emitter count"
                );
            }
        }
        // Every emitter belongs to a present string.
        assert!(
            d.emitters
                .iter()
                .all(|e| d.string_channel(e.string).is_some())
        );
        for eye in d.eye_irradiance(d.nominal_placement()) {
            let nir: f64 = (0..MAX_STRINGS)
                .filter(|&s| d.string_channel(s).is_some_and(|ch| ch.wavelength.is_nir()))
                .map(|s| eye[s])
                .sum();
            assert!(
                nir < EYE_IR_LIMIT_MW_CM2,
                "{kind:?}: NIR at the eye {nir:.2} mW/cm²"
            );
        }
        let t = d.thermal;
        for c in 0..d.channels.len() {
            assert!(t.junction_c_j_per_k[c] > 0.0 && t.junction_board_r_k_per_w[c].is_finite());
        }
        assert!(t.housing_ambient_covered_r_k_per_w() > t.housing_ambient_r_k_per_w);
        assert_eq!(
            d.contact,
            t.housing_skin_r_k_per_w.is_some() && kind != DeviceKind::Mask
        );
        assert!(usize::from(d.sensors.contact_ntcs) <= MAX_CONTACT_NTCS);
    }

    #[test]
    fn wrap_meets_targets() {
        check(DeviceKind::Wrap, &[8.0, 8.0]);
    }

    #[test]
    fn pad_meets_targets() {
        check(DeviceKind::Pad, &[6.0, 6.0]);
    }

    #[test]
    fn panel_meets_targets() {
        check(DeviceKind::Panel, &[25.0, 25.0]);
        let d = spec(DeviceKind::Panel);
        assert!(
            d.thermal.housing_ambient_fan_r_k_per_w.unwrap() < d.thermal.housing_ambient_r_k_per_w
        );
    }

    #[test]
    fn mask_meets_targets_and_has_eye_points() {
        check(DeviceKind::Mask, &[10.0, 5.0]);
        assert_eq!(spec(DeviceKind::Mask).eye_points.len(), 2);
    }

    #[test]
    fn pen_meets_targets() {
        check(DeviceKind::Pen, &[40.0, 40.0]);
    }

    #[test]
    fn laser_probe_meets_target() {
        check(DeviceKind::LaserProbe, &[125.0]);
    }

    #[test]
    fn panel_irradiance_falls_with_distance() {
        let d = spec(DeviceKind::Panel);
        let near = d.channel_stats(Placement::centred(10.0))[0].unwrap().mean;
        let far = d.channel_stats(Placement::centred(30.0))[0].unwrap().mean;
        assert!(far < near);
    }
}
