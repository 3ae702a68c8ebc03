//! Plant step cost: one 10 ms control tick of a wrap in session, and one 16-hour idle jump.
//!
//! The product budget is ~100 ns per control tick for the whole loop (product.md, Performance);
//! the idle jump must cost the same whatever its length (idle time is jumped, not stepped).

use criterion::{Criterion, criterion_group, criterion_main};
use sim::plant::{
    BoundaryTemps, Deposition, DeviceThermal, ThermalCore, ThermalInputs, ThermalSetup,
};
use sim::tissue::{TissueLayer, perfusion_w_per_m3k};
use std::hint::black_box;

fn wrap_core() -> ThermalCore {
    let device = DeviceThermal {
        junction_c_j_per_k: [0.05, 0.05],
        r_junction_board_k_per_w: [0.5, 0.5],
        board_c_j_per_k: 60.0,
        r_board_housing_k_per_w: 0.2,
        housing_c_j_per_k: 330.0,
        r_housing_ambient_k_per_w: 2.2,
        r_housing_ambient_fan_k_per_w: None,
        r_housing_skin_k_per_w: Some(0.25),
        outer_area_m2: 0.045,
        contact_area_m2: 0.045,
    };
    let layer = |t: f64, k: f64, rho: f64, c: f64, omega: f64, qm: f64| TissueLayer {
        thickness_m: t,
        k_w_per_mk: k,
        rho_kg_per_m3: rho,
        c_j_per_kgk: c,
        perfusion_w_per_m3k: perfusion_w_per_m3k(omega),
        metabolic_w_per_m3: qm,
    };
    let layers = [
        layer(1.5e-3, 0.37, 1109.0, 3391.0, 0.002, 1000.0),
        layer(5e-3, 0.21, 911.0, 2348.0, 0.0005, 500.0),
        layer(23.5e-3, 0.49, 1090.0, 3421.0, 0.0007, 800.0),
    ];
    let deposition = [
        Deposition {
            penetration_depth_m: 2e-3,
            epidermal_fraction: 0.1,
        },
        Deposition {
            penetration_depth_m: 3.5e-3,
            epidermal_fraction: 0.05,
        },
    ];
    let setup = ThermalSetup {
        in_contact: true,
        covered: false,
        fan_running: false,
        rth_scale: 1.0,
        perfusion_scale: 1.0,
    };
    let temps = BoundaryTemps {
        ambient_c: 25.0,
        arterial_c: 37.0,
        core_c: 37.0,
    };
    ThermalCore::new(&device, &layers, &deposition, &setup, temps, 33.0)
}

fn bench_thermal(c: &mut Criterion) {
    let inputs = ThermalInputs {
        led_heat_w: [6.0, 7.0],
        main_absorbed_w: [2.0, 2.0],
        hot_spot_absorbed_w: [0.02, 0.02],
    };
    let mut core = wrap_core();
    c.bench_function("thermal_core_tick_10ms", |b| {
        b.iter(|| core.tick(black_box(&inputs)))
    });
    let mut idle = wrap_core();
    c.bench_function("thermal_core_jump_16h", |b| {
        b.iter(|| idle.jump(black_box(16.0 * 3600.0), &ThermalInputs::default()))
    });
}

criterion_group!(benches, bench_thermal);
criterion_main!(benches);
