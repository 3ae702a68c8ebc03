//! Recorded runs and their replay (issue 9): record → re-run says identical, a seeded bug is found
//! at its step, open loop reproduces the plant trace bit for bit, and bad bundles and field logs
//! are refused with a message that says where.

use std::path::{Path, PathBuf};

use firmware::boundary::{InputFrame, OutputFrame};
use harness::dut::{Dut, DutError, DutIdentity, FirmwareSpec};
use harness::events::Discard;
use harness::record::{Bundle, BundleError, RecordConfig};
use harness::replay::{self, Overrides};
use harness::scenario::Scenario;
use sim::device::DeviceKind;

use crate::common::*;

fn bundle_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("replay")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn reference_config() -> RecordConfig {
    RecordConfig::new(&FirmwareSpec::Reference, "reference")
}

/// Record `s` with the reference firmware into a fresh bundle folder and open it.
fn record(name: &str, s: &Scenario) -> Bundle {
    let dir = bundle_dir(name);
    let (result, manifest) = harness::record::record_run(
        s,
        &mut |kind| FirmwareSpec::Reference.make(kind),
        &mut Discard,
        &dir,
        &reference_config(),
    )
    .expect("the bundle is written");
    assert!(result.is_ok(), "{name}: the reference firmware runs");
    assert!(manifest.complete);
    Bundle::open(&dir).unwrap_or_else(|e| panic!("{name}: bundle reopens: {e}"))
}

fn library(file: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    harness::format::load_paths(&[path])
        .unwrap_or_else(|e| panic!("{file} is invalid: {e:?}"))
        .remove(0)
}

/// Library files handled by shard `k` of [`LIBRARY_SHARDS`] (every file, whatever is added).
fn library_shard(k: usize) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "the library is there");
    files
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % LIBRARY_SHARDS == k)
        .map(|(_, f)| f)
        .collect()
}

/// The library is replayed in this many tests, so the test harness runs them in parallel.
const LIBRARY_SHARDS: usize = 4;

#[test]
fn library_replays_identically_0() {
    library_replays_identically(0);
}
#[test]
fn library_replays_identically_1() {
    library_replays_identically(1);
}
#[test]
fn library_replays_identically_2() {
    library_replays_identically(2);
}
#[test]
fn library_replays_identically_3() {
    library_replays_identically(3);
}

/// Every library scenario, recorded and re-run against the same firmware, is identical, and its
/// open-loop replay reproduces the recorded plant trace bit for bit.
fn library_replays_identically(shard: usize) {
    let files = library_shard(shard);
    for file in &files {
        let s = library(file);
        let bundle = record(&format!("lib-{file}"), &s);
        let recorded_hash = bundle.manifest.trace_hash.clone();
        let re = replay::rerun(
            &bundle,
            &mut |kind| FirmwareSpec::Reference.make(kind),
            &mut Discard,
        )
        .expect("replays");
        assert!(
            re.identical(),
            "{file}: {:?} {:?}",
            re.divergence,
            re.verdict_changes
        );
        assert!(re.steps_compared > 0, "{file}: steps were compared");
        let r = re.outcome.expect("runs");
        assert_eq!(
            Some(harness::record::hex(r.trace_hash)),
            recorded_hash,
            "{file}: the re-run's trace is the recorded one"
        );
        let open = replay::open_loop(&bundle, &bundle.scenario, &mut Discard).expect("plays");
        assert!(
            open.reproduces_trace(),
            "{file}: {:?}",
            open.first_sample_difference
        );
        assert!(open.samples_compared > 0);
        assert!(open.verdict_changes.is_empty(), "{file}");
        assert!(open.input_drift.iter().all(|d| d.drifted_steps == 0));
    }
}

/// One wrap session on the left calf at 08:00: small enough to record many times.
fn one_session(name: &str) -> Scenario {
    let w = DeviceKind::Wrap;
    let mut s = scenario(
        name,
        1,
        vec![device(
            "wrap",
            w,
            vec![treat(w, 0, 8, 0, sim::body::Zone::LeftCalf, 22)],
        )],
        vec![],
    );
    s.description = "one wrap session, recorded for the replay tests".into();
    s
}

/// Every step of device 0's recording, in order.
fn recorded_steps(bundle: &Bundle) -> Vec<(InputFrame, OutputFrame)> {
    let mut frames = bundle.frames(0).expect("frames open");
    let mut steps = Vec::new();
    while let Some(r) = frames.next_record().expect("frames read") {
        if let harness::record::FrameRecord::Step { input, output } = r {
            steps.push((input, output));
        }
    }
    steps
}

/// The reference firmware with a seeded bug from step `from` on: the red channel's duty halved
/// (a wrong PWM prescaler after some code path), everything else as shipped.
struct HalvedRedFrom {
    inner: harness::dut::InProcess<firmware::Firmware>,
    from: u64,
    step: u64,
}

impl Dut for HalvedRedFrom {
    fn identity(&self) -> DutIdentity {
        DutIdentity {
            name: "reference+halved-red".into(),
            version: "test".into(),
            build: String::new(),
        }
    }
    fn boot(&mut self, nvm: &[u8; firmware::boundary::NVM_SIZE]) -> Result<(), DutError> {
        self.inner.boot(nvm)
    }
    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let mut o = self.inner.step(input)?;
        if self.step >= self.from {
            o.duty_permille[0] /= 2;
        }
        self.step += 1;
        Ok(o)
    }
    fn power_off(&mut self) {
        self.inner.power_off();
    }
}

/// A seeded-bug firmware re-run against a reference recording: the first divergence is the
/// step where the bug starts, on the red duty, with the recorded and the new value, at the
/// recorded firmware and bench time; the dose properties change verdict.
#[test]
fn seeded_bug_diverges_at_its_first_step() {
    let bundle = record("seeded-bug", &one_session("seeded-bug"));
    let steps = recorded_steps(&bundle);
    // The 50th step with the red channel on: well inside the session.
    let (from, (input, output)) = steps
        .iter()
        .enumerate()
        .filter(|(_, (_, o))| o.duty_permille[0] > 1)
        .nth(49)
        .expect("the session emits red for 50 steps");
    let report = replay::rerun(
        &bundle,
        &mut |kind| {
            Ok(Box::new(HalvedRedFrom {
                inner: harness::dut::reference(harness::plant_io::device_class(kind)),
                from: from as u64,
                step: 0,
            }))
        },
        &mut Discard,
    )
    .expect("replays");
    let d = report.divergence.clone().expect("the bug is found");
    assert_eq!(d.device_id, "wrap");
    assert_eq!(d.step, from as u64, "{d}");
    assert_eq!(d.field, "output.duty_permille[0]");
    assert_eq!(d.recorded, output.duty_permille[0].to_string());
    assert_eq!(d.now, (output.duty_permille[0] / 2).to_string());
    assert_eq!(d.now_ms, Some(input.now_ms));
    // Boot at bench time 0 with zero uptime: firmware and bench time agree.
    assert_eq!(d.t_ms, Some(u64::from(input.now_ms)));
    assert!(!report.identical());
    assert!(
        report
            .verdict_changes
            .iter()
            .any(|c| c.property == "dose.session" && c.recorded == "held"),
        "{:?}",
        report.verdict_changes
    );
}

/// The same bug from the first step: the divergence is at step 0 (the boot step), not later.
#[test]
fn seeded_bug_from_boot_diverges_at_the_first_emitting_step() {
    let bundle = record("seeded-bug-0", &one_session("seeded-bug-0"));
    let steps = recorded_steps(&bundle);
    let first_red = steps
        .iter()
        .position(|(_, o)| o.duty_permille[0] > 1)
        .expect("red is driven");
    let report = replay::rerun(
        &bundle,
        &mut |kind| {
            Ok(Box::new(HalvedRedFrom {
                inner: harness::dut::reference(harness::plant_io::device_class(kind)),
                from: 0,
                step: 0,
            }))
        },
        &mut Discard,
    )
    .expect("replays");
    let d = report.divergence.expect("the bug is found");
    assert_eq!(
        (d.step, d.field.as_str()),
        (first_red as u64, "output.duty_permille[0]")
    );
}

/// Open loop under tighter limits re-judges the run on the same plant trace; under another
/// skin type the plant trace differs, and the inputs drift from the recorded ones.
#[test]
fn open_loop_rejudges_under_other_limits_and_plant() {
    let bundle = record("open-loop", &one_session("open-loop"));
    let peak = bundle_peak_skin(&bundle);
    let mut tight = bundle.scenario.clone();
    replay::apply_overrides(
        &mut tight,
        &Overrides {
            limits: vec![("skin_normal_c".into(), peak - 0.5)],
            ..Overrides::default()
        },
    )
    .expect("a known limit");
    let open = replay::open_loop(&bundle, &tight, &mut Discard).expect("plays");
    assert!(open.reproduces_trace(), "limits do not change the plant");
    assert!(
        open.verdict_changes
            .iter()
            .any(|c| c.property == "skin.normal" && c.now == "violated"),
        "{:?}",
        open.verdict_changes
    );

    let mut dark = bundle.scenario.clone();
    replay::apply_overrides(
        &mut dark,
        &Overrides {
            skin_type: Some(sim::body::SkinType::VI),
            ..Overrides::default()
        },
    )
    .expect("applies");
    let open = replay::open_loop(&bundle, &dark, &mut Discard).expect("plays");
    assert!(!open.trace_identical);
    assert!(open.first_sample_difference.is_some());
    assert!(open.input_drift[0].drifted_steps > 0);
    assert!(
        open.outcome.is_ok(),
        "the same calls are made: playback runs to the end"
    );

    let mut bad = bundle.scenario.clone();
    let e = replay::apply_overrides(
        &mut bad,
        &Overrides {
            limits: vec![("skin_max".into(), 40.0)],
            ..Overrides::default()
        },
    )
    .expect_err("unknown limit");
    assert!(e.contains("skin_normal_c"), "{e}");
}

/// Hottest skin of the recorded run, °C, from the kept samples.
fn bundle_peak_skin(bundle: &Bundle) -> f64 {
    let mut r = bundle.samples().expect("opens");
    let mut peak = f64::NEG_INFINITY;
    while let Some(s) = r.next_sample().expect("reads") {
        peak = peak.max(s.values[0]);
    }
    assert!(peak > 30.0, "skin warmed: {peak}");
    peak
}

fn open_err(dir: &Path) -> BundleError {
    Bundle::open(dir).expect_err("refused")
}

/// A bundle of another format version is refused, naming the file and both versions.
#[test]
fn other_format_versions_are_refused_with_a_clear_message() {
    let bundle = record("old-version", &one_session("old-version"));
    let manifest = bundle.dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("reads");
    for (old, found) in [(0, 0), (2, 2)] {
        let edited = text.replacen(
            "\"format_version\": 1",
            &format!("\"format_version\": {old}"),
            1,
        );
        // An old manifest may lack today's fields: the version is still what is reported.
        let edited = edited.replacen("\"complete\": true,", "", 1);
        std::fs::write(&manifest, edited).expect("writes");
        let e = open_err(&bundle.dir);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: bundle format {found}, this pbm-hil reads format 1",
                manifest.display()
            )
        );
    }
    std::fs::write(&manifest, &text).expect("restores");
    // A frames file of another version is refused the same way.
    let frames = bundle.dir.join("device-0.frames");
    let mut bytes = std::fs::read(&frames).expect("reads");
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(&frames, &bytes).expect("writes");
    assert_eq!(
        open_err(&bundle.dir).to_string(),
        format!(
            "{}: bundle format 7, this pbm-hil reads format 1",
            frames.display()
        )
    );
    // And on the command line it is exit code 2.
    let code = pbm_hil::cli::main(
        ["pbm-hil", "replay", bundle.dir.to_str().expect("utf-8")].map(Into::into),
    );
    assert_eq!(
        code,
        std::process::ExitCode::from(pbm_hil::cli::EXIT_INVALID_INPUT)
    );
}

/// Truncated or corrupt frames files, incomplete and edited bundles are refused, naming the
/// file and, for binary damage, the byte offset.
#[test]
fn damaged_bundles_are_refused_naming_the_place() {
    let bundle = record("damaged", &one_session("damaged"));
    let frames = bundle.dir.join("device-0.frames");
    let good = std::fs::read(&frames).expect("reads");
    let half = good.len() / 2;
    let cases: Vec<(&str, Vec<u8>, u64, &str)> = vec![
        (
            "truncated mid-file",
            good[..half].to_vec(),
            half as u64,
            "truncated",
        ),
        (
            "truncated before the end record",
            good[..good.len() - 4].to_vec(),
            0,
            "truncated",
        ),
        (
            "unknown tag",
            {
                let mut b = good.clone();
                b[12] = 0x7e;
                b
            },
            12,
            "unknown record tag 0x7e",
        ),
        ("bad magic", b"NOTFRAMExxxx".to_vec(), 0, "bad magic"),
        (
            "bytes after the end",
            [good.clone(), vec![0]].concat(),
            good.len() as u64,
            "after the end record",
        ),
    ];
    for (what, bytes, offset, message) in cases {
        std::fs::write(&frames, &bytes).expect("writes");
        match open_err(&bundle.dir) {
            BundleError::Corrupt {
                path,
                offset: at,
                message: m,
            } => {
                assert_eq!(path, frames, "{what}");
                assert!(m.contains(message), "{what}: {m}");
                if offset > 0 {
                    assert_eq!(at, offset, "{what}: {m}");
                } else if what.starts_with("truncated") {
                    assert!(at <= bytes.len() as u64 && at > 12, "{what}: {at}");
                }
            }
            other => panic!("{what}: {other}"),
        }
    }
    std::fs::write(&frames, &good).expect("restores");
    Bundle::open(&bundle.dir).expect("the restored bundle opens");

    // A manifest still saying `complete: false` (the recorder was killed).
    let manifest = bundle.dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("reads");
    std::fs::write(
        &manifest,
        text.replace("\"complete\": true", "\"complete\": false"),
    )
    .expect("writes");
    assert!(matches!(
        open_err(&bundle.dir),
        BundleError::Incomplete { .. }
    ));
    std::fs::write(&manifest, &text).expect("restores");

    // A scenario edited after recording.
    let scenario = bundle.dir.join("scenario.toml");
    let s = std::fs::read_to_string(&scenario).expect("reads");
    std::fs::write(&scenario, format!("{s}\n# edited\n")).expect("writes");
    let e = open_err(&bundle.dir).to_string();
    assert!(e.contains("scenario.toml") && e.contains("edited"), "{e}");
}

/// Field-log lines that cannot be read are refused with their line and column.
#[test]
fn bad_field_log_rows_are_refused_naming_line_and_column() {
    let header = "time_ms,duty_ch0_permille,duty_ch1_permille,ntc0_counts";
    let cases: [(&str, String, usize, usize, &str); 7] = [
        ("empty", String::new(), 1, 1, "empty log"),
        (
            "unknown column",
            "time_ms,duty_ch0_permille,duty_ch1,x\n".into(),
            1,
            3,
            "unknown column \"duty_ch1\"",
        ),
        (
            "missing column",
            "time_ms,duty_ch0_permille\n0,0\n".into(),
            1,
            3,
            "missing column \"duty_ch1_permille\"",
        ),
        (
            "duty out of range",
            format!("{header}\n0,0,0,2000\n1000,1200,0,2000\n"),
            3,
            2,
            "duty_ch0_permille: \"1200\" is not an integer in 0..=1000",
        ),
        (
            "not a number",
            format!("# a comment\n{header}\n0,0,0,2000\n1000,500,0,abc\n"),
            4,
            4,
            "ntc0_counts: \"abc\"",
        ),
        (
            "time going back",
            format!("{header}\n0,0,0,2000\n1000,500,0,2000\n1000,500,0,2000\n"),
            4,
            1,
            "time_ms 1000 does not increase",
        ),
        (
            "short row",
            format!("{header}\n0,0,0,2000\n1000,500\n"),
            3,
            3,
            "2 fields; the header names 4",
        ),
    ];
    for (what, text, line, column, message) in cases {
        let e = harness::fieldlog::parse("log.csv", &text).expect_err(what);
        assert_eq!((e.line, e.column), (line, column), "{what}: {e}");
        assert!(e.message.contains(message), "{what}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("log.csv:{line}:{column}: "))
        );
    }
}

/// Field-log rows from a run's samples: a row whenever what the firmware drove or reported
/// changes, and at least every second (for the NTC counts), as a device's logger would write.
struct LogWriter {
    rows: Vec<String>,
    last: Option<(u64, [u16; 4], u8)>,
}

impl harness::events::Reporter for LogWriter {
    fn event(&mut self, event: &harness::events::Event) {
        let harness::events::Event::Sample(s) = event else {
            return;
        };
        let o = &s.output;
        let drive = [
            o.duty_permille[0],
            o.duty_permille[1],
            o.current_ma[0],
            o.current_ma[1],
        ];
        let row = format!(
            "{},{},{},{},{},{},{},{},{}",
            s.t_ms,
            drive[0],
            drive[1],
            drive[2],
            drive[3],
            s.input.adc.contact_ntc[0],
            o.state,
            o.dose_estimate_mj_cm2,
            u8::from(o.hw_enable)
        );
        match self.last {
            Some((t, _, _)) if t == s.t_ms => {
                *self.rows.last_mut().expect("a row at t") = row;
            }
            Some((t, d, st)) if d == drive && st == o.state && s.t_ms < t + 1_000 => return,
            _ => self.rows.push(row),
        }
        self.last = Some((s.t_ms, drive, o.state));
    }
}

/// Largest difference between the NTC counts a log holds and those the plant reads at the same
/// instant, counts. The temperature is the same (the same drive at the same instants), but the
/// replay reads the sensors at other instants than the logged run, so each side has its own noise
/// draw: `sim::sensors::NTC_NOISE_LSB` = 0.5 LSB rms each, 0.71 LSB rms for the difference, so
/// 5 LSB is seven sigma, plus 1 LSB of quantization either way.
const NTC_REPLAY_NOISE_COUNTS: u16 = 6;

/// A well-behaved session's log (the reference firmware's own outputs, logged at 1 s) is judged
/// by the same properties as the run it came from, charted, and its NTC counts agree with the
/// plant's.
#[test]
fn a_field_log_of_a_good_session_is_judged_and_charted() {
    let s = one_session("field-log");
    let mut logger = LogWriter {
        rows: Vec::new(),
        last: None,
    };
    let reference = harness::run_reference(&s, &mut logger).expect("runs");
    assert!(reference.passed());
    let text = format!(
        "# wrap, left calf, logged by the reference firmware\n\
         time_ms,duty_ch0_permille,duty_ch1_permille,current_ch0_ma,current_ch1_ma,ntc0_counts,state,dose_estimate_mj_cm2,hw_enable\n{}\n",
        logger.rows.join("\n")
    );
    let log = harness::fieldlog::parse("session.csv", &text).expect("a good log");
    assert!(log.has_estimate && log.has_state);
    let report = harness::fieldlog::judge(&s, log, &mut Discard).expect("judged");
    let r = &report.result;
    assert!(
        r.passed(),
        "{:#?}",
        r.verdicts
            .iter()
            .filter(|v| v.status.is_failure())
            .collect::<Vec<_>>()
    );
    let (a, b) = (&reference.sessions[0], &r.sessions[0]);
    assert_eq!(
        b.end, a.end,
        "the log's state column ends the session as the firmware did"
    );
    assert!(
        (b.fluence_mean_j_cm2 / a.fluence_mean_j_cm2 - 1.0).abs() < 0.01,
        "same drive, same dose: {} vs {}",
        b.fluence_mean_j_cm2,
        a.fluence_mean_j_cm2
    );
    let ntc = report.ntc[0];
    assert!(ntc.rows as usize > logger.rows.len() / 2, "{ntc:?}");
    assert!(
        ntc.max_abs_diff_counts <= NTC_REPLAY_NOISE_COUNTS,
        "{ntc:?}"
    );

    // On the command line, with charts.
    let dir = bundle_dir("field-log-cli");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let log_path = dir.join("session.csv");
    let scenario_path = dir.join("session.toml");
    std::fs::write(&log_path, &text).expect("writes");
    std::fs::write(&scenario_path, harness::format::to_toml(&s)).expect("writes");
    let out = dir.join("out");
    let code = pbm_hil::cli::main(
        [
            "pbm-hil",
            "replay",
            "--field-log",
            log_path.to_str().expect("utf-8"),
            "--scenario",
            scenario_path.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]
        .map(Into::into),
    );
    assert_eq!(code, std::process::ExitCode::from(pbm_hil::cli::EXIT_OK));
    for f in ["report.json", "week.png", "week.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let charts = std::fs::read_dir(&out)
        .expect("out")
        .filter(|e| {
            let n = e.as_ref().expect("entry").file_name();
            let n = n.to_string_lossy();
            n.starts_with("session-01") && n.ends_with(".png")
        })
        .count();
    assert_eq!(charts, 1, "the session chart");

    // Without the estimate column dose.estimate is not judged; a tighter skin limit is.
    let no_estimate = text
        .lines()
        .map(|l| {
            l.rsplitn(3, ',').nth(2).unwrap_or(l).to_string()
                + ","
                + l.rsplit(',').next().unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let log = harness::fieldlog::parse("no-estimate.csv", &no_estimate).expect("still a log");
    assert!(!log.has_estimate);
    let mut tight = s.clone();
    tight.limits.skin_normal_c = a.peak_skin_c - 0.5;
    let r = harness::fieldlog::judge(&tight, log, &mut Discard)
        .expect("judged")
        .result;
    assert_eq!(
        r.verdict(harness::properties::PropertyId::DoseEstimate)
            .status,
        harness::result::Status::NotApplicable
    );
    assert_eq!(
        r.verdict(harness::properties::PropertyId::SkinNormal)
            .status,
        harness::result::Status::Violated
    );
}

/// A firmware that crashes on step `at` (a transport dropping out).
struct CrashAt {
    inner: harness::dut::InProcess<firmware::Firmware>,
    at: u64,
    step: u64,
}

impl Dut for CrashAt {
    fn identity(&self) -> DutIdentity {
        DutIdentity {
            name: "reference+crash".into(),
            version: "test".into(),
            build: String::new(),
        }
    }
    fn boot(&mut self, nvm: &[u8; firmware::boundary::NVM_SIZE]) -> Result<(), DutError> {
        self.inner.boot(nvm)
    }
    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        self.step += 1;
        if self.step > self.at {
            return Err(DutError::Crashed("lost the board".into()));
        }
        self.inner.step(input)
    }
    fn power_off(&mut self) {
        self.inner.power_off();
    }
}

/// A run that ends in a firmware failure is recorded up to it; the reference re-run against it
/// diverges exactly there, and the open-loop playback fails there as recorded.
#[test]
fn a_firmware_failure_is_recorded_and_replayed() {
    let s = one_session("crash");
    let dir = bundle_dir("crash");
    let at = 500;
    let (result, manifest) = harness::record::record_run(
        &s,
        &mut |kind| {
            Ok(Box::new(CrashAt {
                inner: harness::dut::reference(harness::plant_io::device_class(kind)),
                at,
                step: 0,
            }))
        },
        &mut Discard,
        &dir,
        &reference_config(),
    )
    .expect("written");
    assert!(result.is_err());
    assert!(
        manifest
            .firmware_failure
            .as_deref()
            .is_some_and(|m| m.contains("lost the board"))
    );
    let bundle = Bundle::open(&dir).expect("a failed run's bundle opens");
    let re = replay::rerun(
        &bundle,
        &mut |kind| FirmwareSpec::Reference.make(kind),
        &mut Discard,
    )
    .expect("replays");
    let d = re.divergence.expect("the crash is a divergence");
    assert_eq!((d.step, d.field.as_str()), (at, "firmware failure"), "{d}");
    let open = replay::open_loop(&bundle, &bundle.scenario, &mut Discard).expect("plays");
    let e = open.outcome.expect_err("fails where the recording did");
    assert!(e.to_string().contains("as recorded: "), "{e}");
}

/// The command line: `run --record` writes a bundle that `replay` finds identical (exit 0); a
/// tighter limit in open loop is a violation (1); re-judging flags without `--open-loop`, an
/// unknown limit and a missing bundle are invalid input (2).
#[test]
fn replay_on_the_command_line_maps_outcomes_to_exit_codes() {
    let dir = bundle_dir("cli");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let s = one_session("cli-session");
    let file = dir.join("cli-session.toml");
    std::fs::write(&file, harness::format::to_toml(&s)).expect("writes");
    let rec = dir.join("rec");
    let cli = |args: &[&str]| {
        pbm_hil::cli::main(
            ["pbm-hil"]
                .iter()
                .chain(args)
                .map(|a| std::ffi::OsString::from(*a)),
        )
    };
    let path = |p: &Path| p.to_str().expect("utf-8").to_string();
    let code = |c: u8| std::process::ExitCode::from(c);
    assert_eq!(
        cli(&[
            "run",
            &path(&file),
            "--record",
            &path(&rec),
            "--record-rate-ms",
            "500"
        ]),
        code(pbm_hil::cli::EXIT_OK)
    );
    let bundle = path(&rec.join("cli-session"));
    let manifest = Bundle::open(Path::new(&bundle)).expect("opens").manifest;
    assert_eq!(manifest.record_rate_ms, 500);
    assert_eq!(manifest.scenario, "cli-session");
    assert_eq!(cli(&["replay", &bundle]), code(pbm_hil::cli::EXIT_OK));
    assert_eq!(
        cli(&["replay", &bundle, "--open-loop"]),
        code(pbm_hil::cli::EXIT_OK)
    );
    assert_eq!(
        cli(&[
            "replay",
            &bundle,
            "--open-loop",
            "--limit",
            "skin_normal_c=30"
        ]),
        code(pbm_hil::cli::EXIT_VIOLATED)
    );
    for bad in [
        vec!["replay", bundle.as_str(), "--limit", "skin_normal_c=30"],
        vec![
            "replay",
            bundle.as_str(),
            "--open-loop",
            "--limit",
            "skin_max=30",
        ],
        vec![
            "replay",
            bundle.as_str(),
            "--open-loop",
            "--skin-type",
            "VII",
        ],
        vec!["replay", "no/such/bundle"],
        vec!["replay", "--field-log", "x.csv"],
    ] {
        assert_eq!(cli(&bad), code(pbm_hil::cli::EXIT_INVALID_INPUT), "{bad:?}");
    }
    // A saved failure replays through the bundle beside it, as a campaign writes them.
    assert_eq!(
        cli(&["replay", &path(&file)]),
        code(pbm_hil::cli::EXIT_INVALID_INPUT),
        "no bundle beside it yet"
    );
    std::fs::rename(&bundle, dir.join("cli-session.bundle")).expect("moves");
    assert_eq!(cli(&["replay", &path(&file)]), code(pbm_hil::cli::EXIT_OK));
}
