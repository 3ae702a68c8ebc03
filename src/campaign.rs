//! `pbm-hil campaign`: generated weeks in parallel, failures shrunk to scenario files, a summary.
//!
//! Week `i` of a campaign is generated from `(seed, i)` alone (its own ChaCha stream), so the
//! same seed and week count give the same verdicts on any number of threads or shards, and a
//! sharded campaign merges into exactly the summary of the unsharded one. Each failing week is
//! shrunk with proptest's `ValueTree::simplify`/`complicate` from the week's own tree (no other
//! randomness: deterministic), keeping a candidate only if it still violates the property the
//! week first violated, and the smallest is written as `DIR/week-I.toml`; the writer's round
//! trip makes `pbm-hil run DIR/week-I.toml` replay the same violation, and the campaign checks
//! that by loading the file back and running it once more. A recorded bundle of the shrunk run,
//! `DIR/week-I.bundle/`, sits beside it for `pbm-hil replay`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use harness::result::{RunResult, SessionEnd};
use harness::scenario::Scenario;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};

/// Which part of the weeks this process runs: weeks `i` with `i % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// The whole campaign.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parse `I/N` (1-based `I`, as CI matrices count).
    pub fn parse(s: &str) -> Option<Shard> {
        let (i, n) = s.split_once('/')?;
        let (i, n): (u64, u64) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
        (i >= 1 && i <= n).then_some(Shard {
            index: i - 1,
            count: n,
        })
    }
}

/// A campaign to run.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    /// Weeks in the whole campaign (all shards).
    pub weeks: u64,
    /// Campaign seed.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Which weeks this process runs.
    pub shard: Shard,
    /// Most bench runs spent shrinking one failure.
    pub max_shrink_runs: u32,
    /// The firmware under test.
    pub firmware: harness::dut::FirmwareSpec,
}

/// What one week concluded, with the figures the summary's distributions are made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeekOutcome {
    /// Week index.
    pub week: u64,
    /// Every property held.
    pub passed: bool,
    /// A fault was injected but never fired: the bench cannot judge the week (not a failure).
    pub unjudgeable: bool,
    /// Properties violated (dotted names), plus `expectation` / `invalid` when those failed.
    pub violated: Vec<String>,
    /// Hottest skin over the week's sessions, °C (`None`: no session).
    pub peak_skin_c: Option<f64>,
    /// Largest per-session thermal dose, CEM43 minutes (`None`: no session).
    pub cem43_max: Option<f64>,
    /// Largest relative dose error of a completed session (|zone mean / target − 1|; `None`: no
    /// completed session).
    pub dose_error_max: Option<f64>,
    /// The shrunk scenario file (name in the output folder), for a failed week.
    pub file: Option<String>,
    /// Bench runs spent shrinking.
    pub shrink_runs: u32,
    /// The written file was loaded back and violates the same property.
    pub replay_verified: bool,
}

/// Minimum, median, 95th percentile and maximum of a figure over the weeks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Smallest.
    pub min: f64,
    /// Median (nearest rank).
    pub median: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

/// `campaign.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Campaign seed.
    pub seed: u64,
    /// Weeks run (in this summary's shards).
    pub weeks_run: u64,
    /// Weeks where every property held.
    pub passed: u64,
    /// Weeks with a violation.
    pub failed: u64,
    /// Weeks whose fault never fired.
    pub unjudgeable: u64,
    /// Per property (catalog order), the number of weeks violating it.
    pub violations: Vec<(String, u64)>,
    /// Hottest skin per week, °C.
    pub peak_skin_c: Option<Distribution>,
    /// Largest per-session CEM43 per week.
    pub cem43: Option<Distribution>,
    /// Largest completed-session dose error per week (relative).
    pub dose_error: Option<Distribution>,
    /// Every week, in week order (merge recomputes the summary from these).
    pub weeks: Vec<WeekOutcome>,
}

/// The tree of week `i`: a ChaCha stream seeded from `(seed, i)` alone.
fn week_tree(seed: u64, week: u64) -> Box<dyn ValueTree<Value = Scenario>> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&week.to_le_bytes());
    key[16..24].copy_from_slice(b"pbm-week");
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    Box::new(
        harness::generate::any_week()
            .new_tree(&mut runner)
            .expect("week strategies never reject"),
    )
}

/// The generated scenario of week `i`, named `week-I`.
pub fn week_scenario(seed: u64, week: u64) -> Scenario {
    named(week_tree(seed, week).current(), week)
}

fn named(mut s: Scenario, week: u64) -> Scenario {
    s.name = format!("week-{week}");
    s
}

fn violated(s: &Scenario, r: &RunResult) -> Vec<String> {
    let mut out: Vec<String> = r
        .verdicts
        .iter()
        .filter(|v| v.status.is_failure())
        .map(|v| v.name.to_string())
        .collect();
    if !r.expectation_failures.is_empty() {
        out.push("expectation".into());
    }
    if r.invalid.is_some() && !harness::generate::has_faults(s) {
        out.push("invalid".into());
    }
    out
}

fn run(
    s: &Scenario,
    firmware: &harness::dut::FirmwareSpec,
) -> Result<RunResult, harness::BenchError> {
    // Weeks keep verdicts and figures, not the trace hash.
    harness::bench::run_unhashed(
        s,
        &mut |kind| firmware.make(kind),
        &mut harness::events::Discard,
    )
}

/// Run week `i`; shrink and write it into `out` if it fails.
pub fn run_week(cfg: &CampaignConfig, week: u64, out: Option<&Path>) -> WeekOutcome {
    let mut tree = week_tree(cfg.seed, week);
    let scenario = named(tree.current(), week);
    let result = run(&scenario, &cfg.firmware);
    let (violations, r) = match &result {
        Ok(r) => (violated(&scenario, r), Some(r)),
        Err(e) => (vec![format!("firmware: {e}")], None),
    };
    let unjudgeable = r.is_some_and(|r| r.invalid.is_some()) && violations.is_empty();
    let mut outcome = WeekOutcome {
        week,
        passed: violations.is_empty(),
        unjudgeable,
        violated: violations.clone(),
        peak_skin_c: r
            .map(|r| figure(r, |s| s.peak_skin_c))
            .filter(|x| x.is_finite()),
        cem43_max: r.map(|r| figure(r, |s| s.cem43)).filter(|x| x.is_finite()),
        dose_error_max: r.map(dose_error).filter(|x| x.is_finite()),
        file: None,
        shrink_runs: 0,
        replay_verified: false,
    };
    let Some(first) = violations.first().cloned() else {
        return outcome;
    };
    // Shrink: keep a simpler candidate only if it still violates the first property.
    let still_fails = |s: &Scenario| match run(s, &cfg.firmware) {
        Ok(r) => violated(s, &r).contains(&first),
        Err(e) => first == format!("firmware: {e}"),
    };
    let mut best = scenario;
    let mut last_failed = true;
    while outcome.shrink_runs < cfg.max_shrink_runs {
        let moved = if last_failed {
            tree.simplify()
        } else {
            tree.complicate()
        };
        if !moved {
            break;
        }
        let candidate = named(tree.current(), week);
        outcome.shrink_runs += 1;
        last_failed = still_fails(&candidate);
        if last_failed {
            best = candidate;
        }
    }
    let text = harness::format::to_toml(&best);
    let file = format!("{}.toml", best.name);
    outcome.replay_verified = harness::format::load_str(&file, &text)
        .map(|back| still_fails(&back))
        .unwrap_or(false);
    if let Some(dir) = out {
        let path = dir.join(&file);
        if let Err(e) = harness::report::write_atomic(&path, text.as_bytes()) {
            eprintln!("error: failed to write {}: {e}", path.display());
        }
        // A replayable recording of the shrunk failure beside it (`pbm-hil replay`).
        let bundle = dir.join(format!("{}.bundle", best.name));
        let record = harness::record::RecordConfig::new(&cfg.firmware, &spec_text(&cfg.firmware));
        if let Err(e) = harness::record::record_run(
            &best,
            &mut |kind| cfg.firmware.make(kind),
            &mut harness::events::Discard,
            &bundle,
            &record,
        ) {
            eprintln!(
                "error: failed to write the bundle {}: {e}",
                bundle.display()
            );
        }
    }
    outcome.file = Some(file);
    outcome
}

/// The `--firmware` text of a spec (what a bundle's manifest stores for replay).
fn spec_text(spec: &harness::dut::FirmwareSpec) -> String {
    use harness::dut::FirmwareSpec::*;
    match spec {
        Reference => "reference".into(),
        Exec(cmd) => format!("exec:{cmd}"),
        Tcp(addr) => format!("tcp:{addr}"),
        Serial { path, baud } => format!("serial:{path}@{baud}"),
    }
}

fn figure(r: &RunResult, f: impl Fn(&harness::result::SessionSummary) -> f64) -> f64 {
    r.sessions.iter().map(f).fold(f64::NAN, f64::max)
}

fn dose_error(r: &RunResult) -> f64 {
    r.sessions
        .iter()
        .filter(|s| s.end == SessionEnd::Completed && s.target_j_cm2 > 0.0)
        .map(|s| (s.fluence_mean_j_cm2 / s.target_j_cm2 - 1.0).abs())
        .fold(f64::NAN, f64::max)
}

/// Run this shard's weeks on `cfg.jobs` threads; `progress(done, total, failed)` after each.
pub fn run_campaign(
    cfg: &CampaignConfig,
    out: Option<&Path>,
    progress: &(dyn Fn(usize, usize, usize) + Sync),
) -> Summary {
    let mut weeks: Vec<u64> = (0..cfg.weeks)
        .filter(|i| i % cfg.shard.count == cfg.shard.index)
        .collect();
    // Costliest weeks first, so that the last weeks to finish are short ones and no worker idles
    // long at the end (the summary is in week order whatever the order of work).
    weeks.sort_by_cached_key(|&w| std::cmp::Reverse(estimated_cost(&week_scenario(cfg.seed, w))));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(weeks.len()));
    std::thread::scope(|scope| {
        for _ in 0..cfg.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&week) = weeks.get(k) else { break };
                    let o = run_week(cfg, week, out);
                    if !o.passed {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    results.lock().expect("no worker panics").push(o);
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(d, weeks.len(), failed.load(Ordering::Relaxed));
                }
            });
        }
    });
    summarise(cfg.seed, results.into_inner().expect("no worker panics"))
}

/// A week's expected cost, in control ticks: its treatments' ticks (a device on the body runs
/// the 10 ms loop) plus each device's rest wakes (one a minute) and the global actions (each
/// rebuilds the thermal network). Only the order matters.
pub fn estimated_cost(s: &Scenario) -> u64 {
    use harness::scenario::Action;
    /// Ticks a rest wake costs, about (BENCHMARKS.md round 3: ~4.5 k instructions against
    /// ~3.5 k a step of the runner week).
    const WAKE_TICKS: u64 = 1;
    /// Ticks a network rebuild with its fresh jumps costs, about: a 20-week campaign spent
    /// 1.82 G instructions on 1,821 new networks' jumps (BENCHMARKS.md round 3), ~1 M each.
    const REBUILD_TICKS: u64 = 250;
    let mut ticks = 0;
    for d in &s.devices {
        let mut placed_at = None;
        for t in &d.timeline {
            match &t.action {
                Action::Treat(tr) => ticks += tr.remove_after_ms / 10,
                Action::Place { .. } => placed_at = Some(t.at_ms),
                Action::Remove => {
                    if let Some(at) = placed_at.take() {
                        ticks += t.at_ms.saturating_sub(at) / 10;
                    }
                }
                _ => {}
            }
        }
        ticks += s.duration_ms / 60_000 * WAKE_TICKS;
    }
    let rebuilds: usize = s.global.len()
        + s.training
            .iter()
            .map(|t| harness::scenario::expand_training(t, &s.environment).len())
            .sum::<usize>();
    ticks + rebuilds as u64 * REBUILD_TICKS
}

/// The summary of a set of weeks (sorted by week, duplicates dropped).
pub fn summarise(seed: u64, mut weeks: Vec<WeekOutcome>) -> Summary {
    weeks.sort_by_key(|w| w.week);
    weeks.dedup_by_key(|w| w.week);
    let violations = harness::properties::CATALOG
        .iter()
        .map(|p| p.name.to_string())
        .chain(["expectation".to_string(), "invalid".to_string()])
        .map(|name| {
            let n = weeks.iter().filter(|w| w.violated.contains(&name)).count() as u64;
            (name, n)
        })
        .collect();
    let dist =
        |f: fn(&WeekOutcome) -> Option<f64>| distribution(weeks.iter().filter_map(f).collect());
    Summary {
        seed,
        weeks_run: weeks.len() as u64,
        passed: weeks.iter().filter(|w| w.passed).count() as u64,
        failed: weeks.iter().filter(|w| !w.passed).count() as u64,
        unjudgeable: weeks.iter().filter(|w| w.unjudgeable).count() as u64,
        violations,
        peak_skin_c: dist(|w| w.peak_skin_c),
        cem43: dist(|w| w.cem43_max),
        dose_error: dist(|w| w.dose_error_max),
        weeks,
    }
}

/// Nearest-rank statistics of the finite values (weeks without a session have none).
pub fn distribution(mut v: Vec<f64>) -> Option<Distribution> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Distribution {
        min: v[0],
        median: rank(0.5),
        p95: rank(0.95),
        max: v[v.len() - 1],
    })
}

/// Merge the `campaign.json` of shard folders.
pub fn merge(dirs: &[PathBuf]) -> Result<Summary, String> {
    let mut seed = None;
    let mut weeks = Vec::new();
    for dir in dirs {
        let path = dir.join("campaign.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let s: Summary = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a campaign summary: {e}", path.display()))?;
        if seed.is_some_and(|seed| seed != s.seed) {
            return Err(format!(
                "{}: seed {} differs from the other shards' {}",
                path.display(),
                s.seed,
                seed.unwrap_or_default()
            ));
        }
        seed = Some(s.seed);
        weeks.extend(s.weeks);
    }
    Ok(summarise(seed.unwrap_or_default(), weeks))
}

/// The campaign chart (`campaign.svg`/`.png`): the three per-week distributions against their
/// default limits, and the weeks violating each property.
pub fn chart(s: &Summary) -> std::io::Result<harness::charts::Chart> {
    use harness::charts::campaign::CampaignFigure;
    let per_week = |f: fn(&WeekOutcome) -> Option<f64>| s.weeks.iter().filter_map(f).collect();
    let figure = CampaignFigure {
        title: format!(
            "campaign seed {}: {} weeks, {} passed, {} failed, {} unjudgeable",
            s.seed, s.weeks_run, s.passed, s.failed, s.unjudgeable
        ),
        peak_skin_c: per_week(|w| w.peak_skin_c),
        cem43: per_week(|w| w.cem43_max),
        dose_error: per_week(|w| w.dose_error_max),
        violations: s.violations.clone(),
        limits: harness::properties::Limits::default(),
    };
    harness::charts::render("campaign", &figure)
}

/// The short table printed after a campaign.
pub fn table(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "campaign seed {}: {} weeks, {} passed, {} failed, {} unjudgeable (fault never fired)",
        s.seed, s.weeks_run, s.passed, s.failed, s.unjudgeable
    );
    for (name, n) in s.violations.iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(out, "  {name:<20} violated in {n} week(s)");
    }
    let _ = writeln!(
        out,
        "  {:<20} {:>9} {:>9} {:>9} {:>9}",
        "figure", "min", "median", "p95", "max"
    );
    for (name, d) in [
        ("peak skin °C", s.peak_skin_c),
        ("CEM43 min", s.cem43),
        ("dose error", s.dose_error),
    ] {
        if let Some(d) = d {
            let _ = writeln!(
                out,
                "  {name:<20} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                d.min, d.median, d.p95, d.max
            );
        }
    }
    for w in s.weeks.iter().filter(|w| !w.passed) {
        let _ = writeln!(
            out,
            "  week {} violates {}: {} (shrunk in {} runs{})",
            w.week,
            w.violated.join(", "),
            w.file.as_deref().unwrap_or("-"),
            w.shrink_runs,
            if w.replay_verified {
                ", replay verified"
            } else {
                ", REPLAY NOT VERIFIED"
            }
        );
    }
    out
}
