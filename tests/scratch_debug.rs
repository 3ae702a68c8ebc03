use harness::events::{Event, Reporter};
struct P(u64, u64);
impl Reporter for P {
    fn event(&mut self, e: &Event) {
        let t = match e { Event::Action { t_ms, .. } | Event::StateChange { t_ms, .. } | Event::RequestOpened { t_ms, .. } | Event::FaultFired { t_ms, .. } => *t_ms, Event::RequestClosed(s) => s.end_ms, Event::Sample(s) => { if s.t_ms >= self.0 && s.t_ms <= self.1 && s.t_ms % 30000 == 0 { println!("{} sample duty {:?} state {} detail {:#x} est {} fault {} hot {:.2}", pbm_hil::cli::clock(s.t_ms), s.output.duty_permille, s.output.state, s.output.detail, s.output.dose_estimate_mj_cm2, s.output.fault_code, s.skin_hot_c); } return }, _ => return };
        if t >= self.0 && t <= self.1 {
            match e {
                Event::RequestClosed(s) => println!("{} CLOSED {} end {:?} emit {} mean {:.2}", pbm_hil::cli::clock(t), s.label, s.end, s.emitting_ms, s.fluence_mean_j_cm2),
                other => println!("{} {:?}", pbm_hil::cli::clock(t), other),
            }
        }
    }
}
#[test]
fn debug_scenario() {
    let name = std::env::var("SCN").unwrap();
    let from: u64 = std::env::var("FROM").unwrap().parse().unwrap();
    let to: u64 = std::env::var("TO").unwrap().parse().unwrap();
    let s = harness::format::load_paths(&[std::path::PathBuf::from(format!("scenarios/{name}.toml"))]).unwrap().remove(0);
    let _ = harness::run_reference(&s, &mut P(from, to)).unwrap();
}
