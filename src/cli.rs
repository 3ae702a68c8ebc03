//! Command-line parsing and the documented exit codes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every property held (or failed exactly as the scenario expects) |
//! | 1 | a property was violated or a scenario expectation was not met |
//! | 2 | invalid input: a scenario file or a flag |
//! | 3 | the firmware or its transport failed |

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::dut::FirmwareSpec;

use crate::campaign;
use crate::output;

/// Exit code: every property held.
pub const EXIT_OK: u8 = 0;
/// Exit code: a property was violated.
pub const EXIT_VIOLATED: u8 = 1;
/// Exit code: invalid input.
pub const EXIT_INVALID_INPUT: u8 = 2;
/// Exit code: the firmware or its transport failed.
pub const EXIT_FIRMWARE: u8 = 3;

/// Hardware-in-the-loop simulator and test harness for red/NIR light-therapy devices.
#[derive(Debug, Parser)]
#[command(name = "pbm-hil", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios (files or folders of them) against a firmware and judge every property.
    Run {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Firmware to test: `reference` (built in), `exec:COMMAND`, `tcp:HOST:PORT` or
        /// `serial:PATH[@BAUD]` (docs/protocol.md).
        #[arg(long, default_value = "reference")]
        firmware: String,
        /// Transport timeouts and pacing.
        #[command(flatten)]
        transport: TransportArgs,
        /// Folder for per-scenario reports (`DIR/SCENARIO/report.json`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write JUnit XML here (a testsuite per scenario, a testcase per property).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Override every scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Also stream the firmware-boundary trace of every device to `DIR/SCENARIO/`:
        /// `csv`, `vcd`, or `csv,vcd` (needs `--out`).
        #[arg(long, value_delimiter = ',')]
        trace: Vec<TraceFormat>,
        /// Record a replayable bundle of each scenario under `DIR/SCENARIO/` (`pbm-hil replay`).
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// Plant samples kept in a recording, one per this many ms per device.
        #[arg(long, default_value_t = harness::record::DEFAULT_RECORD_RATE_MS)]
        record_rate_ms: u64,
    },
    /// Replay a recorded bundle (re-run against a firmware, or open loop), or judge a field log.
    Replay(crate::replay::ReplayArgs),
    /// Draw charts that need no run.
    Chart {
        /// Which chart.
        #[command(subcommand)]
        chart: ChartCommand,
    },
    /// Generated weeks against a firmware; failures shrunk to scenario files in `--out`.
    #[command(args_conflicts_with_subcommands = true)]
    Campaign {
        /// `merge DIR...`: combine shard results.
        #[command(subcommand)]
        merge: Option<CampaignCommand>,
        /// Weeks in the whole campaign (all shards).
        #[arg(long, default_value_t = 100)]
        weeks: u64,
        /// Campaign seed: week i is generated from (seed, i) alone.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Firmware to test: `reference`.
        #[arg(long, default_value = "reference")]
        firmware: String,
        /// Folder for `campaign.json` and the shrunk failing scenarios.
        #[arg(long, default_value = "campaign-out")]
        out: PathBuf,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N (1-based), weeks with `i % N == I - 1`.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<crate::campaign::Shard>,
        /// Most bench runs spent shrinking one failure.
        #[arg(long, default_value_t = 200)]
        shrink_runs: u32,
    },
    /// Validate scenario files only.
    Check {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Flags of a firmware reached over a transport (`exec:`, `tcp:`, `serial:`).
#[derive(Debug, clap::Args)]
pub struct TransportArgs {
    /// Longest wait for one reply from the firmware, ms (default 2000, or `PBM_HIL_FRAME_TIMEOUT_MS`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub frame_timeout_ms: Option<u64>,
    /// Longest wall-clock time for one device's run, s (default 3600, or `PBM_HIL_RUN_TIMEOUT_S`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub run_timeout_s: Option<u64>,
    /// Pace steps to the wall clock (a week takes a week) and report step jitter at the end.
    #[arg(long)]
    pub realtime: bool,
}

impl TransportArgs {
    /// The transport settings: flags over environment variables over defaults.
    fn config(&self) -> Result<harness::transport::TransportConfig, String> {
        let mut cfg = harness::transport::TransportConfig::from_env()?;
        if let Some(ms) = self.frame_timeout_ms {
            cfg.frame_timeout_ms = ms;
        }
        if let Some(s) = self.run_timeout_s {
            cfg.run_timeout_s = s;
        }
        if self.realtime {
            cfg.pacing = Some(std::sync::Arc::default());
        }
        Ok(cfg)
    }
}

/// Trace export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// Comma-separated values, units in the headers.
    Csv,
    /// Value change dump (GTKWave, Surfer).
    Vcd,
}

/// Charts drawn without a run.
#[derive(Debug, Subcommand)]
pub enum ChartCommand {
    /// A device's dosing chart from the plant model: irradiance against distance (panel) or
    /// across the zone, and minutes needed for 4, 10, 20 and 60 J/cm².
    Device {
        /// Device class: wrap, pad, panel, mask, pen, laser-probe.
        kind: String,
        /// Folder for `device-KIND.svg` and `.png`.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// Subcommands of `campaign`.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Combine the `campaign.json` of shard folders into one summary.
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Write the merged `campaign.json` into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_shard(s: &str) -> Result<crate::campaign::Shard, String> {
    crate::campaign::Shard::parse(s)
        .ok_or_else(|| format!("{s:?} is not a shard; expected I/N with 1 <= I <= N"))
}

/// Run the CLI with the given arguments; returns the process exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_INVALID_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    ExitCode::from(match cli.command {
        Command::Check { paths } => check(&paths),
        Command::Run {
            paths,
            firmware,
            transport,
            out,
            junit,
            seed,
            trace,
            record,
            record_rate_ms,
        } => run(
            &paths,
            &firmware,
            &transport,
            out.as_deref(),
            junit.as_deref(),
            seed,
            &trace,
            record.map(|dir| crate::replay::RecordTarget {
                dir,
                rate_ms: record_rate_ms,
                spec_text: firmware.clone(),
            }),
        ),
        Command::Replay(args) => crate::replay::main(&args),
        Command::Chart {
            chart: ChartCommand::Device { kind, out },
        } => chart_device(&kind, &out),
        Command::Campaign {
            merge: Some(CampaignCommand::Merge { dirs, out }),
            ..
        } => merge(&dirs, out.as_deref()),
        Command::Campaign {
            merge: None,
            weeks,
            seed,
            firmware,
            out,
            jobs,
            shard,
            shrink_runs,
        } => {
            let firmware = match FirmwareSpec::parse(&firmware) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: --firmware {e}");
                    return ExitCode::from(EXIT_INVALID_INPUT);
                }
            };
            let cfg = campaign::CampaignConfig {
                weeks,
                seed,
                jobs: jobs.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                }),
                shard: shard.unwrap_or(campaign::Shard::ALL),
                max_shrink_runs: shrink_runs,
                firmware,
            };
            run_campaign(&cfg, &out)
        }
    })
}

fn load(paths: &[PathBuf]) -> Result<Vec<harness::scenario::Scenario>, u8> {
    harness::format::load_paths(paths).map_err(|errors| {
        for e in &errors {
            eprintln!("error: {e}");
        }
        eprintln!("{} error(s); no scenario was run", errors.len());
        EXIT_INVALID_INPUT
    })
}

fn check(paths: &[PathBuf]) -> u8 {
    match load(paths) {
        Ok(s) => {
            println!("{} scenario(s) valid", s.len());
            EXIT_OK
        }
        Err(code) => code,
    }
}

fn chart_device(kind: &str, out: &std::path::Path) -> u8 {
    let Some(k) = sim::device::DeviceKind::ALL
        .into_iter()
        .find(|k| crate::output::kind_name(*k) == kind)
    else {
        eprintln!(
            "error: unknown device kind {kind:?}; expected one of wrap, pad, panel, mask, pen, laser-probe"
        );
        return EXIT_INVALID_INPUT;
    };
    match harness::report::device_chart(k, out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: failed to write the chart to {}: {e}", out.display());
            EXIT_INVALID_INPUT
        }
    }
}

/// Runs one scenario, with the recorders the requested outputs need.
fn run_one(
    s: &harness::scenario::Scenario,
    firmware: &FirmwareSpec,
    transport: &harness::transport::TransportConfig,
    out: Option<&std::path::Path>,
    trace: &[TraceFormat],
    record: Option<&crate::replay::RecordTarget>,
) -> Result<(harness::result::RunResult, Vec<PathBuf>), String> {
    let mut factory = |kind| firmware.make_with(kind, transport);
    let mut bench = |reporter: &mut dyn harness::events::Reporter| match record {
        Some(target) => crate::replay::run_recorded(s, firmware, transport, reporter, target),
        None => harness::bench::run(s, &mut factory, reporter).map_err(|e| e.to_string()),
    };
    let Some(dir) = out else {
        return bench(&mut harness::events::Discard).map(|r| (r, Vec::new()));
    };
    let sdir = dir.join(&s.name);
    let mut recorder = harness::charts::TraceRecorder::new();
    let mut csv = trace
        .contains(&TraceFormat::Csv)
        .then(|| harness::export::CsvWriter::new(&sdir, "trace"));
    let mut vcd = trace
        .contains(&TraceFormat::Vcd)
        .then(|| harness::export::VcdWriter::new(&sdir, "trace"));
    let result = {
        let mut sinks: Vec<&mut dyn harness::events::Reporter> = vec![&mut recorder];
        if let Some(c) = csv.as_mut() {
            sinks.push(c);
        }
        if let Some(v) = vcd.as_mut() {
            sinks.push(v);
        }
        bench(&mut harness::events::Tee(sinks))
    };
    let io =
        |e: std::io::Error| format!("failed to write the report under {}: {e}", sdir.display());
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            // A failed firmware is what the engineer will debug: keep the trace up to the failure.
            let mut kept = Vec::new();
            let error = format!("{e}\n");
            if harness::report::write_atomic(&sdir.join("error.txt"), error.as_bytes()).is_ok() {
                kept.push(sdir.join("error.txt"));
            }
            if let Some(c) = csv {
                kept.extend(c.finish().unwrap_or_default());
            }
            if let Some(v) = vcd {
                kept.extend(v.finish().unwrap_or_default());
            }
            let kept: Vec<String> = kept.iter().map(|p| p.display().to_string()).collect();
            return Err(format!(
                "{e}\n  kept up to the failure: {}",
                kept.join(", ")
            ));
        }
    };
    let json = serde_json::to_vec_pretty(&result).expect("results serialise");
    harness::report::write_atomic(&sdir.join("report.json"), &json).map_err(io)?;
    let mut files =
        harness::report::write_scenario_artifacts(&sdir, s, &result, &recorder).map_err(io)?;
    if let Some(c) = csv {
        files.extend(c.finish().map_err(io)?);
    }
    if let Some(v) = vcd {
        files.extend(v.finish().map_err(io)?);
    }
    Ok((result, files))
}

#[expect(
    clippy::too_many_arguments,
    reason = "the flags of one subcommand, passed straight from clap"
)]
fn run(
    paths: &[PathBuf],
    firmware: &str,
    transport: &TransportArgs,
    out: Option<&std::path::Path>,
    junit: Option<&std::path::Path>,
    seed: Option<u64>,
    trace: &[TraceFormat],
    record: Option<crate::replay::RecordTarget>,
) -> u8 {
    if !trace.is_empty() && out.is_none() {
        eprintln!(
            "error: --trace needs --out DIR (the traces are written beside each scenario's report)"
        );
        return EXIT_INVALID_INPUT;
    }
    let firmware = match FirmwareSpec::parse(firmware) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --firmware {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    let transport = match transport.config() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    if transport.pacing.is_some() && firmware == FirmwareSpec::Reference {
        eprintln!("error: --realtime paces a firmware over a transport (exec:, tcp:, serial:)");
        return EXIT_INVALID_INPUT;
    }
    let mut scenarios = match load(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(seed) = seed {
        for s in &mut scenarios {
            s.seed = seed;
        }
    }
    let progress = std::io::stderr().is_terminal() && scenarios.len() > 1;
    let mut results = Vec::new();
    let mut firmware_failed = false;
    let mut summaries = Vec::new();
    let mut write_failed = false;
    for (i, s) in scenarios.iter().enumerate() {
        if progress {
            eprint!("\r\x1b[2K[{}/{}] {}", i + 1, scenarios.len(), s.name);
        }
        match run_one(s, &firmware, &transport, out, trace, record.as_ref()) {
            Ok((r, artifacts)) => {
                if out.is_some() {
                    summaries.push(harness::report::RunSummary {
                        result: r.clone(),
                        description: s.description.clone(),
                        dir: PathBuf::from(&s.name),
                        artifacts,
                    });
                }
                results.push(r);
            }
            Err(e) if e.starts_with("failed to write") => {
                eprintln!("\nerror: scenario {}: {e}", s.name);
                write_failed = true;
            }
            Err(e) => {
                eprintln!("\nerror: scenario {}: {e}", s.name);
                firmware_failed = true;
            }
        }
    }
    if let Some(dir) = out
        && let Err(e) = harness::report::write_index(dir, &summaries)
    {
        eprintln!(
            "error: failed to write {}: {e}",
            dir.join("index.html").display()
        );
        write_failed = true;
    }
    if progress {
        eprintln!("\r\x1b[2K{} scenario(s) run", scenarios.len());
    }
    if let Some(j) = transport.pacing.as_ref().and_then(|p| p.jitter()) {
        println!(
            "real-time step jitter over {} steps: p50 {} µs, p99 {} µs, max {} µs",
            j.steps, j.p50_us, j.p99_us, j.max_us
        );
    }
    print!("{}", output::summary_table(&results));
    for r in &results {
        for v in r.verdicts.iter().filter(|v| v.status.is_failure()) {
            for f in &v.violations {
                println!(
                    "  {} [{}] {} at {}: measured {:.3}, limit {:.3}: {}",
                    r.scenario,
                    f.device,
                    v.name,
                    clock(f.t_ms),
                    f.measured,
                    f.limit,
                    f.detail
                );
            }
        }
        for e in &r.expectation_failures {
            println!("  {}: {e}", r.scenario);
        }
        if let Some(why) = &r.invalid {
            println!("  {}: invalid: {why}", r.scenario);
        }
    }
    if let Some(path) = junit
        && let Err(e) = harness::report::write_atomic(path, output::junit(&results).as_bytes())
    {
        eprintln!("error: failed to write {}: {e}", path.display());
        return EXIT_INVALID_INPUT;
    }
    if write_failed {
        return EXIT_INVALID_INPUT;
    }
    let passed = results.iter().filter(|r| r.passed()).count();
    println!("{passed} passed, {} failed", results.len() - passed);
    if firmware_failed {
        EXIT_FIRMWARE
    } else if passed == results.len() {
        EXIT_OK
    } else {
        EXIT_VIOLATED
    }
}

fn run_campaign(cfg: &campaign::CampaignConfig, out: &std::path::Path) -> u8 {
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("error: failed to create {}: {e}", out.display());
        return EXIT_INVALID_INPUT;
    }
    let terminal = std::io::stderr().is_terminal();
    // On a terminal one line rewritten in place; in a CI log a plain line every tenth.
    let progress = |done: usize, total: usize, failed: usize| {
        if terminal {
            eprint!("\r\x1b[2K[{done}/{total}] weeks, {failed} failed");
        } else if done == total || done.is_multiple_of(total.div_ceil(10).max(1)) {
            eprintln!("campaign: {done}/{total} weeks, {failed} failed");
        }
    };
    let summary = campaign::run_campaign(cfg, Some(out), &progress);
    if terminal {
        eprintln!();
    }
    finish(&summary, out)
}

fn merge(dirs: &[PathBuf], out: Option<&std::path::Path>) -> u8 {
    match campaign::merge(dirs) {
        Ok(summary) => match out {
            Some(out) => finish(&summary, out),
            None => {
                print!("{}", campaign::table(&summary));
                if summary.failed == 0 {
                    EXIT_OK
                } else {
                    EXIT_VIOLATED
                }
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INVALID_INPUT
        }
    }
}

fn finish(summary: &campaign::Summary, out: &std::path::Path) -> u8 {
    let path = out.join("campaign.json");
    let json = serde_json::to_vec_pretty(summary).expect("summaries serialise");
    if let Err(e) = harness::report::write_atomic(&path, &json) {
        eprintln!("error: failed to write {}: {e}", path.display());
        return EXIT_INVALID_INPUT;
    }
    let chart = campaign::chart(summary).and_then(|c| {
        let svg = out.join("campaign.svg");
        harness::report::write_atomic(&svg, c.svg.as_bytes())?;
        harness::report::write_atomic(&out.join("campaign.png"), &c.png)?;
        Ok(svg)
    });
    print!("{}", campaign::table(summary));
    println!("summary: {}", path.display());
    match chart {
        Ok(svg) => println!("chart: {}", svg.display()),
        Err(e) => {
            eprintln!(
                "error: failed to write the campaign chart under {}: {e}",
                out.display()
            );
            return EXIT_INVALID_INPUT;
        }
    }
    if summary.failed == 0 {
        EXIT_OK
    } else {
        EXIT_VIOLATED
    }
}

/// Virtual time as `day N HH:MM:SS.mmm`.
pub fn clock(t_ms: u64) -> String {
    let day = t_ms / 86_400_000;
    let ms = t_ms % 86_400_000;
    format!(
        "day {day} {:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
