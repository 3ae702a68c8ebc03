//! The firmware's factory calibration agrees with the plant it is calibrated on.
//!
//! A device maker measures each product on a calibration rig and burns the figures into the
//! firmware. Here the rig is the plant model: this test computes the same figures from the device
//! catalog and checks the reference firmware's table against them, so a change to a device's
//! optics or electronics cannot silently leave the firmware dosing the old device.

use firmware::device::{CALIBRATION, calibration, panel_distance_factor};
use sim::device::{self, DeviceKind};
use sim::optics::Placement;

/// Calibration figures are rounded to two or three significant digits in the table.
const CALIBRATION_REL: f64 = 0.02;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-9)
}

#[test]
fn firmware_calibration_matches_the_plant_catalog() {
    assert_eq!(CALIBRATION.len(), DeviceKind::ALL.len());
    let mut wrong = Vec::new();
    for kind in DeviceKind::ALL {
        let spec = device::spec(kind);
        let cal = calibration(harness::plant_io::device_class(kind));
        let stats = spec.channel_stats(spec.nominal_placement());
        for (c, ch) in spec.channels.iter().enumerate() {
            let Some(fc) = cal.channels[c] else {
                wrong.push(format!("{kind:?} channel {c}: missing in firmware"));
                continue;
            };
            let st = stats[c].expect("channel present");
            let checks = [
                ("strings", f64::from(fc.strings), f64::from(ch.strings)),
                (
                    "nominal mA",
                    f64::from(fc.nominal_ma),
                    ch.nominal_current_ma,
                ),
                ("zone-mean mW/cm²", f64::from(fc.irradiance_mw_cm2), st.mean),
                ("peak/mean", f64::from(fc.peak_to_mean), st.peak_to_mean()),
                (
                    "LEDs per string",
                    f64::from(fc.leds_per_string),
                    f64::from(ch.leds_per_string),
                ),
                ("T_j,max °C", f64::from(fc.t_j_max_c), ch.led.tj_max_c),
                ("k_Φ 1/K", f64::from(fc.k_phi_per_k), ch.led.k_phi_per_k),
                ("droop", f64::from(fc.droop), ch.led.droop),
            ];
            for (what, fw, plant) in checks {
                if !close(fw, plant, CALIBRATION_REL) {
                    wrong.push(format!(
                        "{kind:?} channel {c} {what}: firmware {fw:.3}, plant {plant:.3}"
                    ));
                }
            }
        }
        let rail_v = f64::from(cal.led_rail_mv) / 1000.0;
        if !close(rail_v, spec.led_rail_v, CALIBRATION_REL) {
            wrong.push(format!(
                "{kind:?} LED rail V: firmware {rail_v:.3}, plant {:.3}",
                spec.led_rail_v
            ));
        }
        if kind == DeviceKind::Panel {
            let at = |cm: f64| {
                let s = spec.channel_stats(Placement::centred(cm));
                s.iter().flatten().map(|z| z.mean).sum::<f64>()
            };
            let reference = at(spec.distance_cm);
            for mm in [100u16, 150, 300, 450] {
                let plant = at(f64::from(mm) / 10.0) / reference;
                let fw = f64::from(panel_distance_factor(mm));
                if !close(fw, plant, CALIBRATION_REL) {
                    wrong.push(format!(
                        "panel distance factor at {mm} mm: firmware {fw:.3}, plant {plant:.3}"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "firmware calibration out of date:\n{}",
        wrong.join("\n")
    );
}

/// The prescription (the instructions for use the properties judge against) and the reference
/// firmware's program table describe the same programs.
#[test]
fn firmware_programs_implement_the_prescription() {
    let mut wrong = Vec::new();
    for kind in DeviceKind::ALL {
        let class = harness::plant_io::device_class(kind);
        let fw = firmware::programs(class);
        let rx = harness::prescription::programs(kind);
        if fw.len() != rx.len() {
            wrong.push(format!(
                "{kind:?}: firmware has {} programs, prescription {}",
                fw.len(),
                rx.len()
            ));
            continue;
        }
        for (i, (f, r)) in fw.iter().zip(rx).enumerate() {
            let zone = harness::plant_io::zone_index(r.zone);
            let caps = harness::prescription::zone_caps(kind, r.zone);
            let fcaps = firmware::programs::zone_caps(class, f.zone).expect("zone has caps");
            let pairs = [
                ("zone", f.zone as u8 as f64, zone as f64),
                (
                    "target J/cm²",
                    f64::from(f.target_mj_cm2) / 1000.0,
                    r.target_j_cm2,
                ),
                (
                    "session cap J/cm²",
                    f64::from(f.session_cap_mj_cm2) / 1000.0,
                    r.session_cap_j_cm2,
                ),
                (
                    "time limit s",
                    f64::from(f.time_limit_s),
                    f64::from(r.time_limit_s),
                ),
                (
                    "daily cap J/cm²",
                    f64::from(fcaps.daily_cap_mj_cm2) / 1000.0,
                    caps.daily_cap_j_cm2,
                ),
                (
                    "weekly cap J/cm²",
                    f64::from(fcaps.weekly_cap_mj_cm2) / 1000.0,
                    caps.weekly_cap_j_cm2,
                ),
                (
                    "sessions a day",
                    f64::from(fcaps.max_sessions_per_day),
                    f64::from(caps.max_sessions_per_day),
                ),
                (
                    "sessions a week",
                    f64::from(fcaps.max_sessions_per_week),
                    f64::from(caps.max_sessions_per_week),
                ),
                (
                    "gap s",
                    f64::from(fcaps.min_gap_s),
                    caps.min_gap_ms as f64 / 1000.0,
                ),
            ];
            for (what, a, b) in pairs {
                if (a - b).abs() > 1e-9 {
                    wrong.push(format!(
                        "{kind:?} program {i} {what}: firmware {a}, prescription {b}"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "firmware programs differ from the prescription:\n{}",
        wrong.join("\n")
    );
}
