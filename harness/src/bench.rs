//! The bench: one closed-loop run of plant and device under test through a scenario.
//!
//! The bench owns time, an integer number of milliseconds from day 0 00:00. It runs the firmware
//! when the firmware asks to run (`next_wake_ms`) and whenever an input it sees changes; between
//! those instants it advances the plant with the drive held constant, in one exact step however
//! long the gap (the plant's discretisation is exact for piecewise-constant inputs), so an idle
//! night costs what a single step costs. While anything emits without the firmware awake (a
//! driver stuck on), the bench observes at least every [`MAX_BLIND_MS`] so the monitors see it.
//!
//! Devices in a scenario are physically independent (each has its own plant, body patch,
//! firmware and NVM); the bench runs them one after another through the same calendar and merges
//! their results.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use firmware::boundary::{InputFrame, NVM_SIZE, OutputFrame, SessionState, buttons};
use sim::device::DeviceKind;
use sim::plant::{Drive, Plant, PlantChange, PlantConfig};

use crate::dut::{Dut, DutError};
use crate::events::{Event, Reporter, Sample, TraceHash};
use crate::monitor::{Monitor, Observation, must_refuse_reason};
use crate::plant_io;
use crate::prescription;
use crate::properties::{CATALOG, PropertyId};
use crate::result::{RunResult, SessionEnd, SessionSummary, verdicts_from};
use crate::scenario::{
    Action, Button, Expectation, PRESS_HOLD_MS, Scenario, Timed, expand_training, expand_treatment,
};

/// Rooms where a start must be allowed, °C: 1 K inside the 5–40 °C start range (IEC
/// 60601-1-11 via domain.md §6.2), for the board NTC's error.
pub const AMBIENT_ALLOW_C: (f64, f64) = (6.0, 39.0);

/// Longest stretch the plant is advanced unobserved while something emits, ms.
pub const MAX_BLIND_MS: u64 = 1_000;

/// A failure that ends a run without a verdict (exit code 3 for firmware failures).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The firmware or its transport failed.
    #[error("device '{device}' at t = {t_ms} ms: {source}")]
    Dut {
        /// Device id.
        device: String,
        /// Virtual time, ms.
        t_ms: u64,
        /// The transport's error.
        source: DutError,
    },
}

/// Makes the device under test for each device of a scenario (in-process reference by default).
pub type DutFactory<'a> = dyn FnMut(DeviceKind) -> Result<Box<dyn Dut>, DutError> + 'a;

/// An open request window.
struct Window {
    label: String,
    zone: sim::body::Zone,
    program: u8,
    start_ms: u64,
    first_emission_ms: Option<u64>,
    emitting_ms: u64,
    dose_at_start: sim::plant::DoseSnapshot,
    cem43_at_start: f64,
    peak_skin_c: f64,
    peak_junction_c: f64,
    estimate_j_cm2: f64,
    must_refuse: Option<String>,
    allowed: bool,
    hazard: bool,
    ever_treating: bool,
    /// The firmware reported the session over while the LEDs still emit: the window stays open
    /// (the zone keeps receiving light) until emission stops.
    claimed_end: Option<SessionEnd>,
    /// The firmware has answered the start press (a state change since the window opened).
    answered: bool,
}

/// Run a scenario with the reference firmware on every device.
pub fn run_reference(
    scenario: &Scenario,
    reporter: &mut dyn Reporter,
) -> Result<RunResult, BenchError> {
    let mut factory = |kind: DeviceKind| -> Result<Box<dyn Dut>, DutError> {
        Ok(Box::new(crate::dut::reference(plant_io::device_class(
            kind,
        ))))
    };
    run(scenario, &mut factory, reporter)
}

/// Run a scenario with the reference firmware as a plain fixed-step loop: the plant advanced
/// and the firmware stepped every [`sim::plant::TICK_MS`], idle or not, with no event-driven
/// jumps. Not for testing (the firmware is woken more often than it asks): the baseline that
/// `BENCHMARKS.md` compares the event-driven loop against.
pub fn run_reference_fixed_step(
    scenario: &Scenario,
    reporter: &mut dyn Reporter,
) -> Result<RunResult, BenchError> {
    let mut factory = |kind: DeviceKind| -> Result<Box<dyn Dut>, DutError> {
        Ok(Box::new(crate::dut::reference(plant_io::device_class(
            kind,
        ))))
    };
    run_with(scenario, &mut factory, reporter, true, true)
}

/// Run a scenario, making each device's firmware with `factory`.
pub fn run(
    scenario: &Scenario,
    factory: &mut DutFactory<'_>,
    reporter: &mut dyn Reporter,
) -> Result<RunResult, BenchError> {
    run_with(scenario, factory, reporter, false, true)
}

/// [`run`] without the trace hash ([`RunResult::trace_hash`] is 0; the samples are still
/// counted): for campaign weeks, which keep only verdicts and figures. Hashing every sample is
/// ~5 % of a week's cost.
pub fn run_unhashed(
    scenario: &Scenario,
    factory: &mut DutFactory<'_>,
    reporter: &mut dyn Reporter,
) -> Result<RunResult, BenchError> {
    run_with(scenario, factory, reporter, false, false)
}

fn run_with(
    scenario: &Scenario,
    factory: &mut DutFactory<'_>,
    reporter: &mut dyn Reporter,
    fixed_step: bool,
    hashed: bool,
) -> Result<RunResult, BenchError> {
    let n = CATALOG.len();
    let mut checks = vec![0u64; n];
    let mut counts = vec![0u64; n];
    let mut violations: Vec<Vec<crate::result::Violation>> = vec![Vec::new(); n];
    let mut sessions = Vec::new();
    let mut firmware_ids = Vec::new();
    let mut invalid: Vec<String> = Vec::new();
    let mut hash = TraceHash::default();
    let mut any_allowed = false;
    let mut any_emitted = false;

    for (index, device) in scenario.devices.iter().enumerate() {
        let mut dut = factory(device.kind).map_err(|source| BenchError::Dut {
            device: device.id.clone(),
            t_ms: 0,
            source,
        })?;
        let identity = dut.identity();
        firmware_ids.push(if identity.build.is_empty() {
            format!("{} {}", identity.name, identity.version)
        } else {
            format!(
                "{} {} ({})",
                identity.name, identity.version, identity.build
            )
        });
        let mut tee = HashingReporter {
            hash: &mut hash,
            hashed,
            inner: reporter,
        };
        let mut device_run = DeviceRun::new(scenario, index, &mut *dut);
        device_run.fixed_step = fixed_step;
        let outcome = device_run.run(&mut tee)?;
        // A transport says goodbye here, so a firmware that fails to shut down cleanly is
        // reported rather than lost in a drop.
        dut.shutdown().map_err(|source| BenchError::Dut {
            device: device.id.clone(),
            t_ms: scenario.duration_ms,
            source,
        })?;
        let (c, v, k) = outcome.tallies;
        for i in 0..n {
            checks[i] += c[i];
            counts[i] += k[i];
            for viol in &v[i] {
                if violations[i].len() < 5 {
                    violations[i].push(viol.clone());
                }
            }
        }
        sessions.extend(outcome.sessions);
        invalid.extend(outcome.unfired_faults);
        any_allowed |= outcome.any_allowed;
        any_emitted |= outcome.any_emitted;
    }

    // session.exercised across devices.
    let ex = CATALOG
        .iter()
        .position(|p| p.id == PropertyId::SessionExercised)
        .expect("in catalog");
    if any_allowed {
        checks[ex] += 1;
        if !any_emitted {
            counts[ex] += 1;
            violations[ex].push(crate::result::Violation {
                property: PropertyId::SessionExercised,
                name: PropertyId::SessionExercised.name(),
                scenario: scenario.name.clone(),
                seed: scenario.seed,
                device: scenario
                    .devices
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                t_ms: scenario.duration_ms,
                measured: 0.0,
                limit: 1.0,
                detail: "treatment was requested and allowed, but no session ever emitted".into(),
            });
        }
    }

    let mut expected = vec![None; n];
    let mut expectation_failures = Vec::new();
    for e in &scenario.expectations {
        match e {
            Expectation::PropertyFails { property, reason } => {
                if let Some(id) = PropertyId::from_name(property) {
                    let i = CATALOG.iter().position(|p| p.id == id).expect("in catalog");
                    expected[i] = Some(reason.clone());
                }
            }
            Expectation::Refused { label } => match sessions.iter().find(|s: &&SessionSummary| &s.label == label) {
                Some(s) if s.end == SessionEnd::Refused && s.emitting_ms == 0 => {}
                Some(s) => expectation_failures.push(format!("treatment '{label}' was expected to be refused but ended as {:?} after {} ms of emission", s.end, s.emitting_ms)),
                None => expectation_failures.push(format!("treatment '{label}' was expected to be refused but was never requested")),
            },
        }
    }
    let verdicts = verdicts_from(&checks, &violations, &counts, &expected);
    Ok(RunResult {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        firmware: firmware_ids,
        verdicts,
        sessions,
        expectation_failures,
        invalid: if invalid.is_empty() {
            None
        } else {
            Some(invalid.join("; "))
        },
        trace_hash: if hashed { hash.value() } else { 0 },
        samples: hash.samples,
    })
}

struct HashingReporter<'a> {
    hash: &'a mut TraceHash,
    /// False: only count the samples.
    hashed: bool,
    inner: &'a mut dyn Reporter,
}

impl Reporter for HashingReporter<'_> {
    fn event(&mut self, event: &Event) {
        if self.hashed {
            self.hash.event(event);
        } else if let Event::Sample(_) = event {
            self.hash.samples += 1;
        }
        self.inner.event(event);
    }
}

struct DeviceOutcome {
    tallies: (Vec<u64>, Vec<Vec<crate::result::Violation>>, Vec<u64>),
    sessions: Vec<SessionSummary>,
    unfired_faults: Vec<String>,
    any_allowed: bool,
    any_emitted: bool,
}

/// A pending injected fault waiting for evidence that it reached the firmware.
struct PendingFault {
    fault: sim::plant::PlantFault,
    injected_ms: u64,
    fired: bool,
}

struct DeviceRun<'a> {
    scenario: &'a Scenario,
    index: usize,
    kind: DeviceKind,
    facts: plant_io::DeviceFacts,
    id: String,
    dut: &'a mut dyn Dut,
    plant: Plant,
    monitor: Monitor,
    t: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    actions: Vec<Action>,
    seq: u64,
    // Firmware side.
    powered: bool,
    boot_t: u64,
    boot_uptime: u64,
    next_wake: u64,
    nvm: [u8; NVM_SIZE],
    tear: Option<(u8, u64)>,
    buttons: u8,
    program: u8,
    input: InputFrame,
    out: OutputFrame,
    state: SessionState,
    // Scenario context.
    placed: Option<(sim::body::Zone, f64)>,
    lifted: bool,
    covered: bool,
    ambient_c: f64,
    pending_label: Option<String>,
    window: Option<Window>,
    sessions: Vec<SessionSummary>,
    faults: Vec<PendingFault>,
    any_allowed: bool,
    any_emitted: bool,
    /// Step plant and firmware every control tick (the fixed-step baseline).
    fixed_step: bool,
}

impl<'a> DeviceRun<'a> {
    fn new(scenario: &'a Scenario, index: usize, dut: &'a mut dyn Dut) -> DeviceRun<'a> {
        let setup = &scenario.devices[index];
        let env = scenario.environment;
        let cfg = PlantConfig {
            device: setup.kind,
            body: plant_io::body_config(&env),
            ambient_c: env.ambient_c,
            tolerances: setup.tolerances,
            noise_seed: scenario.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        };
        let plant = Plant::new(&cfg);
        let facts = plant_io::facts(setup.kind);
        let monitor = Monitor::new(
            &scenario.name,
            scenario.seed,
            &setup.id,
            scenario.limits,
            facts.tj_max_c,
            setup.kind == DeviceKind::Mask,
        );
        let mut monitor = monitor;
        monitor.applied_part = facts.contact;
        let mut run = DeviceRun {
            scenario,
            index,
            kind: setup.kind,
            facts,
            id: setup.id.clone(),
            dut,
            plant,
            monitor,
            t: 0,
            queue: BinaryHeap::new(),
            actions: Vec::new(),
            seq: 0,
            powered: false,
            boot_t: 0,
            boot_uptime: setup.uptime_at_start_ms,
            next_wake: 0,
            nvm: [0xFF; NVM_SIZE],
            tear: None,
            buttons: 0,
            program: 0,
            input: InputFrame::default(),
            out: OutputFrame::default(),
            state: SessionState::Off,
            placed: None,
            lifted: false,
            covered: false,
            ambient_c: env.ambient_c,
            pending_label: None,
            window: None,
            sessions: Vec::new(),
            faults: Vec::new(),
            any_allowed: false,
            any_emitted: false,
            fixed_step: false,
        };
        // The room and the body change before the user acts at the same instant.
        for t in &scenario.global {
            run.schedule(t.clone());
        }
        for tr in &scenario.training {
            for t in expand_training(tr, &env) {
                run.schedule(t);
            }
        }
        for t in &setup.timeline {
            run.schedule(t.clone());
        }
        run
    }

    fn schedule(&mut self, t: Timed) {
        match t.action {
            Action::Treat(tr) => {
                for p in expand_treatment(t.at_ms, self.kind, &tr) {
                    if matches!(p.action, Action::Press(Button::Start)) {
                        // The label travels with the start press that opens the request window.
                        self.actions.push(Action::Treat(tr.clone()));
                        self.queue.push(Reverse((p.at_ms, self.seq)));
                        self.seq += 1;
                    } else {
                        self.schedule(p);
                    }
                }
            }
            action => {
                self.actions.push(action);
                self.queue.push(Reverse((t.at_ms, self.seq)));
                self.seq += 1;
            }
        }
    }

    fn run(mut self, reporter: &mut dyn Reporter) -> Result<DeviceOutcome, BenchError> {
        reporter.event(&Event::DeviceStart {
            device: self.index,
            id: self.id.clone(),
        });
        self.power_on(reporter)?;
        let end = self.scenario.duration_ms;
        loop {
            let next_action = self
                .queue
                .peek()
                .map(|Reverse((at, _))| *at)
                .unwrap_or(u64::MAX);
            let mut target = next_action.min(end);
            if self.powered {
                target = target.min(self.next_wake);
            }
            if self.plant.emitting() {
                target = target.min(self.t + MAX_BLIND_MS);
            }
            if self.fixed_step {
                target = target.min(self.t + sim::plant::TICK_MS);
            }
            let target = target.max(self.t);
            if target > self.t {
                self.advance_to(target);
                // One sample per instant: when only the firmware acts next, its step's sample
                // shows this plant state (a firmware step moves no temperature and no dose) with
                // the firmware's answer, so a sample here would repeat it with the outputs of the
                // previous step. Before a scenario action, or where no step follows, the plant is
                // sampled as it stands.
                let action_due = self
                    .queue
                    .peek()
                    .is_some_and(|Reverse((at, _))| *at <= self.t);
                if action_due || !self.step_due() || self.t >= end {
                    self.observe(reporter);
                }
            }
            if self.t >= end {
                break;
            }
            let mut input_changed = false;
            while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
                if at > self.t {
                    break;
                }
                self.queue.pop();
                let action = self.actions[seq as usize].clone();
                input_changed |= self.apply(action, reporter)?;
            }
            if (self.powered && input_changed) || self.step_due() {
                self.step_firmware(reporter)?;
                self.observe(reporter);
            }
        }
        self.close_window(SessionEnd::ScenarioEnd, reporter);
        let unfired_faults = self
            .faults
            .iter()
            .filter(|f| !f.fired)
            .map(|f| {
                format!(
                    "device '{}': fault {:?} injected at {} ms never reached the firmware's inputs",
                    self.id, f.fault, f.injected_ms
                )
            })
            .collect();
        for v in std::mem::take(&mut self.monitor.fresh) {
            reporter.event(&Event::Violation(Box::new(v)));
        }
        let any_emitted = self.monitor.any_emission_in_session;
        Ok(DeviceOutcome {
            tallies: self.monitor.finish(false),
            sessions: self.sessions,
            unfired_faults,
            any_allowed: self.any_allowed,
            any_emitted,
        })
    }

    /// Whether the firmware steps at this instant whatever the scenario does: it is powered and
    /// its wake has come (or the fixed-step baseline steps it every tick).
    fn step_due(&self) -> bool {
        self.powered && (self.fixed_step || self.t >= self.next_wake)
    }

    fn advance_to(&mut self, target: u64) {
        let dt = target - self.t;
        if let Some(w) = self.window.as_mut()
            && self.plant.emitting()
        {
            w.emitting_ms += dt;
        }
        self.plant.advance(dt);
        self.t = target;
    }

    fn observe(&mut self, reporter: &mut dyn Reporter) {
        let truth = self.plant.probe();
        let state = if self.powered {
            SessionState::from_code(self.out.state)
        } else {
            None
        };
        let obs = Observation {
            t_ms: self.t,
            skin_hot_c: truth.hottest_skin_c,
            junction_c: truth.junction_c,
            emitting: truth.emitting,
            nir_emitting: truth.nir_emitting,
            nir_at_eye_mw_cm2: truth.eye_nir_mw_cm2,
            state,
            estimate_j_cm2: f64::from(self.out.dose_estimate_mj_cm2) / 1000.0,
        };
        self.monitor.observe(&obs);
        if let Some(w) = self.window.as_mut() {
            w.peak_skin_c = w.peak_skin_c.max(truth.hottest_skin_c);
            w.peak_junction_c = w
                .peak_junction_c
                .max(truth.junction_c[0].max(truth.junction_c[1]));
            if truth.emitting && w.first_emission_ms.is_none() {
                w.first_emission_ms = Some(self.t);
            }
            if self.powered {
                w.estimate_j_cm2 = obs.estimate_j_cm2;
            }
        }
        if let Some(end) = self.window.as_ref().and_then(|w| w.claimed_end)
            && !truth.emitting
        {
            self.close_window(end, reporter);
        }
        // A `Sample` is `Copy` (it owns nothing), so the event needs no drop: skipping the drop
        // glue's match on the variant leaks nothing.
        const { assert!(!std::mem::needs_drop::<Sample>()) };
        reporter.event(&std::mem::ManuallyDrop::new(Event::Sample(Sample {
            t_ms: self.t,
            device: self.index,
            skin_hot_c: truth.hottest_skin_c,
            skin_mean_c: truth.contact_skin_c,
            junction_c: truth.junction_c,
            board_c: truth.board_c,
            irradiance_mw_cm2: truth.irradiance_mean_mw_cm2,
            fluence_j_cm2: truth.fluence_mean_j_cm2[0] + truth.fluence_mean_j_cm2[1],
            cem43: truth.cem43_min,
            input: self.input,
            output: self.out,
            powered: self.powered,
        })));
        // Almost every sample finds none: no moving of the (empty) list then.
        if !self.monitor.fresh.is_empty() {
            for v in std::mem::take(&mut self.monitor.fresh) {
                reporter.event(&Event::Violation(Box::new(v)));
            }
        }
    }

    fn now_ms(&self) -> u32 {
        // Truncation is the point: the firmware's tick counter wraps like a microcontroller's.
        (self.boot_uptime + (self.t - self.boot_t)) as u32
    }

    fn power_on(&mut self, reporter: &mut dyn Reporter) -> Result<(), BenchError> {
        self.plant.apply(PlantChange::PowerLoss(false));
        self.dut.boot(&self.nvm).map_err(|source| BenchError::Dut {
            device: self.id.clone(),
            t_ms: self.t,
            source,
        })?;
        self.powered = true;
        self.boot_t = self.t;
        self.out = OutputFrame::default();
        self.step_firmware(reporter)
    }

    fn power_off(&mut self, reporter: &mut dyn Reporter) {
        self.close_window(SessionEnd::PowerLost, reporter);
        self.dut.power_off();
        self.powered = false;
        self.boot_uptime = 0;
        self.out = OutputFrame::default();
        self.state = SessionState::Off;
        self.plant.apply(PlantChange::PowerLoss(true));
        self.plant.set_drive(&Drive {
            duty_permille: [0; 2],
            current_ma: [0; 2],
            hw_enable: false,
        });
        self.monitor.power_cycled();
    }

    fn step_firmware(&mut self, reporter: &mut dyn Reporter) -> Result<(), BenchError> {
        let readings = self.plant.sense();
        self.input = plant_io::input_frame(self.now_ms(), &readings, self.buttons, self.program);
        self.check_fault_evidence(reporter);
        if let Err(source) = self.dut.step_into(&self.input, &mut self.out) {
            return Err(BenchError::Dut {
                device: self.id.clone(),
                t_ms: self.t,
                source,
            });
        }
        self.plant.set_drive(&Drive {
            duty_permille: self.out.duty_permille,
            current_ma: self.out.current_ma,
            hw_enable: self.out.hw_enable,
        });
        self.next_wake = self.t + u64::from(self.out.next_wake_ms.max(1));
        if let Some(w) = self.out.nvm_write {
            let start = usize::from(w.offset).min(NVM_SIZE);
            let bytes = w.bytes();
            let take = match self.tear.take() {
                Some((written, off_ms)) => {
                    let at = self.t + off_ms;
                    self.schedule(Timed {
                        at_ms: at,
                        action: Action::PowerOn,
                    });
                    let n = usize::from(written).min(bytes.len());
                    let end = (start + n).min(NVM_SIZE);
                    self.nvm[start..end].copy_from_slice(&bytes[..end - start]);
                    self.power_off(reporter);
                    return Ok(());
                }
                None => bytes.len(),
            };
            let end = (start + take).min(NVM_SIZE);
            self.nvm[start..end].copy_from_slice(&bytes[..end - start]);
        }
        let new_state = SessionState::from_code(self.out.state).unwrap_or(SessionState::Off);
        // A firmware that refuses twice in a row reports `Refused` both times: once the press has
        // been released, an end state reported in an unanswered window is its answer.
        let repeated_answer = self
            .window
            .as_ref()
            .is_some_and(|w| !w.answered && self.t >= w.start_ms + PRESS_HOLD_MS)
            && matches!(
                new_state,
                SessionState::Refused
                    | SessionState::Completed
                    | SessionState::Stopped
                    | SessionState::Fault
            );
        if new_state == self.state && repeated_answer {
            self.on_state(new_state, reporter);
        }
        if new_state != self.state {
            reporter.event(&Event::StateChange {
                t_ms: self.t,
                device: self.index,
                from: self.state,
                to: new_state,
            });
            self.state = new_state;
            self.on_state(new_state, reporter);
        }
        Ok(())
    }

    fn on_state(&mut self, state: SessionState, reporter: &mut dyn Reporter) {
        let Some(w) = self.window.as_mut() else {
            return;
        };
        w.answered = true;
        let end = match state {
            SessionState::Treating | SessionState::Paused => {
                w.ever_treating = true;
                w.claimed_end = None;
                return;
            }
            SessionState::Completed => SessionEnd::Completed,
            SessionState::Refused => SessionEnd::Refused,
            SessionState::Stopped => SessionEnd::StoppedByFirmware,
            SessionState::Fault => SessionEnd::Fault,
            SessionState::Idle if w.ever_treating => SessionEnd::StoppedByFirmware,
            SessionState::Idle | SessionState::Off => return,
        };
        if self.plant.emitting() {
            w.claimed_end = Some(end);
        } else {
            self.close_window(end, reporter);
        }
    }

    fn check_fault_evidence(&mut self, reporter: &mut dyn Reporter) {
        // Most runs inject no fault, or have seen them all: then there is nothing to probe for
        // (a probe on every step was ~100 instructions of the week's ~3.5 k per step).
        if self.faults.iter().all(|f| f.fired) {
            return;
        }
        let truth = self.plant.probe();
        for f in self.faults.iter_mut().filter(|f| !f.fired) {
            if plant_io::fault_visible(&f.fault, &self.input, &self.out, &truth) {
                f.fired = true;
                reporter.event(&Event::FaultFired {
                    t_ms: self.t,
                    device: self.index,
                    fault: format!("{:?}", f.fault),
                });
                if plant_io::fault_must_stop(&f.fault) && self.monitor.fault_fired_at.is_none() {
                    self.monitor.fault_fired_at = Some(self.t);
                }
            }
        }
    }

    /// Apply one action; returns whether a firmware input changed.
    fn apply(&mut self, action: Action, reporter: &mut dyn Reporter) -> Result<bool, BenchError> {
        reporter.event(&Event::Action {
            t_ms: self.t,
            device: self.index,
            what: format!("{action:?}"),
        });
        let contact_device = self.facts.contact;
        let changed = match action {
            Action::Treat(tr) => {
                self.pending_label = Some(tr.label.clone());
                self.press(Button::Start, reporter);
                true
            }
            Action::Place { zone, distance_mm } => {
                self.placed = Some((zone, distance_mm));
                self.lifted = false;
                self.plant.apply(PlantChange::Place { zone, distance_mm });
                true
            }
            Action::Remove => {
                // A contact device taken off loses skin contact: the session is over for the
                // user. A panel walked away from keeps its session until its firmware ends it,
                // but the user ended it: liveness no longer asks for completion.
                if contact_device {
                    self.close_window(SessionEnd::Removed, reporter);
                } else if let Some(w) = self.window.as_mut() {
                    w.hazard = true;
                }
                self.placed = None;
                self.plant.apply(PlantChange::Remove);
                if contact_device && self.plant.emitting() {
                    self.monitor.contact_lost_at = Some(self.t);
                }
                true
            }
            Action::LiftOff => {
                self.lifted = true;
                self.plant.apply(PlantChange::LiftOff);
                if contact_device {
                    self.monitor.contact_lost_at = Some(self.t);
                    if let Some(w) = self.window.as_mut() {
                        w.hazard = true;
                    }
                }
                true
            }
            Action::PutBack => {
                self.lifted = false;
                self.plant.apply(PlantChange::PutBack);
                true
            }
            Action::Cover(on) => {
                self.covered = on;
                self.plant.apply(PlantChange::Cover(on));
                if let Some(w) = self.window.as_mut() {
                    w.hazard |= on;
                }
                false
            }
            Action::Press(b) => {
                self.press(b, reporter);
                true
            }
            Action::Release => {
                self.buttons = 0;
                true
            }
            Action::SelectProgram(p) => {
                self.program = p;
                true
            }
            Action::EyeShields(on) => {
                self.monitor.eye_shields = on;
                if let Some(w) = self.window.as_mut() {
                    w.hazard |= !on;
                }
                self.plant.apply(PlantChange::EyeShields(on));
                true
            }
            Action::PowerOff => {
                if self.powered {
                    self.power_off(reporter);
                }
                false
            }
            Action::PowerOn => {
                if !self.powered {
                    self.power_on(reporter)?;
                }
                false
            }
            Action::TearNextNvmWrite {
                bytes_written,
                off_ms,
            } => {
                self.tear = Some((bytes_written, off_ms));
                false
            }
            Action::Fault(f) => {
                self.monitor.fault_injected = true;
                if let Some(w) = self.window.as_mut() {
                    w.hazard = true;
                }
                self.faults.push(PendingFault {
                    fault: f,
                    injected_ms: self.t,
                    fired: false,
                });
                self.plant.apply(PlantChange::Fault(f));
                true
            }
            Action::ClearFaults => {
                self.monitor.fault_injected = false;
                self.plant.apply(PlantChange::ClearFaults);
                true
            }
            Action::Ambient(c) => {
                self.ambient_c = c;
                self.plant.apply(PlantChange::Ambient(c));
                false
            }
            Action::SkinState {
                skin_c,
                perfusion_scale,
            } => {
                self.plant.apply(PlantChange::SkinState {
                    skin_c,
                    perfusion_scale,
                });
                false
            }
        };
        Ok(changed)
    }

    fn press(&mut self, b: Button, reporter: &mut dyn Reporter) {
        self.buttons |= match b {
            Button::Start => buttons::START,
            Button::Pause => buttons::PAUSE,
            Button::Stop => buttons::STOP,
        };
        self.schedule(Timed {
            at_ms: self.t + PRESS_HOLD_MS,
            action: Action::Release,
        });
        match b {
            Button::Start if self.powered => {
                if let Some(end) = self.window.as_ref().and_then(|w| w.claimed_end) {
                    self.close_window(end, reporter);
                }
                if self.window.is_none() {
                    self.open_window(reporter);
                }
            }
            Button::Stop => self.close_window(SessionEnd::UserStop, reporter),
            _ => {}
        }
    }

    fn open_window(&mut self, reporter: &mut dyn Reporter) {
        let Some((zone, _)) = self.placed else { return };
        let label = self
            .pending_label
            .take()
            .unwrap_or_else(|| format!("start@{}ms", self.t));
        let truth = self.plant.probe();
        let program = prescription::program(self.kind, self.program);
        let caps = prescription::zone_caps(self.kind, zone);
        let skin_c = truth.hottest_skin_c;
        let zone_idx = plant_io::zone_index(zone);
        let history = self.monitor.history();
        // Judged against `limits`: the scenario's, or with no dose tolerance for the gray zone.
        let judge = |p: &prescription::ProgramSpec, limits: &crate::properties::Limits| {
            must_refuse_reason(
                &history,
                &crate::monitor::Request {
                    zone: zone_idx,
                    t_ms: self.t,
                    program: p,
                    caps: &caps,
                    skin_c,
                    ambient_c: self.ambient_c,
                },
                limits,
            )
        };
        let must_refuse = match &program {
            Some(p) if p.zone != zone => Some(format!(
                "program {} is for {:?}, device is on {zone:?}",
                self.program, p.zone
            )),
            Some(p) => judge(p, &self.scenario.limits),
            None => Some(format!("no program {} on this device", self.program)),
        };
        let clean = !self.monitor.fault_injected
            && !self.covered
            && !self.lifted
            && (!self.facts.needs_shields || self.monitor.eye_shields);
        // The firmware reads the room through its board NTC: at the edges of 5–40 °C either
        // answer is accepted, as for skin between must-allow and must-refuse.
        let room_clearly_ok = (AMBIENT_ALLOW_C.0..=AMBIENT_ALLOW_C.1).contains(&self.ambient_c);
        // A device lying in a hot room touches the skin at its own temperature: its contact
        // sensors read it, and a start refusal on "hot contact" is then the firmware's right.
        let device_cool = self.plant.truth().housing_c <= self.scenario.limits.must_allow_skin_c;
        // Between a cap and the cap plus the dose tolerance either answer is accepted: the
        // firmware may count the full target against the cap (a C firmware's test found the
        // reference refusing 45 + 9 J/cm² against a 49.5 J/cm² weekly cap, which the bench had
        // required it to run).
        let within_caps = match &program {
            Some(p) if p.zone == zone => judge(
                p,
                &crate::properties::Limits {
                    dose_tolerance: 0.0,
                    ..self.scenario.limits
                },
            )
            .is_none(),
            _ => false,
        };
        let allowed = must_refuse.is_none()
            && within_caps
            && room_clearly_ok
            && device_cool
            && clean
            && skin_c <= self.scenario.limits.must_allow_skin_c
            && plant_io::placement_ok(self.kind, self.placed);
        self.any_allowed |= allowed;
        self.monitor.window_open = true;
        reporter.event(&Event::RequestOpened {
            t_ms: self.t,
            device: self.index,
            label: label.clone(),
        });
        self.window = Some(Window {
            label,
            zone,
            program: self.program,
            start_ms: self.t,
            first_emission_ms: None,
            emitting_ms: 0,
            dose_at_start: self.plant.dose_snapshot(),
            cem43_at_start: truth.cem43_min,
            peak_skin_c: truth.hottest_skin_c,
            peak_junction_c: truth.junction_c[0].max(truth.junction_c[1]),
            estimate_j_cm2: 0.0,
            must_refuse,
            allowed,
            hazard: !clean,
            ever_treating: false,
            claimed_end: None,
            answered: false,
        });
    }

    fn close_window(&mut self, end: SessionEnd, reporter: &mut dyn Reporter) {
        let Some(w) = self.window.take() else { return };
        self.monitor.window_open = false;
        if matches!(
            end,
            SessionEnd::UserStop | SessionEnd::Removed | SessionEnd::PowerLost
        ) {
            self.monitor.grace_until_ms = self.t + self.scenario.limits.contact_reaction_ms;
        }
        let truth = self.plant.probe();
        let dose = self.plant.fluence_since(&w.dose_at_start);
        let program = prescription::program(self.kind, w.program);
        let caps = prescription::zone_caps(self.kind, w.zone);
        let summary = SessionSummary {
            device: self.id.clone(),
            label: w.label.clone(),
            zone: format!("{:?}", w.zone),
            program: w.program,
            start_ms: w.start_ms,
            end_ms: self.t,
            emitting_ms: w.emitting_ms,
            end,
            fluence_mean_j_cm2: dose.mean_j_cm2,
            fluence_min_j_cm2: dose.min_j_cm2,
            fluence_max_j_cm2: dose.max_j_cm2,
            fluence_channel_j_cm2: dose.channel_mean_j_cm2,
            energy_j: dose.energy_j,
            peak_skin_c: w.peak_skin_c,
            peak_junction_c: w.peak_junction_c,
            cem43: truth.cem43_min - w.cem43_at_start,
            firmware_estimate_j_cm2: w.estimate_j_cm2,
            target_j_cm2: program.as_ref().map_or(0.0, |p| p.target_j_cm2),
            refusal_reason: w.must_refuse.clone(),
            fluence_map: {
                let g = self.plant.skin_grid();
                let mut j_cm2 = vec![0.0; g.nx * g.ny];
                self.plant.fluence_map_since(&w.dose_at_start, &mut j_cm2);
                crate::result::FluenceMap {
                    nx: g.nx,
                    ny: g.ny,
                    width_cm: g.width_cm,
                    height_cm: g.height_cm,
                    j_cm2,
                }
            },
        };
        if summary.emitting_ms > 0 {
            self.any_emitted = true;
        }
        if let Some(p) = &program {
            self.monitor.session_closed(
                &summary,
                plant_io::zone_index(w.zone),
                p,
                &caps,
                w.must_refuse.as_deref(),
                w.allowed,
                w.first_emission_ms,
                w.hazard,
            );
        }
        reporter.event(&Event::RequestClosed(Box::new(summary.clone())));
        self.sessions.push(summary);
    }
}
