//! The scenario file as written: serde types that mirror the TOML, and the tables of names.
//!
//! Nothing here knows the plant's types: names are parsed into this module's own small enums
//! (and strings), so the file format can be read, checked and documented (the JSON Schema is
//! generated from the same tables) independently of `sim`. Turning these into a [`Scenario`]
//! happens in one place, `validate.rs` (ripgrep's LowArgs → HiArgs split).
//!
//! Every struct denies unknown keys, and the file is deserialised one top-level entry at a time
//! (each `[[treatment]]` separately, and so on), so one bad entry does not hide the errors of the
//! others. Values that are range-checked later keep their byte span (`toml::Spanned`) so the
//! range error points at the value. Integers that have a lower bound are read as `i64`, so a
//! negative day is reported as out of range rather than as a type error.
//!
//! [`Scenario`]: crate::scenario::Scenario

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::{ErrorKind, FormatError};

/// A name in a file and the value it stands for.
pub type NameTable<T> = &'static [(&'static str, T)];

/// Look up a name in a table.
pub fn lookup<T: Copy>(table: NameTable<T>, name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The names of a table, comma separated (for "expected one of ..." messages).
pub fn names<T>(table: NameTable<T>) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The name of a value in its table.
pub fn name_of<T: Copy + PartialEq>(table: NameTable<T>, value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(n, _)| n)
}

/// A treated body zone, as named in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    missing_docs,
    reason = "the variants are the zone names of ZONES, documented there"
)]
pub enum ZoneName {
    LeftCalf,
    RightCalf,
    LeftQuad,
    RightQuad,
    LeftHamstring,
    RightHamstring,
    Glutes,
    Back,
    LeftAchilles,
    RightAchilles,
    LeftKnee,
    RightKnee,
    Hip,
    Face,
}

/// Zone names (kebab-case), in the firmware's zone-id order (firmware brief: ids 0–13).
pub const ZONES: NameTable<ZoneName> = &[
    ("left-calf", ZoneName::LeftCalf),
    ("right-calf", ZoneName::RightCalf),
    ("left-quad", ZoneName::LeftQuad),
    ("right-quad", ZoneName::RightQuad),
    ("left-hamstring", ZoneName::LeftHamstring),
    ("right-hamstring", ZoneName::RightHamstring),
    ("glutes", ZoneName::Glutes),
    ("back", ZoneName::Back),
    ("left-achilles", ZoneName::LeftAchilles),
    ("right-achilles", ZoneName::RightAchilles),
    ("left-knee", ZoneName::LeftKnee),
    ("right-knee", ZoneName::RightKnee),
    ("hip", ZoneName::Hip),
    ("face", ZoneName::Face),
];

/// A device class, as named in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    missing_docs,
    reason = "the variants are the class names of DEVICE_KINDS, documented there"
)]
pub enum DeviceKindName {
    Wrap,
    Pad,
    Panel,
    Mask,
    Pen,
    LaserProbe,
}

/// Device class names.
pub const DEVICE_KINDS: NameTable<DeviceKindName> = &[
    ("wrap", DeviceKindName::Wrap),
    ("pad", DeviceKindName::Pad),
    ("panel", DeviceKindName::Panel),
    ("mask", DeviceKindName::Mask),
    ("pen", DeviceKindName::Pen),
    ("laser-probe", DeviceKindName::LaserProbe),
];

/// Fitzpatrick skin type, as named in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(missing_docs, reason = "Fitzpatrick types I–VI, named in SKIN_TYPES")]
pub enum SkinTypeName {
    I,
    II,
    III,
    IV,
    V,
    VI,
}

/// Skin type names (Roman numerals, as the Fitzpatrick scale writes them).
pub const SKIN_TYPES: NameTable<SkinTypeName> = &[
    ("I", SkinTypeName::I),
    ("II", SkinTypeName::II),
    ("III", SkinTypeName::III),
    ("IV", SkinTypeName::IV),
    ("V", SkinTypeName::V),
    ("VI", SkinTypeName::VI),
];

/// Training kinds (the article's runner and cyclist weeks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    missing_docs,
    reason = "the variants are the kinds of TRAINING_KINDS, documented there"
)]
pub enum TrainingKindName {
    Intervals,
    Tempo,
    Hills,
    LongRun,
    LongRide,
    Threshold,
    Easy,
    Rest,
}

/// Training kind names.
pub const TRAINING_KINDS: NameTable<TrainingKindName> = &[
    ("intervals", TrainingKindName::Intervals),
    ("tempo", TrainingKindName::Tempo),
    ("hills", TrainingKindName::Hills),
    ("long-run", TrainingKindName::LongRun),
    ("long-ride", TrainingKindName::LongRide),
    ("threshold", TrainingKindName::Threshold),
    ("easy", TrainingKindName::Easy),
    ("rest", TrainingKindName::Rest),
];

/// What an `[[action]]` does (`do = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    missing_docs,
    reason = "the variants are the names of ACTIONS, documented in scenarios/README.md"
)]
pub enum ActionName {
    Place,
    Remove,
    LiftOff,
    PutBack,
    Cover,
    Uncover,
    PressStart,
    PressPause,
    PressStop,
    SelectProgram,
    EyeShieldsOn,
    EyeShieldsOff,
    PowerOff,
    PowerOn,
    TearNvmWrite,
    Ambient,
    SkinState,
    ClearFaults,
}

/// Action names.
pub const ACTIONS: NameTable<ActionName> = &[
    ("place", ActionName::Place),
    ("remove", ActionName::Remove),
    ("lift-off", ActionName::LiftOff),
    ("put-back", ActionName::PutBack),
    ("cover", ActionName::Cover),
    ("uncover", ActionName::Uncover),
    ("press-start", ActionName::PressStart),
    ("press-pause", ActionName::PressPause),
    ("press-stop", ActionName::PressStop),
    ("select-program", ActionName::SelectProgram),
    ("eye-shields-on", ActionName::EyeShieldsOn),
    ("eye-shields-off", ActionName::EyeShieldsOff),
    ("power-off", ActionName::PowerOff),
    ("power-on", ActionName::PowerOn),
    ("tear-nvm-write", ActionName::TearNvmWrite),
    ("ambient", ActionName::Ambient),
    ("skin-state", ActionName::SkinState),
    ("clear-faults", ActionName::ClearFaults),
];

impl ActionName {
    /// Whether the action concerns the environment (no `device`) rather than one device.
    pub fn is_global(self) -> bool {
        matches!(self, ActionName::Ambient | ActionName::SkinState)
    }

    /// Keys this action takes besides `day`, `at`, `do` (and `device` for device actions):
    /// (required, optional).
    pub fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            ActionName::Place => (&["zone"], &["distance_cm"]),
            ActionName::SelectProgram => (&["program"], &[]),
            ActionName::TearNvmWrite => (&["bytes"], &["off_ms"]),
            ActionName::Ambient => (&["ambient_c"], &[]),
            ActionName::SkinState => (&["skin_c", "perfusion"], &[]),
            _ => (&[], &[]),
        }
    }
}

/// Kinds of injected plant fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    missing_docs,
    reason = "the variants are the names of FAULT_KINDS, documented in scenarios/README.md"
)]
pub enum FaultKindName {
    NtcOpen,
    NtcShort,
    NtcDrift,
    NtcDetached,
    StringOpen,
    StringShort,
    DriverStuckOn,
    FanStall,
}

/// Fault kind names.
pub const FAULT_KINDS: NameTable<FaultKindName> = &[
    ("ntc-open", FaultKindName::NtcOpen),
    ("ntc-short", FaultKindName::NtcShort),
    ("ntc-drift", FaultKindName::NtcDrift),
    ("ntc-detached", FaultKindName::NtcDetached),
    ("string-open", FaultKindName::StringOpen),
    ("string-short", FaultKindName::StringShort),
    ("driver-stuck-on", FaultKindName::DriverStuckOn),
    ("fan-stall", FaultKindName::FanStall),
];

impl FaultKindName {
    /// Keys this fault takes besides `day`, `at`, `device`, `kind`: (required, optional).
    pub fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            FaultKindName::NtcOpen | FaultKindName::NtcShort | FaultKindName::NtcDetached => {
                (&["sensor"], &[])
            }
            FaultKindName::NtcDrift => (&["sensor", "rate_k_per_hour"], &[]),
            FaultKindName::StringOpen | FaultKindName::DriverStuckOn => (&["string"], &[]),
            FaultKindName::StringShort => (&["string", "leds"], &[]),
            FaultKindName::FanStall => (&[], &[]),
        }
    }
}

/// An NTC thermistor on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SensorName {
    /// First skin-contact NTC (at the hottest plausible point).
    Contact0,
    /// Second skin-contact NTC (wraps and pads).
    Contact1,
    /// LED board NTC (every class).
    Board,
}

/// Sensor names.
pub const SENSORS: NameTable<SensorName> = &[
    ("contact0", SensorName::Contact0),
    ("contact1", SensorName::Contact1),
    ("board", SensorName::Board),
];

/// Top-level keys, in the order the README documents them.
pub const TOP_KEYS: &[&str] = &[
    "format",
    "description",
    "seed",
    "days",
    "environment",
    "limits",
    "device",
    "training",
    "treatment",
    "action",
    "fault",
    "expect",
];

/// `[environment]`: the room and the body at the start (all optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// Room temperature, °C.
    pub ambient_c: Option<Spanned<f64>>,
    /// Fitzpatrick type, "I".."VI".
    pub skin_type: Option<Spanned<String>>,
    /// Skin perfusion relative to rest.
    pub perfusion: Option<Spanned<f64>>,
    /// Resting skin surface temperature, °C.
    pub skin_c: Option<Spanned<f64>>,
    /// Arterial blood temperature, °C.
    pub arterial_c: Option<Spanned<f64>>,
}

/// `[limits]`: overrides of `properties::Limits`, same field names (all optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    missing_docs,
    reason = "each field overrides the properties::Limits field of the same name, documented there"
)]
pub struct RawLimits {
    pub skin_normal_c: Option<Spanned<f64>>,
    pub skin_absolute_c: Option<Spanned<f64>>,
    pub cem43_normal: Option<Spanned<f64>>,
    pub cem43_fault: Option<Spanned<f64>>,
    pub junction_margin_k: Option<Spanned<f64>>,
    pub dose_tolerance: Option<Spanned<f64>>,
    pub estimate_tolerance: Option<Spanned<f64>>,
    pub estimate_floor_j_cm2: Option<Spanned<f64>>,
    pub contact_reaction_ms: Option<Spanned<i64>>,
    pub eye_nir_mw_cm2: Option<Spanned<f64>>,
    pub fault_reaction_ms: Option<Spanned<i64>>,
    pub start_latency_ms: Option<Spanned<i64>>,
    pub must_refuse_skin_c: Option<Spanned<f64>>,
    pub must_allow_skin_c: Option<Spanned<f64>>,
}

/// The float fields of `[limits]` (for the schema).
pub const LIMIT_FLOAT_KEYS: &[&str] = &[
    "skin_normal_c",
    "skin_absolute_c",
    "cem43_normal",
    "cem43_fault",
    "junction_margin_k",
    "dose_tolerance",
    "estimate_tolerance",
    "estimate_floor_j_cm2",
    "eye_nir_mw_cm2",
    "must_refuse_skin_c",
    "must_allow_skin_c",
];

/// The millisecond fields of `[limits]` (for the schema).
pub const LIMIT_MS_KEYS: &[&str] = &[
    "contact_reaction_ms",
    "fault_reaction_ms",
    "start_latency_ms",
];

/// `[device.tolerances]`: part tolerances of one unit, as scales of nominal (all optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTolerances {
    /// LED radiant efficiency scale (bin spread).
    pub led_efficiency: Option<Spanned<f64>>,
    /// NTC R25 scale.
    pub ntc_r25: Option<Spanned<f64>>,
    /// NTC B-constant scale.
    pub ntc_beta: Option<Spanned<f64>>,
    /// Scale of every device thermal resistance.
    pub rth: Option<Spanned<f64>>,
}

/// `[[device]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// Id used by treatments, actions and faults.
    pub id: Spanned<String>,
    /// Device class name.
    pub kind: Spanned<String>,
    /// Firmware uptime at the start, ms.
    pub uptime_at_start_ms: Option<Spanned<i64>>,
    /// Part tolerances.
    pub tolerances: Option<RawTolerances>,
}

/// `[[training]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraining {
    /// 0-based day.
    pub day: Spanned<i64>,
    /// End time of day.
    pub end: Spanned<String>,
    /// Duration, minutes.
    pub minutes: Spanned<f64>,
    /// Training kind name.
    pub kind: Spanned<String>,
    /// Intensity 0–1.
    pub intensity: Spanned<f64>,
}

/// `[[treatment]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTreatment {
    /// 0-based day.
    pub day: Spanned<i64>,
    /// Time of day the device is placed.
    pub at: Spanned<String>,
    /// Device id.
    pub device: Spanned<String>,
    /// Zone name.
    pub zone: Spanned<String>,
    /// Program name (default: the device's program for the zone).
    pub program: Option<Spanned<String>>,
    /// LED-to-skin distance, cm (panels only, required there).
    pub distance_cm: Option<Spanned<f64>>,
    /// Minutes from placing to taking the device off (default: program limit + 2).
    pub minutes: Option<Spanned<f64>>,
    /// Label for expectations and reports (default `d{day}-{HHMM}-{zone}`).
    pub label: Option<Spanned<String>>,
}

/// `[[action]]`: one user action or environment change; which keys apply depends on `do`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    /// 0-based day.
    pub day: Spanned<i64>,
    /// Time of day.
    pub at: Spanned<String>,
    /// Device id (device actions only).
    pub device: Option<Spanned<String>>,
    /// Action name.
    #[serde(rename = "do")]
    pub action: Spanned<String>,
    /// `place`: zone name.
    pub zone: Option<Spanned<String>>,
    /// `place` on a panel: distance, cm.
    pub distance_cm: Option<Spanned<f64>>,
    /// `select-program`: program name.
    pub program: Option<Spanned<String>>,
    /// `tear-nvm-write`: bytes of the record written before power fails.
    pub bytes: Option<Spanned<i64>>,
    /// `tear-nvm-write`: how long power stays off, ms.
    pub off_ms: Option<Spanned<i64>>,
    /// `ambient`: room temperature, °C.
    pub ambient_c: Option<Spanned<f64>>,
    /// `skin-state`: skin surface temperature, °C.
    pub skin_c: Option<Spanned<f64>>,
    /// `skin-state`: perfusion relative to rest.
    pub perfusion: Option<Spanned<f64>>,
}

impl RawAction {
    /// The optional keys present in this entry, with their spans (for "does not apply" checks).
    pub fn present_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        push_span(&mut out, "zone", &self.zone);
        push_span(&mut out, "distance_cm", &self.distance_cm);
        push_span(&mut out, "program", &self.program);
        push_span(&mut out, "bytes", &self.bytes);
        push_span(&mut out, "off_ms", &self.off_ms);
        push_span(&mut out, "ambient_c", &self.ambient_c);
        push_span(&mut out, "skin_c", &self.skin_c);
        push_span(&mut out, "perfusion", &self.perfusion);
        out
    }
}

/// `[[fault]]`: a plant fault injected at a time; which keys apply depends on `kind`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// 0-based day.
    pub day: Spanned<i64>,
    /// Time of day.
    pub at: Spanned<String>,
    /// Device id.
    pub device: Spanned<String>,
    /// Fault kind name.
    pub kind: Spanned<String>,
    /// NTC faults: sensor name.
    pub sensor: Option<Spanned<String>>,
    /// String faults: string index.
    pub string: Option<Spanned<i64>>,
    /// `string-short`: number of shorted LEDs.
    pub leds: Option<Spanned<i64>>,
    /// `ntc-drift`: drift rate, K per hour.
    pub rate_k_per_hour: Option<Spanned<f64>>,
}

impl RawFault {
    /// The optional keys present in this entry, with their spans.
    pub fn present_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        push_span(&mut out, "sensor", &self.sensor);
        push_span(&mut out, "string", &self.string);
        push_span(&mut out, "leds", &self.leds);
        push_span(&mut out, "rate_k_per_hour", &self.rate_k_per_hour);
        out
    }
}

fn push_span<T>(
    out: &mut Vec<(&'static str, std::ops::Range<usize>)>,
    key: &'static str,
    v: &Option<Spanned<T>>,
) {
    if let Some(v) = v {
        out.push((key, v.span()));
    }
}

/// `[[expect]]`: exactly one of `refused` or `property_fails` (with `reason`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Label of a treatment that must be refused.
    pub refused: Option<Spanned<String>>,
    /// Dotted property name expected to fail.
    pub property_fails: Option<Spanned<String>>,
    /// Why the property is expected to fail.
    pub reason: Option<Spanned<String>>,
}

/// A whole scenario file as written (after the shape checks, before validation). Entries keep
/// their span so an error about a whole entry (a missing key) points at it.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    /// `format` (must be 1).
    pub format: Option<Spanned<i64>>,
    /// `description`.
    pub description: Option<Spanned<String>>,
    /// `seed`.
    pub seed: Option<Spanned<i64>>,
    /// `days`.
    pub days: Option<Spanned<i64>>,
    /// `[environment]`.
    pub environment: RawEnvironment,
    /// `[limits]`.
    pub limits: RawLimits,
    /// `[[device]]` entries.
    pub devices: Vec<Spanned<RawDevice>>,
    /// `[[training]]` entries.
    pub training: Vec<Spanned<RawTraining>>,
    /// `[[treatment]]` entries.
    pub treatments: Vec<Spanned<RawTreatment>>,
    /// `[[action]]` entries.
    pub actions: Vec<Spanned<RawAction>>,
    /// `[[fault]]` entries.
    pub faults: Vec<Spanned<RawFault>>,
    /// `[[expect]]` entries.
    pub expects: Vec<Spanned<RawExpect>>,
}

/// Parse `text` into a [`ScenarioFile`], collecting every syntax and shape error (unknown key,
/// wrong type, missing key) of every entry. Returns the file only if there were none.
pub fn parse(file: &str, text: &str) -> Result<ScenarioFile, Vec<FormatError>> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Err(syntax
            .iter()
            .map(|e| toml_error(file, text, e, ErrorKind::Syntax))
            .collect());
    }
    let root_span = root.span();
    let root = root.into_inner();
    let mut errors = Vec::new();
    let mut out = ScenarioFile {
        format: None,
        description: None,
        seed: None,
        days: None,
        environment: RawEnvironment::default(),
        limits: RawLimits::default(),
        devices: Vec::new(),
        training: Vec::new(),
        treatments: Vec::new(),
        actions: Vec::new(),
        faults: Vec::new(),
        expects: Vec::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut de = Entries {
        file,
        text,
        errors: &mut errors,
    };
    for (key, value) in root {
        seen.push(key.get_ref().to_string());
        match key.get_ref().as_ref() {
            "format" => out.format = de.one(value),
            "description" => out.description = de.one(value),
            "seed" => out.seed = de.one(value),
            "days" => out.days = de.one(value),
            "environment" => out.environment = de.one(value).unwrap_or_default(),
            "limits" => out.limits = de.one(value).unwrap_or_default(),
            "device" => out.devices = de.many("device", value),
            "training" => out.training = de.many("training", value),
            "treatment" => out.treatments = de.many("treatment", value),
            "action" => out.actions = de.many("action", value),
            "fault" => out.faults = de.many("fault", value),
            "expect" => out.expects = de.many("expect", value),
            other => de.errors.push(FormatError::at(
                file,
                text,
                key.span(),
                ErrorKind::Shape,
                format!(
                    "unknown key `{other}`; expected one of {}",
                    TOP_KEYS.join(", ")
                ),
            )),
        }
    }
    for key in ["format", "description", "days"] {
        if !seen.iter().any(|k| k == key) {
            errors.push(FormatError::at(
                file,
                text,
                root_span.start..root_span.start,
                ErrorKind::Shape,
                match key {
                    "format" => "missing key `format`; expected `format = 1`".to_string(),
                    _ => format!("missing key `{key}`"),
                },
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.sort_by_key(|e| (e.line, e.column));
        Err(errors)
    }
}

/// Deserialises top-level entries one at a time, collecting errors.
struct Entries<'a> {
    file: &'a str,
    text: &'a str,
    errors: &'a mut Vec<FormatError>,
}

impl Entries<'_> {
    fn one<T: for<'de> Deserialize<'de>>(&mut self, value: Spanned<DeValue<'_>>) -> Option<T> {
        T::deserialize(ValueDeserializer::from(value))
            .map_err(|e| {
                self.errors
                    .push(toml_error(self.file, self.text, &e, ErrorKind::Shape))
            })
            .ok()
    }

    fn many<T: for<'de> Deserialize<'de>>(
        &mut self,
        key: &str,
        value: Spanned<DeValue<'_>>,
    ) -> Vec<Spanned<T>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => items
                .into_iter()
                .filter_map(|item| self.one(item))
                .collect(),
            other => {
                self.errors.push(FormatError::at(
                    self.file,
                    self.text,
                    span,
                    ErrorKind::Shape,
                    format!(
                        "`{key}` is a {}; expected an array of tables written [[{key}]]",
                        other.type_str()
                    ),
                ));
                Vec::new()
            }
        }
    }
}

/// A `toml` error as a [`FormatError`]: its message's first line (toml may append a rendered
/// snippet when it knows the input; we render positions ourselves).
fn toml_error(file: &str, text: &str, e: &toml::de::Error, kind: ErrorKind) -> FormatError {
    let first = e.message().lines().next().unwrap_or("invalid toml").trim();
    // serde names Rust types; a file's author thinks in TOML types.
    let message = first
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number");
    match e.span() {
        Some(span) => FormatError::at(file, text, span, kind, message),
        None => FormatError::at(file, text, 0..0, kind, message),
    }
}
