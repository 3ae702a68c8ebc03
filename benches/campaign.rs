//! Campaign throughput: 100 generated weeks against the reference firmware on one and on two
//! worker threads (the scaling target is ≥ 1.8× on 2 cores and ≥ 20 weeks/s; BENCHMARKS.md).
//!
//! `cargo bench --bench campaign`. Each iteration runs the whole campaign (generation, bench,
//! judgement; no files written), so the per-iteration time over 100 is the cost of one week.

use criterion::{Criterion, criterion_group, criterion_main};
use pbm_hil::campaign::{CampaignConfig, Shard, run_campaign};
use std::hint::black_box;

/// Weeks per campaign iteration.
const WEEKS: u64 = 100;

fn config(jobs: usize) -> CampaignConfig {
    CampaignConfig {
        weeks: WEEKS,
        seed: 1,
        jobs,
        shard: Shard::ALL,
        max_shrink_runs: 0,
        firmware: harness::dut::FirmwareSpec::Reference,
    }
}

fn bench_campaign(c: &mut Criterion) {
    let mut g = c.benchmark_group("campaign_100_weeks");
    g.sample_size(10);
    for jobs in [1, 2] {
        let cfg = config(jobs);
        g.bench_function(format!("jobs_{jobs}"), |b| {
            b.iter(|| run_campaign(black_box(&cfg), None, &|_, _, _| {}))
        });
    }
    g.finish();
}

// No plots: criterion's plotters backend would need a system font (see benches/plant.rs).
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_campaign
}
criterion_main!(benches);
