//! Scenario files: the library loads, the malformed corpus fails exactly as expected, nothing
//! panics on mutated input, and `scenarios/schema.json` matches the generator.
//!
//! Expected outputs are data beside the inputs (`tests/malformed/NAME.toml` + `NAME.expected`),
//! so adding a case is adding two files. `PBM_HIL_BLESS=1 cargo test` rewrites the expected
//! files and the schema from the current code; review the diff before committing it.

use std::path::{Path, PathBuf};

use harness::format::{self, FormatError};
use harness::scenario::{Action, DAY_MS, Expectation, HOUR_MS, MINUTE_MS, Timed};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const MALFORMED_DIR: &str = "tests/malformed";
const LIBRARY_DIR: &str = "scenarios";
const SCHEMA_PATH: &str = "scenarios/schema.json";

fn bless() -> bool {
    std::env::var_os("PBM_HIL_BLESS").is_some()
}

fn render(errors: &[FormatError]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

/// Load one malformed file and compare its rendered errors with the expected file.
fn check(file: &Path, expected: &Path) {
    let errors = match format::load_paths(&[file.to_path_buf()]) {
        Ok(_) => panic!(
            "{} loaded, but it is in the malformed corpus",
            file.display()
        ),
        Err(errors) => errors,
    };
    let actual = render(&errors);
    if bless() {
        std::fs::write(expected, &actual).expect("write expected file");
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (PBM_HIL_BLESS=1 cargo test writes it)",
            expected.display()
        )
    });
    assert_eq!(
        actual,
        want,
        "{}: errors differ from {}",
        file.display(),
        expected.display()
    );
}

fn malformed_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(MALFORMED_DIR)
        .expect("tests/malformed exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn malformed_corpus_fails_exactly_as_expected() {
    let files = malformed_files();
    assert!(
        files.len() >= 25,
        "the corpus has {} files; the brief asks for at least 25",
        files.len()
    );
    for file in &files {
        check(file, &file.with_extension("expected"));
    }
}

#[test]
fn every_file_in_a_failing_batch_is_reported_and_nothing_loads() {
    let mut paths = vec![PathBuf::from(LIBRARY_DIR)];
    paths.extend(malformed_files().into_iter().take(3));
    let errors = format::load_paths(&paths).expect_err("three malformed files make the batch fail");
    let files: std::collections::BTreeSet<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(
        files.len(),
        3,
        "errors from exactly the three malformed files: {files:?}"
    );
}

#[test]
fn library_loads() {
    let scenarios = format::load_paths(&[PathBuf::from(LIBRARY_DIR)])
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"runner-week") && names.contains(&"cyclist-week"),
        "{names:?}"
    );
    for s in &scenarios {
        assert!(!s.description.is_empty(), "{}", s.name);
        assert!(
            s.devices
                .iter()
                .all(|d| d.timeline.windows(2).all(|w| w[0].at_ms <= w[1].at_ms)),
            "{}: timeline sorted",
            s.name
        );
    }
}

fn treat_at(timeline: &[Timed], at_ms: u64) -> &harness::scenario::Treatment {
    match timeline
        .iter()
        .find(|t| t.at_ms == at_ms)
        .map(|t| &t.action)
    {
        Some(Action::Treat(t)) => t,
        other => panic!("expected a treatment at {at_ms} ms, found {other:?}"),
    }
}

#[test]
fn runner_week_maps_to_the_scenario_model() {
    let text = std::fs::read_to_string("scenarios/runner-week.toml").expect("runner week exists");
    let s = format::load_str("scenarios/runner-week.toml", &text)
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.name, "runner-week");
    assert_eq!(s.seed, 1);
    assert_eq!(s.duration_ms, 7 * DAY_MS);
    assert_eq!(s.environment.ambient_c, 21.0);
    let ids: Vec<&str> = s.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["wrap", "pen"]);
    let wrap = &s.devices[0].timeline;
    // Monday 19:30, default label, 15 min as written.
    let mon = treat_at(wrap, 19 * HOUR_MS + 30 * MINUTE_MS);
    assert_eq!(mon.label, "d0-1930-left-calf");
    assert_eq!(mon.remove_after_ms, 15 * MINUTE_MS);
    let wrap_standoff_mm =
        format::validate::hardware(format::raw::DeviceKindName::Wrap).standoff_mm;
    assert_eq!(
        mon.distance_mm, wrap_standoff_mm,
        "contact devices sit at their standoff"
    );
    // Wednesday, explicit label.
    let wed = treat_at(wrap, 2 * DAY_MS + 18 * HOUR_MS + 15 * MINUTE_MS);
    assert_eq!(wed.label, "wed-calf-l-post-run");
    assert_eq!(wed.program, mon.program, "same zone, same program");
    // Tuesday pen: no minutes → the program's limit plus two minutes.
    let pen = treat_at(&s.devices[1].timeline, DAY_MS + 20 * HOUR_MS);
    let limit_s = harness::prescription::programs(sim::device::DeviceKind::Pen)
        [usize::from(pen.program)]
    .time_limit_s;
    assert_eq!(
        pen.remove_after_ms,
        u64::from(limit_s) * 1_000 + 2 * MINUTE_MS
    );
    assert_eq!(s.training.len(), 6);
    assert_eq!(s.training[0].end_ms, 18 * HOUR_MS + 30 * MINUTE_MS);
    assert_eq!(s.training[0].duration_ms, 60 * MINUTE_MS);
}

/// A small valid file with one of everything, for the mapping checks below and as the seed of
/// the mutation test.
const EVERYTHING: &str = r#"
format = 1
description = "one of everything"
seed = 7
days = 2

[environment]
ambient_c = 30.5
skin_type = "V"
perfusion = 2.0
skin_c = 34.0
arterial_c = 37.5

[limits]
skin_normal_c = 40.5
start_latency_ms = 500

[[device]]
id = "panel"
kind = "panel"
uptime_at_start_ms = 4294960000
[device.tolerances]
rth = 1.2

[[treatment]]
day = 1
at = "08:00"
device = "panel"
zone = "back"
distance_cm = 20
minutes = 10
label = "b"

[[action]]
day = 1
at = "08:00"
device = "panel"
do = "cover"

[[fault]]
day = 1
at = "08:00"
device = "panel"
kind = "fan-stall"

[[action]]
day = 1
at = "08:00"
device = "panel"
do = "tear-nvm-write"
bytes = 3

[[action]]
day = 0
at = "12:00:00.250"
do = "ambient"
ambient_c = 35

[[expect]]
refused = "b"

[[expect]]
property_fails = "skin.normal"
reason = "the cover traps heat"
"#;

#[test]
fn one_of_everything_maps_in_file_order() {
    let s = format::load_str("everything.toml", EVERYTHING)
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(s.seed, 7);
    assert_eq!(s.limits.skin_normal_c, 40.5);
    assert_eq!(s.limits.start_latency_ms, 500);
    assert_eq!(
        s.limits.skin_absolute_c,
        harness::properties::Limits::default().skin_absolute_c
    );
    assert_eq!(s.environment.perfusion_scale, 2.0);
    let d = &s.devices[0];
    assert_eq!(d.uptime_at_start_ms, 4_294_960_000);
    assert_eq!(d.tolerances.rth_scale, 1.2);
    assert_eq!(d.tolerances.led_efficiency_scale, 1.0);
    // Four entries at the same instant, in the order written across the tables.
    let at = DAY_MS + 8 * HOUR_MS;
    assert!(d.timeline.iter().all(|t| t.at_ms == at));
    assert!(
        matches!(&d.timeline[0].action, Action::Treat(t) if t.distance_mm == 200.0 && t.remove_after_ms == 10 * MINUTE_MS)
    );
    assert_eq!(d.timeline[1].action, Action::Cover(true));
    assert!(matches!(d.timeline[2].action, Action::Fault(_)));
    assert_eq!(
        d.timeline[3].action,
        Action::TearNextNvmWrite {
            bytes_written: 3,
            off_ms: 1_000
        }
    );
    assert_eq!(
        s.global,
        vec![Timed {
            at_ms: 12 * HOUR_MS + 250,
            action: Action::Ambient(35.0)
        }]
    );
    assert_eq!(
        s.expectations,
        vec![
            Expectation::Refused { label: "b".into() },
            Expectation::PropertyFails {
                property: "skin.normal".into(),
                reason: "the cover traps heat".into()
            }
        ]
    );
}

#[test]
fn schema_file_matches_the_generator() {
    let generated = format::schema::schema_text();
    if bless() {
        std::fs::write(SCHEMA_PATH, &generated).expect("write schema");
        return;
    }
    let on_disk = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{SCHEMA_PATH} is out of date; regenerate it with `PBM_HIL_BLESS=1 cargo test -p pbm-hil --test tests format::`"
    );
}

#[test]
fn schema_and_library_agree_on_the_schema_line() {
    for entry in std::fs::read_dir(LIBRARY_DIR).expect("scenarios exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            assert!(
                text.starts_with("#:schema ./schema.json\n"),
                "{} must start with the taplo schema line",
                path.display()
            );
        }
    }
}

#[test]
fn truncated_and_garbage_input_never_panics() {
    let text = std::fs::read_to_string("scenarios/runner-week.toml").expect("runner week exists");
    let bytes = text.as_bytes();
    // Every prefix (cut mid-key, mid-string, mid-UTF-8 sequence) fails or loads, without panicking.
    for cut in 0..bytes.len() {
        let _ = format::load_bytes("cut.toml", &bytes[..cut]);
    }
    for garbage in [
        &b"\xff\xfe\x00"[..],
        b"\x00\x00",
        b"[[[",
        b"format = 1\n\xc3",
        b"= = =",
        b"format = 99999999999999999999",
    ] {
        let errors = format::load_bytes("garbage.toml", garbage).expect_err("garbage is rejected");
        assert!(!errors.is_empty());
    }
}

fn proptest_cases() -> u32 {
    std::env::var("PBM_HIL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/proptest-regressions/format.txt"))),
        ..ProptestConfig::default()
    })]

    /// Random byte edits of a valid file never panic, and every error has a position inside the
    /// file or is a whole-file error.
    #[test]
    fn mutated_files_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = EVERYTHING.as_bytes().to_vec();
        for (index, byte, op) in edits {
            if bytes.is_empty() { break; }
            let i = index.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        if let Err(errors) = format::load_bytes("mutated.toml", &bytes) {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
            for e in &errors {
                prop_assert!(e.line <= lines, "{e}");
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
