//! Plant step cost: one 10 ms control tick of a wrap in session, and one 16-hour idle jump, cached
//! (the discretisation for that length and those inputs already built) and fresh (built in the
//! measurement).
//!
//! The product budget is ~100 ns per control tick for the whole loop (product.md, Performance);
//! the idle jump must cost the same whatever its length (idle time is jumped, not stepped).
//! `cargo bench --bench plant`; the figures are in BENCHMARKS.md.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sim::body::{SkinType, Zone};
use sim::device::{self, DeviceKind};
use sim::plant::{BodyConfig, Drive, Plant, PlantChange, PlantConfig, TICK_MS, Tolerances};
use std::hint::black_box;

fn wrap_in_session() -> Plant {
    let cfg = PlantConfig {
        device: DeviceKind::Wrap,
        body: BodyConfig {
            skin_type: SkinType::III,
            perfusion_scale: 1.0,
            arterial_c: 37.0,
            skin_c: 33.0,
        },
        ambient_c: 25.0,
        tolerances: Tolerances::default(),
        noise_seed: 1,
    };
    let mut p = Plant::new(&cfg);
    p.apply(PlantChange::Place {
        zone: Zone::LeftCalf,
        distance_mm: 0.0,
    });
    let spec = device::spec(DeviceKind::Wrap);
    let mut drive = Drive {
        hw_enable: true,
        ..Drive::default()
    };
    for (c, ch) in spec.channels.iter().enumerate() {
        drive.duty_permille[c] = 1000;
        drive.current_ma[c] = ch.nominal_current_ma.round() as u16;
    }
    p.set_drive(&drive);
    p
}

fn bench_plant(c: &mut Criterion) {
    let mut session = wrap_in_session();
    c.bench_function("plant_advance_10ms_wrap_session", |b| {
        b.iter(|| session.advance(black_box(TICK_MS)))
    });
    let mut idle = wrap_in_session();
    idle.set_drive(&Drive::default());
    c.bench_function("plant_advance_16h_idle_jump", |b| {
        b.iter(|| idle.advance(black_box(16 * 3600 * 1000)))
    });
    // Off the body (the usual idle case: the device lies on the table) and placed (contact).
    let mut off_body = wrap_in_session();
    off_body.set_drive(&Drive::default());
    off_body.apply(PlantChange::Remove);
    c.bench_function("plant_advance_16h_idle_jump_fresh_off_body", |b| {
        b.iter_batched(
            || off_body.clone(),
            |mut p| p.advance(black_box(16 * 3600 * 1000 + 10)),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("plant_advance_16h_idle_jump_fresh_in_contact", |b| {
        b.iter_batched(
            || idle.clone(),
            |mut p| p.advance(black_box(16 * 3600 * 1000 + 10)),
            BatchSize::SmallInput,
        )
    });
}

// No plots: criterion's plotters backend would need a system font, and the workspace's plotters
// is built for the bundled-font charts (crates.md). The figures are in the terminal and JSON.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_plant
}
criterion_main!(benches);
