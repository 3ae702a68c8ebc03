//! Thermal protection on frames: derating, warning hysteresis, stop, latch, CEM43 stop, board
//! stop and covered-device derating.

use firmware::DeviceClass;
use firmware::boundary::{Indicator, SessionState, buttons};
use firmware::faults::FaultKind;
use firmware::machine::{Phase, Refusal, SessionEnd};
use firmware::ntc::{NtcReading, counts_from_celsius, read};
use firmware::thermal::{LIMITS, cem43_increment_min, contact_derate};

use crate::rig::Rig;

/// A derated duty is the program duty × the factor, rounded to 1 ‰; the contact reading itself
/// is quantised to ~0.03 K (domain.md §6.5), i.e. ±0.03 of derate factor over a 1 K band: 30 ‰.
const DUTY_TOLERANCE_PERMILLE: i32 = 30;

/// The firmware's own reading of a temperature the rig sets (through the divider and ADC).
fn seen(t: f32) -> f32 {
    match read(counts_from_celsius(t)) {
        NtcReading::Celsius(c) => c,
        other => panic!("{t} °C reads {other:?}"),
    }
}

#[test]
fn derate_and_warning_hysteresis() {
    // (contact °C, expected duty ‰ on both wrap channels, indicator), applied in order.
    let steps = [
        (33.0, 1000, Indicator::Treating),
        (38.0, 1000, Indicator::Treating),
        (39.0, 1000, Indicator::Warning),
        (38.7, 1000, Indicator::Warning), // inside the 38.5–39.0 hysteresis band
        (38.4, 1000, Indicator::Treating),
        (39.75, 750, Indicator::Warning),
        (40.0, 500, Indicator::Warning),
        (40.5, 0, Indicator::Warning),
        (39.0, 1000, Indicator::Warning),
    ];
    let mut rig = Rig::new(DeviceClass::Wrap);
    rig.start(0);
    for (t, duty, indicator) in steps {
        rig.ramp_contact(0, t, 0.3);
        rig.run_for(1_000);
        assert_eq!(rig.phase(), Phase::Treating, "{t}");
        let want = (contact_derate(seen(t)) * 1000.0).round() as i32;
        assert!(
            (want - duty).abs() <= DUTY_TOLERANCE_PERMILLE,
            "table vs model at {t}"
        );
        for c in 0..2 {
            assert!(
                (i32::from(rig.out.duty_permille[c]) - duty).abs() <= DUTY_TOLERANCE_PERMILLE,
                "{t} °C ch{c}: {:?}",
                rig.out.duty_permille
            );
        }
        assert_eq!(rig.out.indicator, indicator, "{t} °C");
    }
}

/// One thermal end: how to get there and what must happen.
struct EndCase {
    name: &'static str,
    class: DeviceClass,
    drive: fn(&mut Rig),
    want: Phase,
    fault: Option<FaultKind>,
}

fn check_end(case: &EndCase) {
    let mut rig = Rig::new(case.class);
    rig.start(0);
    rig.run_for(2_000);
    (case.drive)(&mut rig);
    rig.run_for(1_000);
    assert_eq!(rig.phase(), case.want, "{}", case.name);
    assert!(!rig.emitting() && !rig.out.hw_enable, "{}", case.name);
    assert_eq!(rig.fw.fault().map(|f| f.kind), case.fault, "{}", case.name);
    assert_eq!(
        rig.out.fault_code != 0,
        case.fault.is_some(),
        "{}",
        case.name
    );
}

#[test]
fn thermal_ends() {
    let cases = [
        EndCase {
            name: "contact at 41 stops, not latched",
            class: DeviceClass::Wrap,
            drive: |r| r.ramp_contact(1, 41.05, 0.3),
            want: Phase::Stopped(SessionEnd::ContactHot),
            fault: None,
        },
        EndCase {
            name: "heating faster than 0.5 K/s above 38 latches",
            class: DeviceClass::Wrap,
            drive: |r| {
                r.ramp_contact(0, 37.9, 0.3);
                r.ramp_contact(0, 39.5, 0.7);
            },
            want: Phase::Fault,
            fault: Some(FaultKind::OverTemperature),
        },
        EndCase {
            name: "42 °C while paused latches",
            class: DeviceClass::Pen,
            drive: |r| {
                r.press(buttons::PAUSE);
                r.ramp_contact(0, 42.1, 0.3);
            },
            want: Phase::Fault,
            fault: Some(FaultKind::OverTemperature),
        },
        EndCase {
            name: "board at 85 stops",
            class: DeviceClass::Panel,
            drive: |r| r.ramp_board(85.2, 2.0),
            want: Phase::Stopped(SessionEnd::BoardHot),
            fault: None,
        },
    ];
    for case in &cases {
        check_end(case);
    }
}

/// After a thermal stop a restart is refused until the contact has cooled to 38 °C.
#[test]
fn restart_after_thermal_stop_waits_for_cooling() {
    let mut rig = Rig::new(DeviceClass::Pen);
    rig.start(0);
    rig.ramp_contact(0, 41.05, 0.3);
    assert_eq!(rig.phase(), Phase::Stopped(SessionEnd::ContactHot));
    rig.start(1);
    assert_eq!(rig.phase(), Phase::Refused(Refusal::HotSkin));
    rig.ramp_contact(0, 37.9, 0.3);
    rig.start(1);
    assert_eq!(rig.phase(), Phase::Treating);
}

/// CEM43 stop at the closed-form time: 0.5 CEM43 at (measured + 0.5 K) (domain.md §5.5).
#[test]
fn cem43_stop_time() {
    /// The session CEM43 starts at START (Arming), a few ticks before the contact is raised
    /// (accumulating ~0 at 33 °C), and the stop lands on a tick: 1 s covers both.
    const CEM43_TIME_TOLERANCE_MS: f64 = 1_000.0;
    for t in [40.3f32, 40.45] {
        let mut rig = Rig::new(DeviceClass::Wrap);
        rig.start(0);
        let t0 = rig.t_ms;
        rig.ramp_contact(0, t, 0.3);
        rig.contact_c[1] = 33.5; // one sensor hot, the other on cooler skin: 0.5 K/s below the latch
        rig.ramp_contact(1, t - 4.0, 0.3);
        // The ramp as the rig runs it: 0.03 K per 100 ms step, each step's reading over its step.
        let (mut c, mut ramp_cem) = (33.0f32, 0.0f32);
        while (c - t).abs() > 1e-3 {
            c += (t - c).clamp(-0.03, 0.03);
            ramp_cem += cem43_increment_min(seen(c) + LIMITS.cem43_margin_k, 100);
        }
        let per_min = cem43_increment_min(seen(t) + LIMITS.cem43_margin_k, 60_000);
        // The second sensor's ramp (max of sensors is t throughout it).
        let second_ms = ((t - 4.0 - 33.5) / 0.03).round() * 100.0;
        ramp_cem += cem43_increment_min(seen(t) + LIMITS.cem43_margin_k, second_ms as u32);
        let want_ms = (rig.t_ms - t0) as f64
            + f64::from((LIMITS.cem43_stop_min - ramp_cem) / per_min) * 60_000.0;
        assert!(
            rig.run_until_state(SessionState::Stopped, 3_600_000),
            "{t}: {:?}",
            rig.phase()
        );
        assert_eq!(rig.phase(), Phase::Stopped(SessionEnd::Cem43), "{t}");
        let got = (rig.t_ms - t0) as f64;
        assert!(
            (got - want_ms).abs() <= CEM43_TIME_TOLERANCE_MS,
            "{t}: stopped after {got} ms, closed form {want_ms:.0}"
        );
    }
}

/// A board running hotter than the model predicts for its heat halves the duty, with hysteresis.
#[test]
fn covered_device_derates() {
    let mut rig = Rig::new(DeviceClass::Wrap);
    rig.start(0);
    rig.run_for(10_000);
    assert_eq!(rig.out.duty_permille, [1000, 1000]);
    // (board °C reached at 0.4 K/s, covered?, duty) in order.
    // The rig's contact NTCs read 33 °C: a contact device's board is judged against the skin.
    let steps = [(45.0, true, 500), (43.5, true, 500), (34.0, false, 1000)];
    for (board, covered, duty) in steps {
        rig.ramp_board(board, 0.4);
        rig.run_for(500);
        assert_eq!(rig.fw.diagnostics().covered, covered, "board {board}");
        assert_eq!(rig.out.duty_permille, [duty, duty], "board {board}");
        assert_eq!(
            rig.out.indicator == Indicator::Warning,
            covered,
            "board {board}"
        );
    }
}
