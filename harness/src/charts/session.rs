//! Session chart: one treatment as the firmware engineer and the clinician both need to see it.
//!
//! Stacked panels on one time axis (minutes from start pressed): irradiance per channel; the
//! delivered zone-mean fluence against the program's target (±tolerance of `dose.session`) and
//! per-session point cap, with the firmware's own estimate beside the plant truth; contact-skin
//! temperature against the IEC 60601-1 limits of `skin.normal` and `skin.absolute`; junction and
//! board temperature against `led.junction`; PWM duty per channel; and the firmware's state as a
//! band, with user actions, fault firings and violations marked across every panel.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use sim::device::DeviceKind;

use super::{
    Axes, DrawResult, Figure, Panel, TracePoint, channel_style, headroom, legend, marker_line,
    palette, panel, reference_line, state_style, text,
};
use crate::charts::trace::DeviceTrace;
use crate::prescription;
use crate::properties::Limits;
use crate::result::SessionSummary;
use crate::scenario::MINUTE_MS;

/// Shown before start pressed, ms (placing the device, the pre-start checks).
pub const LEAD_IN_MS: u64 = MINUTE_MS;
/// Shown after the window closed, ms (cool-down), cut short by the next request on the device.
pub const LEAD_OUT_MS: u64 = 3 * MINUTE_MS;
/// Violation markers drawn per chart; the rest are counted in the band's caption.
pub const MAX_VIOLATION_MARKERS: usize = 12;

/// What a session chart draws.
pub struct SessionChart<'a> {
    /// The session.
    pub summary: &'a SessionSummary,
    /// Its device's trace.
    pub trace: &'a DeviceTrace,
    /// Its device's kind.
    pub kind: DeviceKind,
    /// Property limits of the scenario.
    pub limits: Limits,
}

impl SessionChart<'_> {
    /// Time span shown, ms.
    pub fn span_ms(&self) -> (u64, u64) {
        let s = self.summary;
        let from = s.start_ms.saturating_sub(LEAD_IN_MS);
        let next = self
            .trace
            .requests
            .iter()
            .map(|m| m.t_ms)
            .find(|&t| t > s.start_ms)
            .unwrap_or(u64::MAX);
        let to = (s.end_ms + LEAD_OUT_MS).min(next.saturating_sub(1_000).max(s.end_ms));
        (from, to.max(from + 1_000))
    }

    fn minutes(&self, t_ms: u64) -> f64 {
        (t_ms as f64 - self.summary.start_ms as f64) / MINUTE_MS as f64
    }
}

/// Line width of channel `ch`: the first channel is drawn wider, so where both channels run at
/// the same level (most devices drive red and NIR alike) the second does not hide the first.
fn width(ch: usize) -> u32 {
    if ch == 0 { 5 } else { 2 }
}

/// `(t, v)` pairs as a step function: each value holds until the next point.
fn steps(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (t, v) in points {
        if let Some(&(_, prev)) = out.last() {
            out.push((t, prev));
        }
        out.push((t, v));
    }
    out
}

impl Figure for SessionChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 1320)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let s = self.summary;
        let spec = sim::device::spec(self.kind);
        let facts = crate::plant_io::facts(self.kind);
        let program = prescription::program(self.kind, s.program);
        let (from, to) = self.span_ms();
        let pts: &[TracePoint] = self.trace.points_between(from, to);
        let x = self.minutes(from)..self.minutes(to);
        let channels: Vec<(usize, RGBColor, String)> = spec
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| {
                let (colour, name) = channel_style(ch.wavelength);
                (c, colour, name)
            })
            .collect();

        let areas = root.split_by_breakpoints([] as [i32; 0], [70, 290, 520, 730, 920, 1110]);
        let [title, irr, flu, skin, junc, duty, band] = &areas[..] else {
            unreachable!("seven areas from six breakpoints")
        };

        // Title.
        let program_name = program.map_or("?", |p| p.name);
        title.draw(&Text::new(
            format!(
                "{} · {} · {} (program {}) · ended {:?}",
                self.trace.id, s.label, s.zone, program_name, s.end
            ),
            (16, 10),
            text(18.0),
        ))?;
        title.draw(&Text::new(
            format!(
                "delivered {:.2} J/cm² zone mean (min {:.2}, max {:.2}) of {:.1} target · emitting {:.1} min · peak skin {:.1} °C · peak junction {:.1} °C · {:.3} CEM43",
                s.fluence_mean_j_cm2,
                s.fluence_min_j_cm2,
                s.fluence_max_j_cm2,
                s.target_j_cm2,
                s.emitting_ms as f64 / MINUTE_MS as f64,
                s.peak_skin_c,
                s.peak_junction_c,
                s.cem43
            ),
            (16, 38),
            text(13.0),
        ))?;
        let markers = Markers::collect(self, from, to);

        // Irradiance per channel.
        let irr_max = pts
            .iter()
            .flat_map(|p| p.irradiance_mw_cm2)
            .fold(0.0, f64::max);
        let mut c = panel(
            irr,
            &Axes {
                x: x.clone(),
                y: 0.0..headroom(irr_max, 1.0),
                x_desc: "",
                x_fmt: None,
                x_labels: 14,
                y_desc: "irradiance, mW/cm²",
            },
        )?;
        markers.lines(&mut c)?;
        for (ch, colour, name) in &channels {
            c.draw_series(LineSeries::new(
                pts.iter()
                    .map(|p| (self.minutes(p.t_ms), p.irradiance_mw_cm2[*ch])),
                colour.stroke_width(width(*ch)),
            ))?
            .label(format!("{name} zone mean"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        }
        legend(&mut c)?;

        // Fluence against target and caps.
        let base = pts
            .iter()
            .take_while(|p| p.t_ms <= s.start_ms)
            .last()
            .or(pts.first())
            .map_or(0.0, |p| p.fluence_j_cm2);
        let in_window: Vec<&TracePoint> = pts
            .iter()
            .filter(|p| p.t_ms >= s.start_ms && p.t_ms <= s.end_ms)
            .collect();
        let truth: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| (self.minutes(p.t_ms), (p.fluence_j_cm2 - base).max(0.0)))
            .collect();
        let cap = program.map(|p| p.session_cap_j_cm2);
        let top = [
            s.fluence_max_j_cm2,
            s.target_j_cm2 * (1.0 + self.limits.dose_tolerance),
            cap.unwrap_or(0.0),
        ]
        .into_iter()
        .chain(truth.iter().map(|p| p.1))
        .chain(in_window.iter().map(|p| p.estimate_j_cm2))
        .fold(0.0, f64::max);
        let mut c = panel(
            flu,
            &Axes {
                x: x.clone(),
                y: 0.0..headroom(top, 1.0),
                x_desc: "",
                x_fmt: None,
                x_labels: 14,
                y_desc: "fluence, J/cm²",
            },
        )?;
        markers.lines(&mut c)?;
        if s.target_j_cm2 > 0.0 {
            let lo = s.target_j_cm2 * (1.0 - self.limits.dose_tolerance);
            let hi = s.target_j_cm2 * (1.0 + self.limits.dose_tolerance);
            c.draw_series(std::iter::once(Rectangle::new(
                [(x.start, lo), (x.end, hi)],
                palette::TARGET.mix(0.12).filled(),
            )))?;
            reference_line(
                &mut c,
                s.target_j_cm2,
                palette::TARGET,
                &format!(
                    "target {:.1} ±{:.0} %",
                    s.target_j_cm2,
                    self.limits.dose_tolerance * 100.0
                ),
            )?;
        }
        if let Some(cap) = cap {
            reference_line(&mut c, cap, palette::LIMIT, &format!("point cap {cap:.1}"))?;
        }
        c.draw_series(LineSeries::new(truth, palette::TRUTH.stroke_width(5)))?
            .label("zone mean (plant truth)")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], palette::TRUTH.stroke_width(2))
            });
        c.draw_series(LineSeries::new(
            in_window
                .iter()
                .map(|p| (self.minutes(p.t_ms), p.estimate_j_cm2)),
            palette::FIRMWARE.stroke_width(2),
        ))?
        .label("firmware estimate")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], palette::FIRMWARE.stroke_width(2))
        });
        let end_x = self.minutes(s.end_ms);
        for (v, colour, name) in [
            (s.fluence_max_j_cm2, palette::LIMIT, "hottest point"),
            (s.fluence_min_j_cm2, palette::TRUTH, "cold spot"),
        ] {
            c.draw_series(std::iter::once(Circle::new((end_x, v), 4, colour.filled())))?;
            c.draw_series(std::iter::once(Text::new(
                format!("{name} {v:.1}"),
                (end_x, v),
                text(11.0)
                    .color(&colour)
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            )))?;
        }
        legend(&mut c)?;

        // Skin temperature against the IEC 60601-1 limits.
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (
                    lo.min(p.skin_mean_c.min(p.skin_hot_c)),
                    hi.max(p.skin_hot_c),
                )
            });
        let lo = if lo.is_finite() { lo } else { 30.0 };
        let hi = hi.max(self.limits.skin_absolute_c);
        let mut c = panel(
            skin,
            &Axes {
                x: x.clone(),
                y: (lo - 0.5).floor()..(hi + 0.8),
                x_desc: "",
                x_fmt: None,
                x_labels: 14,
                y_desc: "skin, °C",
            },
        )?;
        markers.lines(&mut c)?;
        reference_line(
            &mut c,
            self.limits.skin_normal_c,
            palette::CAUTION,
            &format!("{:.0} °C normal", self.limits.skin_normal_c),
        )?;
        reference_line(
            &mut c,
            self.limits.skin_absolute_c,
            palette::LIMIT,
            &format!("{:.0} °C absolute", self.limits.skin_absolute_c),
        )?;
        c.draw_series(LineSeries::new(
            pts.iter().map(|p| (self.minutes(p.t_ms), p.skin_hot_c)),
            palette::LIMIT.mix(0.8).stroke_width(2),
        ))?
        .label("hottest point")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], palette::LIMIT.stroke_width(2))
        });
        c.draw_series(LineSeries::new(
            pts.iter().map(|p| (self.minutes(p.t_ms), p.skin_mean_c)),
            palette::TRUTH.stroke_width(2),
        ))?
        .label("contact mean")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], palette::TRUTH.stroke_width(2))
        });
        legend(&mut c)?;

        // Junction and board against led.junction.
        let limits_j: Vec<(usize, f64)> = channels
            .iter()
            .map(|(ch, _, _)| (*ch, facts.tj_max_c[*ch] - self.limits.junction_margin_k))
            .collect();
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (
                    lo.min(p.board_c).min(p.junction_c[0]),
                    hi.max(p.junction_c[0]).max(p.junction_c[1]),
                )
            });
        let lo = if lo.is_finite() { lo } else { 20.0 };
        let hi = limits_j.iter().map(|l| l.1).fold(hi, f64::max);
        let mut c = panel(
            junc,
            &Axes {
                x: x.clone(),
                y: (lo - 2.0).floor()..(hi + 5.0),
                x_desc: "",
                x_fmt: None,
                x_labels: 14,
                y_desc: "LED, °C",
            },
        )?;
        markers.lines(&mut c)?;
        for (ch, colour, name) in &channels {
            let limit = limits_j.iter().find(|l| l.0 == *ch).map_or(0.0, |l| l.1);
            reference_line(&mut c, limit, *colour, &format!("{name} limit {limit:.0}"))?;
            c.draw_series(LineSeries::new(
                pts.iter()
                    .map(|p| (self.minutes(p.t_ms), p.junction_c[*ch])),
                colour.stroke_width(2),
            ))?
            .label(format!("junction {name}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        }
        c.draw_series(LineSeries::new(
            pts.iter().map(|p| (self.minutes(p.t_ms), p.board_c)),
            palette::MUTED.stroke_width(2),
        ))?
        .label("board")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], palette::MUTED.stroke_width(2))
        });
        legend(&mut c)?;

        // Duty per channel.
        let mut c = panel(
            duty,
            &Axes {
                x: x.clone(),
                y: 0.0..110.0,
                x_desc: "",
                x_fmt: None,
                x_labels: 14,
                y_desc: "PWM duty, %",
            },
        )?;
        markers.lines(&mut c)?;
        for (ch, colour, name) in &channels {
            let on: Vec<(f64, f64)> = pts
                .iter()
                .map(|p| {
                    let d = if p.hw_enable && p.powered {
                        f64::from(p.duty_permille[*ch]) / 10.0
                    } else {
                        0.0
                    };
                    (self.minutes(p.t_ms), d)
                })
                .collect();
            c.draw_series(LineSeries::new(steps(on), colour.stroke_width(width(*ch))))?
                .label(format!("{name} (0 when hardware enable is off)"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        legend(&mut c)?;

        // State band with the markers' labels.
        let mut c = panel(
            band,
            &Axes {
                x: x.clone(),
                y: 0.0..1.0,
                x_desc: "minutes from start pressed",
                x_fmt: None,
                x_labels: 14,
                y_desc: "firmware",
            },
        )?;
        // One rectangle per run of equal state (not per point: it keeps the SVG small).
        let mut seen: Vec<&'static str> = Vec::new();
        let mut runs: Vec<(u64, u64, RGBColor)> = Vec::new();
        for (i, p) in pts.iter().enumerate() {
            let next = pts.get(i + 1).map_or(to, |n| n.t_ms);
            let (colour, name) = state_style(p.state, p.powered);
            if !seen.contains(&name) {
                seen.push(name);
            }
            match runs.last_mut() {
                Some(r) if r.2 == colour => r.1 = next,
                _ => runs.push((p.t_ms, next, colour)),
            }
        }
        c.draw_series(runs.iter().map(|&(a, b, colour)| {
            Rectangle::new(
                [(self.minutes(a), 0.0), (self.minutes(b), 0.3)],
                colour.filled(),
            )
        }))?;
        let mut lx = 0;
        for name in &seen {
            let code = (0..=7u8).find(|&k| state_style(k, true).1 == *name);
            let (colour, _) = code.map_or(state_style(0, false), |k| state_style(k, true));
            band.draw(&Rectangle::new(
                [(1100 - 330 + lx, 14), (1100 - 330 + lx + 10, 24)],
                colour.filled(),
            ))?;
            band.draw(&Text::new(
                name.to_string(),
                (1100 - 330 + lx + 13, 12),
                text(11.0),
            ))?;
            lx += 14 + 7 * name.len() as i32;
        }
        markers.lines(&mut c)?;
        markers.labels(&mut c)?;
        Ok(())
    }
}

/// The marks drawn across the panels of one chart.
struct Markers {
    /// (minutes, label, colour).
    marks: Vec<(f64, String, RGBColor)>,
    /// Violations beyond [`MAX_VIOLATION_MARKERS`].
    more_violations: usize,
}

impl Markers {
    fn collect(chart: &SessionChart<'_>, from: u64, to: u64) -> Markers {
        let t = chart.trace;
        let in_span = |ms: u64| ms >= from && ms <= to;
        let mut marks: Vec<(f64, String, RGBColor)> = Vec::new();
        for a in t.actions.iter().filter(|a| in_span(a.t_ms)) {
            if let Some(label) = super::action_label(&a.what) {
                marks.push((chart.minutes(a.t_ms), label, palette::ACTION));
            }
        }
        for f in t.faults.iter().filter(|f| in_span(f.t_ms)) {
            marks.push((
                chart.minutes(f.t_ms),
                format!("fault fired: {}", f.what),
                palette::FAULT,
            ));
        }
        let violations: Vec<_> = t.violations.iter().filter(|v| in_span(v.t_ms)).collect();
        for v in violations.iter().take(MAX_VIOLATION_MARKERS) {
            marks.push((
                chart.minutes(v.t_ms),
                format!("✗ {}", v.name),
                palette::VIOLATION,
            ));
        }
        Markers {
            marks,
            more_violations: violations.len().saturating_sub(MAX_VIOLATION_MARKERS),
        }
    }

    fn lines<DB: DrawingBackend>(&self, c: &mut Panel<'_, DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        for (x, _, colour) in &self.marks {
            marker_line(c, *x, colour.mix(0.6).stroke_width(1))?;
        }
        Ok(())
    }

    /// Labels in three staggered rows above the state bar, so neighbours do not overprint.
    fn labels<DB: DrawingBackend>(&self, c: &mut Panel<'_, DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        const ROWS: [f64; 3] = [0.42, 0.62, 0.82];
        for (i, (x, label, colour)) in self.marks.iter().enumerate() {
            c.draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, ROWS[i % ROWS.len()]),
                text(11.0)
                    .color(colour)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
        if self.more_violations > 0 {
            let r = c.x_range();
            c.draw_series(std::iter::once(Text::new(
                format!("+{} more violations", self.more_violations),
                (r.end, 0.95),
                text(11.0)
                    .color(&palette::VIOLATION)
                    .pos(Pos::new(HPos::Right, VPos::Top)),
            )))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::steps;

    #[test]
    fn steps_hold_each_value_until_the_next_point() {
        assert_eq!(
            steps([(0.0, 1.0), (2.0, 3.0), (5.0, 0.0)]),
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (5.0, 3.0), (5.0, 0.0)]
        );
    }
}
