//! Closed-loop cost: the runner week end to end, and one firmware control tick.
//!
//! The product bar (product.md, Performance) is ~100 ns per control tick amortised over the
//! runner week with every property on and no trace written. Run with
//! `cargo bench --bench loop -- --quick`; the figures and the machine are in the closing notes
//! and, once the performance issue lands, in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use firmware::boundary::{InputFrame, buttons};
use firmware::{DeviceClass, Firmware};
use std::hint::black_box;
use std::path::PathBuf;

fn runner_week() -> harness::scenario::Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/runner-week.toml");
    harness::format::load_paths(&[path])
        .expect("the library's runner week loads")
        .remove(0)
}

/// A wrap firmware treating: inputs of a calf at 33 °C, board at 25 °C, strings at nominal.
fn treating_wrap() -> (Firmware, InputFrame) {
    let mut fw = Firmware::boot(DeviceClass::Wrap, &[0xFF; firmware::boundary::NVM_SIZE]);
    let mut input = InputFrame {
        skin_contact: true,
        fan_ok: true,
        ..InputFrame::default()
    };
    input.adc.contact_ntc = [1650, 1650];
    input.adc.board_ntc = 2048;
    input.adc.supply = 3000;
    for t in 0..300u32 {
        input.now_ms = t * 10;
        input.buttons = if (10..40).contains(&t) {
            buttons::START
        } else {
            0
        };
        let out = fw.step(&input);
        for s in 0..4 {
            let c = s / 2;
            let ma = f32::from(out.current_ma[c]) * f32::from(out.duty_permille[c]) / 1000.0;
            input.adc.string_current[s] = (ma / 2000.0 * 4095.0) as u16;
            input.adc.string_voltage[s] = if ma > 0.0 { 1800 } else { 0 };
        }
    }
    (fw, input)
}

fn bench_loop(c: &mut Criterion) {
    let week = runner_week();
    let mut g = c.benchmark_group("closed_loop");
    g.sample_size(10);
    g.bench_function("runner_week_reference", |b| {
        b.iter(|| {
            harness::run_reference(black_box(&week), &mut harness::events::Discard).expect("runs")
        })
    });
    g.finish();
    let (mut fw, mut input) = treating_wrap();
    c.bench_function("firmware_tick_wrap_treating", |b| {
        b.iter(|| {
            input.now_ms = input.now_ms.wrapping_add(10);
            black_box(fw.step(black_box(&input)))
        })
    });
}

// No plots: criterion's plotters backend would need a system font, and the workspace's plotters
// is built for the bundled-font charts (crates.md). The figures are in the terminal and JSON.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_loop
}
criterion_main!(benches);
