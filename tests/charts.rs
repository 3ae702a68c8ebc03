//! Charts, trace exports and the run report, from real runs of library scenarios.

use harness::charts::{self, TraceRecorder};

use crate::common::runner_week;

#[test]
fn scratch_session() {
    let s = runner_week();
    let mut rec = TraceRecorder::new();
    let r = harness::run_reference(&s, &mut rec).unwrap();
    let sess = &r.sessions[0];
    let dev = s.devices.iter().position(|d| d.id == sess.device).unwrap();
    let chart = charts::render(
        "x",
        &charts::session::SessionChart {
            summary: sess,
            trace: rec.device(dev).unwrap(),
            kind: s.devices[dev].kind,
            limits: s.limits,
        },
    )
    .unwrap();
    std::fs::write("/tmp/charts-session.png", &chart.png).unwrap();
    std::fs::write("/tmp/charts-session.svg", &chart.svg).unwrap();
    eprintln!("points kept {} of {}", rec.points_kept(), r.samples);
}
