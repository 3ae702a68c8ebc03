//! Builders for hand-made scenarios and tampered firmwares shared by the test modules.

use firmware::boundary::{InputFrame, NVM_SIZE, OutputFrame};
use harness::dut::{Dut, DutError, DutIdentity};
use harness::prescription;
use harness::scenario::{
    Action, DAY_MS, DeviceSetup, Environment, HOUR_MS, MINUTE_MS, Scenario, Timed, Training,
    TrainingKind, Treatment,
};
use sim::body::Zone;
use sim::device::DeviceKind;
use sim::plant::Tolerances;

/// Milliseconds of `day` at `hh:mm`.
pub fn at(day: u64, hh: u64, mm: u64) -> u64 {
    day * DAY_MS + hh * HOUR_MS + mm * MINUTE_MS
}

/// A treatment of `zone` with the device's program for it, taken off after `minutes`.
pub fn treat(kind: DeviceKind, day: u64, hh: u64, mm: u64, zone: Zone, minutes: u64) -> Timed {
    let program =
        prescription::program_for_zone(kind, zone).expect("device has a program for the zone");
    Timed {
        at_ms: at(day, hh, mm),
        action: Action::Treat(Treatment {
            label: format!("d{day}-{hh:02}{mm:02}-{zone:?}"),
            zone,
            program,
            distance_mm: 150.0,
            remove_after_ms: minutes * MINUTE_MS,
        }),
    }
}

/// An action at a time.
pub fn act(day: u64, hh: u64, mm: u64, action: Action) -> Timed {
    Timed {
        at_ms: at(day, hh, mm),
        action,
    }
}

/// A device with a timeline.
pub fn device(id: &str, kind: DeviceKind, mut timeline: Vec<Timed>) -> DeviceSetup {
    harness::scenario::sort_timeline(&mut timeline);
    DeviceSetup {
        id: id.into(),
        kind,
        tolerances: Tolerances::default(),
        uptime_at_start_ms: 0,
        timeline,
    }
}

/// A scenario of `days` days with default environment and limits.
pub fn scenario(
    name: &str,
    days: u64,
    devices: Vec<DeviceSetup>,
    training: Vec<Training>,
) -> Scenario {
    Scenario {
        name: name.into(),
        description: String::new(),
        seed: 7,
        duration_ms: days * DAY_MS,
        environment: Environment::default(),
        devices,
        global: Vec::new(),
        training,
        limits: Default::default(),
        expectations: Vec::new(),
    }
}

/// A training session ending at `day hh:mm`.
pub fn training(kind: TrainingKind, day: u64, hh: u64, mm: u64, intensity: f64) -> Training {
    Training {
        kind,
        intensity,
        duration_ms: HOUR_MS,
        end_ms: at(day, hh, mm),
    }
}

/// The article's runner week: wrap on calves and quadriceps after intervals, tempo and hills;
/// the pen on the Achilles on easy days.
pub fn runner_week() -> Scenario {
    use Zone::*;
    let w = DeviceKind::Wrap;
    let p = DeviceKind::Pen;
    let mut wrap = Vec::new();
    for day in [0, 2, 5] {
        wrap.push(treat(w, day, 19, 15, LeftCalf, 22));
        wrap.push(treat(w, day, 19, 40, RightCalf, 22));
        wrap.push(treat(w, day, 20, 5, LeftQuadriceps, 22));
        wrap.push(treat(w, day, 20, 30, RightQuadriceps, 22));
    }
    let mut pen = Vec::new();
    for day in [1, 3, 6] {
        pen.push(treat(p, day, 20, 0, LeftAchilles, 4));
        pen.push(treat(p, day, 20, 10, RightAchilles, 4));
    }
    let train = vec![
        training(TrainingKind::Intervals, 0, 19, 0, 0.9),
        training(TrainingKind::Easy, 1, 18, 0, 0.3),
        training(TrainingKind::Tempo, 2, 19, 0, 0.7),
        training(TrainingKind::Easy, 3, 18, 0, 0.3),
        training(TrainingKind::Hills, 5, 19, 0, 0.85),
        training(TrainingKind::LongRun, 6, 11, 0, 0.6),
    ];
    scenario(
        "runner-week",
        7,
        vec![device("wrap", w, wrap), device("pen", p, pen)],
        train,
    )
}

/// What a tampered firmware changes: inputs before the firmware sees them, outputs after.
pub struct Tamper {
    /// Name of the seeded defect.
    pub name: &'static str,
    /// Change the inputs.
    pub input: fn(&mut InputFrame, &mut TamperState),
    /// Change the outputs.
    pub output: fn(&mut OutputFrame, &InputFrame, &mut TamperState),
    /// Boot with a blank NVM whatever the chip holds (forgets recorded dose).
    pub forget_nvm: bool,
}

/// Memory a tamper may keep between steps.
#[derive(Default)]
pub struct TamperState {
    /// Last output with emission.
    pub last_emitting: Option<OutputFrame>,
}

/// The reference firmware with a defect seeded at its boundary.
pub struct Tampered {
    inner: harness::dut::InProcess<firmware::Firmware>,
    tamper: &'static Tamper,
    state: TamperState,
}

impl Tampered {
    /// Wrap the reference firmware for `kind`.
    pub fn new(kind: DeviceKind, tamper: &'static Tamper) -> Tampered {
        Tampered {
            inner: harness::dut::reference(harness::plant_io::device_class(kind)),
            tamper,
            state: TamperState::default(),
        }
    }
}

impl Dut for Tampered {
    fn identity(&self) -> DutIdentity {
        DutIdentity {
            name: format!("reference+{}", self.tamper.name),
            version: "test".into(),
            build: String::new(),
        }
    }

    fn boot(&mut self, nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        self.state = TamperState::default();
        if self.tamper.forget_nvm {
            self.inner.boot(&[0xFF; NVM_SIZE])
        } else {
            self.inner.boot(nvm)
        }
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let mut i = *input;
        (self.tamper.input)(&mut i, &mut self.state);
        let mut o = self.inner.step(&i)?;
        (self.tamper.output)(&mut o, input, &mut self.state);
        Ok(o)
    }

    fn power_off(&mut self) {
        self.inner.power_off();
    }
}

/// No change to inputs.
pub fn same_input(_: &mut InputFrame, _: &mut TamperState) {}
/// No change to outputs.
pub fn same_output(_: &mut OutputFrame, _: &InputFrame, _: &mut TamperState) {}

/// Two sessions on the left calf (07:00, 13:30), an unplug and replug at 20:00, and a third
/// attempt at 20:05 that the daily cap must still refuse.
pub fn power_cycle_day(name: &str) -> Scenario {
    let w = DeviceKind::Wrap;
    scenario(
        name,
        1,
        vec![device(
            "wrap",
            w,
            vec![
                treat(w, 0, 7, 0, Zone::LeftCalf, 14),
                treat(w, 0, 13, 30, Zone::LeftCalf, 14),
                act(0, 20, 0, Action::PowerOff),
                act(0, 20, 1, Action::PowerOn),
                treat(w, 0, 20, 5, Zone::LeftCalf, 14),
            ],
        )],
        vec![],
    )
}
