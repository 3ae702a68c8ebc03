//! `pbm-hil replay` and `pbm-hil run --record`: recorded runs on the command line.
//!
//! The work is in `harness::record`, `harness::replay` and `harness::fieldlog`; this module
//! parses the flags, prints what a replay found in words an engineer reads first (the first
//! divergence, the verdicts that changed), writes reports and charts on `--out`, and maps the
//! outcome to the documented exit codes: 0 identical / every property held, 1 a divergence or a
//! violated property, 2 invalid input (a bad or old bundle, a bad field log, a flag), 3 the
//! firmware failed.

use std::path::{Path, PathBuf};

use harness::dut::FirmwareSpec;
use harness::events::{Discard, Reporter};
use harness::record::{Bundle, RecordConfig};
use harness::replay::{self, Overrides};
use harness::result::RunResult;

use crate::cli::{EXIT_FIRMWARE, EXIT_INVALID_INPUT, EXIT_OK, EXIT_VIOLATED, clock};

/// Flags of `pbm-hil replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A bundle folder written by `pbm-hil run --record`, or a campaign's `week-I.toml` (its
    /// bundle `week-I.bundle/` beside it is replayed).
    #[arg(required_unless_present = "field_log", conflicts_with = "field_log")]
    pub bundle: Option<PathBuf>,
    /// Re-run against this firmware instead of the recorded one (`reference`, `exec:...`).
    #[arg(long, conflicts_with = "open_loop")]
    pub firmware: Option<String>,
    /// Feed the recorded firmware outputs into the plant without any firmware, and judge again.
    #[arg(long)]
    pub open_loop: bool,
    /// The scenario to judge under: an edited copy of the recorded one (open loop: same
    /// timeline, other limits or plant), or the device, zone and environment of a field log.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Judge a field log (CSV of a real device's outputs; `docs/replay.md`) instead of a bundle.
    #[arg(long, requires = "scenario")]
    pub field_log: Option<PathBuf>,
    /// Room temperature at the start, °C (open loop and field logs).
    #[arg(long)]
    pub ambient: Option<f64>,
    /// Fitzpatrick skin type I..VI (open loop and field logs).
    #[arg(long)]
    pub skin_type: Option<String>,
    /// A tighter or looser limit, `NAME=VALUE` with NAME a field of the scenario's `[limits]`
    /// (e.g. `skin_normal_c=40`); repeatable (open loop and field logs).
    #[arg(long = "limit")]
    pub limits: Vec<String>,
    /// Folder for `report.json` and the charts of the replayed run.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where and how `run --record` writes bundles.
#[derive(Clone, Debug)]
pub struct RecordTarget {
    /// Bundles go to `DIR/SCENARIO/`.
    pub dir: PathBuf,
    /// Sample rate, ms.
    pub rate_ms: u64,
    /// The `--firmware` text.
    pub spec_text: String,
}

/// Run a scenario and record it under `target.dir/SCENARIO/`. Errors read like `run_one`'s: a
/// failure to write starts with "failed to write".
pub fn run_recorded(
    s: &harness::scenario::Scenario,
    firmware: &FirmwareSpec,
    transport: &harness::transport::TransportConfig,
    reporter: &mut dyn Reporter,
    target: &RecordTarget,
) -> Result<RunResult, String> {
    let dir = target.dir.join(&s.name);
    let mut cfg = RecordConfig::new(firmware, &target.spec_text);
    cfg.rate_ms = target.rate_ms;
    let (result, _) = harness::record::record_run(
        s,
        &mut |kind| firmware.make_with(kind, transport),
        reporter,
        &dir,
        &cfg,
    )
    .map_err(|e| format!("failed to write the bundle: {e}"))?;
    result.map_err(|e| e.to_string())
}

fn overrides(args: &ReplayArgs) -> Result<Overrides, String> {
    let mut o = Overrides {
        ambient_c: args.ambient,
        ..Overrides::default()
    };
    if let Some(t) = &args.skin_type {
        o.skin_type = Some(replay::parse_skin_type(t).map_err(|e| format!("--skin-type {e}"))?);
    }
    for l in &args.limits {
        let (name, value) = l
            .split_once('=')
            .ok_or_else(|| format!("--limit {l:?}: expected NAME=VALUE"))?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("--limit {l:?}: {value:?} is not a number"))?;
        o.limits.push((name.trim().to_string(), value));
    }
    Ok(o)
}

fn load_scenario(path: &Path) -> Result<harness::scenario::Scenario, u8> {
    harness::format::load_paths(&[path.to_path_buf()])
        .map(|mut v| v.remove(0))
        .map_err(|errors| {
            for e in &errors {
                eprintln!("error: {e}");
            }
            EXIT_INVALID_INPUT
        })
}

/// `pbm-hil replay`: returns the exit code.
pub fn main(args: &ReplayArgs) -> u8 {
    let o = match overrides(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    if let Some(log) = &args.field_log {
        let Some(scenario) = &args.scenario else {
            eprintln!("error: --field-log needs --scenario S.toml (device, zone, environment)");
            return EXIT_INVALID_INPUT;
        };
        return field_log(log, scenario, &o, args.out.as_deref());
    }
    let Some(dir) = &args.bundle else {
        eprintln!("error: give a BUNDLE folder or --field-log LOG.csv");
        return EXIT_INVALID_INPUT;
    };
    let dir = &match bundle_beside(dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    let bundle = match Bundle::open(dir) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    if args.open_loop {
        open_loop(&bundle, args.scenario.as_deref(), &o, args.out.as_deref())
    } else {
        if !o.is_empty() || args.scenario.is_some() {
            eprintln!(
                "error: --scenario, --ambient, --skin-type and --limit re-judge a recording: \
                 add --open-loop (a re-run compares a firmware with the recorded scenario as is)"
            );
            return EXIT_INVALID_INPUT;
        }
        rerun(&bundle, args.firmware.as_deref(), args.out.as_deref())
    }
}

/// A saved failure `DIR/week-I.toml` names the bundle the campaign wrote beside it,
/// `DIR/week-I.bundle/`; a folder is taken as it is.
fn bundle_beside(path: &Path) -> Result<PathBuf, String> {
    if path.extension().is_none_or(|e| e != "toml") {
        return Ok(path.to_path_buf());
    }
    let beside = path.with_extension("bundle");
    if beside.is_dir() {
        Ok(beside)
    } else {
        Err(format!(
            "{} is a scenario file with no recording beside it ({} does not exist): run it with              `pbm-hil run`, or record it with `pbm-hil run --record DIR`",
            path.display(),
            beside.display()
        ))
    }
}

/// Run with the reporters `--out` needs and write the report and charts there.
fn with_artifacts<T>(
    scenario: &harness::scenario::Scenario,
    out: Option<&Path>,
    run: impl FnOnce(&mut dyn Reporter) -> T,
    result_of: impl Fn(&T) -> Option<&RunResult>,
) -> Result<T, u8> {
    let Some(dir) = out else {
        return Ok(run(&mut Discard));
    };
    let mut recorder = harness::charts::TraceRecorder::new();
    let value = run(&mut recorder);
    if let Some(result) = result_of(&value) {
        let json = serde_json::to_vec_pretty(result).expect("results serialise");
        let written =
            harness::report::write_atomic(&dir.join("report.json"), &json).and_then(|()| {
                harness::report::write_scenario_artifacts(dir, scenario, result, &recorder)
            });
        match written {
            Ok(files) => println!(
                "report and {} chart file(s) in {}",
                files.len(),
                dir.display()
            ),
            Err(e) => {
                eprintln!(
                    "error: failed to write the report under {}: {e}",
                    dir.display()
                );
                return Err(EXIT_INVALID_INPUT);
            }
        }
    }
    Ok(value)
}

fn print_changes(changes: &[replay::VerdictChange]) {
    if changes.is_empty() {
        println!("verdicts: every property as recorded");
    } else {
        println!("verdicts that changed:");
        for c in changes {
            println!("  {}: {} -> {}", c.property, c.recorded, c.now);
        }
    }
}

fn print_violations(r: &RunResult) {
    for v in r.verdicts.iter().filter(|v| v.status.is_failure()) {
        for f in &v.violations {
            println!(
                "  [{}] {} at {}: measured {:.3}, limit {:.3}: {}",
                f.device,
                v.name,
                clock(f.t_ms),
                f.measured,
                f.limit,
                f.detail
            );
        }
    }
}

fn rerun(bundle: &Bundle, firmware: Option<&str>, out: Option<&Path>) -> u8 {
    let text = firmware.unwrap_or(&bundle.manifest.firmware_spec);
    let spec = match FirmwareSpec::parse(text) {
        Ok(s) => s,
        Err(e) if firmware.is_none() => {
            eprintln!(
                "error: the recorded firmware cannot be made here ({e}); pass --firmware SPEC"
            );
            return EXIT_INVALID_INPUT;
        }
        Err(e) => {
            eprintln!("error: --firmware {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    let m = &bundle.manifest;
    println!(
        "replay {}: re-run against {text} (recorded with {}, firmware hash {})",
        m.scenario,
        m.firmware_spec,
        m.firmware_hash.as_deref().unwrap_or("unknown")
    );
    if let Some(now) = harness::record::firmware_hash(&spec).map(harness::record::hex)
        && m.firmware_hash.as_deref() != Some(now.as_str())
    {
        println!("  firmware hash now {now}: another build than recorded");
    }
    let report = match with_artifacts(
        &bundle.scenario,
        out,
        |reporter| replay::rerun(bundle, &mut |kind| spec.make(kind), reporter),
        |r| r.as_ref().ok().and_then(|r| r.outcome.as_ref().ok()),
    ) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
        Err(code) => return code,
    };
    match &report.divergence {
        None => println!(
            "identical: {} step(s) compared, no divergence",
            report.steps_compared
        ),
        Some(d) => {
            print!("first divergence: {d}");
            match d.t_ms {
                Some(t) => println!(" [{}]", clock(t)),
                None => println!(),
            }
        }
    }
    match &report.outcome {
        Ok(r) => {
            print_changes(&report.verdict_changes);
            print_violations(r);
        }
        Err(e) => {
            eprintln!("error: the firmware failed: {e}");
            return EXIT_FIRMWARE;
        }
    }
    if report.identical() {
        EXIT_OK
    } else {
        EXIT_VIOLATED
    }
}

fn open_loop(bundle: &Bundle, scenario: Option<&Path>, o: &Overrides, out: Option<&Path>) -> u8 {
    let mut s = match scenario {
        Some(p) => match load_scenario(p) {
            Ok(s) => s,
            Err(code) => return code,
        },
        None => bundle.scenario.clone(),
    };
    if let Err(e) = replay::apply_overrides(&mut s, o) {
        eprintln!("error: {e}");
        return EXIT_INVALID_INPUT;
    }
    let as_recorded = scenario.is_none() && o.is_empty();
    println!(
        "open-loop replay of {}: recorded outputs of {} into the plant{}",
        bundle.manifest.scenario,
        bundle.manifest.firmware_spec,
        if as_recorded {
            " as recorded"
        } else {
            " with the changes given"
        }
    );
    let report = match with_artifacts(
        &s,
        out,
        |reporter| replay::open_loop(bundle, &s, reporter),
        |r| r.as_ref().ok().and_then(|r| r.outcome.as_ref().ok()),
    ) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
        Err(code) => return code,
    };
    match &report.first_sample_difference {
        None if report.trace_identical => println!(
            "plant trace: identical to the recording ({} kept samples, full-rate trace hash {})",
            report.samples_compared,
            bundle.manifest.trace_hash.as_deref().unwrap_or("-")
        ),
        None => println!(
            "plant trace: the {} kept samples match, the full-rate trace hash differs",
            report.samples_compared
        ),
        Some(d) => {
            let show = |r: &Option<harness::record::SampleRecord>| {
                r.map_or("-".to_string(), |r| {
                    let k = harness::record::SAMPLE_FIELDS
                        .iter()
                        .position(|f| *f == d.field);
                    match k {
                        Some(k) => format!("{}", r.values[k]),
                        None => format!("t = {} ms", r.t_ms),
                    }
                })
            };
            let at = d.recorded.or(d.now).map_or(0, |r| r.t_ms);
            println!(
                "plant trace: differs from the recording from kept sample {} ({}): {} recorded {}, now {}",
                d.index,
                clock(at),
                d.field,
                show(&d.recorded),
                show(&d.now)
            );
        }
    }
    for d in &report.input_drift {
        match &d.first {
            None => println!(
                "  device '{}': the firmware would have read the recorded inputs at all {} step(s)",
                d.device_id, d.steps
            ),
            Some(first) => println!(
                "  device '{}': {} of {} step(s) read other inputs than recorded; first: {first}",
                d.device_id, d.drifted_steps, d.steps
            ),
        }
    }
    if let Some(m) = &report.sequence_mismatch {
        println!("  the scenario calls the firmware differently from the recording: {m}");
    }
    let r = match &report.outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: the playback stopped: {e}");
            return EXIT_VIOLATED;
        }
    };
    print!("{}", crate::output::summary_table(std::slice::from_ref(r)));
    print_changes(&report.verdict_changes);
    print_violations(r);
    if (as_recorded && !report.reproduces_trace()) || !r.passed() {
        EXIT_VIOLATED
    } else {
        EXIT_OK
    }
}

fn field_log(log: &Path, scenario: &Path, o: &Overrides, out: Option<&Path>) -> u8 {
    let text = match std::fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", log.display());
            return EXIT_INVALID_INPUT;
        }
    };
    let parsed = match harness::fieldlog::parse(&log.display().to_string(), &text) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    let mut s = match load_scenario(scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Err(e) = replay::apply_overrides(&mut s, o) {
        eprintln!("error: {e}");
        return EXIT_INVALID_INPUT;
    }
    println!(
        "field log {} ({} rows) judged in scenario {}",
        log.display(),
        parsed.rows.len(),
        s.name
    );
    if !parsed.has_estimate {
        println!("  no dose_estimate_mj_cm2 column: dose.estimate is not applicable");
    }
    let report = match with_artifacts(
        &s,
        out,
        |reporter| harness::fieldlog::judge(&s, parsed, reporter),
        |r| r.as_ref().ok().map(|r| &r.result),
    ) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
        Err(code) => return code,
    };
    for (k, c) in report.ntc.iter().enumerate().filter(|(_, c)| c.rows > 0) {
        println!(
            "  ntc{k}: logged vs plant over {} row(s): largest difference {} counts at {} ms",
            c.rows, c.max_abs_diff_counts, c.at_ms
        );
    }
    print!(
        "{}",
        crate::output::summary_table(std::slice::from_ref(&report.result))
    );
    print_violations(&report.result);
    if report.result.passed() {
        EXIT_OK
    } else {
        EXIT_VIOLATED
    }
}
