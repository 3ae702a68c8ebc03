//! The run report: per-scenario chart files beside `report.json`, and one `index.html`.
//!
//! The index is self-contained (inline SVG, inline CSS, no scripts, no network) so a CI
//! artifact opens anywhere. Every file is written atomically (a temporary file beside it, then a
//! rename), so an interrupted run never leaves a half-written report, and nothing written holds a
//! timestamp or an absolute path, so two runs of the same scenario write the same bytes.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::charts::dose_map::DoseMapChart;
use crate::charts::session::SessionChart;
use crate::charts::week::{WeekChart, WeekData};
use crate::charts::{self, Chart, TraceRecorder, slug};
use crate::prescription;
use crate::result::{RunResult, SessionSummary, Status};
use crate::scenario::Scenario;

/// Session charts (and dose maps) drawn per scenario; further emitting sessions are listed in
/// the index but not drawn, which keeps a long campaign's report folder and index small.
pub const MAX_SESSION_CHARTS: usize = 12;

/// Write `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The temporary name a file is written under before its rename (hidden, per process, so two
/// concurrent runs into one folder do not clobber each other's partial files).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write a chart's SVG and PNG into `dir`; returns both paths.
pub fn write_chart(dir: &Path, chart: &Chart) -> io::Result<[PathBuf; 2]> {
    let svg = dir.join(format!("{}.svg", chart.stem));
    let png = dir.join(format!("{}.png", chart.stem));
    write_atomic(&svg, chart.svg.as_bytes())?;
    write_atomic(&png, &chart.png)?;
    Ok([svg, png])
}

/// Sessions that emitted, in run order, with their chart number (1-based).
fn emitted(result: &RunResult) -> impl Iterator<Item = (usize, &SessionSummary)> {
    result
        .sessions
        .iter()
        .filter(|s| s.emitting_ms > 0)
        .enumerate()
        .map(|(i, s)| (i + 1, s))
}

/// File stem of an emitted session's chart: `session-03-d0-1915-leftcalf`.
pub fn session_stem(prefix: &str, number: usize, s: &SessionSummary) -> String {
    format!("{prefix}-{number:02}-{}", slug(&s.label))
}

/// Draw a scenario's charts into `dir` (the scenario's own folder, beside its `report.json`):
/// `week.{svg,png}`, and for each of the first [`MAX_SESSION_CHARTS`] sessions that emitted,
/// `session-NN-LABEL.{svg,png}` and `dose-map-NN-LABEL.{svg,png}`. Returns every path written.
pub fn write_scenario_artifacts(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
    trace: &TraceRecorder,
) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let week = WeekData::of(scenario, result);
    written.extend(write_chart(
        dir,
        &charts::render("week", &WeekChart { data: &week })?,
    )?);
    for (n, s) in emitted(result).take(MAX_SESSION_CHARTS) {
        let Some((index, setup)) = scenario
            .devices
            .iter()
            .enumerate()
            .find(|(_, d)| d.id == s.device)
        else {
            continue;
        };
        if let Some(device_trace) = trace.device(index) {
            let chart = SessionChart {
                summary: s,
                trace: device_trace,
                kind: setup.kind,
                limits: scenario.limits,
            };
            written.extend(write_chart(
                dir,
                &charts::render(&session_stem("session", n, s), &chart)?,
            )?);
        }
        let map = DoseMapChart {
            summary: s,
            point_cap_j_cm2: prescription::program(setup.kind, s.program)
                .map(|p| p.session_cap_j_cm2),
        };
        written.extend(write_chart(
            dir,
            &charts::render(&session_stem("dose-map", n, s), &map)?,
        )?);
    }
    Ok(written)
}

/// Draw a device kind's dosing chart (`pbm-hil chart device KIND`) into `dir` as
/// `device-KIND.{svg,png}`; returns both paths.
pub fn device_chart(kind: sim::device::DeviceKind, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let data = charts::device::DosingData::of(kind);
    let stem = format!("device-{}", slug(&format!("{kind:?}")));
    let chart = charts::render(&stem, &charts::device::DeviceChart { data: &data })?;
    Ok(write_chart(dir, &chart)?.to_vec())
}

/// What the index shows of one scenario run.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The result.
    pub result: RunResult,
    /// The scenario's description.
    pub description: String,
    /// The scenario's folder, relative to the index's folder (usually the scenario name).
    pub dir: PathBuf,
    /// Files written for it ([`write_scenario_artifacts`]'s return); SVGs among them are inlined.
    pub artifacts: Vec<PathBuf>,
}

/// Escapes text for HTML and XML (element text and attribute values); drops control characters
/// XML 1.0 does not allow.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn status_word(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Held => ("held", "ok"),
        Status::Violated => ("VIOLATED", "bad"),
        Status::ExpectedViolation => ("violated as expected", "ok"),
        Status::UnexpectedHold => ("held, but expected to fail", "bad"),
        Status::NotApplicable => ("not applicable", "na"),
    }
}

/// An SVG document as an inline element (drops the XML declaration, if any).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}\
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;\
text-align:left;vertical-align:top;font-size:13px}th{background:#f3f3f3}.ok{color:#16781f}\
.bad{color:#b00;font-weight:bold}.na{color:#888}.src{color:#666;font-size:12px}\
svg{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}details{margin:.3em 0}\
summary{cursor:pointer}";

/// Write `dir/index.html`: a summary table, then per scenario its verdict table (each
/// property's statement and source), its sessions, and its charts inline.
pub fn write_index(dir: &Path, runs: &[RunSummary]) -> io::Result<PathBuf> {
    let mut h = String::new();
    let passed = runs.iter().filter(|r| r.result.passed()).count();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pbm-hil run report</title><style>{STYLE}</style></head><body>\n<h1>pbm-hil run report</h1>\n<p>{passed} of {} scenarios passed.</p>\n<table><tr><th>scenario</th><th>verdict</th><th>seed</th><th>firmware</th><th>violated properties</th><th>trace hash</th></tr>\n",
        runs.len()
    );
    for r in runs {
        let res = &r.result;
        let failing: Vec<&str> = res
            .verdicts
            .iter()
            .filter(|v| v.status.is_failure())
            .map(|v| v.name)
            .collect();
        let (word, class) = if res.passed() {
            ("pass", "ok")
        } else {
            ("FAIL", "bad")
        };
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#{id}\">{name}</a></td><td class=\"{class}\">{word}</td><td>{seed}</td><td>{fw}</td><td>{failing}</td><td><code>{hash:016x}</code></td></tr>",
            id = esc(&slug(&res.scenario)),
            name = esc(&res.scenario),
            seed = res.seed,
            fw = esc(&res.firmware.join(", ")),
            failing = esc(&failing.join(", ")),
            hash = res.trace_hash,
        );
    }
    h.push_str("</table>\n");
    for r in runs {
        scenario_section(&mut h, dir, r)?;
    }
    h.push_str("</body></html>\n");
    let path = dir.join("index.html");
    write_atomic(&path, h.as_bytes())?;
    Ok(path)
}

fn scenario_section(h: &mut String, dir: &Path, r: &RunSummary) -> io::Result<()> {
    let res = &r.result;
    let _ = writeln!(
        h,
        "<h2 id=\"{}\">{}</h2>\n<p>{}</p>",
        esc(&slug(&res.scenario)),
        esc(&res.scenario),
        esc(&r.description)
    );
    if let Some(why) = &res.invalid {
        let _ = writeln!(h, "<p class=\"bad\">invalid as a test: {}</p>", esc(why));
    }
    for e in &res.expectation_failures {
        let _ = writeln!(h, "<p class=\"bad\">expectation failed: {}</p>", esc(e));
    }
    h.push_str("<table><tr><th>property</th><th>verdict</th><th>checks</th><th>statement</th><th>source</th><th>first violation</th></tr>\n");
    for v in &res.verdicts {
        let (word, class) = status_word(v.status);
        let first = v.violations.first().map_or(String::new(), |x| {
            format!(
                "{} at {:.1} min: measured {:.3}, limit {:.3} — {} ({} in total)",
                esc(&x.device),
                x.t_ms as f64 / 60_000.0,
                x.measured,
                x.limit,
                esc(&x.detail),
                v.violation_count
            )
        });
        let reason = v.expected_reason.as_ref().map_or(String::new(), |r| {
            format!("<br><span class=\"src\">expected: {}</span>", esc(r))
        });
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"{class}\">{word}{reason}</td><td>{}</td><td>{}</td><td class=\"src\">{}</td><td>{first}</td></tr>",
            v.name,
            v.checks,
            esc(v.statement),
            esc(v.source)
        );
    }
    h.push_str("</table>\n<details><summary>sessions</summary><table><tr><th>#</th><th>device</th><th>label</th><th>zone</th><th>start, min</th><th>ended</th><th>emitting, min</th><th>mean / min / max J/cm²</th><th>target</th><th>firmware estimate</th><th>peak skin °C</th><th>CEM43</th></tr>\n");
    let mut n = 0;
    for s in &res.sessions {
        let number = if s.emitting_ms > 0 {
            n += 1;
            n.to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<tr><td>{number}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:?}</td><td>{:.1}</td><td>{:.2} / {:.2} / {:.2}</td><td>{:.1}</td><td>{:.2}</td><td>{:.1}</td><td>{:.3}</td></tr>",
            esc(&s.device),
            esc(&s.label),
            esc(&s.zone),
            s.start_ms as f64 / 60_000.0,
            s.end,
            s.emitting_ms as f64 / 60_000.0,
            s.fluence_mean_j_cm2,
            s.fluence_min_j_cm2,
            s.fluence_max_j_cm2,
            s.target_j_cm2,
            s.firmware_estimate_j_cm2,
            s.peak_skin_c,
            s.cem43
        );
    }
    h.push_str("</table></details>\n");
    if n > MAX_SESSION_CHARTS {
        let _ = writeln!(
            h,
            "<p class=\"src\">{} sessions emitted; charts are drawn for the first {MAX_SESSION_CHARTS}.</p>",
            n
        );
    }
    for path in r
        .artifacts
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let svg = std::fs::read_to_string(dir.join(&r.dir).join(&name))?;
        let png = name.trim_end_matches(".svg").to_string() + ".png";
        let link = format!("{}/{}", r.dir.to_string_lossy(), png);
        let body = format!(
            "<div>{}</div><p class=\"src\"><a href=\"{}\">{}</a></p>",
            inline_svg(&svg),
            esc(&link),
            esc(&png)
        );
        if name.starts_with("week") {
            let _ = writeln!(h, "<h3>week</h3>{body}");
        } else {
            let _ = writeln!(
                h,
                "<details><summary>{}</summary>{body}</details>",
                esc(name.trim_end_matches(".svg"))
            );
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::{
        Action, DAY_MS, DeviceSetup, Environment, HOUR_MS, MINUTE_MS, Timed, Training,
        TrainingKind, Treatment,
    };
    use sim::body::Zone;
    use sim::device::DeviceKind;

    /// Share of non-white pixels below which a chart counts as blank: the axes and labels of an
    /// empty chart alone cover about 1 % of these canvases; any drawn data adds several percent.
    pub(crate) const MIN_INK_SHARE: f64 = 0.03;

    fn treat(kind: DeviceKind, at_ms: u64, zone: Zone, minutes: u64, label: &str) -> Timed {
        Timed {
            at_ms,
            action: Action::Treat(Treatment {
                label: label.into(),
                zone,
                program: prescription::program_for_zone(kind, zone).expect("program"),
                distance_mm: 150.0,
                remove_after_ms: minutes * MINUTE_MS,
            }),
        }
    }

    /// Half an hour after intervals: the wrap on a calf, taken off early, and put back on the same
    /// calf too soon (refused), then the pen on an Achilles. Short, because a debug-build run
    /// costs about 35 µs per firmware step.
    pub(crate) fn mini_week() -> Scenario {
        let w = DeviceKind::Wrap;
        let p = DeviceKind::Pen;
        let at = |d: u64, h: u64, m: u64| d * DAY_MS + h * HOUR_MS + m * MINUTE_MS;
        let device = |id: &str, kind, timeline| DeviceSetup {
            id: String::from(id),
            kind,
            tolerances: Default::default(),
            uptime_at_start_ms: 0,
            timeline,
        };
        Scenario {
            name: "mini-week".into(),
            description: "two hours of the runner week".into(),
            seed: 7,
            duration_ms: 30 * MINUTE_MS,
            environment: Environment::default(),
            devices: vec![
                device(
                    "wrap",
                    w,
                    vec![
                        treat(w, at(0, 0, 10), Zone::LeftCalf, 4, "left-calf"),
                        treat(w, at(0, 0, 16), Zone::LeftCalf, 2, "left-calf-again"),
                    ],
                ),
                device(
                    "pen",
                    p,
                    vec![treat(p, at(0, 0, 20), Zone::LeftAchilles, 4, "achilles")],
                ),
            ],
            global: Vec::new(),
            training: vec![Training {
                kind: TrainingKind::Intervals,
                intensity: 0.9,
                duration_ms: 5 * MINUTE_MS,
                end_ms: at(0, 0, 5),
            }],
            limits: Default::default(),
            expectations: Vec::new(),
        }
    }

    #[test]
    fn device_charts_render_for_every_kind() {
        let dir = scratch_dir("device");
        for kind in sim::device::DeviceKind::ALL {
            let files = device_chart(kind, &dir).expect("chart");
            assert_eq!(files.len(), 2);
            let (w, h, ink, colours) = png_ink(&std::fs::read(&files[1]).expect("png"));
            assert_eq!((w, h), (1000, 900), "{kind:?}");
            assert!(
                ink > MIN_INK_SHARE && colours > 16,
                "{kind:?} blank: {ink:.3}, {colours}"
            );
        }
        if std::env::var_os("PBM_HIL_KEEP_CHARTS").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            eprintln!("device charts kept in {}", dir.display());
        }
    }

    pub(crate) fn scratch_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pbm-hil-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Decode a PNG; returns (width, height, share of non-white pixels, distinct colours).
    pub(crate) fn png_ink(bytes: &[u8]) -> (u32, u32, f64, usize) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let px: Vec<[u8; 3]> = buf[..info.buffer_size()]
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        let ink = px.iter().filter(|p| **p != [255, 255, 255]).count();
        let mut colours: Vec<[u8; 3]> = px.clone();
        colours.sort_unstable();
        colours.dedup();
        (
            info.width,
            info.height,
            ink as f64 / px.len() as f64,
            colours.len(),
        )
    }

    /// Run the mini week into `dir` with the chart trace and both streaming exports.
    fn run_into(dir: &Path) -> (RunResult, Vec<PathBuf>, Vec<PathBuf>) {
        let s = mini_week();
        let out = dir.join(&s.name);
        let mut rec = TraceRecorder::new();
        let mut csv = crate::export::CsvWriter::new(&out, "trace");
        let mut vcd = crate::export::VcdWriter::new(&out, "trace");
        let r = crate::run_reference(
            &s,
            &mut crate::events::Tee(vec![&mut rec, &mut csv, &mut vcd]),
        )
        .expect("run");
        let mut exports = csv.finish().expect("csv");
        exports.extend(vcd.finish().expect("vcd"));
        let files = write_scenario_artifacts(&out, &s, &r, &rec).expect("charts");
        (r, files, exports)
    }

    #[test]
    fn artifacts_are_complete_decodable_not_blank_and_identical_run_to_run() {
        let a = scratch_dir("report-a");
        let b = scratch_dir("report-b");
        let (result, files, exports) = run_into(&a);
        let (_, files_b, exports_b) = run_into(&b);
        // One CSV and one VCD per device; CSV rows are the samples, exactly.
        assert_eq!(exports.len(), 4);
        let rows: u64 = exports
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .map(|p| std::fs::read_to_string(p).expect("csv").lines().count() as u64 - 1)
            .sum();
        assert_eq!(rows, result.samples);
        for (x, y) in exports.iter().zip(&exports_b) {
            assert_eq!(std::fs::read(x).expect("a"), std::fs::read(y).expect("b"));
        }
        let emitted = result.sessions.iter().filter(|s| s.emitting_ms > 0).count();
        assert!(emitted >= 2, "{emitted} sessions emitted");
        // week + a session chart and a dose map per emitted session, SVG and PNG each.
        assert_eq!(files.len(), 2 * (1 + 2 * emitted));
        for f in &files {
            let bytes = std::fs::read(f).expect("written");
            let twin = b.join(f.strip_prefix(&a).expect("under a"));
            assert_eq!(
                bytes,
                std::fs::read(&twin).expect("twin"),
                "{} differs",
                f.display()
            );
            if f.extension().is_some_and(|e| e == "png") {
                let (w, h, ink, colours) = png_ink(&bytes);
                let name = f.file_name().expect("file").to_string_lossy();
                let want = if name.starts_with("dose-map") {
                    (900, 760)
                } else if name.starts_with("week") {
                    (1100, 1120)
                } else {
                    (1100, 1320)
                };
                assert_eq!((w, h), want, "{}", f.display());
                assert!(ink > MIN_INK_SHARE, "{} is blank ({ink:.3})", f.display());
                assert!(colours > 16, "{} has {colours} colours", f.display());
            } else {
                let svg = String::from_utf8(bytes).expect("utf-8");
                assert!(svg.contains("<svg") && svg.contains("</svg>"));
                assert!(
                    !svg.contains(&*a.to_string_lossy()),
                    "absolute path in {}",
                    f.display()
                );
            }
        }
        assert_eq!(files.len(), files_b.len());
        let runs = [RunSummary {
            result,
            description: "two days".into(),
            dir: PathBuf::from("mini-week"),
            artifacts: files,
        }];
        let index = write_index(&a, &runs).expect("index");
        let html = std::fs::read_to_string(&index).expect("index written");
        assert!(html.contains("<svg") && !html.contains("<script"));
        for p in crate::properties::CATALOG {
            assert!(html.contains(p.name), "{} missing", p.name);
        }
        assert!(
            !html.contains(&*a.to_string_lossy()),
            "absolute path in the index"
        );
        let leftovers: Vec<_> = std::fs::read_dir(a.join("mini-week"))
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        if std::env::var_os("PBM_HIL_KEEP_CHARTS").is_none() {
            let _ = std::fs::remove_dir_all(&a);
        } else {
            eprintln!("charts kept in {}", a.display());
        }
        let _ = std::fs::remove_dir_all(&b);
    }
}
