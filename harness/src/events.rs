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
/// A fixed fold over every field's bits, so the hash is stable across platforms, Rust versions
/// and runs (no `std::hash::DefaultHasher`, whose algorithm may change). Words are taken in
/// pairs, each pair folded into a lane by one 64 × 64 → 128-bit multiply whose halves are
/// xored (the "folded multiply" of wyhash), and pairs are dealt to [`TraceHash::LANES`]
/// independent lanes in turn, folded together at the end. Two words per multiply and two
/// short dependency chains: a sample's ~20 words cost ~10 multiplies. The earlier fold (one
/// 64-bit multiply per word over four lanes) was 8 % of the runner week's wall time when built
/// for x86-64-v3, where the compiler turns its four lanes into AVX2 code that emulates 64-bit
/// multiplies; a widening multiply stays scalar.
#[derive(Clone, Copy, Debug)]
pub struct TraceHash {
    lanes: [u64; TraceHash::LANES],
    /// Number of samples hashed.
    pub samples: u64,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash {
            lanes: core::array::from_fn(|l| fold(SEED, l as u64, 0)),
            samples: 0,
        }
    }
}

/// The lanes' starting state and the fold's first key (the FNV-1a offset basis: any fixed
/// value with well-mixed bits).
const SEED: u64 = 0xcbf2_9ce4_8422_2325;
/// The fold's second key (2⁶⁴/φ), xored into the first word so that a zero word does not zero
/// the product.
const KEY: u64 = 0x9e37_79b9_7f4a_7c15;

/// Folds the pair `(a, b)` into `state`: the 128-bit product of `a ^ KEY` and `b ^ state`,
/// its halves xored.
#[inline(always)]
fn fold(state: u64, a: u64, b: u64) -> u64 {
    let p = u128::from(a ^ KEY) * u128::from(b ^ state);
    (p as u64) ^ ((p >> 64) as u64)
}

impl TraceHash {
    /// Independent lanes the pairs of words of a sample are dealt to.
    pub const LANES: usize = 2;

    /// Fold words, in pairs dealt to the lanes in turn from the first (an odd last word is
    /// paired with a zero, a short last group fills the first lanes only).
    #[inline(always)]
    fn words(&mut self, words: &[u64]) {
        let mut lanes = self.lanes;
        let mut pairs = words.chunks_exact(2 * Self::LANES);
        for group in &mut pairs {
            for (l, lane) in lanes.iter_mut().enumerate() {
                *lane = fold(*lane, group[2 * l], group[2 * l + 1]);
            }
        }
        for (lane, pair) in lanes.iter_mut().zip(pairs.remainder().chunks(2)) {
            *lane = fold(*lane, pair[0], pair.get(1).copied().unwrap_or(0));
        }
        self.lanes = lanes;
    }

    /// The hash so far: the lanes folded in order, with the sample count.
    pub fn value(&self) -> u64 {
        let [a, b] = self.lanes;
        fold(fold(SEED, a, b), self.samples, Self::LANES as u64)
    }

    /// Fold one sample into the hash: every field, bit for bit.
    pub fn sample(&mut self, s: &Sample) {
        self.samples += 1;
        let i = &s.input;
        let a = &i.adc;
        let o = &s.output;
        let pack = |v: [u16; 4]| v.iter().fold(0u64, |acc, &x| (acc << 16) | u64::from(x));
        self.words(&[
            s.t_ms,
            s.device as u64,
            s.skin_hot_c.to_bits(),
            s.skin_mean_c.to_bits(),
            s.junction_c[0].to_bits(),
            s.junction_c[1].to_bits(),
            s.board_c.to_bits(),
            s.irradiance_mw_cm2[0].to_bits(),
            s.irradiance_mw_cm2[1].to_bits(),
            s.fluence_j_cm2.to_bits(),
            s.cem43.to_bits(),
            u64::from(i.now_ms) | u64::from(a.board_ntc) << 32 | u64::from(a.supply) << 48,
            pack([
                a.contact_ntc[0],
                a.contact_ntc[1],
                u16::from(i.buttons),
                u16::from(i.program),
            ]),
            pack(a.string_current),
            pack(a.string_voltage),
            pack([
                u16::from(i.skin_contact),
                u16::from(i.eye_shield),
                u16::from(i.fan_ok),
                i.distance_mm,
            ]),
            pack([
                o.duty_permille[0],
                o.duty_permille[1],
                o.current_ma[0],
                o.current_ma[1],
            ]),
            pack([
                u16::from(o.hw_enable),
                o.indicator as u16,
                u16::from(o.state),
                u16::from(o.detail),
            ]),
            u64::from(o.dose_estimate_mj_cm2)
                | u64::from(o.fault_code) << 32
                | u64::from(s.powered) << 48,
            u64::from(o.nvm_write.is_some()),
        ]);
        if let Some(w) = &o.nvm_write {
            let mut words = [0u64; 1 + firmware::boundary::NVM_WRITE_MAX.div_ceil(8)];
            words[0] = u64::from(w.offset);
            let bytes = w.bytes();
            for (word, chunk) in words[1..].iter_mut().zip(bytes.chunks(8)) {
                let mut b = [0u8; 8];
                b[..chunk.len()].copy_from_slice(chunk);
                *word = u64::from_le_bytes(b);
            }
            self.words(&words[..1 + bytes.len().div_ceil(8)]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::boundary::{InputFrame, NvmWrite, OutputFrame};

    fn sample(t_ms: u64) -> Sample {
        Sample {
            t_ms,
            device: 0,
            skin_hot_c: 33.0,
            skin_mean_c: 32.5,
            junction_c: [30.0, 31.0],
            board_c: 29.0,
            irradiance_mw_cm2: [20.0, 10.0],
            fluence_j_cm2: 1.5,
            cem43: 0.01,
            input: InputFrame::default(),
            output: OutputFrame::default(),
            powered: true,
        }
    }

    fn hash(samples: &[Sample]) -> u64 {
        let mut h = TraceHash::default();
        for s in samples {
            h.sample(s);
        }
        h.value()
    }

    #[test]
    fn every_field_and_the_order_of_samples_reach_the_hash() {
        let base = [sample(10), sample(20)];
        let h0 = hash(&base);
        assert_eq!(h0, hash(&base), "a fixed function");
        let edits: [fn(&mut Sample); 12] = [
            |s| s.t_ms += 1,
            |s| s.device = 1,
            |s| s.skin_hot_c += 1e-12,
            |s| s.junction_c[1] = -s.junction_c[1],
            |s| s.board_c += 1.0,
            |s| s.cem43 = 0.0,
            |s| s.input.adc.string_voltage[3] = 1,
            |s| s.input.distance_mm = 7,
            |s| s.output.current_ma[1] = 350,
            |s| s.output.fault_code = 0x0102,
            |s| s.powered = false,
            |s| {
                let mut data = [0; firmware::boundary::NVM_WRITE_MAX];
                data[2] = 9;
                s.output.nvm_write = Some(NvmWrite {
                    offset: 0,
                    len: 3,
                    data,
                });
            },
        ];
        for (k, edit) in edits.iter().enumerate() {
            let mut changed = base;
            edit(&mut changed[1]);
            assert_ne!(hash(&changed), h0, "edit {k} must change the hash");
        }
        let swapped = [base[1], base[0]];
        assert_ne!(hash(&swapped), h0, "order matters");
        // An NVM write's bytes count, not only its presence.
        let with_byte = |b: u8| {
            let mut s = sample(10);
            let mut data = [0; firmware::boundary::NVM_WRITE_MAX];
            data[11] = b;
            s.output.nvm_write = Some(NvmWrite {
                offset: 0,
                len: 12,
                data,
            });
            hash(&[s])
        };
        assert_ne!(with_byte(1), with_byte(2));
    }
}
