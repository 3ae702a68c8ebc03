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
/// FNV-1a over the little-endian bytes of every field, so the hash is stable across platforms,
/// Rust versions and runs (no `std::hash::DefaultHasher`, whose algorithm may change).
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
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state ^= u64::from(b);
            self.state = self.state.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn f64(&mut self, x: f64) {
        self.bytes(&x.to_bits().to_le_bytes());
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.state
    }

    /// Fold one sample into the hash.
    pub fn sample(&mut self, s: &Sample) {
        self.samples += 1;
        self.bytes(&s.t_ms.to_le_bytes());
        self.bytes(&(s.device as u64).to_le_bytes());
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
        self.bytes(&i.now_ms.to_le_bytes());
        for c in i
            .adc
            .contact_ntc
            .iter()
            .chain([&i.adc.board_ntc, &i.adc.supply])
        {
            self.bytes(&c.to_le_bytes());
        }
        for c in i
            .adc
            .string_current
            .iter()
            .chain(i.adc.string_voltage.iter())
        {
            self.bytes(&c.to_le_bytes());
        }
        self.bytes(&[
            i.buttons,
            i.program,
            u8::from(i.skin_contact),
            u8::from(i.eye_shield),
            u8::from(i.fan_ok),
        ]);
        let o = &s.output;
        for d in o.duty_permille.iter().chain(o.current_ma.iter()) {
            self.bytes(&d.to_le_bytes());
        }
        self.bytes(&[
            u8::from(o.hw_enable),
            o.indicator as u8,
            o.state,
            o.detail,
            u8::from(s.powered),
        ]);
        self.bytes(&o.dose_estimate_mj_cm2.to_le_bytes());
        self.bytes(&o.fault_code.to_le_bytes());
        if let Some(w) = &o.nvm_write {
            self.bytes(&w.offset.to_le_bytes());
            self.bytes(w.bytes());
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
