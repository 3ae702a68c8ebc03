//! The event stream a run emits; reporters consume it and never drive the loop.
//!
//! One stream feeds the terminal, JSON, JUnit, CSV/VCD and charts (nextest's reporter design).
//! Samples are emitted at every bench instant (every firmware step while treating); reporters
//! decimate as they need.

use firmware::boundary::{InputFrame, OutputFrame, SessionState};

/// Plant truth and firmware view at one bench instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Virtual time, ms from day 0 00:00.
    pub t_ms: u64,
    /// Device index in the scenario.
    pub device: usize,
    /// Hottest skin surface point, °C.
    pub skin_hot_c: f64,
    /// Mean contact-skin surface, °C.
    pub skin_mean_c: f64,
    /// Junction temperature per channel, °C.
    pub junction_c: [f64; 2],
    /// Board temperature, °C.
    pub board_c: f64,
    /// Zone-mean irradiance per channel at this instant, mW/cm².
    pub irradiance_mw_cm2: [f64; 2],
    /// Zone-mean fluence accumulated since the device was placed, all channels, J/cm².
    pub fluence_j_cm2: f64,
    /// CEM43 at the hottest point since the scenario started, minutes.
    pub cem43: f64,
    /// Last firmware input frame.
    pub input: InputFrame,
    /// Last firmware output frame.
    pub output: OutputFrame,
    /// Whether the firmware is powered.
    pub powered: bool,
}

impl Sample {
    /// The plant-truth figures of the sample, in a fixed order (skin hottest and mean, junction
    /// per channel, board, irradiance per channel, fluence, CEM43): the columns the CSV trace and
    /// the recorded samples share.
    pub fn plant_values(&self) -> [f64; 9] {
        [
            self.skin_hot_c,
            self.skin_mean_c,
            self.junction_c[0],
            self.junction_c[1],
            self.board_c,
            self.irradiance_mw_cm2[0],
            self.irradiance_mw_cm2[1],
            self.fluence_j_cm2,
            self.cem43,
        ]
    }
}

/// Something that happened in a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A device's run starts.
    DeviceStart {
        /// Device index.
        device: usize,
        /// Device id from the scenario.
        id: String,
    },
    /// A sample at a bench instant.
    Sample(Sample),
    /// A scenario action was applied.
    Action {
        /// Time, ms.
        t_ms: u64,
        /// Device index.
        device: usize,
        /// Human-readable description.
        what: String,
    },
    /// The firmware's reported session state changed.
    StateChange {
        /// Time, ms.
        t_ms: u64,
        /// Device index.
        device: usize,
        /// Previous state.
        from: SessionState,
        /// New state.
        to: SessionState,
    },
    /// A treatment request was made (start pressed with the device placed).
    RequestOpened {
        /// Time, ms.
        t_ms: u64,
        /// Device index.
        device: usize,
        /// Treatment label.
        label: String,
    },
    /// A request window closed; the summary carries what was delivered.
    RequestClosed(Box<crate::result::SessionSummary>),
    /// An injected fault reached the firmware's inputs.
    FaultFired {
        /// Time, ms.
        t_ms: u64,
        /// Device index.
        device: usize,
        /// Fault description.
        fault: String,
    },
    /// A property was violated.
    Violation(Box<crate::result::Violation>),
    /// The firmware or its transport failed.
    DutFailure {
        /// Time, ms.
        t_ms: u64,
        /// Device index.
        device: usize,
        /// What happened.
        message: String,
    },
}

/// A consumer of the event stream.
pub trait Reporter {
    /// Receive one event.
    fn event(&mut self, event: &Event);
}

/// A reporter that discards everything (fast runs, campaigns).
pub struct Discard;

impl Reporter for Discard {
    fn event(&mut self, _event: &Event) {}
}

/// Hashes every sample bit for bit: two runs with the same hash produced the same trace.
///
/// A fixed multiply-xorshift fold over every field's bits, so the hash is stable across
/// platforms, Rust versions and runs (no `std::hash::DefaultHasher`, whose algorithm may change).
#[derive(Clone, Copy, Debug)]
pub struct TraceHash {
    state: u64,
    /// Number of samples hashed.
    pub samples: u64,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash {
            state: 0xcbf2_9ce4_8422_2325,
            samples: 0,
        }
    }
}

impl TraceHash {
    /// Fold one 64-bit word: multiply-xorshift mixing (a fixed, documented function, so the hash
    /// is the same on every platform, Rust version and run).
    fn word(&mut self, w: u64) {
        self.state = (self.state ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.state ^= self.state >> 29;
    }

    fn f64(&mut self, x: f64) {
        self.word(x.to_bits());
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.state
    }

    /// Fold one sample into the hash: every field, bit for bit.
    pub fn sample(&mut self, s: &Sample) {
        self.samples += 1;
        self.word(s.t_ms);
        self.word(s.device as u64);
        for x in [
            s.skin_hot_c,
            s.skin_mean_c,
            s.junction_c[0],
            s.junction_c[1],
            s.board_c,
        ] {
            self.f64(x);
        }
        for x in [
            s.irradiance_mw_cm2[0],
            s.irradiance_mw_cm2[1],
            s.fluence_j_cm2,
            s.cem43,
        ] {
            self.f64(x);
        }
        let i = &s.input;
        let a = &i.adc;
        let pack = |v: [u16; 4]| v.iter().fold(0u64, |acc, &x| (acc << 16) | u64::from(x));
        self.word(u64::from(i.now_ms) | u64::from(a.board_ntc) << 32 | u64::from(a.supply) << 48);
        self.word(pack([
            a.contact_ntc[0],
            a.contact_ntc[1],
            u16::from(i.buttons),
            u16::from(i.program),
        ]));
        self.word(pack(a.string_current));
        self.word(pack(a.string_voltage));
        self.word(pack([
            u16::from(i.skin_contact),
            u16::from(i.eye_shield),
            u16::from(i.fan_ok),
            i.distance_mm,
        ]));
        let o = &s.output;
        self.word(pack([
            o.duty_permille[0],
            o.duty_permille[1],
            o.current_ma[0],
            o.current_ma[1],
        ]));
        self.word(pack([
            u16::from(o.hw_enable),
            o.indicator as u16,
            u16::from(o.state),
            u16::from(o.detail),
        ]));
        self.word(
            u64::from(o.dose_estimate_mj_cm2)
                | u64::from(o.fault_code) << 32
                | u64::from(s.powered) << 48,
        );
        if let Some(w) = &o.nvm_write {
            self.word(u64::from(w.offset));
            for chunk in w.bytes().chunks(8) {
                let mut b = [0u8; 8];
                b[..chunk.len()].copy_from_slice(chunk);
                self.word(u64::from_le_bytes(b));
            }
        }
    }
}

impl Reporter for TraceHash {
    fn event(&mut self, event: &Event) {
        if let Event::Sample(s) = event {
            self.sample(s);
        }
    }
}

/// Sends each event to several reporters in turn.
pub struct Tee<'a>(pub Vec<&'a mut dyn Reporter>);

impl Reporter for Tee<'_> {
    fn event(&mut self, event: &Event) {
        for r in self.0.iter_mut() {
            r.event(event);
        }
    }
}
