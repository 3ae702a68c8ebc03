//! Per-zone caps across sessions and power cycles: minimum gap, sessions per day and week,
//! fluence per day and week, and the "cap reached" answer to a lost or implausible clock.

use firmware::boundary::{NVM_SIZE, SessionState};
use firmware::machine::{Phase, Refusal};
use firmware::nvm::{DAY_S, HISTORY_LOCKOUT_S};
use firmware::{DeviceClass, programs};

use crate::rig::Rig;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = DAY_S as u64 * 1000;

/// One step of a cap scenario.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Let this long pass (one jump: the firmware accepts gaps of up to ~24 days).
    Wait(u64),
    /// Start this program and run it to the end; it must complete.
    Complete(u8),
    /// Start this program; it must be refused for this reason.
    Refused(u8, Refusal),
    /// Power-cycle.
    Reboot,
    /// The counter jumps backwards (a clock fault).
    ClockBack,
}

fn check(name: &str, class: DeviceClass, steps: &[Step]) {
    let mut rig = Rig::new(class);
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Wait(ms) => {
                rig.jump(ms);
                rig.run_for(1_000);
            }
            Step::Complete(p) => {
                rig.start(p);
                let limit = u64::from(programs(class)[usize::from(p)].time_limit_s) * 1000;
                assert!(
                    rig.run_until_state(SessionState::Completed, limit),
                    "{name} step {i}: {:?}",
                    rig.phase()
                );
                rig.run_for(1_000);
            }
            Step::Refused(p, why) => {
                rig.start(p);
                assert_eq!(rig.phase(), Phase::Refused(why), "{name} step {i}");
                assert!(!rig.emitting());
            }
            Step::Reboot => rig.reboot(),
            Step::ClockBack => {
                rig.boot_now_ms = rig.boot_now_ms.wrapping_sub(5_000);
                rig.step();
                rig.run_for(1_000);
            }
        }
    }
}

#[test]
fn cap_scenarios() {
    use Step::*;
    let wrap = DeviceClass::Wrap;
    let cases: &[(&str, DeviceClass, &[Step])] = &[
        (
            "gap",
            wrap,
            &[
                Complete(0),
                Wait(HOUR_MS),
                Refused(0, Refusal::MinGap),
                Wait(5 * HOUR_MS),
                Complete(0),
            ],
        ),
        (
            "other zone is independent",
            wrap,
            &[Complete(0), Complete(1), Complete(2)],
        ),
        (
            "two a day",
            wrap,
            &[
                Complete(0),
                Wait(6 * HOUR_MS),
                Complete(0),
                Wait(6 * HOUR_MS),
                Refused(0, Refusal::DailySessions),
                Wait(12 * HOUR_MS),
                Complete(0),
            ],
        ),
        (
            "gap survives power cycles",
            wrap,
            &[
                Complete(0),
                Reboot,
                Wait(HOUR_MS),
                Reboot,
                Refused(0, Refusal::MinGap),
            ],
        ),
        (
            "day survives power cycles",
            wrap,
            &[
                Complete(0),
                Wait(6 * HOUR_MS),
                Reboot,
                Complete(0),
                Reboot,
                Wait(7 * HOUR_MS),
                Refused(0, Refusal::DailySessions),
            ],
        ),
        (
            "six a week",
            DeviceClass::Pen,
            &[
                Complete(0),
                Wait(DAY_MS),
                Complete(0),
                Wait(DAY_MS),
                Complete(0),
                Wait(DAY_MS),
                Complete(0),
                Wait(DAY_MS),
                Complete(0),
                Wait(DAY_MS),
                Refused(0, Refusal::WeeklyFluence),
            ],
        ),
        (
            "clock backwards locks the caps",
            wrap,
            &[
                ClockBack,
                Refused(0, Refusal::HistoryLost),
                Reboot,
                Refused(3, Refusal::HistoryLost),
            ],
        ),
        (
            "lock expires after a week of uptime",
            wrap,
            &[ClockBack, Wait(DAY_MS * 7 + HOUR_MS), Complete(0)],
        ),
    ];
    for (name, class, steps) in cases {
        check(name, *class, steps);
    }
}

/// Both slots unreadable: caps count as reached for a week of uptime, then the device works.
#[test]
fn lost_history_is_cap_reached() {
    let mut nvm = [0u8; NVM_SIZE];
    nvm[7] = 0x5A;
    let mut rig = Rig::with_nvm(DeviceClass::Pen, nvm, 0);
    assert_eq!(rig.fw.ledger().lockout_until_s, HISTORY_LOCKOUT_S);
    rig.start(0);
    assert_eq!(rig.phase(), Phase::Refused(Refusal::HistoryLost));
    rig.reboot();
    rig.start(1);
    assert_eq!(
        rig.phase(),
        Phase::Refused(Refusal::HistoryLost),
        "the lockout was persisted"
    );
    rig.jump(u64::from(HISTORY_LOCKOUT_S) * 1000);
    rig.run_for(1_000);
    rig.start(1);
    assert_eq!(rig.phase(), Phase::Treating);
}
