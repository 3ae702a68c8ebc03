//! Proptest strategies for training weeks: calendars, treatment plans, misuse, environment, part
//! tolerances and faults, each shrinking toward a small, nominal week.
//!
//! A campaign runs many generated weeks against a firmware and shrinks each failure to a small
//! scenario file, so every strategy here produces a *plan* (a [`WeekPlan`]: plain numbers and
//! [`Index`]es) that [`WeekPlan::to_scenario`] turns into a valid [`Scenario`], the same kind
//! of value a scenario file loads into. Plans are built so that shrinking makes them simpler and
//! still meaningful: vectors lose entries (days without sessions, no misuse, no fault), numbers
//! shrink toward nominal (tolerance offsets toward 0, so the unit toward its datasheet value),
//! and a misuse or fault refers to a session by [`Index`], so it follows the sessions that are
//! left. Everything a generated week contains can be written to a file by
//! [`crate::format::to_toml`] and loaded back unchanged (all times are whole seconds or
//! minutes, all fractional values are on a decimal grid).
//!
//! What a week contains, and where the numbers come from:
//! - training calendars for runners and cyclists (the seed article's weeks: intervals, tempo,
//!   hills, long runs; long rides, threshold; easy days and rest), ending in the morning or the
//!   evening;
//! - treatment plans from the article: 10–20 min per zone on the hard-session zones (calves,
//!   quadriceps, hamstrings for runners; quadriceps and glutes for cyclists), the "weak links"
//!   (Achilles, knee, hip) with a pen or laser probe, on 3–5 days a week, in the evening or right
//!   after training (domain.md §4.2 \[M\]: warm, perfused post-exercise skin);
//! - misuse: an extra session on a zone already treated that day ("giving extra"), a blanket
//!   over a wrap or pad, removing or lifting the device mid-session, power cycles mid-session or
//!   at a random instant, pressing start twice;
//! - environment: ambient 6–39 °C (1 K inside the firmware's 5–40 °C start range, domain.md §6.2 \[M\] IEC
//!   60601-1-11), resting skin 31–34 °C (domain.md §4.2 \[M\]), every Fitzpatrick type, resting
//!   perfusion 0.3–2 × (domain.md §4.2 \[M\]: skin 0.0005–0.02 1/s around 0.002 at rest; the
//!   post-exercise ×5 of [`crate::scenario::expand_training`] keeps it inside that range);
//! - device tolerances: LED efficiency bins ±10 %, NTC corners ±1 % R25 and B (domain.md §6.5
//!   \[M\]: "property tests should include ±tolerance corners"), thermal resistance spread ±15 %;
//! - faults (NTC open/short/detached/drift, string open/short, driver stuck on, fan stall; only
//!   the hardware the class has, `format::validate::hardware`) at a random instant inside a
//!   session, so they fire (a fault on a device that never runs again cannot be judged).
//!
//! # Using the strategies against your own firmware
//!
//! The strategies are ordinary proptest strategies; a user runs the generated weeks against
//! their own firmware with [`crate::run`] and a factory for their device under test:
//!
//! ```no_run
//! use harness::generate::{any_week, week, WeekSpec, Athlete};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     #[test]
//!     fn every_generated_week_passes(scenario in any_week()) {
//!         // Replace `run_reference` by `harness::run(&scenario, &mut my_factory, ...)`.
//!         let result = harness::run_reference(&scenario, &mut harness::events::Discard)
//!             .expect("the firmware does not crash");
//!         prop_assert!(result.passed() || (scenario_has_faults(&scenario) && result.invalid.is_some()));
//!     }
//!
//!     #[test]
//!     fn cyclist_weeks_with_misuse_pass(scenario in week(WeekSpec {
//!         athlete: Some(Athlete::Cyclist),
//!         misuse: true,
//!         faults: false,
//!     })) {
//!         let result = harness::run_reference(&scenario, &mut harness::events::Discard).unwrap();
//!         prop_assert!(result.passed(), "{:#?}", result.verdicts);
//!     }
//! }
//!
//! fn scenario_has_faults(s: &harness::scenario::Scenario) -> bool {
//!     harness::generate::has_faults(s)
//! }
//! ```

use proptest::prelude::*;
use proptest::sample::Index;
use sim::body::{SkinType, Zone};
use sim::device::DeviceKind;
use sim::plant::{NtcId, PlantFault, Tolerances};
use sim::sensors::NtcFault;

use crate::format::raw::{DEVICE_KINDS, SensorName};
use crate::format::validate::{hardware, has_sensor, to_device_kind, to_ntc};
use crate::prescription;
use crate::properties::Limits;
use crate::scenario::{
    Action, Button, DAY_MS, DeviceSetup, Environment, MINUTE_MS, Scenario, Timed, Training,
    TrainingKind, Treatment, sort_timeline,
};

/// Days in a generated week.
pub const WEEK_DAYS: u64 = 7;
/// Margin kept inside the firmware's 5–40 °C start range, K (see [`environment`]).
pub const AMBIENT_MARGIN_K: f64 = 1.0;
/// Gap between two sessions of one evening routine, min (moving the device to the next zone).
pub const BETWEEN_SESSIONS_MIN: u64 = 2;

/// Whose week: the seed article's two athletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Athlete {
    /// Runner: wrap on calves, quadriceps, hamstrings; pen or probe on Achilles and knees.
    Runner,
    /// Cyclist: wrap, pad or panel on quadriceps and glutes; pen or probe on knees and hip.
    Cyclist,
}

/// What a generated week may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeekSpec {
    /// Whose week (`None`: either).
    pub athlete: Option<Athlete>,
    /// Whether misuse (extra sessions, blanket, removal, power cycles) may be added.
    pub misuse: bool,
    /// Whether a fault may be injected.
    pub faults: bool,
}

/// One device of a week and the unit's part tolerances.
#[derive(Clone, Debug)]
pub struct DevicePlan {
    /// Device class.
    pub kind: DeviceKind,
    /// Part tolerances of this unit.
    pub tolerances: Tolerances,
    /// Firmware uptime at the start, ms (sometimes just before the `u32` wrap).
    pub uptime_at_start_ms: u64,
    /// Panel distance, cm (ignored by other classes, which sit at their standoff).
    pub distance_cm: u32,
}

/// One training session of the calendar.
#[derive(Clone, Debug)]
pub struct TrainingPlan {
    /// Kind.
    pub kind: TrainingKind,
    /// End, minutes after midnight.
    pub end_min: u64,
    /// Duration, minutes.
    pub minutes: u64,
    /// Intensity, percent (0–100).
    pub intensity_pct: u8,
}

/// When a day's treatments start.
#[derive(Clone, Debug)]
pub enum Timing {
    /// In the evening (the article's calm routine), minutes after midnight; never before
    /// training has ended.
    Evening {
        /// Minutes after midnight.
        at_min: u64,
    },
    /// Right after training (minutes after its end); in the evening on a day without training.
    AfterTraining {
        /// Minutes after training ends.
        delay_min: u64,
    },
}

/// One treatment of a day's routine.
#[derive(Clone, Debug)]
pub struct SessionPlan {
    /// On the small device (pen or probe) rather than the large-area one.
    pub small_device: bool,
    /// Which of the device's zones for this athlete.
    pub zone: Index,
    /// Minutes from placing to removing the device.
    pub minutes: u64,
}

/// One day of the week.
#[derive(Clone, Debug)]
pub struct DayPlan {
    /// The day's training, if any.
    pub training: Option<TrainingPlan>,
    /// When the treatments start.
    pub timing: Timing,
    /// Treatments, one after another (a zone at most once per device and day).
    pub sessions: Vec<SessionPlan>,
}

/// Misuse of the device, attached to a generated session (by index) or to a day.
#[derive(Clone, Debug)]
pub enum Misuse {
    /// The session again on the same zone later that day ("giving extra"): must be refused.
    ExtraSession {
        /// Which session is repeated.
        session: Index,
        /// Minutes after the device's last session that day.
        gap_min: u64,
    },
    /// A blanket over a wrap or pad during the session.
    Blanket {
        /// Which session.
        session: Index,
        /// Minutes after placing.
        after_min: u64,
        /// Minutes covered.
        for_min: u64,
    },
    /// The device taken off early.
    RemoveEarly {
        /// Which session.
        session: Index,
        /// Seconds after placing.
        after_s: u64,
    },
    /// A contact device lifted off the skin and put back.
    LiftOff {
        /// Which session.
        session: Index,
        /// Seconds after placing.
        after_s: u64,
        /// Seconds off the skin.
        for_s: u64,
    },
    /// Unplugged mid-session and plugged back in.
    PowerCycle {
        /// Which session.
        session: Index,
        /// Seconds after placing.
        after_s: u64,
        /// Seconds without power.
        off_s: u64,
    },
    /// Unplugged at a random instant of the week and plugged back in.
    PowerCycleAt {
        /// Day.
        day: Index,
        /// Minutes after midnight.
        at_min: u64,
        /// Seconds without power.
        off_s: u64,
    },
    /// Take the mask's eye shields off during a mask session, for a while.
    EyeShieldsOff {
        /// Which session.
        session: Index,
        /// Seconds after it was placed.
        after_s: u64,
        /// Seconds without the shields.
        for_s: u64,
    },
    /// Start pressed a second time while the session runs.
    PressStartTwice {
        /// Which session.
        session: Index,
        /// Seconds after the first press.
        after_s: u64,
    },
}

/// A fault injected into a session's device while it runs.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// Which session.
    pub session: Index,
    /// Which of the faults the class's hardware allows ([`class_faults`]).
    pub fault: Index,
    /// Seconds after the session's start press (clamped inside the session).
    pub after_s: u64,
    /// Drift rate for an NTC drift, K/h (a multiple of 0.5).
    pub drift_k_per_hour: f64,
    /// Shorted LEDs for a string short.
    pub shorted_leds: u8,
}

/// A whole generated week, before it becomes a [`Scenario`].
#[derive(Clone, Debug)]
pub struct WeekPlan {
    /// Sensor-noise seed.
    pub seed: u64,
    /// Whose week.
    pub athlete: Athlete,
    /// Room and body.
    pub environment: Environment,
    /// The large-area device (wrap, pad or panel).
    pub main: DevicePlan,
    /// The small device for tendons and joints (pen or laser probe), if any.
    pub small: Option<DevicePlan>,
    /// The days, [`WEEK_DAYS`] of them.
    pub days: Vec<DayPlan>,
    /// Misuse.
    pub misuse: Vec<Misuse>,
    /// Faults.
    pub faults: Vec<FaultPlan>,
}

/// Ambient 6–39 °C, resting skin 31–34 °C (warmer in a hot room), any skin type, perfusion
/// 0.3–2 × rest, arterial 37 °C; all on a 0.1 (°C or ×) grid so files round-trip.
///
/// Sources: ambient range domain.md §6.2 \[M\] (IEC 60601-1-11 start range 5–40 °C), kept
/// [`AMBIENT_MARGIN_K`] inside it: at the edge the firmware sees the room through its board NTC
/// (±1 % R25/B corners, self-heating) and may refuse a start the harness judges on the true
/// 5.0 °C as allowed, a disagreement no firmware can avoid (found by a campaign, week 39 of
/// seed 1). Skin 31–34 °C and
/// perfusion 0.0005–0.02 1/s around 0.002 at rest domain.md §4.2 \[M\]. Above 28 °C ambient the
/// skin is raised by 0.25 K per K (an engineering choice: skin follows a hot room, so a 40 °C
/// room gives up to 37 °C, the edge where the harness still requires a start).
pub fn environment() -> impl Strategy<Value = Environment> {
    // Offsets from the thermoneutral defaults, so a week shrinks toward a 22 °C room and 33 °C
    // skin at rest perfusion.
    (-160i32..=170, 0usize..6, -7i32..=10, -20i32..=10).prop_map(
        |(ambient_dc, skin, perfusion_dx, skin_dc)| {
            let ambient_c = f64::from(220 + ambient_dc) / 10.0;
            let warm_dc = ((ambient_c - 28.0).max(0.0) * 2.5).round() as i32;
            Environment {
                ambient_c,
                skin_type: [
                    SkinType::III,
                    SkinType::I,
                    SkinType::II,
                    SkinType::IV,
                    SkinType::V,
                    SkinType::VI,
                ][skin],
                perfusion_scale: f64::from(10 + perfusion_dx) / 10.0,
                skin_c: f64::from(330 + skin_dc + warm_dc) / 10.0,
                arterial_c: 37.0,
            }
        },
    )
}

/// Part tolerances of one unit: LED efficiency bin ±5 % (permille grid), NTC R25 and B at the
/// ±1 % corners or nominal, thermal resistance ±15 % (permille grid); each shrinks to nominal.
///
/// Sources: NTC ±1 % R25 and B, domain.md §6.5 \[M\] ("property tests should include ±tolerance
/// corners"); Rth spread ±15 % (engineering range). LED bins: ±5 %, a binned flux class. A
/// firmware without optical feedback estimates nominal output, so a ±10 % bin alone eats the
/// whole ±10 % of `dose.estimate`: campaigns found exactly that. Wider bins need per-unit factory
/// calibration (a flux factor stored in NVM), which the reference firmware does not have; widen
/// the range here to test a firmware that does.
pub fn tolerances() -> impl Strategy<Value = Tolerances> {
    let corner = prop_oneof![Just(1.0), Just(0.99), Just(1.01)];
    (-50i32..=50, corner.clone(), corner, -150i32..=150).prop_map(|(led, r25, beta, rth)| {
        Tolerances {
            led_efficiency_scale: permille(led),
            ntc_r25_scale: r25,
            ntc_beta_scale: beta,
            rth_scale: permille(rth),
        }
    })
}

/// `1 + p / 1000`, rounded to the permille grid (so the file shows `0.93`, not `0.9299999`).
fn permille(p: i32) -> f64 {
    f64::from(1000 + p) / 1000.0
}

fn device_plan(kinds: &'static [DeviceKind]) -> impl Strategy<Value = DevicePlan> {
    let uptime = prop_oneof![
        4 => Just(0u64),
        1 => (0u64..=3 * DAY_MS / 1000).prop_map(|s| u64::from(u32::MAX) - 3 * DAY_MS + s * 1000),
    ];
    (
        prop::sample::select(kinds),
        tolerances(),
        uptime,
        prop_oneof![Just(15u32), 10u32..=30],
    )
        .prop_map(
            |(kind, tolerances, uptime_at_start_ms, distance_cm)| DevicePlan {
                kind,
                tolerances,
                uptime_at_start_ms,
                distance_cm,
            },
        )
}

fn training(athlete: Athlete) -> impl Strategy<Value = TrainingPlan> {
    let kinds: &'static [TrainingKind] = match athlete {
        Athlete::Runner => &[
            TrainingKind::Intervals,
            TrainingKind::Easy,
            TrainingKind::Tempo,
            TrainingKind::Hills,
            TrainingKind::LongRun,
            TrainingKind::Rest,
        ],
        Athlete::Cyclist => &[
            TrainingKind::LongRide,
            TrainingKind::Easy,
            TrainingKind::Threshold,
            TrainingKind::Intervals,
            TrainingKind::Rest,
        ],
    };
    // Mornings 06:30–09:00 or evenings 17:00–19:30, in 5 min steps.
    let end = prop_oneof![
        (78u64..=108).prop_map(|k| k * 5),
        (204u64..=234).prop_map(|k| k * 5),
    ];
    (prop::sample::select(kinds), end, 6u64..=36, 20u8..=95).prop_map(
        |(kind, end_min, m5, intensity_pct)| {
            let minutes = if matches!(kind, TrainingKind::LongRide | TrainingKind::LongRun) {
                m5 * 10
            } else {
                m5 * 5
            }
            .min(end_min);
            TrainingPlan {
                kind,
                end_min,
                minutes,
                intensity_pct,
            }
        },
    )
}

/// One day: training (70 % of days), when treatments start, and 0–3 sessions on about 60 % of
/// days (the article's 3–5 days a week), 10–20 min on the large-area device, 3–8 min with the
/// pen or probe.
fn day(athlete: Athlete) -> impl Strategy<Value = DayPlan> {
    let timing = prop_oneof![
        (216u64..=258).prop_map(|k| Timing::Evening { at_min: k * 5 }),
        (1u64..=6).prop_map(|k| Timing::AfterTraining { delay_min: k * 5 }),
    ];
    let session = (any::<bool>(), any::<Index>(), 10u64..=20, 3u64..=8).prop_map(
        |(small_device, zone, big_min, small_min)| SessionPlan {
            small_device,
            zone,
            minutes: if small_device { small_min } else { big_min },
        },
    );
    let sessions = prop_oneof![
        2 => Just(Vec::new()),
        3 => prop::collection::vec(session, 1..=3),
    ];
    (
        prop::option::weighted(0.7, training(athlete)),
        timing,
        sessions,
    )
        .prop_map(|(training, timing, sessions)| DayPlan {
            training,
            timing,
            sessions,
        })
}

fn misuse() -> impl Strategy<Value = Misuse> {
    prop_oneof![
        (any::<Index>(), 5u64..=120)
            .prop_map(|(session, gap_min)| Misuse::ExtraSession { session, gap_min }),
        (any::<Index>(), 1u64..=8, 2u64..=30).prop_map(|(session, after_min, for_min)| {
            Misuse::Blanket {
                session,
                after_min,
                for_min,
            }
        }),
        (any::<Index>(), 10u64..=900)
            .prop_map(|(session, after_s)| Misuse::RemoveEarly { session, after_s }),
        (any::<Index>(), 5u64..=600, 1u64..=30).prop_map(|(session, after_s, for_s)| {
            Misuse::LiftOff {
                session,
                after_s,
                for_s,
            }
        }),
        (any::<Index>(), 5u64..=900, 1u64..=120).prop_map(|(session, after_s, off_s)| {
            Misuse::PowerCycle {
                session,
                after_s,
                off_s,
            }
        }),
        (any::<Index>(), 0u64..24 * 60, 1u64..=120)
            .prop_map(|(day, at_min, off_s)| { Misuse::PowerCycleAt { day, at_min, off_s } }),
        (any::<Index>(), 1u64..=30)
            .prop_map(|(session, after_s)| Misuse::PressStartTwice { session, after_s }),
        (any::<Index>(), 0u64..=240, 1u64..=120).prop_map(|(session, after_s, for_s)| {
            Misuse::EyeShieldsOff {
                session,
                after_s,
                for_s,
            }
        }),
    ]
}

fn fault() -> impl Strategy<Value = FaultPlan> {
    (
        any::<Index>(),
        any::<Index>(),
        10u64..=600,
        prop_oneof![-30i32..=-2, 2i32..=30],
        1u8..=4,
    )
        .prop_map(
            |(session, fault, after_s, drift_half, shorted_leds)| FaultPlan {
                session,
                fault,
                after_s,
                drift_k_per_hour: f64::from(drift_half) / 2.0,
                shorted_leds,
            },
        )
}

/// A plan for one week as `spec` allows.
pub fn week_plan(spec: WeekSpec) -> impl Strategy<Value = WeekPlan> {
    let athlete = match spec.athlete {
        Some(a) => Just(a).boxed(),
        None => prop_oneof![Just(Athlete::Runner), Just(Athlete::Cyclist)].boxed(),
    };
    athlete.prop_flat_map(move |athlete| {
        let main: &'static [DeviceKind] = match athlete {
            Athlete::Runner => &[DeviceKind::Wrap],
            Athlete::Cyclist => &[DeviceKind::Wrap, DeviceKind::Pad, DeviceKind::Panel],
        };
        let small = prop::option::weighted(
            0.6,
            device_plan(&[DeviceKind::Pen, DeviceKind::LaserProbe, DeviceKind::Mask]),
        );
        let misuse = if spec.misuse {
            prop::collection::vec(misuse(), 1..=3).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        let faults = if spec.faults {
            prop::collection::vec(fault(), 1..=1).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (
            0u64..=u64::from(u32::MAX),
            environment(),
            device_plan(main),
            small,
            prop::collection::vec(day(athlete), WEEK_DAYS as usize),
            misuse,
            faults,
        )
            .prop_map(
                move |(seed, environment, main, small, days, misuse, faults)| WeekPlan {
                    seed,
                    athlete,
                    environment,
                    main,
                    small,
                    days,
                    misuse,
                    faults,
                },
            )
    })
}

/// Weeks as `spec` allows, as scenarios.
pub fn week(spec: WeekSpec) -> BoxedStrategy<Scenario> {
    week_plan(spec).prop_map(|p| p.to_scenario()).boxed()
}

/// The campaign mix: half compliant weeks, a third with misuse, a sixth with a fault; runners
/// and cyclists alike.
pub fn any_week() -> BoxedStrategy<Scenario> {
    let spec = |misuse, faults| WeekSpec {
        athlete: None,
        misuse,
        faults,
    };
    prop_oneof![
        3 => week(spec(false, false)),
        2 => week(spec(true, false)),
        1 => week(spec(false, true)),
    ]
    .boxed()
}

/// Whether a scenario injects a plant fault.
pub fn has_faults(s: &Scenario) -> bool {
    s.devices.iter().any(|d| {
        d.timeline
            .iter()
            .any(|t| matches!(t.action, Action::Fault(_)))
    })
}

/// The faults a class's hardware allows, in a fixed order ([`FaultPlan::fault`] picks one).
pub fn class_faults(kind: DeviceKind) -> Vec<PlantFault> {
    let name = DEVICE_KINDS
        .iter()
        .find(|(_, k)| to_device_kind(*k) == kind)
        .map(|(_, k)| *k)
        .expect("every class has a file name");
    let hw = hardware(name);
    let mut out = Vec::new();
    for sensor in [
        SensorName::Contact0,
        SensorName::Contact1,
        SensorName::Board,
    ] {
        if !has_sensor(name, sensor) {
            continue;
        }
        let sensor: NtcId = to_ntc(sensor);
        for fault in [NtcFault::Open, NtcFault::Short, NtcFault::Detached] {
            out.push(PlantFault::Ntc { sensor, fault });
        }
        out.push(PlantFault::Ntc {
            sensor,
            fault: NtcFault::Drift { k_per_hour: 0.0 },
        });
    }
    for s in &hw.strings {
        let s = usize::from(*s);
        out.push(PlantFault::StringOpen(s));
        // A shorted LED needs a string of two or more (the laser probe's single diode has none).
        if hw.leds_per_string[s] >= 2 {
            out.push(PlantFault::StringShort { string: s, leds: 1 });
        }
        out.push(PlantFault::DriverStuckOn(s));
    }
    if hw.fan {
        out.push(PlantFault::FanStall);
    }
    out
}

/// A session of the built week, for attaching misuse and faults.
struct Placed {
    device: usize,
    day: u64,
    at_ms: u64,
    treatment: Treatment,
}

impl WeekPlan {
    /// The week as a scenario named `generated` (campaigns rename it), valid as a file.
    pub fn to_scenario(&self) -> Scenario {
        let mut devices = vec![device_setup("main", &self.main)];
        if let Some(small) = &self.small {
            devices.push(device_setup("small", small));
        }
        let duration_ms = WEEK_DAYS * DAY_MS;
        let mut training = Vec::new();
        let mut placed: Vec<Placed> = Vec::new();
        for (d, plan) in self.days.iter().enumerate() {
            let day = d as u64;
            let day_ms = day * DAY_MS;
            let trained = plan.training.as_ref().filter(|t| t.minutes > 0);
            if let Some(t) = trained {
                training.push(Training {
                    kind: t.kind,
                    intensity: f64::from(t.intensity_pct) / 100.0,
                    duration_ms: t.minutes * MINUTE_MS,
                    end_ms: day_ms + t.end_min * MINUTE_MS,
                });
            }
            let end_min = trained.map(|t| t.end_min);
            let mut at_min = match (&plan.timing, end_min) {
                (Timing::Evening { at_min }, Some(end)) => (*at_min).max(end + 15),
                (Timing::Evening { at_min }, None) => *at_min,
                (Timing::AfterTraining { delay_min }, Some(end)) => end + delay_min,
                (Timing::AfterTraining { .. }, None) => 19 * 60,
            };
            let mut used: Vec<(usize, Zone)> = Vec::new();
            for s in &plan.sessions {
                let device = usize::from(s.small_device && self.small.is_some());
                let kind = devices[device].kind;
                let zones = athlete_zones(self.athlete, kind);
                let zone = zones[s.zone.index(zones.len())];
                if used.contains(&(device, zone)) {
                    continue;
                }
                let at_ms = day_ms + at_min * MINUTE_MS;
                // A session planned for the small device lands on the large one when the week
                // has none: keep the article's 10–20 min per zone there.
                let minutes = if device == 0 {
                    s.minutes.clamp(10, 20)
                } else {
                    s.minutes
                };
                let remove_after_ms = minutes * MINUTE_MS;
                if at_ms + remove_after_ms > duration_ms {
                    break;
                }
                used.push((device, zone));
                let program = prescription::program_for_zone(kind, zone)
                    .expect("athlete zones have programs");
                placed.push(Placed {
                    device,
                    day,
                    at_ms,
                    treatment: Treatment {
                        label: format!("d{day}-s{}", placed.len()),
                        zone,
                        program,
                        distance_mm: distance_mm(kind, &self.device_plan(device)),
                        remove_after_ms,
                    },
                });
                at_min += minutes + BETWEEN_SESSIONS_MIN;
            }
        }
        let mut timelines: Vec<Vec<Timed>> = vec![Vec::new(); devices.len()];
        for p in &placed {
            timelines[p.device].push(Timed {
                at_ms: p.at_ms,
                action: Action::Treat(p.treatment.clone()),
            });
        }
        self.add_misuse(&placed, &devices, &mut timelines, duration_ms);
        self.add_faults(&placed, &devices, &mut timelines);
        for (d, t) in devices.iter_mut().zip(timelines) {
            d.timeline = t;
            sort_timeline(&mut d.timeline);
        }
        Scenario {
            name: "generated".to_string(),
            description: self.describe(placed.len()),
            seed: self.seed,
            duration_ms,
            environment: self.environment,
            devices,
            global: Vec::new(),
            training,
            limits: Limits::default(),
            expectations: Vec::new(),
        }
    }

    fn device_plan(&self, device: usize) -> DevicePlan {
        match (device, &self.small) {
            (1, Some(s)) => s.clone(),
            _ => self.main.clone(),
        }
    }

    fn describe(&self, sessions: usize) -> String {
        let who = match self.athlete {
            Athlete::Runner => "runner",
            Athlete::Cyclist => "cyclist",
        };
        format!(
            "Generated {who} week: {sessions} treatment(s), {} misuse, {} fault(s), ambient {} °C.",
            self.misuse.len(),
            self.faults.len(),
            self.environment.ambient_c
        )
    }

    fn add_misuse(
        &self,
        placed: &[Placed],
        devices: &[DeviceSetup],
        timelines: &mut [Vec<Timed>],
        duration_ms: u64,
    ) {
        let mut extra = 0usize;
        for m in &self.misuse {
            let pick = |i: &Index| (!placed.is_empty()).then(|| &placed[i.index(placed.len())]);
            let push = |timelines: &mut [Vec<Timed>], device: usize, at_ms: u64, action| {
                if at_ms < duration_ms {
                    timelines[device].push(Timed { at_ms, action });
                }
            };
            match m {
                Misuse::ExtraSession { session, gap_min } => {
                    let Some(p) = pick(session) else { continue };
                    // After everything on this device that day (and earlier extras): treatments
                    // on one device never overlap.
                    let busy_until = timelines[p.device]
                        .iter()
                        .filter_map(|t| match &t.action {
                            Action::Treat(tr) if t.at_ms / DAY_MS == p.day => {
                                Some(t.at_ms + tr.remove_after_ms)
                            }
                            _ => None,
                        })
                        .max()
                        .unwrap_or(p.at_ms);
                    let at_ms = busy_until + gap_min * MINUTE_MS;
                    if at_ms + p.treatment.remove_after_ms > duration_ms {
                        continue;
                    }
                    let mut t = p.treatment.clone();
                    t.label = format!("extra{extra}-{}", p.treatment.label);
                    extra += 1;
                    push(timelines, p.device, at_ms, Action::Treat(t));
                }
                Misuse::Blanket {
                    session,
                    after_min,
                    for_min,
                } => {
                    let Some(p) = pick(session) else { continue };
                    if !matches!(devices[p.device].kind, DeviceKind::Wrap | DeviceKind::Pad) {
                        continue;
                    }
                    let on = p.at_ms + after_min * MINUTE_MS;
                    push(timelines, p.device, on, Action::Cover(true));
                    push(
                        timelines,
                        p.device,
                        on + for_min * MINUTE_MS,
                        Action::Cover(false),
                    );
                }
                Misuse::RemoveEarly { session, after_s } => {
                    let Some(p) = pick(session) else { continue };
                    let at = p.at_ms + (after_s * 1000).min(p.treatment.remove_after_ms);
                    push(timelines, p.device, at, Action::Remove);
                }
                Misuse::LiftOff {
                    session,
                    after_s,
                    for_s,
                } => {
                    let Some(p) = pick(session) else { continue };
                    // Lifting is a contact device's misuse (the format refuses it elsewhere).
                    if !crate::plant_io::facts(devices[p.device].kind).contact {
                        continue;
                    }
                    let off = p.at_ms + (after_s * 1000).min(p.treatment.remove_after_ms);
                    push(timelines, p.device, off, Action::LiftOff);
                    push(timelines, p.device, off + for_s * 1000, Action::PutBack);
                }
                Misuse::PowerCycle {
                    session,
                    after_s,
                    off_s,
                } => {
                    let Some(p) = pick(session) else { continue };
                    let off = p.at_ms + (after_s * 1000).min(p.treatment.remove_after_ms);
                    push(timelines, p.device, off, Action::PowerOff);
                    push(timelines, p.device, off + off_s * 1000, Action::PowerOn);
                }
                Misuse::PowerCycleAt { day, at_min, off_s } => {
                    let d = day.index(WEEK_DAYS as usize) as u64;
                    let off = d * DAY_MS + at_min * MINUTE_MS;
                    let device = usize::from(devices.len() > 1 && at_min % 2 == 1);
                    push(timelines, device, off, Action::PowerOff);
                    push(timelines, device, off + off_s * 1000, Action::PowerOn);
                }
                Misuse::EyeShieldsOff {
                    session,
                    after_s,
                    for_s,
                } => {
                    let Some(p) = pick(session) else { continue };
                    if devices[p.device].kind != DeviceKind::Mask {
                        continue;
                    }
                    let off = p.at_ms + (after_s * 1000).min(p.treatment.remove_after_ms);
                    push(timelines, p.device, off, Action::EyeShields(false));
                    push(
                        timelines,
                        p.device,
                        off + for_s * 1000,
                        Action::EyeShields(true),
                    );
                }
                Misuse::PressStartTwice { session, after_s } => {
                    let Some(p) = pick(session) else { continue };
                    let at = p.at_ms + crate::scenario::PLACE_TO_START_MS + after_s * 1000;
                    push(timelines, p.device, at, Action::Press(Button::Start));
                }
            }
        }
    }

    fn add_faults(&self, placed: &[Placed], devices: &[DeviceSetup], timelines: &mut [Vec<Timed>]) {
        for f in &self.faults {
            if placed.is_empty() {
                continue;
            }
            let p = &placed[f.session.index(placed.len())];
            let choices = class_faults(devices[p.device].kind);
            let fault = match choices[f.fault.index(choices.len())] {
                PlantFault::Ntc {
                    sensor,
                    fault: NtcFault::Drift { .. },
                } => PlantFault::Ntc {
                    sensor,
                    fault: NtcFault::Drift {
                        k_per_hour: f.drift_k_per_hour,
                    },
                },
                PlantFault::StringShort { string, .. } => {
                    let leds_in_string = hardware(
                        DEVICE_KINDS
                            .iter()
                            .find(|(_, k)| to_device_kind(*k) == devices[p.device].kind)
                            .map(|(_, k)| *k)
                            .expect("class has a name"),
                    )
                    .leds_per_string[string];
                    let most = u8::try_from(leds_in_string.saturating_sub(1).max(1)).unwrap_or(1);
                    PlantFault::StringShort {
                        string,
                        leds: f.shorted_leds.min(most),
                    }
                }
                other => other,
            };
            // Inside the session (after start, before the user takes the device off), so it fires
            // while the firmware runs.
            let start = p.at_ms + crate::scenario::PLACE_TO_START_MS;
            let latest = (p.at_ms + p.treatment.remove_after_ms * 4 / 5).max(start + 1_000);
            let at_ms = (start + f.after_s * 1000).min(latest);
            timelines[p.device].push(Timed {
                at_ms,
                action: Action::Fault(fault),
            });
        }
    }
}

fn device_setup(id: &str, plan: &DevicePlan) -> DeviceSetup {
    DeviceSetup {
        id: id.to_string(),
        kind: plan.kind,
        tolerances: plan.tolerances,
        uptime_at_start_ms: plan.uptime_at_start_ms,
        timeline: Vec::new(),
    }
}

/// Panels at the plan's distance; other classes at their standoff (as the file loader places
/// them).
fn distance_mm(kind: DeviceKind, plan: &DevicePlan) -> f64 {
    if kind == DeviceKind::Panel {
        f64::from(plan.distance_cm) * 10.0
    } else {
        let name = DEVICE_KINDS
            .iter()
            .find(|(_, k)| to_device_kind(*k) == kind)
            .map(|(_, k)| *k)
            .expect("class has a name");
        hardware(name).standoff_mm
    }
}

/// The zones an athlete treats with a class (the seed article's routines).
pub fn athlete_zones(athlete: Athlete, kind: DeviceKind) -> &'static [Zone] {
    match (athlete, kind) {
        // The article's evening routine adds a face mask for some athletes.
        (_, DeviceKind::Mask) => &[Zone::Face],
        (Athlete::Runner, DeviceKind::Pen | DeviceKind::LaserProbe) => &[
            Zone::LeftAchilles,
            Zone::RightAchilles,
            Zone::LeftKnee,
            Zone::RightKnee,
        ],
        (Athlete::Cyclist, DeviceKind::Pen | DeviceKind::LaserProbe) => {
            &[Zone::LeftKnee, Zone::RightKnee, Zone::Hip]
        }
        (Athlete::Runner, _) => &[
            Zone::LeftCalf,
            Zone::RightCalf,
            Zone::LeftQuadriceps,
            Zone::RightQuadriceps,
            Zone::LeftHamstrings,
            Zone::RightHamstrings,
        ],
        (Athlete::Cyclist, DeviceKind::Wrap) => &[Zone::LeftQuadriceps, Zone::RightQuadriceps],
        (Athlete::Cyclist, _) => &[Zone::LeftQuadriceps, Zone::RightQuadriceps, Zone::Glutes],
    }
}
