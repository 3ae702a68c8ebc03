//! Seeded-bug variants of the reference firmware, and the proof that the bench catches each one.
//!
//! product.md "Properties": a property suite that never fails has not been shown to work. Each
//! variant below is the reference firmware with one realistic bug, plugged in through the
//! [`firmware::variant::Variant`] seam (one hook changed, everything else the shipped code), so
//! the bug runs *inside* the firmware rather than at its boundary like `common::Tampered`. The
//! table pairs every variant with a small hand-built scenario (one day or three, a few sessions)
//! and the catalog property that must catch it; the same scenario must pass with the reference,
//! so the catch is the bug's and not the scenario's.

use firmware::boundary::hw;
use firmware::device::{DeviceClass, ZoneId};
use firmware::ntc::{NtcReading, RAIL_MARGIN_COUNTS};
use firmware::variant::Variant;
use harness::dut::{Dut, DutError, DutIdentity, InProcess};
use harness::properties::PropertyId;
use harness::result::{RunResult, Status};
use harness::scenario::{Action, Button, Scenario};
use sim::body::Zone;
use sim::device::DeviceKind;
use sim::plant::{NtcId, PlantFault};
use sim::sensors::NtcFault;

use crate::common::*;

// ---- The variants: each a unit struct overriding one hook. ----

/// Dose integrated from the nominal (25 °C) output: the junction-temperature factor is left out,
/// so a hot LED's lower output is counted as full (domain.md §8.8).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct NominalOutput;
impl Variant for NominalOutput {
    fn output_factor(&self, _k_phi_per_k: f32, _t_j_c: f32) -> f32 {
        1.0
    }
}

/// The ms timer compared without wrap handling: `abs_diff` "to avoid the underflow" turns the
/// u32 wrap after 49.7 days into a jump of almost 2^32 ms, an implausible clock.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct UnwrappedTimer;
impl Variant for UnwrappedTimer {
    fn elapsed_ms(&self, now_ms: u32, then_ms: u32) -> u32 {
        now_ms.abs_diff(then_ms)
    }
}

/// 0 °C in kelvin.
const KELVIN_OFFSET: f32 = 273.15;
/// Beta-model reference temperature, K (domain.md §6.5).
const T25_K: f32 = 298.15;

/// NTC counts converted with the wrong sign of the Beta term, `1/T = 1/T25 − ln(R/R25)/B`:
/// right at 25 °C, mirrored around it elsewhere (skin at 40 °C reads about 11 °C).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct BetaSignFlipped;
impl Variant for BetaSignFlipped {
    fn ntc_to_c(&self, counts: u16) -> NtcReading {
        if counts >= hw::ADC_MAX - RAIL_MARGIN_COUNTS {
            return NtcReading::Open;
        }
        if counts <= RAIL_MARGIN_COUNTS {
            return NtcReading::Short;
        }
        let code = f32::from(counts);
        let r_ohm = hw::NTC_R_FIXED_OHM * code / (f32::from(hw::ADC_MAX) - code);
        let inv_t = 1.0 / T25_K - (r_ohm / hw::NTC_R25_OHM).ln() / hw::NTC_BETA_K;
        NtcReading::Celsius(1.0 / inv_t - KELVIN_OFFSET)
    }
}

/// Covered-device derating without hysteresis: the verdict drops as soon as the board excess
/// falls below the on threshold, which halving the duty does within seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct NoDerateHysteresis;
impl Variant for NoDerateHysteresis {
    fn derate_hysteresis_k(&self) -> f32 {
        0.0
    }
}

/// Pause and resume restart the dose: the resumed session integrates from zero and runs a full
/// target on top of what it delivered before the pause.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct ResumeRestartsDose;
impl Variant for ResumeRestartsDose {
    fn keeps_dose_on_resume(&self) -> bool {
        false
    }
}

/// The daily cap kept only in RAM: a power cycle forgets every session the caps count.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct CapsInRamOnly;
impl Variant for CapsInRamOnly {
    fn persist_caps(&self) -> bool {
        false
    }
}

/// Contact loss debounced for 2 s "against a flickering sensor": 20× the interlock budget.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct ContactDebounced2s;
impl Variant for ContactDebounced2s {
    fn contact_debounce_ms(&self) -> u64 {
        2_000
    }
}

/// An open NTC read as "cold": the full-scale code is taken for a sensor below every threshold,
/// no fault is raised and the other sensors carry on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct OpenNtcReadsCold;
impl Variant for OpenNtcReadsCold {
    fn open_ntc_is_fault(&self) -> bool {
        false
    }
}

/// The zone index off by one in the cap table (a 1-based index converted twice): the first two
/// zones share a row, so a session on one blocks the other.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct ZoneSlotOffByOne;
impl Variant for ZoneSlotOffByOne {
    fn zone_slot(&self, class: DeviceClass, zone: ZoneId) -> Option<usize> {
        firmware::programs::zone_slot(class, zone).map(|i| i.saturating_sub(1))
    }
}

/// The torn-write check skipped: a record is trusted without its CRC, so the newest sequence
/// number wins even when only its first bytes reached the chip.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct TornWriteAccepted;
impl Variant for TornWriteAccepted {
    fn check_record_crc(&self) -> bool {
        false
    }
}

// ---- Running a variant. ----

/// Run `s` with the variant `V` on every device.
fn run_variant<V: Variant + 'static>(s: &Scenario) -> RunResult {
    let mut factory = |kind: DeviceKind| -> Result<Box<dyn Dut>, DutError> {
        Ok(Box::new(InProcess::new(
            harness::plant_io::device_class(kind),
            DutIdentity {
                name: format!("reference+{}", core::any::type_name::<V>()),
                version: "test".into(),
            },
            firmware::Firmware::<V>::boot_variant,
            firmware::Firmware::<V>::step,
        )))
    };
    harness::run(s, &mut factory, &mut harness::events::Discard)
        .expect("in-process firmware does not fail")
}

// ---- The scenarios: small, one device, a few sessions. ----

fn one_session(kind: DeviceKind, zone: Zone, minutes: u64, extra: Vec<Timed>) -> Scenario {
    let mut tl = vec![treat(kind, 0, 19, 0, zone, minutes)];
    tl.extend(extra);
    scenario("seeded", 1, vec![device("dut", kind, tl)], vec![])
}

use harness::scenario::Timed;

/// A panel session in a warm room: the LEDs run hot, so their output is well below nominal.
fn hot_panel() -> Scenario {
    let mut s = one_session(DeviceKind::Panel, Zone::LeftQuadriceps, 20, vec![]);
    s.name = "hot-panel".into();
    s.environment.ambient_c = 32.0;
    s
}

/// The u32 ms tick wraps mid-session on day 0; a session on day 2 must still run.
fn tick_wrap() -> Scenario {
    let w = DeviceKind::Wrap;
    let mut d = device(
        "wrap",
        w,
        vec![
            treat(w, 0, 19, 0, Zone::LeftCalf, 14),
            treat(w, 2, 19, 0, Zone::LeftCalf, 14),
        ],
    );
    // The tick wraps at day 0, 19:03.
    d.uptime_at_start_ms = u64::from(u32::MAX) - at(0, 19, 3);
    scenario("tick-wrap", 3, vec![d], vec![])
}

/// A heat wave: room, device and skin at 40 °C, and a request a minute after midnight.
fn hot_skin_start() -> Scenario {
    let w = DeviceKind::Wrap;
    let mut s = scenario(
        "hot-skin-start",
        1,
        vec![device(
            "wrap",
            w,
            vec![treat(w, 0, 0, 1, Zone::LeftCalf, 20)],
        )],
        vec![],
    );
    s.environment.skin_c = 40.5;
    s.environment.ambient_c = 40.0;
    s
}

/// The wrap under a blanket on a warm evening.
fn blanket() -> Scenario {
    let mut s = one_session(
        DeviceKind::Wrap,
        Zone::LeftQuadriceps,
        25,
        vec![act(0, 19, 1, Action::Cover(true))],
    );
    s.name = "blanket".into();
    s.environment.skin_c = 34.0;
    s
}

/// Pause a few minutes into a session, resume a minute later.
fn pause_resume() -> Scenario {
    let mut s = one_session(
        DeviceKind::Wrap,
        Zone::LeftCalf,
        30,
        vec![
            act(0, 19, 8, Action::Press(Button::Pause)),
            act(0, 19, 9, Action::Press(Button::Start)),
        ],
    );
    s.name = "pause-resume".into();
    s
}

/// Two sessions on one zone, a power cycle, and a third attempt the same day.
fn power_cycle() -> Scenario {
    let w = DeviceKind::Wrap;
    scenario(
        "power-cycle",
        1,
        vec![device(
            "wrap",
            w,
            vec![
                treat(w, 0, 7, 0, Zone::LeftCalf, 14),
                treat(w, 0, 13, 30, Zone::LeftCalf, 14),
                act(0, 20, 0, Action::PowerOff),
                act(0, 20, 1, Action::PowerOn),
                treat(w, 0, 20, 5, Zone::LeftCalf, 14),
            ],
        )],
        vec![],
    )
}

/// The wrap lifted off the skin mid-session.
fn lift_off() -> Scenario {
    let mut s = one_session(
        DeviceKind::Wrap,
        Zone::LeftCalf,
        20,
        vec![act(0, 19, 5, Action::LiftOff)],
    );
    s.name = "lift-off".into();
    s
}

/// A contact NTC opens mid-session.
fn ntc_open() -> Scenario {
    let mut s = one_session(
        DeviceKind::Wrap,
        Zone::LeftCalf,
        20,
        vec![act(
            0,
            19,
            5,
            Action::Fault(PlantFault::Ntc {
                sensor: NtcId::Contact0,
                fault: NtcFault::Open,
            }),
        )],
    );
    s.name = "ntc-open".into();
    s
}

/// Both calves treated an hour apart: separate zones, separate caps.
fn two_calves() -> Scenario {
    let w = DeviceKind::Wrap;
    scenario(
        "two-calves",
        1,
        vec![device(
            "wrap",
            w,
            vec![
                treat(w, 0, 8, 0, Zone::LeftCalf, 14),
                treat(w, 0, 9, 0, Zone::RightCalf, 14),
            ],
        )],
        vec![],
    )
}

/// Power fails 10 bytes into the record that ends the second session of the day; a third
/// attempt that evening must still be refused.
fn torn_write() -> Scenario {
    let w = DeviceKind::Wrap;
    scenario(
        "torn-write",
        1,
        vec![device(
            "wrap",
            w,
            vec![
                treat(w, 0, 7, 0, Zone::RightCalf, 14),
                treat(w, 0, 13, 30, Zone::RightCalf, 14),
                act(
                    0,
                    13,
                    35,
                    Action::TearNextNvmWrite {
                        bytes_written: 10,
                        off_ms: 2_000,
                    },
                ),
                treat(w, 0, 20, 30, Zone::RightCalf, 14),
            ],
        )],
        vec![],
    )
}

// ---- The table. ----

/// One seeded bug: how to run it, what it is, where it shows, and what must catch it.
struct SeededBug {
    /// Variant name.
    name: &'static str,
    /// The bug, in a line.
    bug: &'static str,
    /// Runs the scenario with the variant.
    run: fn(&Scenario) -> RunResult,
    /// The scenario that exposes it.
    scenario: fn() -> Scenario,
    /// The property that must be violated.
    caught_by: PropertyId,
}

const SEEDED_BUGS: &[SeededBug] = &[
    SeededBug {
        name: "nominal-output",
        bug: "dose integrated from nominal rather than temperature-corrected output",
        run: run_variant::<NominalOutput>,
        scenario: hot_panel,
        caught_by: PropertyId::DoseEstimate,
    },
    SeededBug {
        name: "unwrapped-timer",
        bug: "the ms timer compared without wrap handling (abs_diff)",
        run: run_variant::<UnwrappedTimer>,
        scenario: tick_wrap,
        caught_by: PropertyId::SessionLiveness,
    },
    SeededBug {
        name: "beta-sign-flipped",
        bug: "NTC counts converted with the wrong sign of the Beta term",
        run: run_variant::<BetaSignFlipped>,
        scenario: hot_skin_start,
        caught_by: PropertyId::SessionRefusal,
    },
    SeededBug {
        name: "no-derate-hysteresis",
        bug: "covered-device derating without hysteresis",
        run: run_variant::<NoDerateHysteresis>,
        scenario: blanket,
        caught_by: PropertyId::SkinNormal,
    },
    SeededBug {
        name: "resume-restarts-dose",
        bug: "pause and resume restarting the dose",
        run: run_variant::<ResumeRestartsDose>,
        scenario: pause_resume,
        caught_by: PropertyId::DoseSession,
    },
    SeededBug {
        name: "caps-in-ram-only",
        bug: "the daily cap kept only in RAM",
        run: run_variant::<CapsInRamOnly>,
        scenario: power_cycle,
        caught_by: PropertyId::SessionRefusal,
    },
    SeededBug {
        name: "contact-debounced-2s",
        bug: "contact loss debounced for 2 s",
        run: run_variant::<ContactDebounced2s>,
        scenario: lift_off,
        caught_by: PropertyId::InterlockContact,
    },
    SeededBug {
        name: "open-ntc-reads-cold",
        bug: "an open NTC read as cold instead of a fault",
        run: run_variant::<OpenNtcReadsCold>,
        scenario: ntc_open,
        caught_by: PropertyId::FaultSafe,
    },
    SeededBug {
        name: "zone-slot-off-by-one",
        bug: "the zone index off by one in the cap table",
        run: run_variant::<ZoneSlotOffByOne>,
        scenario: two_calves,
        caught_by: PropertyId::SessionLiveness,
    },
    SeededBug {
        name: "torn-write-accepted",
        bug: "the torn-write (CRC) check skipped at boot",
        run: run_variant::<TornWriteAccepted>,
        scenario: torn_write,
        caught_by: PropertyId::SessionRefusal,
    },
];

#[test]
fn probe() {
    for b in SEEDED_BUGS {
        let s = (b.scenario)();
        let bad = (b.run)(&s);
        let good = harness::run_reference(&s, &mut harness::events::Discard).unwrap();
        let viol: Vec<_> = bad
            .verdicts
            .iter()
            .filter(|v| v.status == Status::Violated)
            .map(|v| (v.name, v.violations.first().map(|x| x.detail.clone())))
            .collect();
        let gfail: Vec<_> = good
            .verdicts
            .iter()
            .filter(|v| v.status.is_failure())
            .map(|v| (v.name, v.violations.first().map(|x| x.detail.clone())))
            .collect();
        println!(
            "{}: ref passed {} {:?} inv {:?}\n   bug: {:?}",
            b.name,
            good.passed(),
            gfail,
            good.invalid,
            viol
        );
    }
}
