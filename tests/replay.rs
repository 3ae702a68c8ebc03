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

/// Every library scenario, recorded and re-run against the same firmware, is identical, and its
/// open-loop replay reproduces the recorded plant trace bit for bit.
#[test]
fn every_library_scenario_replays_identically() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "the library is there");
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
