//! The Rust-level scenario model: a week as a calendar of timed actions.
//!
//! Scenario files (TOML) are parsed and validated into this model in one place; the bench runs
//! only validated [`Scenario`] values. Times are integer milliseconds from the start of day 0
//! (00:00), never floats. High-level entries (a treatment, a training session) are expanded here
//! into primitive timed actions, so the bench loop stays small.

use sim::body::{SkinType, Zone};
use sim::device::DeviceKind;
use sim::plant::{PlantFault, Tolerances};

use crate::properties::Limits;

/// Milliseconds in a minute.
pub const MINUTE_MS: u64 = 60_000;
/// Milliseconds in an hour.
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
/// Milliseconds in a day.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// How long a button is held for one press (a thumb on a membrane key), ms.
pub const PRESS_HOLD_MS: u64 = 200;
/// Delay between placing a device and pressing start in an expanded treatment, ms.
pub const PLACE_TO_START_MS: u64 = 2_000;

/// One scenario: environment, devices with their timelines, limits and expectations.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name (the file stem for library scenarios).
    pub name: String,
    /// What the scenario checks and why.
    pub description: String,
    /// Seed for sensor noise; printed and written into every report.
    pub seed: u64,
    /// End of the scenario, ms from day 0 00:00.
    pub duration_ms: u64,
    /// The user's body and the room at the start.
    pub environment: Environment,
    /// Devices in use this week, each with its own firmware, NVM and timeline.
    pub devices: Vec<DeviceSetup>,
    /// Actions that concern every device (ambient, skin state after training), sorted by time.
    pub global: Vec<Timed>,
    /// Training sessions (they set post-exercise skin state, and feed the week chart).
    pub training: Vec<Training>,
    /// Property limits (defaults from the device class and domain.md, overridable per scenario).
    pub limits: Limits,
    /// What the scenario expects besides "every property holds".
    pub expectations: Vec<Expectation>,
}

/// Room and body at the start of the scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Environment {
    /// Room temperature, °C.
    pub ambient_c: f64,
    /// Fitzpatrick skin type.
    pub skin_type: SkinType,
    /// Skin perfusion relative to rest (1.0 = rest).
    pub perfusion_scale: f64,
    /// Resting skin surface temperature, °C.
    pub skin_c: f64,
    /// Arterial blood temperature, °C.
    pub arterial_c: f64,
}

impl Default for Environment {
    /// Thermoneutral room, resting thigh/calf skin (domain.md §4.2 "typical temperatures" [M]).
    fn default() -> Self {
        Environment {
            ambient_c: 22.0,
            skin_type: SkinType::III,
            perfusion_scale: 1.0,
            skin_c: 33.0,
            arterial_c: 37.0,
        }
    }
}

/// One device: its kind, part tolerances and its own timeline.
#[derive(Clone, Debug)]
pub struct DeviceSetup {
    /// Name used in reports and expectations (e.g. "wrap").
    pub id: String,
    /// Device class from the catalog.
    pub kind: DeviceKind,
    /// Part tolerances of this unit (LED bin, NTC corner, thermal spread).
    pub tolerances: Tolerances,
    /// Firmware uptime at the start of the scenario, ms (to cross the `u32` wrap).
    pub uptime_at_start_ms: u64,
    /// Timed actions on this device, sorted by time.
    pub timeline: Vec<Timed>,
}

/// An action at an instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    /// When, ms from day 0 00:00.
    pub at_ms: u64,
    /// What happens.
    pub action: Action,
}

/// A button on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    /// Start or resume.
    Start,
    /// Pause.
    Pause,
    /// Stop.
    Stop,
}

/// A treatment request: place the device, select a program, press start, take it off later.
#[derive(Clone, Debug, PartialEq)]
pub struct Treatment {
    /// Label for expectations and reports ("mon-calf-left").
    pub label: String,
    /// Treated zone.
    pub zone: Zone,
    /// Program index on the device's selector.
    pub program: u8,
    /// LED-to-skin distance for panels, mm (ignored by contact devices).
    pub distance_mm: f64,
    /// When the user takes the device off, ms after placing it.
    pub remove_after_ms: u64,
}

/// Primitive and composite actions on a device or the environment.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A whole treatment (expanded by [`expand_treatment`]).
    Treat(Treatment),
    /// Put the device on a zone at a distance.
    Place {
        /// Zone.
        zone: Zone,
        /// Distance for panels, mm.
        distance_mm: f64,
    },
    /// Take the device off the body.
    Remove,
    /// Lift a contact device off the skin (it stays in the hand, still aimed).
    LiftOff,
    /// Put a lifted device back on the skin.
    PutBack,
    /// Cover the device (a blanket) or uncover it.
    Cover(bool),
    /// Press a button (held for [`PRESS_HOLD_MS`]).
    Press(Button),
    /// Release all buttons (scheduled by a press).
    Release,
    /// Turn the program selector.
    SelectProgram(u8),
    /// Fit or remove eye shields (masks).
    EyeShields(bool),
    /// Unplug: the firmware loses power (and RAM); NVM keeps what was completely written.
    PowerOff,
    /// Plug back in: the firmware boots from NVM.
    PowerOn,
    /// Power is lost part-way through the next NVM write: only this many bytes land.
    TearNextNvmWrite {
        /// Bytes of the record that are written before power fails.
        bytes_written: u8,
        /// How long power stays off afterwards, ms.
        off_ms: u64,
    },
    /// Inject a plant fault.
    Fault(PlantFault),
    /// Remove all injected faults (a repaired unit).
    ClearFaults,
    /// Room temperature changes, °C.
    Ambient(f64),
    /// Skin state changes (post-exercise): surface temperature °C and perfusion relative to rest.
    SkinState {
        /// Skin surface temperature, °C.
        skin_c: f64,
        /// Perfusion relative to rest.
        perfusion_scale: f64,
    },
}

/// Kind of training session (the article's runner and cyclist weeks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainingKind {
    /// Short hard repeats.
    Intervals,
    /// Sustained comfortably hard.
    Tempo,
    /// Hill repeats.
    Hills,
    /// Long run.
    LongRun,
    /// Long ride.
    LongRide,
    /// Threshold work.
    Threshold,
    /// Easy aerobic.
    Easy,
    /// Rest day.
    Rest,
}

/// A training session that ends at `end_ms` with the given intensity (0–1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Training {
    /// Kind.
    pub kind: TrainingKind,
    /// Intensity, 0 (very easy) to 1 (all out).
    pub intensity: f64,
    /// Duration, ms.
    pub duration_ms: u64,
    /// End time, ms from day 0 00:00.
    pub end_ms: u64,
}

/// Something the scenario expects besides every property holding.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// The labelled treatment must be refused by the firmware (no emission).
    Refused {
        /// Treatment label.
        label: String,
    },
    /// A property is expected to be violated, for a documented reason.
    PropertyFails {
        /// Property id.
        property: String,
        /// Why (goes into the report).
        reason: String,
    },
}

/// Post-exercise skin state over time: surface temperature rise and perfusion, decaying.
///
/// domain.md §4.2 [M]: immediately after running or cycling, skin 33–36 °C with elevated skin
/// perfusion, decaying over about 30–60 min. The model: rise `ΔT = 3 K · intensity` and perfusion
/// `1 + 4 · intensity` (×5 at most, inside the ×5–10 vasodilated range), both decaying
/// exponentially with a 20 min time constant, sampled every 5 min for an hour. The baseline skin
/// temperature is the environment's.
pub fn expand_training(t: &Training, env: &Environment) -> Vec<Timed> {
    /// Decay time constant of the post-exercise state, ms (30–60 min to settle ≈ 1.5–3 τ).
    const TAU_MS: f64 = 20.0 * MINUTE_MS as f64;
    let intensity = t.intensity.clamp(0.0, 1.0);
    if matches!(t.kind, TrainingKind::Rest) || intensity == 0.0 {
        return Vec::new();
    }
    (0..=12)
        .map(|k| {
            let dt_ms = k * 5 * MINUTE_MS;
            let decay = if k == 12 {
                0.0
            } else {
                (-(dt_ms as f64) / TAU_MS).exp()
            };
            Timed {
                at_ms: t.end_ms + dt_ms,
                action: Action::SkinState {
                    skin_c: env.skin_c + 3.0 * intensity * decay,
                    perfusion_scale: env.perfusion_scale * (1.0 + 4.0 * intensity * decay),
                },
            }
        })
        .collect()
}

/// A treatment as primitive actions: place, select the program, fit eye shields on a mask, press
/// start, and take the device off after `remove_after_ms`.
pub fn expand_treatment(at_ms: u64, kind: DeviceKind, t: &Treatment) -> Vec<Timed> {
    let mut out = vec![
        Timed {
            at_ms,
            action: Action::Place {
                zone: t.zone,
                distance_mm: t.distance_mm,
            },
        },
        Timed {
            at_ms,
            action: Action::SelectProgram(t.program),
        },
    ];
    if kind == DeviceKind::Mask {
        out.push(Timed {
            at_ms,
            action: Action::EyeShields(true),
        });
    }
    out.push(Timed {
        at_ms: at_ms + PLACE_TO_START_MS,
        action: Action::Press(Button::Start),
    });
    out.push(Timed {
        at_ms: at_ms + t.remove_after_ms,
        action: Action::Remove,
    });
    out
}

/// Sort a timeline by time, keeping the written order of simultaneous actions.
pub fn sort_timeline(timeline: &mut [Timed]) {
    timeline.sort_by_key(|t| t.at_ms);
}
