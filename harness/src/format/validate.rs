//! Raw scenario file → validated [`Scenario`]: every range, reference and consistency check.
//!
//! This is the one place where the file's names meet the plant's types. The mapping from this
//! module's name enums to `sim` types is one small function per enum (`to_zone`,
//! `to_device_kind`, `to_skin_type`, `to_ntc`, `to_fault`), so a change in `sim` touches only
//! those. Checks collect every error of the file rather than stopping at the first; a value
//! whose check failed is left out of the result so it cannot cause a second, derived error.
//!
//! The bounds below are deliberately wide: they reject values that are physically meaningless or
//! certainly typos, and leave judging what is safe to the properties (a scenario may well put a
//! device in a 45 °C room to see the firmware refuse).

use std::ops::Range;

use sim::body::{SkinType, Zone};
use sim::device::{self, DeviceKind, MAX_STRINGS};
use sim::plant::{NtcId, PlantFault, Tolerances};
use sim::sensors::NtcFault;
use toml::Spanned;

use super::error::{ErrorKind, FormatError};
use super::raw::{
    ACTIONS, ActionName, DEVICE_KINDS, DeviceKindName, FAULT_KINDS, FaultKindName, NameTable,
    RawAction, RawDevice, RawExpect, RawFault, RawLimits, RawTraining, RawTreatment, SENSORS,
    SKIN_TYPES, ScenarioFile, SensorName, SkinTypeName, TRAINING_KINDS, TrainingKindName, ZONES,
    ZoneName, lookup, name_of, names,
};
use crate::prescription;
use crate::properties::{CATALOG, Limits, PropertyId};
use crate::scenario::{
    Action, Button, DAY_MS, DeviceSetup, Environment, Expectation, MINUTE_MS, Scenario, Timed,
    Training, TrainingKind, Treatment, sort_timeline,
};

/// An allowed closed range for a float value, with its unit for messages.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Smallest allowed value.
    pub lo: f64,
    /// Largest allowed value.
    pub hi: f64,
    /// Unit shown in messages ("" for a ratio).
    pub unit: &'static str,
}

/// An allowed closed range for an integer value.
#[derive(Clone, Copy, Debug)]
pub struct IntBounds {
    /// Smallest allowed value.
    pub lo: i64,
    /// Largest allowed value.
    pub hi: i64,
}

/// Room temperature, °C. Wider than the 5–40 °C operating range of IEC 60601-1-11 (domain.md
/// §6.2 \[M\]) on purpose: the firmware's refusal outside that range is under test.
pub const AMBIENT_C: Bounds = Bounds {
    lo: -10.0,
    hi: 50.0,
    unit: "°C",
};
/// Skin surface temperature, °C: thermoneutral thigh/calf skin 31–34 °C, post-exercise 33–36 °C
/// (domain.md §4.2 \[M\]), widened to cold skin and to a hot start the firmware must refuse.
pub const SKIN_C: Bounds = Bounds {
    lo: 25.0,
    hi: 40.0,
    unit: "°C",
};
/// Skin perfusion relative to rest: vasodilated skin ×5–10 (domain.md §4.2 \[M\]), cold skin
/// down to a fifth.
pub const PERFUSION: Bounds = Bounds {
    lo: 0.2,
    hi: 10.0,
    unit: "× rest",
};
/// Arterial blood temperature, °C: 37 at rest, 37.5–39 post-exercise (domain.md §4.2 \[M\]).
pub const ARTERIAL_C: Bounds = Bounds {
    lo: 35.0,
    hi: 40.0,
    unit: "°C",
};
/// Training intensity, 0 (very easy) to 1 (all out), as `scenario::Training` defines it.
pub const INTENSITY: Bounds = Bounds {
    lo: 0.0,
    hi: 1.0,
    unit: "",
};
/// Panel LED-to-skin distance, cm: 15–30 cm typical, 4–6 in in a vendor manual (domain.md §1.3
/// \[V2\]); 2 cm is closer than any manual allows, 100 cm farther than any useful dose.
pub const DISTANCE_CM: Bounds = Bounds {
    lo: 2.0,
    hi: 100.0,
    unit: "cm",
};
/// Part-tolerance scale of a unit: ±50 % covers LED bins (64.5–81 % efficiency, domain.md §0.1
/// row 9 \[V\]) and NTC/thermal corners with room for deliberate outliers.
pub const TOLERANCE_SCALE: Bounds = Bounds {
    lo: 0.5,
    hi: 1.5,
    unit: "× nominal",
};
/// Minutes a treatment stays on: pen points from 20 s (WALT 20–300 s, domain.md §6.1 \[V\]) up to
/// two hours, well past any session timer (panel max 20 min, domain.md §6.1) so overruns can be
/// scripted.
pub const TREATMENT_MINUTES: Bounds = Bounds {
    lo: 0.25,
    hi: 120.0,
    unit: "min",
};
/// Minutes of a training session: up to a 10 h long ride.
pub const TRAINING_MINUTES: Bounds = Bounds {
    lo: 1.0,
    hi: 600.0,
    unit: "min",
};
/// NTC drift rate, K per hour, either sign (domain.md §6.3 "NTC implausible" needs > 5 K between
/// sensors to be detectable; 20 K/h gets there within a session).
pub const DRIFT_K_PER_HOUR: Bounds = Bounds {
    lo: -20.0,
    hi: 20.0,
    unit: "K/h",
};
/// Scenario length in days (a week is 7; a training block up to about two months).
pub const DAYS: IntBounds = IntBounds { lo: 1, hi: 60 };
/// Bytes of an NVM record that land before power fails (`scenario::Action::TearNextNvmWrite`
/// holds a `u8`).
pub const TEAR_BYTES: IntBounds = IntBounds { lo: 0, hi: 255 };
/// How long power stays off after a torn write, ms (at most a day).
pub const OFF_MS: IntBounds = IntBounds {
    lo: 0,
    hi: DAY_MS as i64,
};
/// Power-off time after a torn NVM write when the file does not say: a quick re-plug, ms.
pub const DEFAULT_TEAR_OFF_MS: u64 = 1_000;
/// Shorted LEDs in one string: at least one, and fewer than the string has (for a given string
/// the bound is the device catalog's `leds_per_string` less one; `hi` here bounds the schema and
/// a `leds` whose string is itself wrong).
pub const SHORTED_LEDS: IntBounds = IntBounds { lo: 1, hi: 20 };
/// Firmware uptime at the start, ms: up to the `u32` millisecond wrap (49.7 days), to start near it.
pub const UPTIME_MS: IntBounds = IntBounds {
    lo: 0,
    hi: u32::MAX as i64,
};
/// Time fields of `[limits]`, ms (at most a minute: these are reaction times).
pub const LIMIT_MS: IntBounds = IntBounds { lo: 0, hi: 60_000 };
/// Seed: any non-negative TOML integer.
pub const SEED: IntBounds = IntBounds {
    lo: 0,
    hi: i64::MAX,
};
/// Default seed when the file does not set one.
pub const DEFAULT_SEED: u64 = 1;
/// Extra time the user leaves a device on after the program's time limit when a treatment does
/// not say, ms (so a default treatment sees the firmware's own auto-off).
pub const DEFAULT_OVERRUN_MS: u64 = 2 * MINUTE_MS;

/// What a device class physically has, as far as scenario files can refer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassHardware {
    /// Skin-contact NTCs (`contact0`, `contact1` ...); every class also has a board NTC.
    pub contact_ntcs: u8,
    /// Global string indices that exist (channel `c` owns strings `2c` and `2c + 1`).
    pub strings: Vec<u8>,
    /// Emitters in series in each global string (0 for an absent string).
    pub leds_per_string: [u32; MAX_STRINGS],
    /// Has a fan (fan-stall applies).
    pub fan: bool,
    /// Has eye shields (masks).
    pub eye_shields: bool,
    /// Sits on the skin (lift-off and put-back apply).
    pub contact: bool,
    /// Used at a distance the user chooses (panels): `distance_cm` is required.
    pub at_distance: bool,
    /// LED plane to skin when the file gives no distance (the class's standoff), mm.
    pub standoff_mm: f64,
}

/// The hardware of a class, from the plant's device catalog (`sim::device::spec`), so the
/// validator accepts exactly the sensors and strings the plant models. The format brief states
/// the same table (panel: no contact NTC; pen, mask, laser: one; wrap, pad: two; pen strings 0
/// and 2; laser probe string 0; fan only on panels); a test holds the catalog to it.
pub fn hardware(kind: DeviceKindName) -> ClassHardware {
    let spec = device::spec(to_device_kind(kind));
    let strings = (0..MAX_STRINGS)
        .filter(|s| spec.string_channel(*s).is_some())
        .filter_map(|s| u8::try_from(s).ok())
        .collect();
    ClassHardware {
        contact_ntcs: spec.sensors.contact_ntcs,
        strings,
        leds_per_string: std::array::from_fn(|s| spec.string_leds(s)),
        fan: spec.sensors.fan,
        eye_shields: spec.sensors.eye_shield,
        contact: spec.contact,
        at_distance: kind == DeviceKindName::Panel,
        standoff_mm: spec.distance_cm * 10.0,
    }
}

/// Whether a class has an NTC.
pub fn has_sensor(kind: DeviceKindName, sensor: SensorName) -> bool {
    let hw = hardware(kind);
    match sensor {
        SensorName::Contact0 => hw.contact_ntcs >= 1,
        SensorName::Contact1 => hw.contact_ntcs >= 2,
        SensorName::Board => true,
    }
}

// ---- The mapping to sim types: one function per enum ----

/// File zone → plant zone.
pub fn to_zone(z: ZoneName) -> Zone {
    match z {
        ZoneName::LeftCalf => Zone::LeftCalf,
        ZoneName::RightCalf => Zone::RightCalf,
        ZoneName::LeftQuad => Zone::LeftQuadriceps,
        ZoneName::RightQuad => Zone::RightQuadriceps,
        ZoneName::LeftHamstring => Zone::LeftHamstrings,
        ZoneName::RightHamstring => Zone::RightHamstrings,
        ZoneName::Glutes => Zone::Glutes,
        ZoneName::Back => Zone::Back,
        ZoneName::LeftAchilles => Zone::LeftAchilles,
        ZoneName::RightAchilles => Zone::RightAchilles,
        ZoneName::LeftKnee => Zone::LeftKnee,
        ZoneName::RightKnee => Zone::RightKnee,
        ZoneName::Hip => Zone::Hip,
        ZoneName::Face => Zone::Face,
    }
}

/// File device class → plant device class.
pub fn to_device_kind(k: DeviceKindName) -> DeviceKind {
    match k {
        DeviceKindName::Wrap => DeviceKind::Wrap,
        DeviceKindName::Pad => DeviceKind::Pad,
        DeviceKindName::Panel => DeviceKind::Panel,
        DeviceKindName::Mask => DeviceKind::Mask,
        DeviceKindName::Pen => DeviceKind::Pen,
        DeviceKindName::LaserProbe => DeviceKind::LaserProbe,
    }
}

/// File skin type → plant skin type.
pub fn to_skin_type(s: SkinTypeName) -> SkinType {
    match s {
        SkinTypeName::I => SkinType::I,
        SkinTypeName::II => SkinType::II,
        SkinTypeName::III => SkinType::III,
        SkinTypeName::IV => SkinType::IV,
        SkinTypeName::V => SkinType::V,
        SkinTypeName::VI => SkinType::VI,
    }
}

/// File training kind → scenario training kind.
pub fn to_training_kind(k: TrainingKindName) -> TrainingKind {
    match k {
        TrainingKindName::Intervals => TrainingKind::Intervals,
        TrainingKindName::Tempo => TrainingKind::Tempo,
        TrainingKindName::Hills => TrainingKind::Hills,
        TrainingKindName::LongRun => TrainingKind::LongRun,
        TrainingKindName::LongRide => TrainingKind::LongRide,
        TrainingKindName::Threshold => TrainingKind::Threshold,
        TrainingKindName::Easy => TrainingKind::Easy,
        TrainingKindName::Rest => TrainingKind::Rest,
    }
}

/// File sensor → plant NTC id.
pub fn to_ntc(s: SensorName) -> NtcId {
    match s {
        SensorName::Contact0 => NtcId::Contact0,
        SensorName::Contact1 => NtcId::Contact1,
        SensorName::Board => NtcId::Board,
    }
}

/// The fields of a checked `[[fault]]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultSpec {
    /// Kind.
    pub kind: FaultKindName,
    /// NTC faults: which sensor.
    pub sensor: Option<SensorName>,
    /// String faults: which string.
    pub string: Option<u8>,
    /// `string-short`: shorted LEDs.
    pub leds: Option<u8>,
    /// `ntc-drift`: K per hour.
    pub rate_k_per_hour: Option<f64>,
}

/// File fault → plant fault (`None` when a key its kind requires is missing; the checks report
/// that before this is called).
pub fn to_fault(f: &FaultSpec) -> Option<PlantFault> {
    let ntc = |fault: NtcFault| {
        f.sensor.map(|s| PlantFault::Ntc {
            sensor: to_ntc(s),
            fault,
        })
    };
    let string = f.string.map(usize::from);
    match f.kind {
        FaultKindName::NtcOpen => ntc(NtcFault::Open),
        FaultKindName::NtcShort => ntc(NtcFault::Short),
        FaultKindName::NtcDrift => ntc(NtcFault::Drift {
            k_per_hour: f.rate_k_per_hour?,
        }),
        FaultKindName::NtcDetached => ntc(NtcFault::Detached),
        FaultKindName::StringOpen => string.map(PlantFault::StringOpen),
        FaultKindName::StringShort => Some(PlantFault::StringShort {
            string: string?,
            leds: f.leds?,
        }),
        FaultKindName::DriverStuckOn => string.map(PlantFault::DriverStuckOn),
        FaultKindName::FanStall => Some(PlantFault::FanStall),
    }
}

/// A program on a class's selector, as the validator needs it.
#[derive(Clone, Copy, Debug)]
pub struct ProgramRef {
    /// Index on the selector.
    pub index: u8,
    /// Name in files.
    pub name: &'static str,
    /// Treated zone.
    pub zone: Zone,
    /// The program's session time limit, ms.
    pub time_limit_ms: u64,
}

/// The programs of a class, from the prescription table.
pub fn programs(kind: DeviceKindName) -> Vec<ProgramRef> {
    prescription::programs(to_device_kind(kind))
        .iter()
        .enumerate()
        .map(|(i, p)| ProgramRef {
            index: u8::try_from(i).expect("a selector has fewer than 256 programs"),
            name: p.name,
            zone: p.zone,
            time_limit_ms: u64::from(p.time_limit_s) * 1_000,
        })
        .collect()
}

/// The zones a class is used on (those its programs treat), in zone order.
pub fn zones_of(kind: DeviceKindName) -> Vec<ZoneName> {
    let progs = programs(kind);
    ZONES
        .iter()
        .map(|(_, z)| *z)
        .filter(|z| progs.iter().any(|p| p.zone == to_zone(*z)))
        .collect()
}

/// Every program name of every class, sorted, without repeats (for the schema).
pub fn all_program_names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = DEVICE_KINDS
        .iter()
        .flat_map(|(_, k)| programs(*k))
        .map(|p| p.name)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Parse a time of day: `HH:MM`, `HH:MM:SS` or `HH:MM:SS.mmm` (1–3 fraction digits), 00:00 to
/// 23:59:59.999. Returns ms after midnight.
pub fn parse_time_of_day(s: &str) -> Option<u64> {
    fn two(d: &str, max: u64) -> Option<u64> {
        if d.len() != 2 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        d.parse::<u64>().ok().filter(|v| *v <= max)
    }
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m] => (*h, *m, None),
        [h, m, sec] => (*h, *m, Some(*sec)),
        _ => return None,
    };
    let mut ms = two(h, 23)? * 3_600_000 + two(m, 59)? * 60_000;
    if let Some(sec) = sec {
        let (whole, frac) = match sec.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (sec, None),
        };
        ms += two(whole, 59)? * 1_000;
        if let Some(f) = frac {
            if f.is_empty() || f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{f:0<3}");
            ms += padded.parse::<u64>().ok()?;
        }
    }
    Some(ms)
}

/// An instant for messages: `day 2 19:05` (seconds and ms only when not zero).
pub fn show_instant(ms: u64) -> String {
    let day = ms / DAY_MS;
    let t = ms % DAY_MS;
    let (h, m, s, milli) = (t / 3_600_000, t / 60_000 % 60, t / 1_000 % 60, t % 1_000);
    match (s, milli) {
        (0, 0) => format!("day {day} {h:02}:{m:02}"),
        (_, 0) => format!("day {day} {h:02}:{m:02}:{s:02}"),
        _ => format!("day {day} {h:02}:{m:02}:{s:02}.{milli:03}"),
    }
}

/// "a wrap" / "an ...": the class with its article, for messages.
fn a_class(kind: DeviceKindName) -> String {
    format!("a {}", name_of(DEVICE_KINDS, kind))
}

/// A declared device while its entries are checked.
struct DeviceEntry {
    id: String,
    /// `None` when the kind name was wrong (already reported; kind-dependent checks are skipped).
    kind: Option<DeviceKindName>,
    setup_kind: Option<DeviceKind>,
    tolerances: Tolerances,
    uptime_at_start_ms: u64,
    /// (instant, byte offset in the file, action): sorted by both, so simultaneous actions keep
    /// the written order across `[[treatment]]`, `[[action]]` and `[[fault]]` tables.
    timeline: Vec<(u64, usize, Timed)>,
    /// (start, end, label, span of `at`) of each treatment, for the overlap check.
    treatments: Vec<(u64, u64, String, Range<usize>)>,
}

/// The checker: the file's text (for positions) and the errors so far.
struct Check<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<FormatError>,
}

impl Check<'_> {
    fn err(&mut self, span: Range<usize>, kind: ErrorKind, message: impl Into<String>) {
        self.errors
            .push(FormatError::at(self.file, self.text, span, kind, message));
    }

    fn float(&mut self, v: &Spanned<f64>, key: &str, b: Bounds) -> Option<f64> {
        let x = *v.get_ref();
        if x.is_finite() && x >= b.lo && x <= b.hi {
            return Some(x);
        }
        let unit = if b.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", b.unit)
        };
        self.err(
            v.span(),
            ErrorKind::Range,
            format!(
                "{key} = {x} is out of range; expected {} to {}{unit}",
                b.lo, b.hi
            ),
        );
        None
    }

    fn opt_float(&mut self, v: &Option<Spanned<f64>>, key: &str, b: Bounds) -> Option<f64> {
        v.as_ref().and_then(|v| self.float(v, key, b))
    }

    fn int(&mut self, v: &Spanned<i64>, key: &str, b: IntBounds) -> Option<i64> {
        let x = *v.get_ref();
        if x >= b.lo && x <= b.hi {
            return Some(x);
        }
        self.err(
            v.span(),
            ErrorKind::Range,
            format!("{key} = {x} is out of range; expected {} to {}", b.lo, b.hi),
        );
        None
    }

    fn name<T: Copy>(&mut self, v: &Spanned<String>, what: &str, table: NameTable<T>) -> Option<T> {
        let found = lookup(table, v.get_ref());
        if found.is_none() {
            self.err(
                v.span(),
                ErrorKind::Reference,
                format!(
                    "unknown {what} {:?}; expected one of {}",
                    v.get_ref(),
                    names(table)
                ),
            );
        }
        found
    }

    /// `day` and `at` → ms from day 0 00:00.
    fn instant(
        &mut self,
        day: &Spanned<i64>,
        at: &Spanned<String>,
        key: &str,
        days: Option<i64>,
    ) -> Option<u64> {
        let d = match days {
            Some(n) => self.int(day, "day", IntBounds { lo: 0, hi: n - 1 }),
            None => self.int(
                day,
                "day",
                IntBounds {
                    lo: 0,
                    hi: DAYS.hi - 1,
                },
            ),
        };
        let t = parse_time_of_day(at.get_ref());
        if t.is_none() {
            self.err(
                at.span(),
                ErrorKind::Range,
                format!("{key} = {:?} is not a time of day; expected HH:MM, HH:MM:SS or HH:MM:SS.mmm from 00:00 to 23:59:59.999", at.get_ref()),
            );
        }
        Some(u64::try_from(d?).ok()? * DAY_MS + t?)
    }

    fn device<'d>(
        &mut self,
        devices: &'d mut [DeviceEntry],
        id: &Spanned<String>,
    ) -> Option<&'d mut DeviceEntry> {
        let pos = devices.iter().position(|d| d.id == *id.get_ref());
        if pos.is_none() {
            let declared = if devices.is_empty() {
                "no [[device]] is declared".to_string()
            } else {
                format!(
                    "declared: {}",
                    devices
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            self.err(
                id.span(),
                ErrorKind::Reference,
                format!("device {:?} is not declared; {declared}", id.get_ref()),
            );
        }
        devices.get_mut(pos?)
    }

    /// A zone name that the class is used on.
    fn zone_for(&mut self, v: &Spanned<String>, kind: Option<DeviceKindName>) -> Option<ZoneName> {
        let z = self.name(v, "zone", ZONES)?;
        let kind = kind?;
        let zones = zones_of(kind);
        if !zones.contains(&z) {
            let list = zones
                .iter()
                .map(|z| name_of(ZONES, *z))
                .collect::<Vec<_>>()
                .join(", ");
            self.err(
                v.span(),
                ErrorKind::Unsupported,
                format!(
                    "zone {:?} is not treated with {}; expected one of {list}",
                    v.get_ref(),
                    a_class(kind)
                ),
            );
            return None;
        }
        Some(z)
    }

    /// A program name on the class's selector.
    fn program_for(
        &mut self,
        v: &Spanned<String>,
        kind: Option<DeviceKindName>,
    ) -> Option<ProgramRef> {
        let kind = kind?;
        let progs = programs(kind);
        let found = progs
            .iter()
            .find(|p| p.name == v.get_ref().as_str())
            .copied();
        if found.is_none() {
            let list = progs.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
            self.err(
                v.span(),
                ErrorKind::Reference,
                format!(
                    "unknown program {:?} for {}; expected one of {list}",
                    v.get_ref(),
                    a_class(kind)
                ),
            );
        }
        found
    }

    /// Panel distance: required for panels, forbidden for the others (which sit at their
    /// standoff). Returns mm.
    fn distance(
        &mut self,
        v: &Option<Spanned<f64>>,
        kind: Option<DeviceKindName>,
        entry: Range<usize>,
        what: &str,
    ) -> Option<f64> {
        let kind = kind?;
        let hw = hardware(kind);
        match (v, hw.at_distance) {
            (None, true) => {
                let b = DISTANCE_CM;
                self.err(
                    entry,
                    ErrorKind::Shape,
                    format!(
                        "{what} with {} needs distance_cm ({} to {} cm)",
                        a_class(kind),
                        b.lo,
                        b.hi
                    ),
                );
                None
            }
            (Some(v), false) => {
                self.err(
                    v.span(),
                    ErrorKind::Conflict,
                    format!(
                        "distance_cm applies only to panels, not to {}",
                        a_class(kind)
                    ),
                );
                None
            }
            (Some(v), true) => self
                .float(v, "distance_cm", DISTANCE_CM)
                .map(|cm| cm * 10.0),
            (None, false) => Some(hw.standoff_mm),
        }
    }

    /// Keys that do not apply to the entry's kind, and required keys that are missing.
    fn keys_apply(
        &mut self,
        present: &[(&'static str, Range<usize>)],
        (required, optional): (&[&str], &[&str]),
        what: &str,
        entry: Range<usize>,
    ) -> bool {
        let mut ok = true;
        for (key, span) in present {
            if !required.contains(key) && !optional.contains(key) {
                self.err(
                    span.clone(),
                    ErrorKind::Conflict,
                    format!("`{key}` does not apply to {what}"),
                );
                ok = false;
            }
        }
        for key in required {
            if !present.iter().any(|(k, _)| k == key) {
                self.err(
                    entry.clone(),
                    ErrorKind::Shape,
                    format!("{what} needs `{key}`"),
                );
                ok = false;
            }
        }
        ok
    }
}

/// Validate a parsed file into a [`Scenario`] named `name`, collecting every error.
pub fn validate(
    file: &str,
    text: &str,
    name: &str,
    raw: &ScenarioFile,
) -> Result<Scenario, Vec<FormatError>> {
    let mut c = Check {
        file,
        text,
        errors: Vec::new(),
    };

    // The version first: in another version the other keys may mean something else.
    if let Some(f) = &raw.format
        && *f.get_ref() != 1
    {
        c.err(
            f.span(),
            ErrorKind::Shape,
            format!(
                "format = {} is not supported; expected format = 1",
                f.get_ref()
            ),
        );
        return Err(c.errors);
    }
    let description = match &raw.description {
        Some(d) if d.get_ref().trim().is_empty() => {
            c.err(
                d.span(),
                ErrorKind::Range,
                "description is empty; expected what the scenario checks and why",
            );
            String::new()
        }
        Some(d) => d.get_ref().trim().to_string(),
        None => String::new(),
    };
    let days = raw.days.as_ref().and_then(|d| c.int(d, "days", DAYS));
    let duration_ms = days.map_or(0, |d| d.unsigned_abs() * DAY_MS);
    let seed = raw
        .seed
        .as_ref()
        .and_then(|s| c.int(s, "seed", SEED))
        .map_or(DEFAULT_SEED, i64::unsigned_abs);

    let environment = check_environment(&mut c, raw);
    let limits = check_limits(&mut c, &raw.limits);

    let mut devices: Vec<DeviceEntry> = Vec::new();
    for d in &raw.devices {
        check_device(&mut c, &mut devices, d);
    }
    if raw.devices.is_empty() {
        c.err(
            0..0,
            ErrorKind::Shape,
            "no [[device]]; expected at least one device",
        );
    }

    let mut training = Vec::new();
    for t in &raw.training {
        if let Some(t) = check_training(&mut c, t, days, duration_ms) {
            training.push(t);
        }
    }
    check_training_overlaps(&mut c, &training);
    let training: Vec<Training> = training.into_iter().map(|(t, _)| t).collect();

    let mut labels: Vec<(String, Range<usize>)> = Vec::new();
    for t in &raw.treatments {
        check_treatment(&mut c, &mut devices, &mut labels, t, days, duration_ms);
    }
    for d in &devices {
        check_treatment_overlaps(&mut c, d);
    }

    let mut global: Vec<(u64, usize, Timed)> = Vec::new();
    for a in &raw.actions {
        check_action(&mut c, &mut devices, &mut global, a, days);
    }
    for f in &raw.faults {
        check_fault(&mut c, &mut devices, f, days);
    }
    let expectations = raw
        .expects
        .iter()
        .filter_map(|e| check_expect(&mut c, &labels, e))
        .collect();

    if !c.errors.is_empty() {
        let mut errors = c.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    let devices = devices
        .into_iter()
        .map(|d| DeviceSetup {
            id: d.id,
            kind: d.setup_kind.expect("kind checked"),
            tolerances: d.tolerances,
            uptime_at_start_ms: d.uptime_at_start_ms,
            timeline: into_timeline(d.timeline),
        })
        .collect();
    Ok(Scenario {
        name: name.to_string(),
        description,
        seed,
        duration_ms,
        environment,
        devices,
        global: into_timeline(global),
        training,
        limits,
        expectations,
    })
}

/// Order by instant, then by position in the file, then `sort_timeline` (a stable no-op that
/// states the invariant the bench relies on).
fn into_timeline(mut entries: Vec<(u64, usize, Timed)>) -> Vec<Timed> {
    entries.sort_by_key(|(at, offset, _)| (*at, *offset));
    let mut out: Vec<Timed> = entries.into_iter().map(|(_, _, t)| t).collect();
    sort_timeline(&mut out);
    out
}

fn check_environment(c: &mut Check<'_>, raw: &ScenarioFile) -> Environment {
    let e = &raw.environment;
    let d = Environment::default();
    Environment {
        ambient_c: c
            .opt_float(&e.ambient_c, "ambient_c", AMBIENT_C)
            .unwrap_or(d.ambient_c),
        skin_type: e
            .skin_type
            .as_ref()
            .and_then(|s| c.name(s, "skin type", SKIN_TYPES))
            .map_or(d.skin_type, to_skin_type),
        perfusion_scale: c
            .opt_float(&e.perfusion, "perfusion", PERFUSION)
            .unwrap_or(d.perfusion_scale),
        skin_c: c.opt_float(&e.skin_c, "skin_c", SKIN_C).unwrap_or(d.skin_c),
        arterial_c: c
            .opt_float(&e.arterial_c, "arterial_c", ARTERIAL_C)
            .unwrap_or(d.arterial_c),
    }
}

fn check_limits(c: &mut Check<'_>, l: &RawLimits) -> Limits {
    /// Limits are non-negative and finite; their meaning is the properties' business.
    const NON_NEGATIVE: Bounds = Bounds {
        lo: 0.0,
        hi: 1.0e6,
        unit: "",
    };
    let d = Limits::default();
    let mut f = |v: &Option<Spanned<f64>>, key: &str, default: f64| {
        c.opt_float(v, key, NON_NEGATIVE).unwrap_or(default)
    };
    let mut out = Limits {
        skin_normal_c: f(&l.skin_normal_c, "skin_normal_c", d.skin_normal_c),
        skin_absolute_c: f(&l.skin_absolute_c, "skin_absolute_c", d.skin_absolute_c),
        cem43_normal: f(&l.cem43_normal, "cem43_normal", d.cem43_normal),
        cem43_fault: f(&l.cem43_fault, "cem43_fault", d.cem43_fault),
        junction_margin_k: f(
            &l.junction_margin_k,
            "junction_margin_k",
            d.junction_margin_k,
        ),
        dose_tolerance: f(&l.dose_tolerance, "dose_tolerance", d.dose_tolerance),
        estimate_tolerance: f(
            &l.estimate_tolerance,
            "estimate_tolerance",
            d.estimate_tolerance,
        ),
        estimate_floor_j_cm2: f(
            &l.estimate_floor_j_cm2,
            "estimate_floor_j_cm2",
            d.estimate_floor_j_cm2,
        ),
        eye_nir_mw_cm2: f(&l.eye_nir_mw_cm2, "eye_nir_mw_cm2", d.eye_nir_mw_cm2),
        must_refuse_skin_c: f(
            &l.must_refuse_skin_c,
            "must_refuse_skin_c",
            d.must_refuse_skin_c,
        ),
        must_allow_skin_c: f(
            &l.must_allow_skin_c,
            "must_allow_skin_c",
            d.must_allow_skin_c,
        ),
        ..d
    };
    let mut ms = |v: &Option<Spanned<i64>>, key: &str, default: u64| {
        v.as_ref()
            .and_then(|v| c.int(v, key, LIMIT_MS))
            .map_or(default, i64::unsigned_abs)
    };
    out.contact_reaction_ms = ms(
        &l.contact_reaction_ms,
        "contact_reaction_ms",
        d.contact_reaction_ms,
    );
    out.fault_reaction_ms = ms(
        &l.fault_reaction_ms,
        "fault_reaction_ms",
        d.fault_reaction_ms,
    );
    out.start_latency_ms = ms(&l.start_latency_ms, "start_latency_ms", d.start_latency_ms);
    if out.skin_normal_c > out.skin_absolute_c {
        let span = l
            .skin_normal_c
            .as_ref()
            .or(l.skin_absolute_c.as_ref())
            .map_or(0..0, Spanned::span);
        c.err(
            span,
            ErrorKind::Conflict,
            format!(
                "skin_normal_c = {} is above skin_absolute_c = {}; expected normal <= absolute",
                out.skin_normal_c, out.skin_absolute_c
            ),
        );
    }
    if out.must_allow_skin_c > out.must_refuse_skin_c {
        let span = l
            .must_allow_skin_c
            .as_ref()
            .or(l.must_refuse_skin_c.as_ref())
            .map_or(0..0, Spanned::span);
        c.err(
            span,
            ErrorKind::Conflict,
            format!(
                "must_allow_skin_c = {} is above must_refuse_skin_c = {}; expected allow <= refuse",
                out.must_allow_skin_c, out.must_refuse_skin_c
            ),
        );
    }
    out
}

fn check_device(c: &mut Check<'_>, devices: &mut Vec<DeviceEntry>, d: &Spanned<RawDevice>) {
    let d = d.get_ref();
    let id = d.id.get_ref();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        c.err(
            d.id.span(),
            ErrorKind::Range,
            format!("device id {id:?} is not a name; expected letters, digits, '-' or '_'"),
        );
    }
    if devices.iter().any(|e| e.id == *id) {
        c.err(
            d.id.span(),
            ErrorKind::Conflict,
            format!("device {id:?} is declared twice"),
        );
        return;
    }
    let kind = c.name(&d.kind, "device kind", DEVICE_KINDS);
    let uptime = d
        .uptime_at_start_ms
        .as_ref()
        .and_then(|u| c.int(u, "uptime_at_start_ms", UPTIME_MS))
        .map_or(0, i64::unsigned_abs);
    let mut tolerances = Tolerances::default();
    if let Some(t) = &d.tolerances {
        let mut scale = |v: &Option<Spanned<f64>>, key: &str, out: &mut f64| {
            if let Some(x) = c.opt_float(v, key, TOLERANCE_SCALE) {
                *out = x;
            }
        };
        scale(
            &t.led_efficiency,
            "led_efficiency",
            &mut tolerances.led_efficiency_scale,
        );
        scale(&t.ntc_r25, "ntc_r25", &mut tolerances.ntc_r25_scale);
        scale(&t.ntc_beta, "ntc_beta", &mut tolerances.ntc_beta_scale);
        scale(&t.rth, "rth", &mut tolerances.rth_scale);
    }
    devices.push(DeviceEntry {
        id: id.clone(),
        kind,
        setup_kind: kind.map(to_device_kind),
        tolerances,
        uptime_at_start_ms: uptime,
        timeline: Vec::new(),
        treatments: Vec::new(),
    });
}

fn check_training(
    c: &mut Check<'_>,
    t: &Spanned<RawTraining>,
    days: Option<i64>,
    duration_ms: u64,
) -> Option<(Training, Range<usize>)> {
    let t = t.get_ref();
    let end_ms = c.instant(&t.day, &t.end, "end", days);
    let minutes = c.float(&t.minutes, "minutes", TRAINING_MINUTES);
    let kind = c.name(&t.kind, "training kind", TRAINING_KINDS);
    let intensity = c.float(&t.intensity, "intensity", INTENSITY);
    let (end_ms, minutes) = (end_ms?, minutes?);
    let duration = (minutes * MINUTE_MS as f64).round() as u64;
    if duration > end_ms {
        c.err(
            t.minutes.span(),
            ErrorKind::Range,
            format!(
                "training of {minutes} min ending {} starts before day 0 00:00",
                show_instant(end_ms)
            ),
        );
        return None;
    }
    if end_ms > duration_ms {
        c.err(
            t.end.span(),
            ErrorKind::Range,
            format!(
                "training ends {}, after the scenario's end",
                show_instant(end_ms)
            ),
        );
        return None;
    }
    Some((
        Training {
            kind: to_training_kind(kind?),
            intensity: intensity?,
            duration_ms: duration,
            end_ms,
        },
        t.end.span(),
    ))
}

fn check_training_overlaps(c: &mut Check<'_>, training: &[(Training, Range<usize>)]) {
    let mut order: Vec<&(Training, Range<usize>)> = training.iter().collect();
    order.sort_by_key(|(t, _)| t.end_ms - t.duration_ms);
    for pair in order.windows(2) {
        let (a, b) = (&pair[0].0, &pair[1]);
        if b.0.end_ms - b.0.duration_ms < a.end_ms {
            c.err(
                b.1.clone(),
                ErrorKind::Conflict,
                format!(
                    "training ending {} starts at {}, before the training ending {} is over; expected one training at a time",
                    show_instant(b.0.end_ms),
                    show_instant(b.0.end_ms - b.0.duration_ms),
                    show_instant(a.end_ms)
                ),
            );
        }
    }
}

fn check_treatment(
    c: &mut Check<'_>,
    devices: &mut [DeviceEntry],
    labels: &mut Vec<(String, Range<usize>)>,
    entry: &Spanned<RawTreatment>,
    days: Option<i64>,
    duration_ms: u64,
) {
    let span = entry.span();
    let t = entry.get_ref();
    let at_ms = c.instant(&t.day, &t.at, "at", days);
    let Some(dev) = c.device(devices, &t.device) else {
        return;
    };
    let kind = dev.kind;
    let zone = c.zone_for(&t.zone, kind);
    let program = match &t.program {
        Some(p) => {
            let prog = c.program_for(p, kind);
            if let (Some(prog), Some(z)) = (prog, zone)
                && prog.zone != to_zone(z)
            {
                c.err(
                    p.span(),
                    ErrorKind::Conflict,
                    format!("program {:?} does not treat zone {:?}; use [[action]] select-program to script a wrong selection", prog.name, t.zone.get_ref()),
                );
                None
            } else {
                prog
            }
        }
        None => zone.and_then(|z| {
            kind.and_then(|k| programs(k).into_iter().find(|p| p.zone == to_zone(z)))
        }),
    };
    let distance_mm = c.distance(&t.distance_cm, kind, span.clone(), "a treatment");
    let remove_after_ms = match &t.minutes {
        Some(m) => c
            .float(m, "minutes", TREATMENT_MINUTES)
            .map(|m| (m * MINUTE_MS as f64).round() as u64),
        None => program.map(|p| p.time_limit_ms + DEFAULT_OVERRUN_MS),
    };
    let label = match &t.label {
        Some(l) if l.get_ref().trim().is_empty() => {
            c.err(
                l.span(),
                ErrorKind::Range,
                "label is empty; expected a name for expectations and reports",
            );
            None
        }
        Some(l) => Some((l.get_ref().clone(), l.span())),
        None => at_ms.map(|at| {
            let tod = at % DAY_MS;
            let default = format!(
                "d{}-{:02}{:02}-{}",
                at / DAY_MS,
                tod / 3_600_000,
                tod / 60_000 % 60,
                t.zone.get_ref()
            );
            (default, t.at.span())
        }),
    };
    if let Some((label, lspan)) = &label {
        if labels.iter().any(|(l, _)| l == label) {
            c.err(
                lspan.clone(),
                ErrorKind::Conflict,
                format!("treatment label {label:?} is used twice; expected unique labels"),
            );
        } else {
            labels.push((label.clone(), lspan.clone()));
        }
    }
    let (
        Some(at_ms),
        Some(zone),
        Some(program),
        Some(distance_mm),
        Some(remove_after_ms),
        Some((label, _)),
    ) = (at_ms, zone, program, distance_mm, remove_after_ms, label)
    else {
        return;
    };
    let end_ms = at_ms + remove_after_ms;
    if end_ms > duration_ms {
        c.err(
            t.at.span(),
            ErrorKind::Range,
            format!(
                "treatment {label:?} ends {}, after the scenario's end ({})",
                show_instant(end_ms),
                show_instant(duration_ms)
            ),
        );
        return;
    }
    dev.treatments
        .push((at_ms, end_ms, label.clone(), t.at.span()));
    let treat = Treatment {
        label,
        zone: to_zone(zone),
        program: program.index,
        distance_mm,
        remove_after_ms,
    };
    dev.timeline.push((
        at_ms,
        span.start,
        Timed {
            at_ms,
            action: Action::Treat(treat),
        },
    ));
}

fn check_treatment_overlaps(c: &mut Check<'_>, d: &DeviceEntry) {
    let mut order: Vec<&(u64, u64, String, Range<usize>)> = d.treatments.iter().collect();
    order.sort_by_key(|t| t.0);
    let mut on: Option<&(u64, u64, String, Range<usize>)> = None;
    for t in order {
        if let Some(prev) = on
            && t.0 < prev.1
        {
            c.err(
                t.3.clone(),
                ErrorKind::Conflict,
                format!(
                    "treatment {:?} on device {:?} starts {}, while treatment {:?} ({} to {}) is still on; expected one treatment at a time per device",
                    t.2,
                    d.id,
                    show_instant(t.0),
                    prev.2,
                    show_instant(prev.0),
                    show_instant(prev.1)
                ),
            );
        }
        if on.is_none_or(|p| t.1 > p.1) {
            on = Some(t);
        }
    }
}

fn check_action(
    c: &mut Check<'_>,
    devices: &mut [DeviceEntry],
    global: &mut Vec<(u64, usize, Timed)>,
    entry: &Spanned<RawAction>,
    days: Option<i64>,
) {
    let span = entry.span();
    let a = entry.get_ref();
    let at_ms = c.instant(&a.day, &a.at, "at", days);
    let Some(name) = c.name(&a.action, "action", ACTIONS) else {
        return;
    };
    let what = format!("do = {:?}", a.action.get_ref());
    let keys_ok = c.keys_apply(&a.present_keys(), name.keys(), &what, span.clone());
    if name.is_global() {
        if let Some(d) = &a.device {
            c.err(
                d.span(),
                ErrorKind::Conflict,
                format!("{what} changes the environment, not a device; expected no `device`"),
            );
            return;
        }
        if !keys_ok {
            return;
        }
        let action = match name {
            ActionName::Ambient => c
                .opt_float(&a.ambient_c, "ambient_c", AMBIENT_C)
                .map(Action::Ambient),
            _ => {
                let skin_c = c.opt_float(&a.skin_c, "skin_c", SKIN_C);
                let perfusion = c.opt_float(&a.perfusion, "perfusion", PERFUSION);
                skin_c
                    .zip(perfusion)
                    .map(|(skin_c, perfusion_scale)| Action::SkinState {
                        skin_c,
                        perfusion_scale,
                    })
            }
        };
        if let (Some(at_ms), Some(action)) = (at_ms, action) {
            global.push((at_ms, span.start, Timed { at_ms, action }));
        }
        return;
    }
    let Some(id) = &a.device else {
        c.err(
            a.action.span(),
            ErrorKind::Shape,
            format!("{what} needs `device`"),
        );
        return;
    };
    let Some(dev) = c.device(devices, id) else {
        return;
    };
    if !keys_ok {
        return;
    }
    let kind = dev.kind;
    let hw = kind.map(hardware);
    let needs = |c: &mut Check<'_>, has: bool, what_hw: &str| {
        if let (false, Some(k)) = (has, kind) {
            c.err(
                a.action.span(),
                ErrorKind::Unsupported,
                format!(
                    "{what} needs {what_hw}; {:?} is {}",
                    id.get_ref(),
                    a_class(k)
                ),
            );
        }
        has
    };
    let action = match name {
        ActionName::Place => {
            let zone = a.zone.as_ref().and_then(|z| c.zone_for(z, kind));
            let distance_mm = c.distance(&a.distance_cm, kind, span.clone(), "place");
            zone.zip(distance_mm).map(|(z, distance_mm)| Action::Place {
                zone: to_zone(z),
                distance_mm,
            })
        }
        ActionName::Remove => Some(Action::Remove),
        ActionName::LiftOff | ActionName::PutBack => {
            let ok = needs(c, hw.is_none_or(|h| h.contact), "a contact device");
            ok.then_some(if name == ActionName::LiftOff {
                Action::LiftOff
            } else {
                Action::PutBack
            })
        }
        ActionName::Cover => Some(Action::Cover(true)),
        ActionName::Uncover => Some(Action::Cover(false)),
        ActionName::PressStart => Some(Action::Press(Button::Start)),
        ActionName::PressPause => Some(Action::Press(Button::Pause)),
        ActionName::PressStop => Some(Action::Press(Button::Stop)),
        ActionName::SelectProgram => a
            .program
            .as_ref()
            .and_then(|p| c.program_for(p, kind))
            .map(|p| Action::SelectProgram(p.index)),
        ActionName::EyeShieldsOn | ActionName::EyeShieldsOff => {
            let ok = needs(c, hw.is_none_or(|h| h.eye_shields), "eye shields (a mask)");
            ok.then_some(Action::EyeShields(name == ActionName::EyeShieldsOn))
        }
        ActionName::PowerOff => Some(Action::PowerOff),
        ActionName::PowerOn => Some(Action::PowerOn),
        ActionName::TearNvmWrite => {
            let bytes = a.bytes.as_ref().and_then(|b| c.int(b, "bytes", TEAR_BYTES));
            let off_ms = match &a.off_ms {
                Some(o) => c.int(o, "off_ms", OFF_MS).map(i64::unsigned_abs),
                None => Some(DEFAULT_TEAR_OFF_MS),
            };
            bytes
                .and_then(|b| u8::try_from(b).ok())
                .zip(off_ms)
                .map(|(bytes_written, off_ms)| Action::TearNextNvmWrite {
                    bytes_written,
                    off_ms,
                })
        }
        ActionName::ClearFaults => Some(Action::ClearFaults),
        ActionName::Ambient | ActionName::SkinState => None,
    };
    if let (Some(at_ms), Some(action), Some(_)) = (at_ms, action, kind) {
        dev.timeline
            .push((at_ms, span.start, Timed { at_ms, action }));
    }
}

fn check_fault(
    c: &mut Check<'_>,
    devices: &mut [DeviceEntry],
    entry: &Spanned<RawFault>,
    days: Option<i64>,
) {
    let span = entry.span();
    let f = entry.get_ref();
    let at_ms = c.instant(&f.day, &f.at, "at", days);
    let Some(dev) = c.device(devices, &f.device) else {
        return;
    };
    let Some(kind_name) = c.name(&f.kind, "fault kind", FAULT_KINDS) else {
        return;
    };
    let what = format!("fault kind = {:?}", f.kind.get_ref());
    if !c.keys_apply(&f.present_keys(), kind_name.keys(), &what, span.clone()) {
        return;
    }
    let Some(class) = dev.kind else { return };
    let hw = hardware(class);
    let mut ok = true;
    let sensor = f.sensor.as_ref().and_then(|s| {
        let sensor = c.name(s, "sensor", SENSORS)?;
        if !has_sensor(class, sensor) {
            let list = SENSORS
                .iter()
                .filter(|(_, s)| has_sensor(class, *s))
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ");
            c.err(
                s.span(),
                ErrorKind::Unsupported,
                format!(
                    "{} has no {} NTC; expected one of {list}",
                    a_class(class),
                    s.get_ref()
                ),
            );
            return None;
        }
        Some(sensor)
    });
    ok &= f.sensor.is_none() || sensor.is_some();
    let string = f.string.as_ref().and_then(|s| {
        let found = u8::try_from(*s.get_ref())
            .ok()
            .filter(|i| hw.strings.contains(i));
        if found.is_none() {
            let list = hw
                .strings
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            c.err(
                s.span(),
                ErrorKind::Unsupported,
                format!(
                    "string {} does not exist on {}; expected one of {list}",
                    s.get_ref(),
                    a_class(class)
                ),
            );
        }
        found
    });
    ok &= f.string.is_none() || string.is_some();
    let leds = f.leds.as_ref().and_then(|l| {
        // Shorting every emitter of a string is a different fault (a dead short); at least one
        // must still drop its forward voltage.
        let Some(s) = string else {
            return c
                .int(l, "leds", SHORTED_LEDS)
                .and_then(|l| u8::try_from(l).ok());
        };
        let in_string = hw.leds_per_string[usize::from(s)];
        if in_string < 2 {
            c.err(
                l.span(),
                ErrorKind::Unsupported,
                format!(
                    "string {s} of {} has {in_string} LED; expected a string of two or more",
                    a_class(class)
                ),
            );
            return None;
        }
        let hi = i64::from(in_string - 1).min(i64::from(u8::MAX));
        c.int(
            l,
            "leds",
            IntBounds {
                lo: SHORTED_LEDS.lo,
                hi,
            },
        )
        .and_then(|l| u8::try_from(l).ok())
    });
    ok &= f.leds.is_none() || leds.is_some();
    let rate_k_per_hour = c.opt_float(&f.rate_k_per_hour, "rate_k_per_hour", DRIFT_K_PER_HOUR);
    ok &= f.rate_k_per_hour.is_none() || rate_k_per_hour.is_some();
    if kind_name == FaultKindName::FanStall && !hw.fan {
        c.err(
            f.kind.span(),
            ErrorKind::Unsupported,
            format!(
                "{what} needs a fan; {:?} is {} (only panels have fans)",
                f.device.get_ref(),
                a_class(class)
            ),
        );
        ok = false;
    }
    let spec = FaultSpec {
        kind: kind_name,
        sensor,
        string,
        leds,
        rate_k_per_hour,
    };
    if let (true, Some(at_ms), Some(fault)) = (ok, at_ms, to_fault(&spec)) {
        dev.timeline.push((
            at_ms,
            span.start,
            Timed {
                at_ms,
                action: Action::Fault(fault),
            },
        ));
    }
}

fn check_expect(
    c: &mut Check<'_>,
    labels: &[(String, Range<usize>)],
    entry: &Spanned<RawExpect>,
) -> Option<Expectation> {
    let e = entry.get_ref();
    match (&e.refused, &e.property_fails) {
        (Some(_), Some(p)) => {
            c.err(
                p.span(),
                ErrorKind::Conflict,
                "an [[expect]] has both `refused` and `property_fails`; expected one of them",
            );
            None
        }
        (None, None) => {
            c.err(entry.span(), ErrorKind::Shape, "an [[expect]] needs `refused = LABEL` or `property_fails = PROPERTY` with `reason`");
            None
        }
        (Some(label), None) => {
            if let Some(r) = &e.reason {
                c.err(
                    r.span(),
                    ErrorKind::Conflict,
                    "`reason` applies only to property_fails",
                );
                return None;
            }
            if !labels.iter().any(|(l, _)| l == label.get_ref()) {
                let list = labels
                    .iter()
                    .map(|(l, _)| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                c.err(
                    label.span(),
                    ErrorKind::Reference,
                    format!(
                        "refused = {:?} names no treatment; labels: {list}",
                        label.get_ref()
                    ),
                );
                return None;
            }
            Some(Expectation::Refused {
                label: label.get_ref().clone(),
            })
        }
        (None, Some(p)) => {
            let property = PropertyId::from_name(p.get_ref());
            if property.is_none() {
                let list = CATALOG
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ");
                c.err(
                    p.span(),
                    ErrorKind::Reference,
                    format!("unknown property {:?}; expected one of {list}", p.get_ref()),
                );
            }
            let reason = match &e.reason {
                Some(r) if !r.get_ref().trim().is_empty() => Some(r.get_ref().trim().to_string()),
                Some(r) => {
                    c.err(
                        r.span(),
                        ErrorKind::Range,
                        "reason is empty; expected why the property is expected to fail",
                    );
                    None
                }
                None => {
                    c.err(
                        p.span(),
                        ErrorKind::Shape,
                        "property_fails needs `reason`, documenting why the failure is expected",
                    );
                    None
                }
            };
            property?;
            Some(Expectation::PropertyFails {
                property: p.get_ref().clone(),
                reason: reason?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_to_ms() {
        let cases: &[(&str, Option<u64>)] = &[
            ("00:00", Some(0)),
            ("19:05", Some(19 * 3_600_000 + 5 * 60_000)),
            ("19:05:30", Some(19 * 3_600_000 + 5 * 60_000 + 30_000)),
            ("23:59:59.999", Some(DAY_MS - 1)),
            ("07:00:00.5", Some(7 * 3_600_000 + 500)),
            ("24:00", None),
            ("7:00", None),
            ("07:60", None),
            ("07:00:60", None),
            ("07:00:00.", None),
            ("07:00:00.1234", None),
            ("07", None),
            ("07:00:00:00", None),
            ("", None),
            ("0٧:00", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time_of_day(s), *want, "{s:?}");
        }
    }

    #[test]
    fn instants_show_only_needed_precision() {
        assert_eq!(show_instant(DAY_MS + 19 * 3_600_000), "day 1 19:00");
        assert_eq!(show_instant(5_000), "day 0 00:00:05");
        assert_eq!(show_instant(5_250), "day 0 00:00:05.250");
    }

    #[test]
    fn every_class_has_programs_and_a_board_ntc() {
        for (name, kind) in DEVICE_KINDS {
            assert!(!zones_of(*kind).is_empty(), "{name} treats no zone");
            assert!(has_sensor(*kind, SensorName::Board));
            // Every program's zone is a file zone (names equal zone names by convention).
            for p in programs(*kind) {
                assert!(
                    ZONES.iter().any(|(_, z)| to_zone(*z) == p.zone),
                    "{name}: program {}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn device_catalog_has_the_hardware_the_format_documents() {
        // (class, contact NTCs, strings, fan, eye shields): the format brief and scenarios/README.md.
        let want: &[(DeviceKindName, u8, &[u8], bool, bool)] = &[
            (DeviceKindName::Wrap, 2, &[0, 1, 2, 3], false, false),
            (DeviceKindName::Pad, 2, &[0, 1, 2, 3], false, false),
            (DeviceKindName::Panel, 0, &[0, 1, 2, 3], true, false),
            (DeviceKindName::Mask, 1, &[0, 1, 2, 3], false, true),
            (DeviceKindName::Pen, 1, &[0, 2], false, false),
            (DeviceKindName::LaserProbe, 1, &[0], false, false),
        ];
        for (kind, ntcs, strings, fan, shields) in want {
            let hw = hardware(*kind);
            assert_eq!(
                (
                    hw.contact_ntcs,
                    hw.strings.as_slice(),
                    hw.fan,
                    hw.eye_shields
                ),
                (*ntcs, *strings, *fan, *shields),
                "{kind:?}"
            );
            assert!(
                hw.standoff_mm > 0.0,
                "{kind:?}: a default distance the optics can use"
            );
        }
    }

    #[test]
    fn fault_mapping_needs_its_keys() {
        let base = FaultSpec {
            kind: FaultKindName::NtcDrift,
            sensor: Some(SensorName::Board),
            string: None,
            leds: None,
            rate_k_per_hour: None,
        };
        assert_eq!(to_fault(&base), None);
        let drift = FaultSpec {
            rate_k_per_hour: Some(3.0),
            ..base
        };
        assert_eq!(
            to_fault(&drift),
            Some(PlantFault::Ntc {
                sensor: NtcId::Board,
                fault: NtcFault::Drift { k_per_hour: 3.0 }
            })
        );
        let short = FaultSpec {
            kind: FaultKindName::StringShort,
            sensor: None,
            string: Some(2),
            leds: Some(3),
            rate_k_per_hour: None,
        };
        assert_eq!(
            to_fault(&short),
            Some(PlantFault::StringShort { string: 2, leds: 3 })
        );
    }
}
