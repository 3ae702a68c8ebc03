//! Property campaigns in CI: generated weeks against the reference firmware, the scenario writer's
//! round trip, and the campaign's determinism across cores.
//!
//! Case counts keep the module fast in CI (run it with `--release`); `PBM_HIL_PROPTEST_CASES`
//! raises them for a deep run. The proptest seed is fixed (the week a test sees does not depend
//! on the machine), and failures persist to `tests/proptest-regressions/campaign.txt`, which is
//! committed so a found failure is replayed first ever after.

use harness::format::{load_str, to_toml};
use harness::generate::{Athlete, WeekSpec, any_week, has_faults, week};
use harness::scenario::Scenario;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};

/// Generated weeks run per property in CI: each is ~0.1–1 s in release, and the module must stay
/// under a minute on two cores.
const CI_WEEKS: u32 = 12;
/// Generated weeks written and read back per run (no bench run: cheap).
const CI_ROUND_TRIPS: u32 = 200;

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PBM_HIL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/campaign.txt",
        ))),
        rng_seed: RngSeed::Fixed(0x7062_6d2d_6869_6c01),
        // A week costs up to a second: shrinking is bounded so a failure reports in minutes.
        max_shrink_iters: 128,
        ..Config::default()
    }
}

/// Every property of the catalog holds on a generated week, or the week injected a fault that
/// never fired (the bench marks such a week invalid: it cannot judge `fault.safe`).
fn check_week(s: &Scenario) -> Result<(), TestCaseError> {
    let r = harness::run_reference(s, &mut harness::events::Discard)
        .map_err(|e| TestCaseError::fail(format!("the reference firmware failed: {e}")))?;
    if has_faults(s) && r.invalid.is_some() {
        return Ok(());
    }
    let failed: Vec<_> = r
        .verdicts
        .iter()
        .filter(|v| v.status.is_failure())
        .map(|v| (v.name, &v.violations))
        .collect();
    prop_assert!(
        r.passed(),
        "week failed: invalid {:?}, expectations {:?}, properties {failed:#?}\n--- scenario ---\n{}",
        r.invalid,
        r.expectation_failures,
        to_toml(s)
    );
    Ok(())
}

/// The pinned known gap: a panel treating Fitzpatrick VI skin.
fn known_gap_panel_on_type_vi(s: &Scenario) -> bool {
    s.environment.skin_type == sim::body::SkinType::VI
        && s.devices
            .iter()
            .any(|d| d.kind == sim::device::DeviceKind::Panel)
}

/// Written and read back, a scenario is the same value (compared through `Debug`, which prints
/// every float in its shortest round-trip form, so equal text means equal bits).
fn round_trips(s: &Scenario) -> Result<(), TestCaseError> {
    let text = to_toml(s);
    let back = load_str(&format!("{}.toml", s.name), &text)
        .map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
    prop_assert_eq!(format!("{back:#?}"), format!("{s:#?}"), "\n{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(config(CI_WEEKS))]

    #[test]
    fn generated_weeks_pass_every_property(s in any_week()) {
        check_week(&s)?;
    }

    #[test]
    fn runner_weeks_with_misuse_pass(s in week(WeekSpec {
        athlete: Some(Athlete::Runner), misuse: true, faults: false,
    })) {
        check_week(&s)?;
    }


    #[test]
    fn cyclist_weeks_with_faults_pass(s in week(WeekSpec {
        athlete: Some(Athlete::Cyclist), misuse: false, faults: true,
    })) {
        // One known gap is pinned by a library scenario instead of failing here: a panel on
        // Fitzpatrick VI skin can pass 43 °C by light alone, fault or not
        // (`scenarios/panel-dark-skin-warm-room.toml` expects it and fails the day it changes).
        // Every other device and skin type runs.
        prop_assume!(!known_gap_panel_on_type_vi(&s));
        check_week(&s)?;
    }
}

proptest! {
    #![proptest_config(config(CI_ROUND_TRIPS))]

    #[test]
    fn generated_weeks_round_trip_through_toml(s in any_week()) {
        round_trips(&s)?;
    }
}

#[test]
fn every_library_scenario_round_trips_through_toml() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let scenarios = harness::format::load_paths(&[dir]).expect("the library is valid");
    assert!(scenarios.len() >= 20, "the library was found");
    for s in &scenarios {
        if let Err(e) = round_trips(s) {
            panic!("{}: {e}", s.name);
        }
    }
}

/// `pbm-hil campaign` on the command line: the same seed gives byte-identical summaries on one
/// or two threads and when split into shards and merged; the exit code follows the verdicts; a
/// bad shard is refused with exit code 2.
#[test]
fn campaign_cli_is_deterministic_across_jobs_and_shards() {
    let bin = env!("CARGO_BIN_EXE_pbm-hil");
    let tmp = std::env::temp_dir().join(format!("pbm-hil-campaign-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let run = |args: &[String]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .output()
            .expect("pbm-hil runs");
        (
            out.status.code().expect("exit code"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = |name: &str| tmp.join(name).to_string_lossy().into_owned();
    let common = [
        "campaign",
        "--weeks",
        "4",
        "--seed",
        "11",
        "--shrink-runs",
        "4",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        common.iter().chain(extra).map(|a| a.to_string()).collect()
    };
    let (code_one, err) = run(&with(&["--jobs", "1", "--out", &dir("one")]));
    assert!(code_one == 0 || code_one == 1, "exit {code_one}: {err}");
    let (code_two, err) = run(&with(&["--jobs", "2", "--out", &dir("two")]));
    assert_eq!(code_two, code_one, "{err}");
    for (i, name) in ["a", "b"].iter().enumerate() {
        let shard = format!("{}/2", i + 1);
        let (code, err) = run(&with(&[
            "--jobs",
            "1",
            "--shard",
            &shard,
            "--out",
            &dir(name),
        ]));
        assert!(code == 0 || code == 1, "shard {shard}: exit {code}: {err}");
    }
    let (code_merged, err) = run(&[
        "campaign".into(),
        "merge".into(),
        dir("a"),
        dir("b"),
        "--out".into(),
        dir("merged"),
    ]);
    assert_eq!(code_merged, code_one, "{err}");
    let summary = |name: &str| {
        std::fs::read_to_string(tmp.join(name).join("campaign.json"))
            .unwrap_or_else(|e| panic!("{name}/campaign.json: {e}"))
    };
    let one = summary("one");
    let parsed: pbm_hil::campaign::Summary = serde_json::from_str(&one).expect("a summary");
    assert_eq!(parsed.weeks_run, 4);
    assert_eq!(parsed.passed + parsed.failed + parsed.unjudgeable, 4);
    assert_eq!(code_one, i32::from(parsed.failed > 0));
    assert_eq!(summary("two"), one, "1 and 2 threads disagree");
    assert_eq!(
        summary("merged"),
        one,
        "merged shards disagree with the whole"
    );
    let (code, err) = run(&with(&["--shard", "3/2", "--out", &dir("bad")]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3/2"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
