//! Buttons are levels: debounced (20 ms over two samples), acting on edges.

use firmware::DeviceClass;
use firmware::boundary::buttons;
use firmware::machine::{Phase, SessionEnd};

use crate::rig::Rig;

/// A button script: (level, hold ms) pairs applied in order, stepping at each change and as the
/// firmware asks; then the expected phase.
fn check(name: &str, script: &[(u8, u64)], want: fn(Phase) -> bool) {
    let mut rig = Rig::new(DeviceClass::Wrap);
    for &(level, hold) in script {
        rig.input.buttons = level;
        rig.step();
        rig.run_for(hold);
    }
    assert!(want(rig.phase()), "{name}: {:?}", rig.phase());
}

#[test]
fn debounce_and_edges() {
    let s = buttons::START;
    type Case<'a> = (&'a str, &'a [(u8, u64)], fn(Phase) -> bool);
    let cases: &[Case] = &[
        ("5 ms glitch", &[(s, 5), (0, 1_000)], |p| p == Phase::Idle),
        ("15 ms press", &[(s, 15), (0, 1_000)], |p| p == Phase::Idle),
        ("30 ms press", &[(s, 30), (0, 1_000)], |p| {
            p == Phase::Treating
        }),
        ("long hold starts once", &[(s, 5_000), (0, 100)], |p| {
            p == Phase::Treating
        }),
        (
            "start then stop",
            &[(s, 50), (0, 1_000), (buttons::STOP, 50), (0, 100)],
            |p| p == Phase::Stopped(SessionEnd::UserStop),
        ),
        (
            "start then pause",
            &[(s, 50), (0, 1_000), (buttons::PAUSE, 50), (0, 100)],
            |p| matches!(p, Phase::Paused { .. }),
        ),
    ];
    for (name, script, want) in cases {
        check(name, script, *want);
    }
}

/// START held through power-on is not a press.
#[test]
fn start_held_at_boot_is_ignored() {
    let mut rig = Rig::new(DeviceClass::Pen);
    rig.input.buttons = buttons::START;
    rig.reboot();
    rig.run_for(2_000);
    assert_eq!(rig.phase(), Phase::Idle);
    rig.input.buttons = 0;
    rig.step();
    rig.run_for(100);
    rig.start(0);
    assert_eq!(rig.phase(), Phase::Treating);
}

/// START pressed twice does not open a second session or count twice against the caps.
#[test]
fn start_twice_is_one_session() {
    let mut rig = Rig::new(DeviceClass::Wrap);
    rig.start(0);
    rig.run_for(10_000);
    let treated = rig.fw.diagnostics().treated_ms;
    rig.start(0);
    assert_eq!(rig.phase(), Phase::Treating);
    assert!(rig.fw.diagnostics().treated_ms > treated);
    assert_eq!(rig.fw.ledger().zones[0].iter().flatten().count(), 1);
    rig.press(buttons::STOP);
    let kept = rig.out.dose_estimate_mj_cm2;
    assert!(kept > 0);
    let entry = rig.fw.ledger().zones[0][0].unwrap();
    assert_eq!(
        u32::from(entry.fluence_q),
        kept.div_ceil(firmware::nvm::FLUENCE_QUANTUM_MJ_CM2),
        "stopped session recorded as delivered"
    );
}
