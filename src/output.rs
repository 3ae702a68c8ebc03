//! What a run prints and the JUnit XML it leaves behind.
//!
//! Files are written atomically by `harness::report::write_atomic` (a temporary file beside it,
//! then a rename), so an interrupted run never leaves a half-written report.

use std::fmt::Write as _;

use harness::result::{RunResult, Status};

/// The file-format name of a device kind (as scenario files and `pbm-hil chart device` spell it).
pub fn kind_name(kind: sim::device::DeviceKind) -> &'static str {
    use sim::device::DeviceKind::*;
    match kind {
        Wrap => "wrap",
        Pad => "pad",
        Panel => "panel",
        Mask => "mask",
        Pen => "pen",
        LaserProbe => "laser-probe",
    }
}

/// JUnit XML: a testsuite per scenario, a testcase per property (plus one for the scenario's
/// validity and expectations).
pub fn junit(results: &[RunResult]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = results.iter().map(|r| r.verdicts.len() + 1).sum();
    let failures: usize = results
        .iter()
        .map(|r| {
            r.verdicts.iter().filter(|v| v.status.is_failure()).count()
                + usize::from(!r.expectation_failures.is_empty() || r.invalid.is_some())
        })
        .sum();
    let _ = writeln!(
        x,
        "<testsuites name=\"pbm-hil\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for r in results {
        let fails = r.verdicts.iter().filter(|v| v.status.is_failure()).count()
            + usize::from(!r.expectation_failures.is_empty() || r.invalid.is_some());
        let skipped = r
            .verdicts
            .iter()
            .filter(|v| v.status == Status::NotApplicable)
            .count();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"{skipped}\">",
            harness::report::esc(&r.scenario),
            r.verdicts.len() + 1
        );
        let _ = writeln!(
            x,
            "    <properties><property name=\"seed\" value=\"{}\"/><property name=\"trace_hash\" value=\"{:016x}\"/></properties>",
            r.seed, r.trace_hash
        );
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"scenario\"",
            harness::report::esc(&r.scenario)
        );
        let mut problems: Vec<String> = r.expectation_failures.clone();
        if let Some(why) = &r.invalid {
            problems.push(format!("invalid scenario: {why}"));
        }
        if problems.is_empty() {
            x.push_str("/>\n");
        } else {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                harness::report::esc(&problems[0]),
                harness::report::esc(&problems.join("\n"))
            );
        }
        for v in &r.verdicts {
            let _ = write!(
                x,
                "    <testcase classname=\"{}\" name=\"{}\"",
                harness::report::esc(&r.scenario),
                v.name
            );
            match v.status {
                Status::Held | Status::ExpectedViolation => x.push_str("/>\n"),
                Status::NotApplicable => x.push_str(
                    "><skipped message=\"not exercised by this scenario\"/></testcase>\n",
                ),
                Status::Violated => {
                    let first = v.violations.first();
                    let msg = first.map_or_else(String::new, |f| {
                        format!(
                            "t={} ms: measured {:.3} against limit {:.3}: {}",
                            f.t_ms, f.measured, f.limit, f.detail
                        )
                    });
                    let body: Vec<String> = v
                        .violations
                        .iter()
                        .map(|f| {
                            format!(
                                "[{}] t={} ms measured={:.3} limit={:.3} {}",
                                f.device, f.t_ms, f.measured, f.limit, f.detail
                            )
                        })
                        .collect();
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"{}\">{} violation(s); statement: {}; source: {}\n{}</failure>\n    </testcase>",
                        harness::report::esc(&msg),
                        v.name,
                        v.violation_count,
                        harness::report::esc(v.statement),
                        harness::report::esc(v.source),
                        harness::report::esc(&body.join("\n"))
                    );
                }
                Status::UnexpectedHold => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"expected to be violated ({}) but held\" type=\"{}\"/>\n    </testcase>",
                        harness::report::esc(v.expected_reason.as_deref().unwrap_or("")),
                        v.name
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// The verdict word of a run.
pub fn verdict_word(r: &RunResult) -> &'static str {
    if r.invalid.is_some() {
        "INVALID"
    } else if r.passed() {
        "pass"
    } else {
        "FAIL"
    }
}

/// The summary table printed after a run.
pub fn summary_table(results: &[RunResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<34} {:>5} {:>5}  {:<38} {:>7} {:>7}  verdict",
        "scenario", "sess", "refus", "fluence per zone, J/cm² (mean)", "skin°C", "Tj°C"
    );
    for r in results {
        let done = r.sessions.iter().filter(|x| x.emitting_ms > 0).count();
        let refused = r
            .sessions
            .iter()
            .filter(|x| x.end == harness::result::SessionEnd::Refused)
            .count();
        let mut zones: Vec<(String, f64)> = Vec::new();
        for x in &r.sessions {
            match zones.iter_mut().find(|(z, _)| *z == x.zone) {
                Some((_, f)) => *f += x.fluence_mean_j_cm2,
                None => zones.push((x.zone.clone(), x.fluence_mean_j_cm2)),
            }
        }
        let fl = zones
            .iter()
            .map(|(z, f)| format!("{z} {f:.1}"))
            .collect::<Vec<_>>()
            .join(", ");
        let fl = if fl.chars().count() > 38 {
            format!("{}…", fl.chars().take(37).collect::<String>())
        } else {
            fl
        };
        let skin = r
            .sessions
            .iter()
            .map(|x| x.peak_skin_c)
            .fold(f64::NAN, f64::max);
        let tj = r
            .sessions
            .iter()
            .map(|x| x.peak_junction_c)
            .fold(f64::NAN, f64::max);
        let mut verdict = verdict_word(r).to_string();
        let failed: Vec<&str> = r
            .verdicts
            .iter()
            .filter(|v| v.status.is_failure())
            .map(|v| v.name)
            .collect();
        if !failed.is_empty() {
            verdict.push_str(&format!(" ({})", failed.join(", ")));
        }
        if !r.expectation_failures.is_empty() {
            verdict.push_str(" (expectation not met)");
        }
        let _ = writeln!(
            s,
            "{:<34} {:>5} {:>5}  {:<38} {:>7.1} {:>7.1}  {}",
            r.scenario, done, refused, fl, skin, tj, verdict
        );
    }
    s
}
