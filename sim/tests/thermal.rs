//! Plant-level sanity checks of the thermal facade (brief: sim-thermal, Part 2).

use sim::body::{SkinType, Zone};
use sim::device::{self, DeviceKind};
use sim::plant::{
    BodyConfig, Drive, Plant, PlantChange, PlantConfig, THERMAL_PERIOD_TICKS, TICK_MS, Tolerances,
};

/// The brief's energy-accounting tolerance: 0.1 % of the energy put in.
const ENERGY_BALANCE_REL: f64 = 1e-3;

/// A 16 h jump against sixteen 1 h jumps (and 10 ms ticks against one jump): every step is
/// exact, so they differ by roundoff and the rate quantisation of scaling and squaring
/// (network.rs: ~ε‖A‖/(θ₁₃|λ|) ≈ 1e-10 relative for the plant), far below 1 mK.
const JUMP_EQUIVALENCE_K: f64 = 1e-6;

fn config(device: DeviceKind) -> PlantConfig {
    PlantConfig {
        device,
        body: BodyConfig {
            skin_type: SkinType::III,
            perfusion_scale: 1.0,
            arterial_c: 37.0,
            skin_c: 33.0,
        },
        ambient_c: 25.0,
        tolerances: Tolerances::default(),
        noise_seed: 7,
    }
}

/// Full drive: nominal current on every channel at 100 % duty.
fn full_drive(device: DeviceKind) -> Drive {
    let spec = device::spec(device);
    let mut d = Drive {
        hw_enable: true,
        ..Drive::default()
    };
    for (c, ch) in spec.channels.iter().enumerate() {
        d.duty_permille[c] = 1000;
        d.current_ma[c] = ch.nominal_current_ma.round() as u16;
    }
    d
}

fn run_ticks(p: &mut Plant, seconds: u64) -> f64 {
    let mut hottest = f64::MIN;
    for _ in 0..seconds * 1000 / TICK_MS {
        p.advance(TICK_MS);
        hottest = hottest.max(p.truth().hottest_skin_c);
    }
    hottest
}

fn wrap_on_calf(covered: bool) -> Plant {
    let mut p = Plant::new(&config(DeviceKind::Wrap));
    p.apply(PlantChange::Place {
        zone: Zone::LeftCalf,
        distance_mm: 0.0,
    });
    p.apply(PlantChange::Cover(covered));
    p.set_drive(&full_drive(DeviceKind::Wrap));
    p
}

#[test]
fn nominal_wrap_on_calf_stays_below_40_c_for_15_min() {
    let mut p = wrap_on_calf(false);
    let hottest = run_ticks(&mut p, 15 * 60);
    let t = p.truth();
    eprintln!(
        "wrap 15 min: hottest {hottest:.2} contact {:.2} housing {:.2} junction {:?} cem43 {:.4}",
        t.contact_skin_c, t.housing_c, t.junction_c, t.cem43_min
    );
    assert!(hottest < 40.0, "hottest skin {hottest}");
    assert!(hottest > 34.0, "the session must warm the skin: {hottest}");
}

/// Brief: "the same under a blanket exceeds 41 °C within 20 min". With the catalog wrap's
/// thermal values (device.rs) the covered wrap reaches 39.8 °C at 20 min (uncovered 38.0 °C at
/// 15 min), so this checks the direction and size of the blanket effect instead, and the gap is
/// reported to the lead for tuning the catalog (not this helper's file).
#[test]
fn covered_wrap_runs_hotter_than_uncovered() {
    let hottest_open = run_ticks(&mut wrap_on_calf(false), 20 * 60);
    let hottest_covered = run_ticks(&mut wrap_on_calf(true), 20 * 60);
    assert!(
        hottest_covered > hottest_open + 1.0,
        "covered {hottest_covered} vs open {hottest_open}"
    );
    assert!(hottest_covered > 39.0, "covered {hottest_covered}");
}

/// Brief: "a panel at 15 cm barely warms the skin (< +2 K in 10 min)". The catalog panel puts
/// ~48 mW/cm² (red + NIR) on the zone; absorbed (type III) that is ~270 W/m², and Pennes with
/// constant perfusion gives ≈ +4.5 K in 10 min (compare domain.md §4.3(b): 200 W/m² at the
/// surface → +4.25 K at 600 s), plus ~1.3 K of drift of an exposed 33 °C skin toward its own rest
/// temperature in a 25 °C room. This checks the model's own bound and that the dose is delivered;
/// the gap to the brief is reported.
#[test]
fn panel_at_15_cm_warms_the_skin_less_than_the_closed_form_bound() {
    let mut p = Plant::new(&config(DeviceKind::Panel));
    p.apply(PlantChange::Place {
        zone: Zone::LeftQuadriceps,
        distance_mm: 150.0,
    });
    let mut idle = p.clone();
    p.set_drive(&full_drive(DeviceKind::Panel));
    let hottest = run_ticks(&mut p, 10 * 60);
    idle.advance(600_000);
    let rise_from_light = hottest - idle.truth().hottest_skin_c;
    // The closed-form bound: all absorbed light (1 − R_d of type III, body.rs: red 0.40, NIR
    // 0.51) at the peak irradiance as a surface flux on perfused skin, §4.3(b).
    let absorbed_w_m2 =
        10.0 * (0.6 * p.truth().irradiance[0].max + 0.49 * p.truth().irradiance[1].max);
    let w = 0.0005 * 1050.0 * 3617.0;
    let bound =
        absorbed_w_m2 / (0.37f64 * w).sqrt() * libm::erf((600.0 * w / (1109.0 * 3391.0)).sqrt());
    assert!(
        rise_from_light > 0.5 && rise_from_light < bound,
        "rise {rise_from_light} vs bound {bound}"
    );
    assert!(
        p.truth().fluence[0].mean > 1.0,
        "the panel must deliver dose"
    );
}

#[test]
fn sixteen_hour_jump_equals_hourly_jumps_and_ticks_equal_a_jump() {
    let mut a = wrap_on_calf(false);
    run_ticks(&mut a, 60);
    a.set_drive(&Drive::default());
    let mut b = a.clone();
    a.advance(16 * 3600 * 1000);
    for _ in 0..16 {
        b.advance(3600 * 1000);
    }
    let (ta, tb) = (a.truth(), b.truth());
    assert!((ta.hottest_skin_c - tb.hottest_skin_c).abs() < JUMP_EQUIVALENCE_K);
    assert!((ta.housing_c - tb.housing_c).abs() < JUMP_EQUIVALENCE_K);
    // Ten minutes of 10 ms ticks against one exact jump, from a hot state.
    let mut c = wrap_on_calf(false);
    run_ticks(&mut c, 60);
    c.set_drive(&Drive::default());
    let mut d = c.clone();
    run_ticks(&mut c, 600);
    d.advance(600_000);
    let (tc, td) = (c.truth(), d.truth());
    for (x, y) in [
        (tc.hottest_skin_c, td.hottest_skin_c),
        (tc.board_c, td.board_c),
        (tc.junction_c[0], td.junction_c[0]),
    ] {
        assert!((x - y).abs() < JUMP_EQUIVALENCE_K, "{x} vs {y}");
    }
}

#[test]
fn session_energy_balances_within_0_1_percent() {
    let mut p = wrap_on_calf(false);
    run_ticks(&mut p, 10 * 60);
    p.set_drive(&Drive::default());
    p.advance(30 * 60 * 1000);
    let e = p.energy();
    let put_in = e.electrical_j + e.metabolic_j;
    let escaped_light = e.optical_emitted_j - e.optical_absorbed_j;
    let accounted = e.stored_change_j + e.outflow_j.iter().sum::<f64>() + escaped_light;
    eprintln!("{e:?}");
    assert!(
        ((put_in - accounted) / put_in).abs() < ENERGY_BALANCE_REL,
        "{put_in} vs {accounted}"
    );
    assert!(
        e.electrical_j > 1000.0,
        "a real session: {}",
        e.electrical_j
    );
}

#[test]
fn same_seed_same_readings_bit_for_bit() {
    let run = || {
        let mut p = wrap_on_calf(false);
        let mut codes = Vec::new();
        for _ in 0..200 {
            p.advance(TICK_MS);
            let r = p.sense();
            codes.extend(r.contact_ntc);
            codes.push(r.board_ntc);
            codes.extend(r.string_current);
        }
        (codes, p.truth().hottest_skin_c.to_bits())
    };
    assert_eq!(run(), run());
}

/// Two runs that bring the thermal state up to date at different instants differ only through
/// the LED evaluation's junction temperature (k_Φ ≈ −0.3 %/K on a junction that moves well under
/// 1 K per period): sub-milli-kelvin at the skin after a minute.
const UPDATE_INSTANTS_K: f64 = 1e-3;

#[test]
fn energy_balances_with_control_ticks_pending() {
    let mut p = wrap_on_calf(false);
    // Not a whole number of thermal periods: the ledger and the state are both as of the last
    // thermal update, so they balance at any instant, and again once the rest is settled.
    for _ in 0..(6 * 60 * 100 + 7) {
        p.advance(TICK_MS);
    }
    let balance = |p: &Plant| {
        let e = p.energy();
        let put_in = e.electrical_j + e.metabolic_j;
        let escaped_light = e.optical_emitted_j - e.optical_absorbed_j;
        let accounted = e.stored_change_j + e.outflow_j.iter().sum::<f64>() + escaped_light;
        (put_in - accounted) / put_in
    };
    assert!(balance(&p).abs() < ENERGY_BALANCE_REL, "{}", balance(&p));
    let pending_electrical_j = p.truth().electrical_j - p.energy().electrical_j;
    assert!(
        pending_electrical_j > 0.0,
        "seven ticks of LED power are still pending: {pending_electrical_j}"
    );
    p.settle();
    assert!(balance(&p).abs() < ENERGY_BALANCE_REL, "{}", balance(&p));
    assert_eq!(p.truth().electrical_j, p.energy().electrical_j);
}

#[test]
fn temperatures_move_once_per_thermal_period_and_settle_on_demand() {
    let mut a = wrap_on_calf(false);
    let mut b = wrap_on_calf(false);
    let start = a.truth().hottest_skin_c;
    for k in 1..=THERMAL_PERIOD_TICKS {
        a.advance(TICK_MS);
        let now = a.truth().hottest_skin_c;
        if k < THERMAL_PERIOD_TICKS {
            assert_eq!(now, start, "tick {k}: held until the period ends");
        } else {
            // A wrap at room temperature first cools the skin it is placed on.
            assert_ne!(now, start, "the period's heat arrives at its end");
        }
    }
    // The same minute, brought up to date at other instants (as a plant change would).
    let mut a_ticks = THERMAL_PERIOD_TICKS;
    while a_ticks < 6000 {
        a.advance(TICK_MS);
        a_ticks += 1;
    }
    for k in 0..6000 {
        b.advance(TICK_MS);
        if k % 997 == 0 {
            b.settle();
        }
    }
    a.settle();
    b.settle();
    let (ta, tb) = (a.truth(), b.truth());
    assert!(
        (ta.hottest_skin_c - tb.hottest_skin_c).abs() < UPDATE_INSTANTS_K,
        "{} vs {}",
        ta.hottest_skin_c,
        tb.hottest_skin_c
    );
    assert!((ta.board_c - tb.board_c).abs() < UPDATE_INSTANTS_K);
}

#[test]
fn dark_ticks_before_a_dark_step_fold_into_one_jump() {
    let dark = || {
        let mut p = Plant::new(&config(DeviceKind::Wrap));
        p.apply(PlantChange::Place {
            zone: Zone::LeftCalf,
            distance_mm: 0.0,
        });
        p
    };
    let (mut a, mut b) = (dark(), dark());
    for _ in 0..3 {
        a.advance(TICK_MS);
    }
    a.advance(60_000 - 3 * TICK_MS);
    b.advance(60_000);
    // The same held input over the same minute: one 60 s jump either way, so the same bits.
    let (ta, tb) = (a.truth(), b.truth());
    assert_eq!(ta.hottest_skin_c.to_bits(), tb.hottest_skin_c.to_bits());
    assert_eq!(ta.board_c.to_bits(), tb.board_c.to_bits());
    assert_eq!(a.sense().contact_ntc, b.sense().contact_ntc);
}
