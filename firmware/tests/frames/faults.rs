//! Fault detection and reaction (domain.md §6.3): emission off within 1 s, fault latched until
//! power cycle, fault code exposed.

use firmware::DeviceClass;
use firmware::boundary::{Indicator, SessionState, buttons};
use firmware::faults::{BOARD_NTC, FaultKind, NTC_PAIR};
use firmware::machine::Phase;

use crate::rig::Rig;

/// A fault case: where, how to inject and clear it, what code must latch and how soon.
struct FaultCase {
    name: &'static str,
    class: DeviceClass,
    program: u8,
    /// Start a session and treat this long before injecting; `None` injects at rest.
    treat_ms: Option<u64>,
    inject: fn(&mut Rig),
    clear: fn(&mut Rig),
    kind: FaultKind,
    index: u8,
    /// Longest time from the end of the injection to latched with emission off, ms.
    within_ms: u64,
}

/// The fault.safe budget (product.md: off within 1 s of a fault).
const FAULT_SAFE_MS: u64 = 1_000;

fn check(case: &FaultCase) {
    let name = case.name;
    let mut rig = Rig::new(case.class);
    rig.input.program = case.program;
    if let Some(ms) = case.treat_ms {
        rig.start(case.program);
        rig.run_for(ms);
        assert!(rig.emitting(), "{name}: not emitting before the fault");
    }
    (case.inject)(&mut rig);
    rig.step(); // the input changed
    // Ramped injections may already have latched on the way: that counts as off at once.
    let t_inject = rig.t_ms;
    let mut off_at = None;
    while rig.t_ms - t_inject <= case.within_ms + 100 {
        if rig.out.state == SessionState::Fault as u8 && !rig.emitting() && !rig.out.hw_enable {
            off_at = Some(rig.t_ms - t_inject);
            break;
        }
        let dt = u64::from(rig.out.next_wake_ms).min(10);
        rig.jump(dt);
    }
    let off_at = off_at
        .unwrap_or_else(|| panic!("{name}: not latched off: {:?} {:?}", rig.phase(), rig.out));
    assert!(off_at <= case.within_ms, "{name}: off after {off_at} ms");
    let code = u16::from(case.kind as u8) << 8 | u16::from(case.index);
    assert_eq!(
        (rig.out.fault_code, rig.out.indicator, rig.out.detail),
        (code, Indicator::Fault, 0x80),
        "{name}"
    );
    if case.treat_ms.is_some() {
        assert!(
            rig.out.dose_estimate_mj_cm2 > 0,
            "{name}: session dose kept"
        );
        let slot = firmware::programs::zone_slot(
            case.class,
            firmware::programs(case.class)[usize::from(case.program)].zone,
        )
        .unwrap();
        assert!(
            rig.fw.ledger().zones[slot][0].is_some(),
            "{name}: the interrupted session is on record"
        );
    }
    // Latched: clearing the cause and pressing START change nothing.
    (case.clear)(&mut rig);
    rig.run_for(3_000);
    rig.press(buttons::START);
    assert_eq!(
        (rig.phase(), rig.out.fault_code),
        (Phase::Fault, code),
        "{name}: not latched"
    );
    assert!(!rig.emitting() && !rig.out.hw_enable);
    // A power cycle clears it.
    rig.reboot();
    rig.run_for(1_000);
    assert_eq!(
        (rig.out.fault_code, rig.out.state),
        (0, SessionState::Idle as u8),
        "{name}: after power cycle"
    );
}

#[test]
fn faults_latch_and_cut_emission() {
    let none: fn(&mut Rig) = |_| {};
    let cases = [
        FaultCase {
            name: "contact NTC open",
            class: DeviceClass::Wrap,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| r.contact_counts[0] = Some(4095),
            clear: |r| r.contact_counts[0] = None,
            kind: FaultKind::NtcOpen,
            index: 0,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "contact NTC short",
            class: DeviceClass::Wrap,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| r.contact_counts[1] = Some(0),
            clear: |r| r.contact_counts[1] = None,
            kind: FaultKind::NtcShort,
            index: 1,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "board NTC open at rest",
            class: DeviceClass::Panel,
            program: 0,
            treat_ms: None,
            inject: |r| r.board_counts = Some(4095),
            clear: |r| r.board_counts = None,
            kind: FaultKind::NtcOpen,
            index: BOARD_NTC,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "contact NTC jumps 7 K",
            class: DeviceClass::Pen,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| r.contact_c[0] = 40.0,
            clear: |r| r.contact_c[0] = 33.0,
            kind: FaultKind::NtcImplausible,
            index: 0,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "contact NTC out of range",
            class: DeviceClass::Mask,
            program: 1,
            treat_ms: Some(5_000),
            inject: |r| r.contact_counts[0] = Some(100),
            clear: |r| r.contact_counts[0] = None,
            kind: FaultKind::NtcImplausible,
            index: 0,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "contact NTCs disagree",
            class: DeviceClass::Wrap,
            program: 0,
            treat_ms: Some(61_000),
            inject: |r| r.ramp_contact(1, 38.5, 0.3),
            clear: |r| r.contact_c[1] = 33.0,
            kind: FaultKind::NtcImplausible,
            index: NTC_PAIR,
            within_ms: 10_000 + FAULT_SAFE_MS,
        },
        FaultCase {
            // The hot-spot sensor reads 3.5 K above the mean under the LEDs, then lifts off the
            // skin and falls to the mean while the drive stays on (machine::SPOT_DROP_K).
            name: "hot-spot NTC detached",
            class: DeviceClass::Pad,
            program: 0,
            treat_ms: Some(61_000),
            inject: |r| {
                r.ramp_contact(0, 36.5, 0.3);
                r.run_for(30_000);
                r.ramp_contact(0, 33.5, 0.3)
            },
            clear: |r| r.contact_c[0] = 33.0,
            kind: FaultKind::NtcImplausible,
            index: 0,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "contact NTC below ambient",
            class: DeviceClass::Pad,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| {
                r.ramp_contact(0, 19.0, 1.0);
                r.ramp_contact(1, 19.0, 1.0)
            },
            clear: |r| r.contact_c = [33.0; 2],
            kind: FaultKind::NtcImplausible,
            index: 0,
            within_ms: 10_000 + FAULT_SAFE_MS,
        },
        FaultCase {
            name: "contact NTC stuck while the board heats",
            class: DeviceClass::Wrap,
            program: 0,
            treat_ms: Some(1_000),
            inject: |r| r.ramp_board(27.0, 0.01),
            clear: none,
            kind: FaultKind::NtcStuck,
            index: 0,
            within_ms: 300_000,
        },
        FaultCase {
            name: "string open",
            class: DeviceClass::Wrap,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| r.strings.open = Some(1),
            clear: |r| r.strings.open = None,
            kind: FaultKind::StringOpen,
            index: 1,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "string with 3 LEDs shorted",
            class: DeviceClass::Wrap,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| r.strings.shorted = Some((2, 3)),
            clear: |r| r.strings.shorted = None,
            kind: FaultKind::StringShort,
            index: 2,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "one LED shorted (pair check)",
            class: DeviceClass::Panel,
            program: 0,
            treat_ms: Some(5_000),
            inject: |r| r.strings.shorted = Some((3, 1)),
            clear: |r| r.strings.shorted = None,
            kind: FaultKind::StringShort,
            index: 3,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "laser over-current",
            class: DeviceClass::LaserProbe,
            program: 4,
            treat_ms: Some(5_000),
            inject: |r| r.strings.over_current = Some(0),
            clear: |r| r.strings.over_current = None,
            kind: FaultKind::StringOverCurrent,
            index: 0,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "NIR driver stuck on under a red-only program",
            class: DeviceClass::Mask,
            program: 1,
            treat_ms: Some(5_000),
            inject: |r| r.strings.stuck_on = Some(2),
            clear: |r| r.strings.stuck_on = None,
            kind: FaultKind::DriverStuckOn,
            index: 2,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "driver stuck on at rest",
            class: DeviceClass::Pen,
            program: 0,
            treat_ms: None,
            inject: |r| r.strings.stuck_on = Some(0),
            clear: |r| r.strings.stuck_on = None,
            kind: FaultKind::DriverStuckOn,
            index: 0,
            within_ms: FAULT_SAFE_MS,
        },
        FaultCase {
            name: "panel fan stops",
            class: DeviceClass::Panel,
            program: 2,
            treat_ms: Some(5_000),
            inject: |r| r.input.fan_ok = false,
            clear: |r| r.input.fan_ok = true,
            kind: FaultKind::FanFailure,
            index: 0,
            within_ms: 2_000 + FAULT_SAFE_MS,
        },
    ];
    for case in &cases {
        check(case);
    }
}

/// A one-sample glitch is not a fault: the condition must hold for 30 ms.
#[test]
fn single_sample_glitch_is_ignored() {
    let mut rig = Rig::new(DeviceClass::Wrap);
    rig.start(0);
    rig.run_for(1_000);
    rig.contact_counts[0] = Some(4095);
    rig.step();
    assert!(!rig.emitting(), "a suspected fault zeroes the duty at once");
    rig.contact_counts[0] = None;
    rig.jump(10);
    rig.run_for(100);
    assert_eq!((rig.phase(), rig.out.fault_code), (Phase::Treating, 0));
    assert!(rig.emitting());
}
