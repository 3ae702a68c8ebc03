//! The trace the charts are drawn from: a bounded, decimated record of one run.
//!
//! A week at a 10 ms control tick is about a million samples per device; the charts need a
//! fraction of them. [`TraceRecorder`] keeps a sample at most once per simulated second while a
//! request window is open, once per simulated minute otherwise, and every sample at which the
//! firmware's state or a drive output changes (so steps in duty and state are exact), plus every
//! action, state change, fault firing and violation. The full-rate boundary signals go to the
//! streaming exporters in [`crate::export`] instead.

use firmware::boundary::SessionState;

use crate::events::{Event, Reporter, Sample};
use crate::result::Violation;

/// Sampling period while a request window is open, ms (one point per simulated second).
pub const WINDOW_PERIOD_MS: u64 = 1_000;
/// Sampling period outside request windows, ms (one point per simulated minute).
pub const IDLE_PERIOD_MS: u64 = 60_000;
/// Violations kept per device; a firmware that is badly broken can violate at every instant,
/// and the charts only need where the excursions start.
pub const MAX_VIOLATIONS_KEPT: usize = 200;
/// Output changes kept at full rate within one second; beyond that a firmware that rewrites its
/// duty every tick (smooth derating) is sampled like any other signal, which keeps memory bounded.
pub const MAX_CHANGES_PER_SECOND: u32 = 8;

/// The part of a sample the charts draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TracePoint {
    /// Virtual time, ms from day 0 00:00.
    pub t_ms: u64,
    /// Hottest skin surface point, °C.
    pub skin_hot_c: f64,
    /// Mean contact-skin surface, °C.
    pub skin_mean_c: f64,
    /// Junction temperature per channel, °C.
    pub junction_c: [f64; 2],
    /// LED board, °C.
    pub board_c: f64,
    /// Zone-mean irradiance per channel, mW/cm².
    pub irradiance_mw_cm2: [f64; 2],
    /// Zone-mean fluence since placement, J/cm².
    pub fluence_j_cm2: f64,
    /// CEM43 at the hottest point, minutes.
    pub cem43: f64,
    /// PWM duty per channel, ‰.
    pub duty_permille: [u16; 2],
    /// Current set-point per channel, mA.
    pub current_ma: [u16; 2],
    /// Hardware enable.
    pub hw_enable: bool,
    /// Firmware session-state code.
    pub state: u8,
    /// Whether the firmware is powered.
    pub powered: bool,
    /// The firmware's session dose estimate, J/cm².
    pub estimate_j_cm2: f64,
    /// Latched fault code.
    pub fault_code: u16,
}

impl TracePoint {
    fn of(s: &Sample) -> TracePoint {
        TracePoint {
            t_ms: s.t_ms,
            skin_hot_c: s.skin_hot_c,
            skin_mean_c: s.skin_mean_c,
            junction_c: s.junction_c,
            board_c: s.board_c,
            irradiance_mw_cm2: s.irradiance_mw_cm2,
            fluence_j_cm2: s.fluence_j_cm2,
            cem43: s.cem43,
            duty_permille: s.output.duty_permille,
            current_ma: s.output.current_ma,
            hw_enable: s.output.hw_enable,
            state: s.output.state,
            powered: s.powered,
            estimate_j_cm2: f64::from(s.output.dose_estimate_mj_cm2) / 1000.0,
            fault_code: s.output.fault_code,
        }
    }

    /// What, when it changes, is kept at full rate: the drive and the state the firmware reports.
    fn signature(&self) -> ([u16; 2], [u16; 2], bool, u8, bool, u16) {
        (
            self.duty_permille,
            self.current_ma,
            self.hw_enable,
            self.state,
            self.powered,
            self.fault_code,
        )
    }
}

/// Something that happened at an instant, in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Time, ms.
    pub t_ms: u64,
    /// What happened.
    pub what: String,
}

/// A firmware state change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateMark {
    /// Time, ms.
    pub t_ms: u64,
    /// Previous state.
    pub from: SessionState,
    /// New state.
    pub to: SessionState,
}

/// Everything recorded about one device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceTrace {
    /// Device index in the scenario.
    pub index: usize,
    /// Device id.
    pub id: String,
    /// Decimated samples, in time order.
    pub points: Vec<TracePoint>,
    /// Scenario actions applied.
    pub actions: Vec<Mark>,
    /// Firmware state changes.
    pub states: Vec<StateMark>,
    /// Request windows opened (label).
    pub requests: Vec<Mark>,
    /// Injected faults that reached the firmware's inputs.
    pub faults: Vec<Mark>,
    /// Violations (the first [`MAX_VIOLATIONS_KEPT`]).
    pub violations: Vec<Violation>,
    /// Violations seen in total.
    pub violation_count: u64,
    /// Firmware or transport failures.
    pub dut_failures: Vec<Mark>,
    /// Samples seen in total (before decimation).
    pub samples_seen: u64,
    window_open: bool,
    last_kept_ms: Option<u64>,
    last: Option<TracePoint>,
    changes_second: u64,
    changes_in_second: u32,
}

impl DeviceTrace {
    fn sample(&mut self, s: &Sample) {
        self.samples_seen += 1;
        let p = TracePoint::of(s);
        let changed = self.last.is_none_or(|l| l.signature() != p.signature());
        self.last = Some(p);
        let period = if self.window_open {
            WINDOW_PERIOD_MS
        } else {
            IDLE_PERIOD_MS
        };
        let due = self
            .last_kept_ms
            .is_none_or(|k| p.t_ms >= k.saturating_add(period));
        let change_allowed = changed && {
            let second = p.t_ms / 1_000;
            if second != self.changes_second {
                self.changes_second = second;
                self.changes_in_second = 0;
            }
            self.changes_in_second += 1;
            self.changes_in_second <= MAX_CHANGES_PER_SECOND
        };
        if due || change_allowed {
            self.points.push(p);
            self.last_kept_ms = Some(p.t_ms);
        }
    }

    /// The kept points in `[from_ms, to_ms]`.
    pub fn points_between(&self, from_ms: u64, to_ms: u64) -> &[TracePoint] {
        let a = self.points.partition_point(|p| p.t_ms < from_ms);
        let b = self.points.partition_point(|p| p.t_ms <= to_ms);
        &self.points[a..b.max(a)]
    }
}

/// A reporter that keeps a bounded, decimated trace per device for the charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceRecorder {
    /// One trace per device, in scenario order.
    pub devices: Vec<DeviceTrace>,
}

impl TraceRecorder {
    /// An empty recorder.
    pub fn new() -> TraceRecorder {
        TraceRecorder::default()
    }

    /// The trace of device `index`, if it started.
    pub fn device(&self, index: usize) -> Option<&DeviceTrace> {
        self.devices.iter().find(|d| d.index == index)
    }

    /// The trace of a device by id.
    pub fn device_by_id(&self, id: &str) -> Option<&DeviceTrace> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// Points kept over all devices.
    pub fn points_kept(&self) -> usize {
        self.devices.iter().map(|d| d.points.len()).sum()
    }

    fn slot(&mut self, device: usize) -> &mut DeviceTrace {
        if let Some(i) = self.devices.iter().position(|d| d.index == device) {
            &mut self.devices[i]
        } else {
            // An event before its DeviceStart (not emitted by the bench, but harmless).
            self.devices.push(DeviceTrace {
                index: device,
                id: format!("device{device}"),
                ..DeviceTrace::default()
            });
            self.devices.last_mut().expect("just pushed")
        }
    }
}

impl Reporter for TraceRecorder {
    fn event(&mut self, event: &Event) {
        match event {
            Event::DeviceStart { device, id } => self.slot(*device).id = id.clone(),
            Event::Sample(s) => self.slot(s.device).sample(s),
            Event::Action { t_ms, device, what } => self.slot(*device).actions.push(Mark {
                t_ms: *t_ms,
                what: what.clone(),
            }),
            Event::StateChange {
                t_ms,
                device,
                from,
                to,
            } => self.slot(*device).states.push(StateMark {
                t_ms: *t_ms,
                from: *from,
                to: *to,
            }),
            Event::RequestOpened {
                t_ms,
                device,
                label,
            } => {
                let d = self.slot(*device);
                d.window_open = true;
                d.requests.push(Mark {
                    t_ms: *t_ms,
                    what: label.clone(),
                });
            }
            Event::RequestClosed(summary) => {
                if let Some(d) = self.devices.iter_mut().find(|d| d.id == summary.device) {
                    d.window_open = false;
                }
            }
            Event::FaultFired {
                t_ms,
                device,
                fault,
            } => self.slot(*device).faults.push(Mark {
                t_ms: *t_ms,
                what: fault.clone(),
            }),
            Event::Violation(v) => {
                if let Some(d) = self.devices.iter_mut().find(|d| d.id == v.device) {
                    d.violation_count += 1;
                    if d.violations.len() < MAX_VIOLATIONS_KEPT {
                        d.violations.push((**v).clone());
                    }
                }
            }
            Event::DutFailure {
                t_ms,
                device,
                message,
            } => self.slot(*device).dut_failures.push(Mark {
                t_ms: *t_ms,
                what: message.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::boundary::{InputFrame, OutputFrame};

    fn sample(t_ms: u64, duty: u16) -> Sample {
        Sample {
            t_ms,
            device: 0,
            skin_hot_c: 33.0,
            skin_mean_c: 33.0,
            junction_c: [25.0; 2],
            board_c: 25.0,
            irradiance_mw_cm2: [0.0; 2],
            fluence_j_cm2: 0.0,
            cem43: 0.0,
            input: InputFrame::default(),
            output: OutputFrame {
                duty_permille: [duty, 0],
                ..OutputFrame::default()
            },
            powered: true,
        }
    }

    fn kept(events: &[Event]) -> Vec<u64> {
        let mut r = TraceRecorder::new();
        for e in events {
            r.event(e);
        }
        r.devices[0].points.iter().map(|p| p.t_ms).collect()
    }

    #[test]
    fn idle_samples_are_kept_once_a_minute() {
        let mut ev = vec![Event::DeviceStart {
            device: 0,
            id: "wrap".into(),
        }];
        ev.extend((0..=300).map(|k| Event::Sample(sample(k * 1_000, 0))));
        assert_eq!(
            kept(&ev),
            vec![0, 60_000, 120_000, 180_000, 240_000, 300_000]
        );
    }

    #[test]
    fn open_windows_keep_a_sample_a_second_and_every_output_change() {
        let mut ev = vec![
            Event::DeviceStart {
                device: 0,
                id: "wrap".into(),
            },
            Event::RequestOpened {
                t_ms: 0,
                device: 0,
                label: "x".into(),
            },
        ];
        // 10 ms ticks over 3 s, duty switching on at 1_510 ms.
        ev.extend((0..=300).map(|k| {
            let t = k * 10;
            Event::Sample(sample(t, if t >= 1_510 { 500 } else { 0 }))
        }));
        assert_eq!(kept(&ev), vec![0, 1_000, 1_510, 2_510]);
    }

    #[test]
    fn output_changes_every_tick_stay_bounded() {
        let mut ev = vec![Event::DeviceStart {
            device: 0,
            id: "wrap".into(),
        }];
        // An hour of 10 ms ticks with the duty changing at every tick.
        ev.extend((0..360_000u64).map(|k| Event::Sample(sample(k * 10, (k % 1000) as u16))));
        let n = kept(&ev).len();
        let bound = 3_600 * MAX_CHANGES_PER_SECOND as usize + 60;
        assert!(n <= bound, "{n} points kept, bound {bound}");
        assert!(n < 360_000 / 10, "decimation kept {n} of 360000");
    }
}
