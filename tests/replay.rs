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
