//! Every file in `scenarios/` is a test case: the reference firmware passes it, with the
//! expectations it states, twice with the same trace hash.

use std::path::PathBuf;

fn check(file: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let scenario = harness::format::load_paths(&[path])
        .unwrap_or_else(|e| panic!("{file} is invalid: {e:?}"))
        .remove(0);
    let r = harness::run_reference(&scenario, &mut harness::events::Discard)
        .expect("the reference firmware does not fail");
    let failed: Vec<_> = r
        .verdicts
        .iter()
        .filter(|v| v.status.is_failure())
        .map(|v| (v.name, &v.violations))
        .collect();
    assert!(
        r.invalid.is_none(),
        "{file}: invalid scenario: {:?}",
        r.invalid
    );
    assert!(
        r.expectation_failures.is_empty(),
        "{file}: {:?}",
        r.expectation_failures
    );
    assert!(failed.is_empty(), "{file}: properties failed: {failed:#?}");
    assert!(r.passed());
    assert!(
        !r.sessions.is_empty(),
        "{file}: a library scenario requests treatment"
    );
}

macro_rules! library {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check($file);
            }
        )*

        /// Every file in `scenarios/` has a test above, and every test a file.
        #[test]
        fn every_library_file_is_a_test_case() {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
            let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
                .expect("scenarios/ exists")
                .map(|e| e.expect("readable entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml"))
                .collect();
            on_disk.sort();
            let mut listed = vec![$($file.to_string()),*];
            listed.sort();
            assert_eq!(on_disk, listed, "add the new scenario to tests/library.rs");
        }
    };
}

library! {
    busy_week => "busy-week.toml",
    cold_room => "cold-room.toml",
    cyclist_week => "cyclist-week.toml",
    dark_skin_nir => "dark-skin-nir.toml",
    driver_stuck_on => "driver-stuck-on.toml",
    giving_extra => "giving-extra.toml",
    hot_skin_start => "hot-skin-start.toml",
    hot_summer_week => "hot-summer-week.toml",
    laser_probe_hot_room => "laser-probe-hot-room.toml",
    laser_probe_week => "laser-probe-week.toml",
    led_string_open => "led-string-open.toml",
    led_string_short => "led-string-short.toml",
    mask_without_eye_shields => "mask-without-eye-shields.toml",
    ntc_detached => "ntc-detached.toml",
    ntc_drift => "ntc-drift.toml",
    ntc_open => "ntc-open.toml",
    ntc_short => "ntc-short.toml",
    nvm_torn_write => "nvm-torn-write.toml",
    panel_dark_skin_warm_room => "panel-dark-skin-warm-room.toml",
    panel_distances => "panel-distances.toml",
    panel_fan_stall => "panel-fan-stall.toml",
    pen_lifted => "pen-lifted.toml",
    pen_string_open_at_rest => "pen-string-open-at-rest.toml",
    power_cycle_daily_cap => "power-cycle-daily-cap.toml",
    press_start_twice => "press-start-twice.toml",
    runner_week => "runner-week.toml",
    uptime_wrap_50_days => "uptime-wrap-50-days.toml",
    wrap_under_blanket => "wrap-under-blanket.toml",
}
