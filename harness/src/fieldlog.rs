//! Field logs: a real device's logged outputs played into the plant and judged like a run.
//!
//! A device in the field logs what its firmware drove (duty per channel, and often what it read:
//! NTC counts, its state, its dose estimate). Played into the plant through the same DUT seam as
//! a firmware ([`LogPlayer`], zero-order hold between rows), the log is judged by the same
//! properties and drawn by the same charts as a bench run, and the logged NTC counts are compared
//! with what the plant's sensors read at the same instants (a check of the plant model against
//! the device, or of the device against its log).
//!
//! The CSV format (documented with an example in `docs/replay.md`): a header row naming the
//! columns, in any order; `#` lines are comments. Required: `time_ms` (the device's uptime, ms,
//! strictly increasing), `duty_ch0_permille`, `duty_ch1_permille` (0..=1000). Optional:
//! `current_ch0_ma`, `current_ch1_ma` (set-point per string, mA; default the channel's nominal
//! current from the device catalog), `ntc0_counts`, `ntc1_counts` (contact NTC ADC codes,
//! 0..=4095), `state` (standard session-state code 0..=7; default Treating while any duty is on,
//! else Idle), `dose_estimate_mj_cm2` (the device's own estimate). Every error names the line
//! and column.

use std::cell::RefCell;
use std::rc::Rc;

use firmware::boundary::{
    Indicator, InputFrame, MAX_CHANNELS, MAX_CONTACT_NTCS, NVM_SIZE, OutputFrame, SessionState, hw,
};
use sim::device::DeviceKind;

use crate::bench::BenchError;
use crate::dut::{Dut, DutError, DutIdentity};
use crate::events::Reporter;
use crate::properties::PropertyId;
use crate::result::{RunResult, Status};
use crate::scenario::Scenario;

/// Columns of a field log, as named in its header.
pub const COLUMNS: [&str; 10] = [
    "time_ms",
    "duty_ch0_permille",
    "duty_ch1_permille",
    "current_ch0_ma",
    "current_ch1_ma",
    "ntc0_counts",
    "ntc1_counts",
    "state",
    "dose_estimate_mj_cm2",
    "hw_enable",
];

const REQUIRED: [&str; 3] = ["time_ms", "duty_ch0_permille", "duty_ch1_permille"];

/// One row of a log: what the device drove from `time_ms` until the next row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogRow {
    /// Device uptime, ms.
    pub time_ms: u32,
    /// PWM duty per channel, ‰.
    pub duty_permille: [u16; MAX_CHANNELS],
    /// Current set-point per string of each channel, mA (`None`: the nominal current).
    pub current_ma: [Option<u16>; MAX_CHANNELS],
    /// Contact NTC ADC codes, if logged.
    pub ntc_counts: [Option<u16>; MAX_CONTACT_NTCS],
    /// Standard session-state code, if logged.
    pub state: Option<u8>,
    /// The device's dose estimate, mJ/cm², if logged.
    pub dose_estimate_mj_cm2: Option<u32>,
    /// Hardware enable (0/1), if logged; default on while any duty is.
    pub hw_enable: Option<bool>,
}

/// A parsed field log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldLog {
    /// Rows in time order.
    pub rows: Vec<LogRow>,
    /// Whether the log has a `dose_estimate_mj_cm2` column (dose.estimate means nothing
    /// without one).
    pub has_estimate: bool,
    /// Whether the log has a `state` column.
    pub has_state: bool,
}

/// A field-log line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct FieldLogError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (the CSV field's number).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

fn cell<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    text: &str,
    name: &str,
    max: T,
) -> Result<T, String> {
    match text.trim().parse::<T>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!("{name}: {text:?} is not an integer in 0..={max}")),
    }
}

/// Parse a field log. `file` is the name errors show.
pub fn parse(file: &str, text: &str) -> Result<FieldLog, FieldLogError> {
    let err = |line: usize, column: usize, message: String| FieldLogError {
        file: file.to_string(),
        line,
        column,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| err(1, 1, "empty log; expected a header row".into()))?;
    let mut columns: Vec<usize> = Vec::new();
    for (k, name) in header.split(',').enumerate() {
        let name = name.trim();
        let Some(c) = COLUMNS.iter().position(|&n| n == name) else {
            return Err(err(
                header_line,
                k + 1,
                format!("unknown column {name:?}; expected {}", COLUMNS.join(", ")),
            ));
        };
        if columns.contains(&c) {
            return Err(err(header_line, k + 1, format!("column {name:?} twice")));
        }
        columns.push(c);
    }
    for r in REQUIRED {
        if !columns.iter().any(|&c| COLUMNS[c] == r) {
            return Err(err(
                header_line,
                columns.len() + 1,
                format!("missing column {r:?} (required: {})", REQUIRED.join(", ")),
            ));
        }
    }
    let mut log = FieldLog {
        rows: Vec::new(),
        has_estimate: columns
            .iter()
            .any(|&c| COLUMNS[c] == "dose_estimate_mj_cm2"),
        has_state: columns.iter().any(|&c| COLUMNS[c] == "state"),
    };
    for (line, text) in lines {
        let cells: Vec<&str> = text.split(',').collect();
        if cells.len() != columns.len() {
            return Err(err(
                line,
                cells.len().min(columns.len()) + 1,
                format!("{} fields; the header names {}", cells.len(), columns.len()),
            ));
        }
        let mut row = LogRow::default();
        for (k, (&c, v)) in columns.iter().zip(cells.iter()).enumerate() {
            let name = COLUMNS[c];
            let adc_max = hw::ADC_MAX;
            let parsed: Result<(), String> = (|| {
                match c {
                    0 => row.time_ms = cell(v, name, u32::MAX)?,
                    1 | 2 => row.duty_permille[c - 1] = cell(v, name, 1000u16)?,
                    3 | 4 => row.current_ma[c - 3] = Some(cell(v, name, u16::MAX)?),
                    5 | 6 => row.ntc_counts[c - 5] = Some(cell(v, name, adc_max)?),
                    7 => row.state = Some(cell(v, name, SessionState::Fault as u8)?),
                    8 => row.dose_estimate_mj_cm2 = Some(cell(v, name, u32::MAX)?),
                    _ => row.hw_enable = Some(cell(v, name, 1u8)? == 1),
                }
                Ok(())
            })();
            parsed.map_err(|m| err(line, k + 1, m))?;
        }
        if let Some(prev) = log.rows.last()
            && row.time_ms <= prev.time_ms
        {
            let k = columns.iter().position(|&c| c == 0).expect("required") + 1;
            return Err(err(
                line,
                k,
                format!(
                    "time_ms {} does not increase (previous row {})",
                    row.time_ms, prev.time_ms
                ),
            ));
        }
        log.rows.push(row);
    }
    if log.rows.is_empty() {
        return Err(err(header_line + 1, 1, "no rows after the header".into()));
    }
    Ok(log)
}

/// How the logged contact NTC counts compare with the plant's at the logged instants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtcComparison {
    /// Rows where both were known.
    pub rows: u64,
    /// Largest |logged − plant|, ADC counts.
    pub max_abs_diff_counts: u16,
    /// Device uptime of the largest difference, ms.
    pub at_ms: u32,
}

/// A [`Dut`] that plays a field log: zero-order hold of each row's outputs until the next row.
///
/// The log's `time_ms` is the device's uptime, which is what the bench gives the firmware as
/// `now_ms`; a power cycle in the scenario restarts the log from its first row.
pub struct LogPlayer {
    log: Rc<FieldLog>,
    nominal_ma: [u16; MAX_CHANNELS],
    next: usize,
    ntc: Rc<RefCell<[NtcComparison; MAX_CONTACT_NTCS]>>,
}

impl LogPlayer {
    /// A player of `log` for a device of `kind`; NTC comparisons go to `ntc`.
    pub fn new(
        log: Rc<FieldLog>,
        kind: DeviceKind,
        ntc: Rc<RefCell<[NtcComparison; MAX_CONTACT_NTCS]>>,
    ) -> LogPlayer {
        let spec = sim::device::spec(kind);
        let nominal_ma = core::array::from_fn(|c| {
            spec.channels
                .get(c)
                .map_or(0, |ch| ch.nominal_current_ma.round() as u16)
        });
        LogPlayer {
            log,
            nominal_ma,
            next: 0,
            ntc,
        }
    }
}

impl Dut for LogPlayer {
    fn identity(&self) -> DutIdentity {
        DutIdentity {
            name: "field log".into(),
            version: String::new(),
            build: String::new(),
        }
    }

    fn boot(&mut self, _nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        self.next = 0;
        Ok(())
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let rows = &self.log.rows;
        while self.next < rows.len() && rows[self.next].time_ms <= input.now_ms {
            self.next += 1;
        }
        let row = self.next.checked_sub(1).map(|i| rows[i]);
        let next_wake_ms = rows
            .get(self.next)
            .map_or(u32::MAX, |r| (r.time_ms - input.now_ms).max(1));
        let Some(row) = row else {
            return Ok(OutputFrame {
                next_wake_ms,
                state: SessionState::Idle as u8,
                indicator: Indicator::Ready,
                ..OutputFrame::default()
            });
        };
        if row.time_ms == input.now_ms {
            let mut ntc = self.ntc.borrow_mut();
            for (k, logged) in row.ntc_counts.iter().enumerate() {
                if let Some(logged) = logged {
                    let d = logged.abs_diff(input.adc.contact_ntc[k]);
                    let c = &mut ntc[k];
                    c.rows += 1;
                    if d > c.max_abs_diff_counts || c.rows == 1 {
                        c.max_abs_diff_counts = d;
                        c.at_ms = row.time_ms;
                    }
                }
            }
        }
        let on = row.duty_permille.iter().any(|&d| d > 0);
        let state = row.state.unwrap_or(if on {
            SessionState::Treating as u8
        } else {
            SessionState::Idle as u8
        });
        Ok(OutputFrame {
            duty_permille: row.duty_permille,
            current_ma: core::array::from_fn(|c| row.current_ma[c].unwrap_or(self.nominal_ma[c])),
            hw_enable: row.hw_enable.unwrap_or(on),
            indicator: if on {
                Indicator::Treating
            } else {
                Indicator::Ready
            },
            nvm_write: None,
            next_wake_ms,
            state,
            detail: 0,
            dose_estimate_mj_cm2: row.dose_estimate_mj_cm2.unwrap_or(0),
            fault_code: 0,
        })
    }

    fn power_off(&mut self) {}
}

/// A field log's judgement.
#[derive(Debug)]
pub struct FieldLogReport {
    /// The run, judged by the catalog properties.
    pub result: RunResult,
    /// Logged against plant NTC counts, per contact NTC.
    pub ntc: [NtcComparison; MAX_CONTACT_NTCS],
}

/// Play `log` into the single device of `scenario` and judge it (a scenario with more devices is
/// refused as a transport failure before anything runs). Without an estimate column
/// `dose.estimate` has nothing to judge and is reported not applicable.
pub fn judge(
    scenario: &Scenario,
    log: FieldLog,
    reporter: &mut dyn Reporter,
) -> Result<FieldLogReport, BenchError> {
    let ntc = Rc::new(RefCell::new([NtcComparison::default(); MAX_CONTACT_NTCS]));
    let log = Rc::new(log);
    let devices = scenario.devices.len();
    let mut factory = |kind| -> Result<Box<dyn Dut>, DutError> {
        if devices != 1 {
            return Err(DutError::Transport(format!(
                "a field log plays into one device; the scenario has {devices}"
            )));
        }
        Ok(Box::new(LogPlayer::new(
            Rc::clone(&log),
            kind,
            Rc::clone(&ntc),
        )))
    };
    let mut result = crate::bench::run(scenario, &mut factory, reporter)?;
    if !log.has_estimate {
        for v in result
            .verdicts
            .iter_mut()
            .filter(|v| v.property == PropertyId::DoseEstimate)
        {
            v.status = Status::NotApplicable;
            v.violations.clear();
            v.violation_count = 0;
            v.checks = 0;
        }
    }
    let ntc = *ntc.borrow();
    Ok(FieldLogReport { result, ntc })
}
