//! Charts and the run report from real runs: every library scenario produces its charts, each
//! PNG decodes to its size and is not blank, and the SVGs are byte-identical run to run.

use std::path::{Path, PathBuf};

use harness::charts::TraceRecorder;
use harness::report::{self, MAX_SESSION_CHARTS, RunSummary};
use harness::result::RunResult;
use harness::scenario::Scenario;

/// Share of non-white pixels below which a chart counts as blank: the frame, axes and titles of
/// a chart without data cover about 1 % of the canvas; drawn data adds several percent.
const MIN_INK_SHARE: f64 = 0.03;
/// Distinct colours below which a chart counts as blank (anti-aliased text alone gives dozens).
const MIN_COLOURS: usize = 16;

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(s: &Scenario) -> (RunResult, TraceRecorder) {
    let mut rec = TraceRecorder::new();
    let r = harness::run_reference(s, &mut rec).expect("the reference firmware runs");
    (r, rec)
}

/// (width, height, share of non-white pixels, distinct colours) of a PNG.
fn png_ink(path: &Path) -> (u32, u32, f64, usize) {
    let bytes = std::fs::read(path).expect("written");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks_exact(3).collect();
    let ink = px.iter().filter(|p| **p != [255, 255, 255]).count();
    let mut colours = px.clone();
    colours.sort_unstable();
    colours.dedup();
    (
        info.width,
        info.height,
        ink as f64 / px.len() as f64,
        colours.len(),
    )
}

/// Expected pixel size of a chart file from its stem.
fn expected_size(path: &Path) -> (u32, u32) {
    let name = path.file_name().expect("file").to_string_lossy();
    match name.split('-').next() {
        Some("week.png") => (1100, 1120),
        Some("session") => (1100, 1320),
        Some("dose") => (900, 760),
        _ => panic!("unexpected chart {name}"),
    }
}

/// Write a scenario's charts and check every file: complete set, decodable, sized, not blank.
fn check(s: &Scenario, r: &RunResult, rec: &TraceRecorder, dir: &Path) -> Vec<PathBuf> {
    let files = report::write_scenario_artifacts(dir, s, r, rec).expect("charts written");
    let emitted = r.sessions.iter().filter(|x| x.emitting_ms > 0).count();
    let drawn = emitted.min(MAX_SESSION_CHARTS);
    assert_eq!(files.len(), 2 * (1 + 2 * drawn), "{}: file count", s.name);
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
    {
        let (w, h, ink, colours) = png_ink(f);
        assert_eq!((w, h), expected_size(f), "{}", f.display());
        assert!(
            ink > MIN_INK_SHARE,
            "{} looks blank: ink {ink:.3}",
            f.display()
        );
        assert!(
            colours > MIN_COLOURS,
            "{} looks blank: {colours} colours",
            f.display()
        );
    }
    files
}

/// Every library scenario: charts written and checked, an index over all of them; then the
/// runner week once more, whose SVGs must equal the first run's byte for byte. (One test, so a
/// debug build runs each week once plus the one repeat.)
#[test]
fn every_library_scenario_produces_its_charts_and_svgs_repeat_exactly() {
    let scenarios =
        harness::format::load_paths(&[PathBuf::from("scenarios")]).expect("the library loads");
    assert!(!scenarios.is_empty());
    let root = out_dir("charts-library");
    let mut runs = Vec::new();
    for s in &scenarios {
        let (r, rec) = run(s);
        // Bounded memory: the decimated trace keeps at most one point per simulated minute and
        // device, plus
        // one per second of an open request window and at most 8 output changes a second in it,
        // whatever the control tick.
        let minutes = (s.duration_ms / 60_000 + 1) * s.devices.len() as u64;
        let window_s: u64 = r
            .sessions
            .iter()
            .map(|x| (x.end_ms - x.start_ms) / 1000 + 1)
            .sum();
        let bound = minutes + 9 * window_s;
        assert!(
            (rec.points_kept() as u64) <= bound,
            "{}: {} points kept, bound {bound} ({} samples)",
            s.name,
            rec.points_kept(),
            r.samples
        );
        let files = check(s, &r, &rec, &root.join(&s.name));
        runs.push(RunSummary {
            result: r,
            description: s.description.clone(),
            dir: PathBuf::from(&s.name),
            artifacts: files,
        });
    }
    let index = report::write_index(&root, &runs).expect("index written");
    let html = std::fs::read_to_string(index).expect("index");
    assert!(
        !html.contains("<script") && !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
    assert_eq!(html.matches("<h3>week</h3>").count(), scenarios.len());
    for p in harness::properties::CATALOG {
        assert!(html.contains(p.name), "{} missing from the index", p.name);
    }

    let s = scenarios
        .iter()
        .find(|s| s.name == "runner-week")
        .expect("the library has the runner week");
    let first = runs
        .iter()
        .find(|r| r.result.scenario == s.name)
        .expect("ran");
    let (again, rec) = run(s);
    assert_eq!(again.trace_hash, first.result.trace_hash);
    let repeat = out_dir("charts-runner-again");
    let files = check(s, &again, &rec, &repeat);
    assert_eq!(files.len(), first.artifacts.len());
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "svg"))
    {
        let twin = root.join(&s.name).join(f.file_name().expect("file"));
        assert!(
            std::fs::read(f).expect("again") == std::fs::read(&twin).expect("first"),
            "{} differs between runs",
            f.display()
        );
    }
}

#[test]
fn device_dosing_chart_for_every_kind() {
    let dir = out_dir("charts-devices");
    for kind in sim::device::DeviceKind::ALL {
        let files = report::device_chart(kind, &dir).expect("chart");
        let (w, h, ink, colours) = png_ink(&files[1]);
        assert_eq!((w, h), (1000, 900));
        assert!(ink > MIN_INK_SHARE && colours > MIN_COLOURS, "{kind:?}");
    }
}
