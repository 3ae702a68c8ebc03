//! What a run concludes: verdicts per property, sessions delivered, violations with context.
//!
//! A property violation is a result, not an error: the run completed and found the firmware
//! wanting. Errors (bad input, a firmware that crashed) are [`crate::BenchError`].

use serde::Serialize;

use crate::properties::{CATALOG, PropertyId};

/// One violation of a property, with enough context to replay it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    /// Property violated.
    pub property: PropertyId,
    /// Dotted property name.
    pub name: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// Seed of the run.
    pub seed: u64,
    /// Device id.
    pub device: String,
    /// Virtual time, ms from day 0 00:00.
    pub t_ms: u64,
    /// Measured value (unit of the property).
    pub measured: f64,
    /// The limit it was judged against.
    pub limit: f64,
    /// What happened, in words (which session, which sensor, what the firmware said).
    pub detail: String,
}

/// Verdict of one property over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checked and held.
    Held,
    /// Violated at least once.
    Violated,
    /// Violated, as the scenario expects for a documented reason.
    ExpectedViolation,
    /// Expected to be violated but held: the scenario's expectation failed.
    UnexpectedHold,
    /// Nothing in the run made the property apply (e.g. eye interlock without a mask).
    NotApplicable,
}

impl Status {
    /// Whether this verdict makes the run fail.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Violated | Status::UnexpectedHold)
    }
}

/// Verdict of a property.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// Property id.
    pub property: PropertyId,
    /// Dotted name.
    pub name: &'static str,
    /// Statement (for reports).
    pub statement: &'static str,
    /// Source of the limit (for reports).
    pub source: &'static str,
    /// Outcome.
    pub status: Status,
    /// How many instants or sessions it was checked on.
    pub checks: u64,
    /// Violations (the first few; `violation_count` has the total).
    pub violations: Vec<Violation>,
    /// Total number of violations.
    pub violation_count: u64,
    /// Reason the scenario gives for an expected violation.
    pub expected_reason: Option<String>,
}

/// Why a session window ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// The firmware reported it completed the program.
    Completed,
    /// The firmware refused the request.
    Refused,
    /// The firmware ended it early (its own reason: contact, thermal, cap).
    StoppedByFirmware,
    /// A latched fault.
    Fault,
    /// The user pressed stop.
    UserStop,
    /// The user took the device off.
    Removed,
    /// Power was lost.
    PowerLost,
    /// The scenario ended with the session still open.
    ScenarioEnd,
}

/// One treatment request and what it delivered (plant truth), for reports and the week chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionSummary {
    /// Device id.
    pub device: String,
    /// Treatment label.
    pub label: String,
    /// Zone name.
    pub zone: String,
    /// Program index.
    pub program: u8,
    /// Start pressed, ms.
    pub start_ms: u64,
    /// Window closed, ms.
    pub end_ms: u64,
    /// Time with emission, ms.
    pub emitting_ms: u64,
    /// How it ended.
    pub end: SessionEnd,
    /// Zone-mean fluence, J/cm² (all channels).
    pub fluence_mean_j_cm2: f64,
    /// Zone-minimum fluence, J/cm².
    pub fluence_min_j_cm2: f64,
    /// Zone-maximum fluence, J/cm².
    pub fluence_max_j_cm2: f64,
    /// Zone-mean fluence per channel, J/cm².
    pub fluence_channel_j_cm2: [f64; 2],
    /// Optical energy onto the zone, J.
    pub energy_j: f64,
    /// Peak hottest-point skin temperature, °C.
    pub peak_skin_c: f64,
    /// Peak junction temperature, °C.
    pub peak_junction_c: f64,
    /// Thermal dose at the hottest point over the window, CEM43 minutes.
    pub cem43: f64,
    /// The firmware's own dose estimate at the end, J/cm².
    pub firmware_estimate_j_cm2: f64,
    /// The program's target, J/cm².
    pub target_j_cm2: f64,
    /// For a refusal: the harness's reading of why it had to be refused, if it had to.
    pub refusal_reason: Option<String>,
    /// Fluence delivered over the treated zone's skin grid (the dose map).
    pub fluence_map: FluenceMap,
}

/// Fluence over the treated zone's skin grid, J/cm², row-major (`ny` rows of `nx` points).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FluenceMap {
    /// Points along x.
    pub nx: usize,
    /// Points along y.
    pub ny: usize,
    /// Extent along x, cm.
    pub width_cm: f64,
    /// Extent along y, cm.
    pub height_cm: f64,
    /// Fluence per point, J/cm².
    pub j_cm2: Vec<f64>,
}

/// Outcome of one scenario run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Firmware identity per device.
    pub firmware: Vec<String>,
    /// One verdict per catalog property, in catalog order.
    pub verdicts: Vec<Verdict>,
    /// Every treatment request.
    pub sessions: Vec<SessionSummary>,
    /// Expectations of the scenario that failed (e.g. a request expected to be refused ran).
    pub expectation_failures: Vec<String>,
    /// Set when the scenario is invalid as a test (e.g. an injected fault never fired).
    pub invalid: Option<String>,
    /// Hash of the whole sample trace (bit-exact determinism check); 0 from
    /// [`crate::bench::run_unhashed`].
    pub trace_hash: u64,
    /// Samples hashed.
    pub samples: u64,
}

impl RunResult {
    /// Whether every property held (or failed as expected), every expectation was met, and the
    /// scenario was valid.
    pub fn passed(&self) -> bool {
        self.invalid.is_none()
            && self.expectation_failures.is_empty()
            && !self.verdicts.iter().any(|v| v.status.is_failure())
    }

    /// The verdict of one property.
    pub fn verdict(&self, id: PropertyId) -> &Verdict {
        self.verdicts
            .iter()
            .find(|v| v.property == id)
            .expect("one verdict per catalog property")
    }
}

/// Build verdicts in catalog order from per-property tallies.
pub(crate) fn verdicts_from(
    checks: &[u64],
    violations: &[Vec<Violation>],
    counts: &[u64],
    expected: &[Option<String>],
) -> Vec<Verdict> {
    CATALOG
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let violated = counts[i] > 0;
            let status = match (&expected[i], violated, checks[i] > 0) {
                (Some(_), true, _) => Status::ExpectedViolation,
                (Some(_), false, _) => Status::UnexpectedHold,
                (None, true, _) => Status::Violated,
                (None, false, true) => Status::Held,
                (None, false, false) => Status::NotApplicable,
            };
            Verdict {
                property: p.id,
                name: p.name,
                statement: p.statement,
                source: p.source,
                status,
                checks: checks[i],
                violations: violations[i].clone(),
                violation_count: counts[i],
                expected_reason: expected[i].clone(),
            }
        })
        .collect()
}
