//! Start checks and interlocks: what refuses a start, and what pauses a running session at once.

use firmware::DeviceClass;
use firmware::boundary::{Indicator, SessionState, buttons};
use firmware::machine::{PauseReason, Phase, Refusal};

use crate::rig::Rig;

/// One start attempt: class, program, a change to the rig, the expected phase after START.
struct StartCase {
    class: DeviceClass,
    program: u8,
    setup: fn(&mut Rig),
    want: Phase,
}

fn check_start(case: &StartCase) {
    let mut rig = Rig::new(case.class);
    (case.setup)(&mut rig);
    rig.step();
    rig.start(case.program);
    assert_eq!(
        rig.phase(),
        case.want,
        "{:?} program {}",
        case.class,
        case.program
    );
    if let Phase::Refused(_) = case.want {
        assert!(!rig.emitting() && !rig.out.hw_enable);
        assert_eq!(
            (rig.out.state, rig.out.indicator),
            (SessionState::Refused as u8, Indicator::Refused)
        );
        assert_eq!(rig.out.detail >> 4, 7);
    }
}

#[test]
fn start_checks() {
    let cases = [
        StartCase {
            class: DeviceClass::Wrap,
            program: 0,
            setup: |_| {},
            want: Phase::Treating,
        },
        StartCase {
            class: DeviceClass::Wrap,
            program: 6,
            setup: |_| {},
            want: Phase::Refused(Refusal::InvalidProgram),
        },
        StartCase {
            class: DeviceClass::Wrap,
            program: 0,
            setup: |r| r.input.skin_contact = false,
            want: Phase::Refused(Refusal::NoSkinContact),
        },
        StartCase {
            class: DeviceClass::LaserProbe,
            program: 0,
            setup: |r| r.input.skin_contact = false,
            want: Phase::Refused(Refusal::NoSkinContact),
        },
        StartCase {
            class: DeviceClass::Wrap,
            program: 0,
            setup: |r| r.contact_c = [33.0, 38.3],
            want: Phase::Refused(Refusal::HotSkin),
        },
        StartCase {
            class: DeviceClass::Wrap,
            program: 0,
            setup: |r| r.contact_c = [37.8, 37.8],
            want: Phase::Treating,
        },
        StartCase {
            class: DeviceClass::Pen,
            program: 0,
            setup: |r| r.board_c = 3.0,
            want: Phase::Refused(Refusal::Ambient),
        },
        StartCase {
            class: DeviceClass::Pen,
            program: 0,
            setup: |r| r.board_c = 41.0,
            want: Phase::Refused(Refusal::Ambient),
        },
        StartCase {
            class: DeviceClass::Mask,
            program: 0,
            setup: |r| r.input.eye_shield = false,
            want: Phase::Refused(Refusal::NoEyeShield),
        },
        StartCase {
            class: DeviceClass::Mask,
            program: 1,
            setup: |r| r.input.eye_shield = false,
            want: Phase::Treating,
        },
        StartCase {
            // The mask's wear sensor (reflectance, on the skin-contact input): not worn, no start.
            class: DeviceClass::Mask,
            program: 0,
            setup: |r| r.input.skin_contact = false,
            want: Phase::Refused(Refusal::NoSkinContact),
        },
        StartCase {
            class: DeviceClass::Panel,
            program: 0,
            setup: |r| r.input.distance_mm = 90,
            want: Phase::Refused(Refusal::Distance),
        },
        StartCase {
            class: DeviceClass::Panel,
            program: 0,
            setup: |r| r.input.distance_mm = 0,
            want: Phase::Refused(Refusal::Distance),
        },
        StartCase {
            class: DeviceClass::Panel,
            program: 0,
            setup: |r| r.input.distance_mm = 300,
            want: Phase::Treating,
        },
        StartCase {
            class: DeviceClass::Panel,
            program: 0,
            // 40 cm: 0.55 × 49.6 mW/cm² still reaches 20 J/cm² within the 20 min limit.
            setup: |r| r.input.distance_mm = 400,
            want: Phase::Treating,
        },
        StartCase {
            class: DeviceClass::Panel,
            program: 0,
            setup: |r| r.input.skin_contact = false,
            want: Phase::Treating,
        },
        StartCase {
            class: DeviceClass::Pen,
            program: 0,
            setup: |r| r.contact_counts[0] = Some(4095),
            want: Phase::Fault,
        },
    ];
    for case in &cases {
        check_start(case);
    }
}

/// A running session meets an interlock change: class, program, the change, the pause reason.
struct InterlockCase {
    class: DeviceClass,
    program: u8,
    lose: fn(&mut Rig),
    restore: fn(&mut Rig),
    reason: PauseReason,
}

fn check_interlock(case: &InterlockCase) {
    let mut rig = Rig::new(case.class);
    rig.start(case.program);
    rig.run_for(5_000);
    assert!(rig.emitting(), "{:?}: not emitting", case.class);
    (case.lose)(&mut rig);
    // The bench runs the firmware on every input change: emission must stop in that very step.
    rig.step();
    assert!(
        !rig.emitting() && !rig.out.hw_enable,
        "{:?}: still emitting",
        case.class
    );
    assert!(
        matches!(rig.phase(), Phase::Paused { reason, .. } if reason == case.reason),
        "{:?}",
        rig.phase()
    );
    assert_eq!(rig.out.detail, 0x40 | case.reason as u8);
    // No silent restart: restoring the interlock alone does not resume.
    (case.restore)(&mut rig);
    rig.run_for(2_000);
    assert!(!rig.emitting(), "{:?}: resumed without a press", case.class);
    // START with the interlock lost again does not resume either.
    (case.lose)(&mut rig);
    rig.press(buttons::START);
    assert!(!rig.emitting());
    (case.restore)(&mut rig);
    rig.press(buttons::START);
    assert_eq!(rig.phase(), Phase::Treating);
    assert!(rig.emitting());
}

#[test]
fn interlocks_pause_at_once() {
    let cases = [
        InterlockCase {
            class: DeviceClass::Wrap,
            program: 0,
            lose: |r| r.input.skin_contact = false,
            restore: |r| r.input.skin_contact = true,
            reason: PauseReason::ContactLost,
        },
        InterlockCase {
            class: DeviceClass::Pad,
            program: 0,
            lose: |r| r.input.skin_contact = false,
            restore: |r| r.input.skin_contact = true,
            reason: PauseReason::ContactLost,
        },
        InterlockCase {
            class: DeviceClass::Pen,
            program: 2,
            lose: |r| r.input.skin_contact = false,
            restore: |r| r.input.skin_contact = true,
            reason: PauseReason::ContactLost,
        },
        InterlockCase {
            class: DeviceClass::LaserProbe,
            program: 4,
            lose: |r| r.input.skin_contact = false,
            restore: |r| r.input.skin_contact = true,
            reason: PauseReason::ContactLost,
        },
        InterlockCase {
            class: DeviceClass::Mask,
            program: 0,
            lose: |r| r.input.eye_shield = false,
            restore: |r| r.input.eye_shield = true,
            reason: PauseReason::EyeShieldRemoved,
        },
        InterlockCase {
            class: DeviceClass::Panel,
            program: 1,
            lose: |r| r.input.distance_mm = 60,
            restore: |r| r.input.distance_mm = 150,
            reason: PauseReason::Distance,
        },
    ];
    for case in &cases {
        check_interlock(case);
    }
}

/// The red-only mask program keeps running when the shields come off: it emits no NIR.
#[test]
fn red_only_mask_ignores_shields() {
    let mut rig = Rig::new(DeviceClass::Mask);
    rig.start(1);
    rig.run_for(1_000);
    rig.input.eye_shield = false;
    rig.step();
    assert_eq!(rig.phase(), Phase::Treating);
    assert_eq!(
        (rig.out.current_ma[1], rig.out.duty_permille[1]),
        (0, 0),
        "no NIR drive"
    );
    assert!(rig.out.duty_permille[0] > 0);
}
