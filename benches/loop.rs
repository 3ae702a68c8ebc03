//! Closed-loop cost: the runner week end to end (no trace, and a full CSV trace streamed to
//! disk), the same sessions spread over four weeks of calendar, one day of it as a plain
//! fixed-step loop against the event-driven loop, and one firmware control tick.
//!
//! The product bar (product.md, Performance) is ~100 ns per control tick amortised over the
//! runner week with every property on and no trace written. Run with `cargo bench --bench loop`;
//! the figures, the machine and the comparison are in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use firmware::boundary::{InputFrame, SessionState, buttons};
use firmware::{DeviceClass, Firmware};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn load(relative: &str) -> harness::scenario::Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    harness::format::load_paths(&[path])
        .expect("the benchmark scenario loads")
        .remove(0)
}

fn runner_week() -> harness::scenario::Scenario {
    load("scenarios/runner-week.toml")
}

/// String voltage sense code of a lit wrap string at nominal: above the firmware's shorted-LED
/// threshold (a code of 1800 there read as shorted emitters and latched a fault within 0.2 s, so
/// the bench timed a device at rest in its fault state), below the open-string rail.
const LIT_STRING_VOLTAGE_CODE: u16 = 2500;

/// A wrap firmware treating: inputs of a calf at 33 °C, board at 25 °C, strings at nominal.
/// Panics if the firmware is not treating after the setup, so the bench cannot quietly time
/// another state.
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
            input.adc.string_voltage[s] = if ma > 0.0 { LIT_STRING_VOLTAGE_CODE } else { 0 };
        }
    }
    assert_treating(&mut fw, &input);
    (fw, input)
}

/// Steps once more and checks the firmware reports `Treating` with no fault.
fn assert_treating(fw: &mut Firmware, input: &InputFrame) {
    let out = fw.step(input);
    assert_eq!(
        SessionState::from_code(out.state),
        Some(SessionState::Treating),
        "the firmware tick bench must time a treating step (fault code {:#06x})",
        out.fault_code
    );
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
    g.bench_function("runner_week_reference_csv_trace", |b| {
        let dir = std::env::temp_dir().join(format!("pbm-hil-bench-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        b.iter(|| {
            let mut csv = harness::export::CsvWriter::new(&dir, "runner-week");
            let r = harness::run_reference(black_box(&week), &mut csv).expect("runs");
            csv.finish().expect("trace written");
            r
        });
        let _ = std::fs::remove_dir_all(&dir);
    });
    let spread = load("benches/runner-four-weeks.toml");
    g.bench_function("runner_sessions_over_four_weeks", |b| {
        b.iter(|| {
            harness::run_reference(black_box(&spread), &mut harness::events::Discard).expect("runs")
        })
    });
    // Day 0 of the runner week (four wrap sessions, the evening after intervals): the plain
    // fixed-step loop (plant and firmware every 10 ms) against the event-driven loop.
    let mut day = runner_week();
    day.duration_ms = harness::scenario::DAY_MS;
    g.bench_function("runner_day0_event_driven", |b| {
        b.iter(|| {
            harness::run_reference(black_box(&day), &mut harness::events::Discard).expect("runs")
        })
    });
    g.bench_function("runner_day0_fixed_step", |b| {
        b.iter(|| {
            harness::bench::run_reference_fixed_step(black_box(&day), &mut harness::events::Discard)
                .expect("runs")
        })
    });
    g.finish();
    let (start_fw, start_input) = treating_wrap();
    c.bench_function("firmware_tick_wrap_treating", |b| {
        // A wrap session ends after ~560 s of treatment (its dose target), far fewer ticks than
        // criterion times, so the ticks are timed in runs of `TICKS_PER_RUN` from the same
        // treating state, and each run is checked (untimed) to have ended still treating.
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let (mut fw, mut input) = (start_fw, start_input);
                let n = (iters - done).min(TICKS_PER_RUN);
                #[expect(
                    clippy::disallowed_methods,
                    reason = "criterion's iter_custom wants the wall time of the timed ticks; the simulation's clock is not involved"
                )]
                let t0 = Instant::now();
                for _ in 0..n {
                    input.now_ms = input.now_ms.wrapping_add(10);
                    black_box(fw.step(black_box(&input)));
                }
                timed += t0.elapsed();
                done += n;
                assert_treating(&mut fw, &input);
            }
            timed
        })
    });
}

/// Ticks timed from the treating state before it is restored: 100 s of a ~560 s session.
const TICKS_PER_RUN: u64 = 10_000;

// No plots: criterion's plotters backend would need a system font, and the workspace's plotters
// is built for the bundled-font charts (crates.md). The figures are in the terminal and JSON.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_loop
}
criterion_main!(benches);
