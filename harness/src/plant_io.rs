//! The bench's adapter between the plant's types and the firmware boundary.
//!
//! Everything that maps one side's vocabulary onto the other lives here, so the bench loop reads
//! as the loop and a change of either side's types touches one file.

use firmware::boundary::{InputFrame, OutputFrame, STRINGS_PER_CHANNEL};
use sim::body::Zone;
use sim::device::{self, DeviceKind};
use sim::plant::{BodyConfig, NtcId, PlantFault, Probe, Readings};
use sim::sensors::{self, NtcFault};

use crate::scenario::Environment;

/// ADC codes this close to a rail count as "at the rail" (an open or shorted NTC).
const RAIL_MARGIN_COUNTS: u16 = 8;
/// A sensed NTC temperature this far from its host's truth shows a drifting or detached sensor.
const NTC_EVIDENCE_K: f64 = 1.0;
/// String current below this many counts while commanded on reads as "no current" (≈ 5 mA).
const NO_CURRENT_COUNTS: u16 = 10;

/// The firmware's device class for a plant device kind.
pub fn device_class(kind: DeviceKind) -> firmware::DeviceClass {
    match kind {
        DeviceKind::Wrap => firmware::DeviceClass::Wrap,
        DeviceKind::Pad => firmware::DeviceClass::Pad,
        DeviceKind::Panel => firmware::DeviceClass::Panel,
        DeviceKind::Mask => firmware::DeviceClass::Mask,
        DeviceKind::Pen => firmware::DeviceClass::Pen,
        DeviceKind::LaserProbe => firmware::DeviceClass::LaserProbe,
    }
}

/// The plant's body configuration from the scenario's environment.
pub fn body_config(env: &Environment) -> BodyConfig {
    BodyConfig {
        skin_type: env.skin_type,
        perfusion_scale: env.perfusion_scale,
        arterial_c: env.arterial_c,
        skin_c: env.skin_c,
    }
}

/// Static facts about a device kind the bench needs.
#[derive(Clone, Copy, Debug)]
pub struct DeviceFacts {
    /// T_j,max per channel, °C (infinite for an absent channel).
    pub tj_max_c: [f64; 2],
    /// Worn in skin contact (contact interlock applies).
    pub contact: bool,
    /// Needs eye shields (masks).
    pub needs_shields: bool,
    /// Treats at a distance (panels).
    pub at_distance: bool,
}

/// Facts about a device kind from the catalog.
pub fn facts(kind: DeviceKind) -> DeviceFacts {
    let spec = device::spec(kind);
    let tj = |c: usize| {
        spec.channels
            .get(c)
            .map_or(f64::INFINITY, |ch| ch.led.tj_max_c)
    };
    DeviceFacts {
        tj_max_c: [tj(0), tj(1)],
        contact: spec.contact,
        needs_shields: spec.sensors.eye_shield,
        at_distance: !spec.contact && kind == DeviceKind::Panel,
    }
}

/// Index of a zone in [`Zone::ALL`] (for per-zone bookkeeping).
pub fn zone_index(zone: Zone) -> usize {
    Zone::ALL
        .iter()
        .position(|z| *z == zone)
        .expect("every zone is in Zone::ALL")
}

/// Whether a placement is one the firmware must accept: panels between 12 and 30 cm (the
/// firmware refuses closer than 10 cm; between, either answer is accepted).
pub fn placement_ok(kind: DeviceKind, placed: Option<(Zone, f64)>) -> bool {
    match (kind, placed) {
        (_, None) => false,
        (DeviceKind::Panel, Some((_, d))) => (120.0..=300.0).contains(&d),
        _ => true,
    }
}

/// The firmware's input frame from the plant's readings and the bench's buttons and selector.
pub fn input_frame(now_ms: u32, r: &Readings, buttons: u8, program: u8) -> InputFrame {
    InputFrame {
        now_ms,
        adc: firmware::boundary::AdcFrame {
            contact_ntc: r.contact_ntc,
            board_ntc: r.board_ntc,
            string_current: r.string_current,
            string_voltage: r.string_voltage,
            supply: r.supply,
        },
        buttons,
        program,
        skin_contact: r.skin_contact,
        eye_shield: r.eye_shield,
        fan_ok: r.fan_ok,
        distance_mm: r.distance_mm,
    }
}

/// The temperature a nominal NTC reading of `code` stands for, °C.
fn ntc_code_to_c(code: u16) -> f64 {
    let f = f64::from(code) / f64::from(sensors::ADC_MAX);
    if f <= 0.0 || f >= 1.0 {
        return f64::NAN;
    }
    let r = sensors::NTC_R_FIXED_OHM * f / (1.0 - f);
    sensors::ntc_temperature_c(r, sensors::NTC_R25_OHM, sensors::NTC_BETA_K)
}

/// Whether an injected fault has reached the firmware's inputs: the evidence that it fired.
///
/// `input` is the frame the firmware is about to see, `last` the outputs in force while the plant
/// produced it. A fault the firmware cannot see (a string opened while never driven) has not
/// fired, and a scenario whose fault never fires is invalid as a test.
pub fn fault_visible(
    fault: &PlantFault,
    input: &InputFrame,
    last: &OutputFrame,
    truth: &Probe,
) -> bool {
    let commanded = |s: usize| {
        let c = s / STRINGS_PER_CHANNEL;
        last.hw_enable && last.duty_permille[c] > 0 && last.current_ma[c] > 0
    };
    match *fault {
        PlantFault::Ntc { sensor, fault } => {
            let (code, host_c) = match sensor {
                NtcId::Contact0 => (input.adc.contact_ntc[0], truth.hottest_skin_c),
                NtcId::Contact1 => (input.adc.contact_ntc[1], truth.contact_skin_c),
                NtcId::Board => (input.adc.board_ntc, truth.board_c),
            };
            match fault {
                NtcFault::None => false,
                NtcFault::Open => code >= sensors::ADC_MAX - RAIL_MARGIN_COUNTS,
                NtcFault::Short => code <= RAIL_MARGIN_COUNTS,
                NtcFault::Drift { .. } | NtcFault::Detached => {
                    (ntc_code_to_c(code) - host_c).abs() >= NTC_EVIDENCE_K
                }
            }
        }
        PlantFault::StringOpen(s) => {
            commanded(s) && input.adc.string_current[s] < NO_CURRENT_COUNTS
        }
        PlantFault::StringShort { string, .. } => commanded(string),
        PlantFault::DriverStuckOn(s) => {
            let c = s / STRINGS_PER_CHANNEL;
            last.duty_permille[c] == 0 && input.adc.string_current[s] >= NO_CURRENT_COUNTS
        }
        PlantFault::FanStall => !input.fan_ok,
    }
}

/// Whether a fault is one the firmware must react to by switching emission off and latching
/// (domain.md §6.3 "safe state"); drift, detachment and a fan stall are judged by the
/// temperature properties instead.
pub fn fault_must_stop(fault: &PlantFault) -> bool {
    match fault {
        PlantFault::Ntc { fault, .. } => matches!(fault, NtcFault::Open | NtcFault::Short),
        PlantFault::StringOpen(_)
        | PlantFault::StringShort { .. }
        | PlantFault::DriverStuckOn(_) => true,
        PlantFault::FanStall => false,
    }
}
