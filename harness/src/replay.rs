//! Replay of a recorded run: re-run against a firmware and compare frame by frame, or play the
//! recorded firmware outputs open loop into the plant to re-judge the run.
//!
//! Both work at the DUT seam, like the recording ([`crate::record`]): the bench runs the
//! recorded scenario unchanged, and only the device under test differs. [`Comparing`] forwards
//! each call to a firmware and checks it against the recorded frames (the regression check
//! between two firmware commits); [`Playback`] answers each call with the recorded output,
//! ignoring the firmware entirely. Because the bench calls the DUT at instants fixed by the
//! scenario and by the firmware's own `next_wake_ms`, a playback of the same scenario makes the
//! same calls and the plant sees the same drive: its trace is reproduced bit for bit. With other
//! plant parameters or limits the same outputs are judged again.

use std::cell::RefCell;
use std::rc::Rc;

use firmware::boundary::{InputFrame, NVM_SIZE, OutputFrame, SessionState};
use sim::body::SkinType;

use crate::bench::{BenchError, DutFactory};
use crate::dut::{Dut, DutError, DutIdentity};
use crate::events::{Event, Reporter, Tee};
use crate::properties::Limits;
use crate::record::{
    Bundle, BundleError, Decimator, FrameRecord, FramesReader, INPUT_LANES, OUTPUT_LANES,
    SampleReader, SampleRecord, input_lanes, output_lanes, recorded_verdicts,
};
use crate::result::RunResult;
use crate::scenario::Scenario;

/// The first place a replay differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Device index.
    pub device: usize,
    /// Device id.
    pub device_id: String,
    /// Step index on this device (0-based, counting `step` calls only).
    pub step: u64,
    /// Record index in the frames file (boots and power-offs included).
    pub record: u64,
    /// Firmware time of the step, ms since boot (`None` for a boot or power-off).
    pub now_ms: Option<u32>,
    /// Bench time of the step, ms from day 0 00:00 (from the sample that followed it).
    pub t_ms: Option<u64>,
    /// Which field: a lane name (`output.duty_permille[0]`, `input.adc.contact_ntc[0]` when the
    /// plant saw different outputs earlier), `output.nvm_write`, `boot.nvm[K]`, `call` or
    /// `firmware failure`.
    pub field: String,
    /// The recorded value.
    pub recorded: String,
    /// The value now.
    pub now: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device '{}' step {}", self.device_id, self.step)?;
        if let Some(now) = self.now_ms {
            write!(f, " (firmware now_ms {now}")?;
            match self.t_ms {
                Some(t) => write!(f, ", bench t = {t} ms)")?,
                None => write!(f, ")")?,
            }
        }
        write!(
            f,
            ": {} recorded {}, now {}",
            self.field, self.recorded, self.now
        )
    }
}

/// A property whose verdict differs from the recorded run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictChange {
    /// Dotted property name.
    pub property: String,
    /// Recorded status (manifest names: `held`, `violated`, ...).
    pub recorded: String,
    /// Status now.
    pub now: String,
}

/// Verdicts that differ between the recording's manifest and a new result.
pub fn verdict_changes(bundle: &Bundle, now: &RunResult) -> Vec<VerdictChange> {
    let now = recorded_verdicts(now);
    bundle
        .manifest
        .verdicts
        .iter()
        .filter_map(|rec| {
            let n = now.iter().find(|v| v.property == rec.property);
            let now_status = n.map_or("absent", |v| v.status.as_str());
            (now_status != rec.status).then(|| VerdictChange {
                property: rec.property.clone(),
                recorded: rec.status.clone(),
                now: now_status.to_string(),
            })
        })
        .collect()
}

fn lane_value(field: &str, v: u32) -> String {
    if field == "output.state" {
        match SessionState::from_code(v as u8) {
            Some(s) => format!("{v} ({s:?})"),
            None => v.to_string(),
        }
    } else {
        v.to_string()
    }
}

/// The first lane where two inputs differ: (name, recorded, now).
fn input_difference(rec: &InputFrame, now: &InputFrame) -> Option<(String, String, String)> {
    let (a, b) = (input_lanes(rec), input_lanes(now));
    (0..a.len()).find(|&i| a[i] != b[i]).map(|i| {
        (
            INPUT_LANES[i].to_string(),
            a[i].to_string(),
            b[i].to_string(),
        )
    })
}

fn output_difference(rec: &OutputFrame, now: &OutputFrame) -> Option<(String, String, String)> {
    let (a, b) = (output_lanes(rec), output_lanes(now));
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        let f = OUTPUT_LANES[i];
        return Some((f.to_string(), lane_value(f, a[i]), lane_value(f, b[i])));
    }
    let show = |w: &Option<firmware::boundary::NvmWrite>| match w {
        Some(w) => format!("{} bytes at {} {:02x?}", w.len, w.offset, w.bytes()),
        None => "none".to_string(),
    };
    let same = match (&rec.nvm_write, &now.nvm_write) {
        (Some(x), Some(y)) => x.offset == y.offset && x.bytes() == y.bytes(),
        (None, None) => true,
        _ => false,
    };
    (!same).then(|| {
        (
            "output.nvm_write".to_string(),
            show(&rec.nvm_write),
            show(&now.nvm_write),
        )
    })
}

fn record_kind(r: &Option<FrameRecord>) -> &'static str {
    match r {
        Some(FrameRecord::Boot(_)) => "boot",
        Some(FrameRecord::Step { .. }) => "step",
        Some(FrameRecord::PowerOff) => "power_off",
        Some(FrameRecord::Failure { .. }) => "firmware failure",
        None => "end of recording",
    }
}

/// One device's place in its recording.
struct Cursor {
    device_id: String,
    frames: FramesReader,
    steps: u64,
    diverged: bool,
    /// Steps whose inputs differ from the recorded ones (playback).
    drifted_steps: u64,
    first_drift: Option<Divergence>,
}

/// What the comparing and playback DUTs share with the replay driver and its clock reporter.
#[derive(Default)]
struct ReplayState {
    cursors: Vec<Cursor>,
    first: Option<Divergence>,
    steps_compared: u64,
    read_error: Option<BundleError>,
}

impl ReplayState {
    fn next(&mut self, device: usize) -> Option<FrameRecord> {
        match self.cursors[device].frames.next_record() {
            Ok(r) => r,
            Err(e) => {
                self.read_error.get_or_insert(e);
                None
            }
        }
    }

    fn diverge(
        &mut self,
        device: usize,
        now_ms: Option<u32>,
        (field, recorded, now): (String, String, String),
    ) {
        let c = &mut self.cursors[device];
        if c.diverged {
            return;
        }
        c.diverged = true;
        let d = Divergence {
            device,
            device_id: c.device_id.clone(),
            step: c.steps,
            record: c.frames.records().saturating_sub(1),
            now_ms,
            t_ms: None,
            field,
            recorded,
            now,
        };
        if self.first.is_none() {
            self.first = Some(d);
        }
    }
}

/// Fills in the bench time of the first divergence from the sample that follows its step.
struct DivergenceClock(Rc<RefCell<ReplayState>>);

impl Reporter for DivergenceClock {
    fn event(&mut self, event: &Event) {
        let Event::Sample(s) = event else { return };
        let mut st = self.0.borrow_mut();
        if let Some(d) = st.first.as_mut()
            && d.t_ms.is_none()
            && d.device == s.device
            && d.now_ms == Some(s.input.now_ms)
        {
            d.t_ms = Some(s.t_ms);
        }
    }
}

/// A [`Dut`] that forwards to a firmware and compares every call with the recording.
pub struct Comparing {
    inner: Box<dyn Dut>,
    device: usize,
    state: Rc<RefCell<ReplayState>>,
}

impl Dut for Comparing {
    fn identity(&self) -> DutIdentity {
        self.inner.identity()
    }

    fn boot(&mut self, nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        let mut st = self.state.borrow_mut();
        if !st.cursors[self.device].diverged {
            match st.next(self.device) {
                Some(FrameRecord::Boot(rec)) => {
                    if let Some(k) = (0..NVM_SIZE).find(|&k| rec[k] != nvm[k]) {
                        st.diverge(
                            self.device,
                            None,
                            (
                                format!("boot.nvm[{k}]"),
                                format!("{:#04x}", rec[k]),
                                format!("{:#04x}", nvm[k]),
                            ),
                        );
                    }
                }
                other => st.diverge(
                    self.device,
                    None,
                    ("call".into(), record_kind(&other).into(), "boot".into()),
                ),
            }
        }
        drop(st);
        self.inner.boot(nvm)
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let result = self.inner.step(input);
        let mut st = self.state.borrow_mut();
        let now_ms = Some(input.now_ms);
        if !st.cursors[self.device].diverged {
            st.steps_compared += 1;
            let recorded = st.next(self.device);
            let difference = match (&recorded, &result) {
                (
                    Some(FrameRecord::Step {
                        input: ri,
                        output: ro,
                    }),
                    Ok(o),
                ) => input_difference(ri, input).or_else(|| output_difference(ro, o)),
                (Some(FrameRecord::Step { input: ri, .. }), Err(e)) => input_difference(ri, input)
                    .or_else(|| Some(("firmware failure".into(), "none".into(), e.to_string()))),
                (Some(FrameRecord::Failure { input: ri, message }), r) => {
                    input_difference(ri, input).or_else(|| {
                        r.as_ref()
                            .ok()
                            .map(|_| ("firmware failure".into(), message.clone(), "none".into()))
                    })
                }
                (other, _) => Some(("call".into(), record_kind(other).into(), "step".into())),
            };
            if let Some(d) = difference {
                st.diverge(self.device, now_ms, d);
            }
        }
        st.cursors[self.device].steps += 1;
        result
    }

    fn power_off(&mut self) {
        let mut st = self.state.borrow_mut();
        if !st.cursors[self.device].diverged {
            let recorded = st.next(self.device);
            if !matches!(recorded, Some(FrameRecord::PowerOff)) {
                st.diverge(
                    self.device,
                    None,
                    (
                        "call".into(),
                        record_kind(&recorded).into(),
                        "power_off".into(),
                    ),
                );
            }
        }
        drop(st);
        self.inner.power_off();
    }
}

/// What a re-run against a firmware found.
#[derive(Debug)]
pub struct RerunReport {
    /// The first difference from the recording, if any.
    pub divergence: Option<Divergence>,
    /// Steps compared before the first divergence (or in all).
    pub steps_compared: u64,
    /// The new run's result, or the firmware failure that ended it.
    pub outcome: Result<RunResult, BenchError>,
    /// Properties whose verdict changed.
    pub verdict_changes: Vec<VerdictChange>,
}

impl RerunReport {
    /// No divergence and no verdict change: the firmware behaves as recorded.
    pub fn identical(&self) -> bool {
        self.divergence.is_none() && self.verdict_changes.is_empty()
    }
}

fn cursors(bundle: &Bundle) -> Result<Vec<Cursor>, BundleError> {
    (0..bundle.manifest.devices.len())
        .map(|i| {
            Ok(Cursor {
                device_id: bundle.manifest.devices[i].id.clone(),
                frames: bundle.frames(i)?,
                steps: 0,
                diverged: false,
                drifted_steps: 0,
                first_drift: None,
            })
        })
        .collect()
}

/// Leftover records after the run: the new run stopped short of the recording.
fn check_leftovers(st: &mut ReplayState) {
    for device in 0..st.cursors.len() {
        if st.cursors[device].diverged {
            continue;
        }
        let left = st.next(device);
        if left.is_some() {
            st.diverge(
                device,
                None,
                (
                    "call".into(),
                    record_kind(&left).into(),
                    "end of run".into(),
                ),
            );
        }
    }
}

/// Re-run the bundle's scenario against the firmware `factory` makes, comparing every call with
/// the recording; the run goes on to the end after a divergence, and its verdicts are compared
/// with the recorded ones.
pub fn rerun(
    bundle: &Bundle,
    factory: &mut DutFactory<'_>,
    reporter: &mut dyn Reporter,
) -> Result<RerunReport, BundleError> {
    let state = Rc::new(RefCell::new(ReplayState {
        cursors: cursors(bundle)?,
        ..ReplayState::default()
    }));
    let mut device = 0usize;
    let mut comparing = |kind| -> Result<Box<dyn Dut>, DutError> {
        let inner = factory(kind)?;
        let d = Comparing {
            inner,
            device,
            state: Rc::clone(&state),
        };
        device += 1;
        Ok(Box::new(d))
    };
    let mut clock = DivergenceClock(Rc::clone(&state));
    let outcome = crate::bench::run(
        &bundle.scenario,
        &mut comparing,
        &mut Tee(vec![reporter, &mut clock]),
    );
    drop(clock);
    let mut st = state.borrow_mut();
    if outcome.is_ok() {
        check_leftovers(&mut st);
    }
    if let Some(e) = st.read_error.take() {
        return Err(e);
    }
    let verdict_changes = match &outcome {
        Ok(r) => verdict_changes(bundle, r),
        Err(_) => Vec::new(),
    };
    Ok(RerunReport {
        divergence: st.first.clone(),
        steps_compared: st.steps_compared,
        outcome,
        verdict_changes,
    })
}

// ---- Open loop.

/// A [`Dut`] that answers with the recorded outputs, whatever its inputs; it notes how far the
/// inputs drift from the recorded ones (they do once the plant differs).
pub struct Playback {
    identity: DutIdentity,
    device: usize,
    state: Rc<RefCell<ReplayState>>,
}

impl Dut for Playback {
    fn identity(&self) -> DutIdentity {
        self.identity.clone()
    }

    fn boot(&mut self, _nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        let mut st = self.state.borrow_mut();
        match st.next(self.device) {
            Some(FrameRecord::Boot(_)) => Ok(()),
            other => Err(DutError::Malformed(format!(
                "playback: the recording has {} where the bench boots the firmware",
                record_kind(&other)
            ))),
        }
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let mut st = self.state.borrow_mut();
        let recorded = st.next(self.device);
        let (ri, result) = match recorded {
            Some(FrameRecord::Step { input, output }) => (input, Ok(output)),
            Some(FrameRecord::Failure { input, message }) => (
                input,
                Err(DutError::Crashed(format!("as recorded: {message}"))),
            ),
            other => {
                return Err(DutError::Malformed(format!(
                    "playback: the recording has {} where the bench steps the firmware \
                     (the scenario calls the firmware at other instants than recorded)",
                    record_kind(&other)
                )));
            }
        };
        if let Some(d) = input_difference(&ri, input) {
            let steps = st.cursors[self.device].steps;
            let record = st.cursors[self.device].frames.records().saturating_sub(1);
            let c = &mut st.cursors[self.device];
            c.drifted_steps += 1;
            if c.first_drift.is_none() {
                c.first_drift = Some(Divergence {
                    device: self.device,
                    device_id: c.device_id.clone(),
                    step: steps,
                    record,
                    now_ms: Some(input.now_ms),
                    t_ms: None,
                    field: d.0,
                    recorded: d.1,
                    now: d.2,
                });
            }
        }
        st.cursors[self.device].steps += 1;
        result
    }

    fn power_off(&mut self) {
        let mut st = self.state.borrow_mut();
        let recorded = st.next(self.device);
        if !matches!(recorded, Some(FrameRecord::PowerOff)) {
            st.diverge(
                self.device,
                None,
                (
                    "call".into(),
                    record_kind(&recorded).into(),
                    "power_off".into(),
                ),
            );
        }
    }
}

/// How one device's inputs in an open-loop replay compare with the recorded ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDrift {
    /// Device id.
    pub device_id: String,
    /// Steps played back.
    pub steps: u64,
    /// Steps whose inputs differ from the recorded inputs.
    pub drifted_steps: u64,
    /// The first such step.
    pub first: Option<Divergence>,
}

/// The first kept sample of an open-loop replay that differs from the recorded one.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleDifference {
    /// Index of the sample in `samples.bin`.
    pub index: u64,
    /// The recorded sample (`None`: the recording has fewer samples).
    pub recorded: Option<SampleRecord>,
    /// The replayed sample (`None`: the replay has fewer samples).
    pub now: Option<SampleRecord>,
    /// The first field that differs.
    pub field: &'static str,
}

/// Compares a run's samples, decimated as recorded, with `samples.bin`, streaming.
struct SampleComparer {
    reader: SampleReader,
    decimator: Decimator,
    index: u64,
    first: Option<SampleDifference>,
    error: Option<BundleError>,
}

impl SampleComparer {
    fn next_recorded(&mut self) -> Option<SampleRecord> {
        match self.reader.next_sample() {
            Ok(r) => r,
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn finish(mut self) -> Result<(u64, Option<SampleDifference>), BundleError> {
        if self.first.is_none()
            && let Some(extra) = self.next_recorded()
        {
            self.first = Some(SampleDifference {
                index: self.index,
                recorded: Some(extra),
                now: None,
                field: "count",
            });
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.index, self.first)),
        }
    }
}

impl Reporter for SampleComparer {
    fn event(&mut self, event: &Event) {
        let Event::Sample(s) = event else { return };
        if self.first.is_some() || !self.decimator.keep(s) {
            return;
        }
        let now = SampleRecord::of(s);
        let recorded = self.next_recorded();
        let field = match &recorded {
            Some(r) => r.first_difference(&now),
            None => Some("count"),
        };
        if let Some(field) = field {
            self.first = Some(SampleDifference {
                index: self.index,
                recorded,
                now: Some(now),
                field,
            });
        }
        self.index += 1;
    }
}

/// What an open-loop replay found.
#[derive(Debug)]
pub struct OpenLoopReport {
    /// The judged run (recorded outputs, this scenario's plant and limits).
    pub outcome: Result<RunResult, BenchError>,
    /// Per device: how the inputs the plant produced now compare with the recorded ones.
    pub input_drift: Vec<InputDrift>,
    /// A power-off the recording does not have at that place (the scenario was edited).
    pub sequence_mismatch: Option<Divergence>,
    /// Samples compared with `samples.bin`.
    pub samples_compared: u64,
    /// The first sample that differs from the recorded plant trace.
    pub first_sample_difference: Option<SampleDifference>,
    /// The run's trace hash equals the recorded one (every sample at full rate, bit for bit).
    pub trace_identical: bool,
    /// Properties whose verdict changed.
    pub verdict_changes: Vec<VerdictChange>,
}

impl OpenLoopReport {
    /// The plant trace is the recorded one, bit for bit (samples kept and full-rate hash).
    pub fn reproduces_trace(&self) -> bool {
        self.trace_identical && self.first_sample_difference.is_none()
    }
}

/// Play the bundle's recorded firmware outputs into the plant of `scenario` (the recorded one,
/// or an edited copy: other limits, other plant parameters; its timeline must call the firmware
/// at the same instants) and judge the run.
pub fn open_loop(
    bundle: &Bundle,
    scenario: &Scenario,
    reporter: &mut dyn Reporter,
) -> Result<OpenLoopReport, BundleError> {
    let state = Rc::new(RefCell::new(ReplayState {
        cursors: cursors(bundle)?,
        ..ReplayState::default()
    }));
    let mut device = 0usize;
    let mut playback = |_kind| -> Result<Box<dyn Dut>, DutError> {
        let m = bundle.manifest.devices.get(device).ok_or_else(|| {
            DutError::Transport(format!(
                "playback: the recording has {} device(s), the scenario more",
                bundle.manifest.devices.len()
            ))
        })?;
        let d = Playback {
            identity: DutIdentity {
                name: format!("playback of {}", m.firmware_name),
                version: m.firmware_version.clone(),
                build: m.firmware_build.clone(),
            },
            device,
            state: Rc::clone(&state),
        };
        device += 1;
        Ok(Box::new(d))
    };
    let mut samples = SampleComparer {
        decimator: Decimator::new(bundle.manifest.record_rate_ms),
        reader: bundle.samples()?,
        index: 0,
        first: None,
        error: None,
    };
    let outcome = crate::bench::run(
        scenario,
        &mut playback,
        &mut Tee(vec![reporter, &mut samples]),
    );
    let (samples_compared, first_sample_difference) = samples.finish()?;
    let mut st = state.borrow_mut();
    if outcome.is_ok() {
        check_leftovers(&mut st);
    }
    if let Some(e) = st.read_error.take() {
        return Err(e);
    }
    let trace_identical = match &outcome {
        Ok(r) => {
            bundle.manifest.trace_hash.as_deref() == Some(crate::record::hex(r.trace_hash).as_str())
        }
        Err(_) => false,
    };
    let verdict_changes = match &outcome {
        Ok(r) => verdict_changes(bundle, r),
        Err(_) => Vec::new(),
    };
    Ok(OpenLoopReport {
        input_drift: st
            .cursors
            .iter()
            .map(|c| InputDrift {
                device_id: c.device_id.clone(),
                steps: c.steps,
                drifted_steps: c.drifted_steps,
                first: c.first_drift.clone(),
            })
            .collect(),
        sequence_mismatch: st.first.clone(),
        outcome,
        samples_compared,
        first_sample_difference,
        trace_identical,
        verdict_changes,
    })
}

// ---- Overrides for re-judging.

/// Plant parameters and limits to change before an open-loop replay or a field-log judgement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Room temperature at the start, °C (later ambient changes of the timeline still apply).
    pub ambient_c: Option<f64>,
    /// Fitzpatrick skin type.
    pub skin_type: Option<SkinType>,
    /// Limits by field name of [`Limits`] (`skin_normal_c=40`, `cem43_normal=0.5`, ...).
    pub limits: Vec<(String, f64)>,
}

impl Overrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.ambient_c.is_none() && self.skin_type.is_none() && self.limits.is_empty()
    }
}

/// Parse a skin type name (`I` .. `VI`).
pub fn parse_skin_type(s: &str) -> Result<SkinType, String> {
    SkinType::ALL
        .into_iter()
        .find(|t| format!("{t:?}").eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("{s:?} is not a skin type; expected I, II, III, IV, V or VI"))
}

/// Names of the limits [`set_limit`] knows.
pub const LIMIT_NAMES: [&str; 14] = [
    "skin_normal_c",
    "skin_absolute_c",
    "cem43_normal",
    "cem43_fault",
    "junction_margin_k",
    "dose_tolerance",
    "estimate_tolerance",
    "estimate_floor_j_cm2",
    "contact_reaction_ms",
    "eye_nir_mw_cm2",
    "fault_reaction_ms",
    "start_latency_ms",
    "must_refuse_skin_c",
    "must_allow_skin_c",
];

/// Set one limit by field name; the `_ms` limits take whole non-negative milliseconds.
pub fn set_limit(limits: &mut Limits, name: &str, value: f64) -> Result<(), String> {
    if !value.is_finite() {
        return Err(format!("limit {name}: {value} is not a finite number"));
    }
    let ms = || {
        (value >= 0.0 && value.fract() == 0.0)
            .then_some(value as u64)
            .ok_or_else(|| format!("limit {name}: {value} is not a whole number of ms"))
    };
    match name {
        "skin_normal_c" => limits.skin_normal_c = value,
        "skin_absolute_c" => limits.skin_absolute_c = value,
        "cem43_normal" => limits.cem43_normal = value,
        "cem43_fault" => limits.cem43_fault = value,
        "junction_margin_k" => limits.junction_margin_k = value,
        "dose_tolerance" => limits.dose_tolerance = value,
        "estimate_tolerance" => limits.estimate_tolerance = value,
        "estimate_floor_j_cm2" => limits.estimate_floor_j_cm2 = value,
        "contact_reaction_ms" => limits.contact_reaction_ms = ms()?,
        "eye_nir_mw_cm2" => limits.eye_nir_mw_cm2 = value,
        "fault_reaction_ms" => limits.fault_reaction_ms = ms()?,
        "start_latency_ms" => limits.start_latency_ms = ms()?,
        "must_refuse_skin_c" => limits.must_refuse_skin_c = value,
        "must_allow_skin_c" => limits.must_allow_skin_c = value,
        _ => {
            return Err(format!(
                "unknown limit {name:?}; expected one of {}",
                LIMIT_NAMES.join(", ")
            ));
        }
    }
    Ok(())
}

/// Apply overrides to a scenario.
pub fn apply_overrides(scenario: &mut Scenario, o: &Overrides) -> Result<(), String> {
    if let Some(c) = o.ambient_c {
        scenario.environment.ambient_c = c;
    }
    if let Some(t) = o.skin_type {
        scenario.environment.skin_type = t;
    }
    for (name, value) in &o.limits {
        set_limit(&mut scenario.limits, name, *value)?;
    }
    Ok(())
}
