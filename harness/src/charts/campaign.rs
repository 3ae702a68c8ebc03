//! The campaign chart: what thousands of generated weeks did, on one page.
//!
//! A campaign's verdict is in its JSON summary; the chart is for the review meeting. Three
//! histograms (hottest skin per week, largest session CEM43 per week, largest completed-session
//! dose error per week) carry their limits as dashed lines, so how close the population came is
//! visible at a glance, and a bar per property counts the weeks that violated it.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Axes, DrawResult, Figure, palette, panel, text};

/// What the campaign chart shows (one value per week in each distribution).
#[derive(Clone, Debug, PartialEq)]
pub struct CampaignFigure {
    /// Title line (seed and week count).
    pub title: String,
    /// Hottest skin point per week, °C.
    pub peak_skin_c: Vec<f64>,
    /// Largest per-session CEM43 per week, minutes.
    pub cem43: Vec<f64>,
    /// Largest completed-session dose error per week, relative (0.1 = 10 %).
    pub dose_error: Vec<f64>,
    /// Per property, the weeks violating it (catalog order).
    pub violations: Vec<(String, u64)>,
    /// The property limits drawn on the histograms (skin normal and absolute, CEM43 without and
    /// with a fault, the dose tolerance).
    pub limits: crate::properties::Limits,
}

/// Bins per histogram.
const BINS: usize = 24;

/// Counts of `values` in `BINS` equal bins over `[lo, hi)`; values outside are clamped into the
/// end bins so nothing a campaign found drops off the chart.
fn histogram(values: &[f64], lo: f64, hi: f64) -> Vec<u64> {
    let mut counts = vec![0u64; BINS];
    let width = (hi - lo) / BINS as f64;
    for v in values.iter().filter(|v| v.is_finite()) {
        let i = ((v - lo) / width).floor();
        let i = if i.is_nan() {
            0.0
        } else {
            i.clamp(0.0, (BINS - 1) as f64)
        };
        counts[i as usize] += 1;
    }
    counts
}

/// The x range of a histogram: the data and the limits, with a little margin.
fn span(values: &[f64], marks: &[f64], floor: f64) -> (f64, f64) {
    let finite = values
        .iter()
        .chain(marks)
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return (0.0, floor.max(1.0));
    }
    let pad = ((hi - lo) * 0.05).max(floor * 0.05);
    (lo - pad, (hi + pad).max(lo + floor))
}

fn draw_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    values: &[f64],
    marks: &[(f64, RGBColor, &str)],
    floor: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mark_values: Vec<f64> = marks.iter().map(|m| m.0).collect();
    let (lo, hi) = span(values, &mark_values, floor);
    let counts = histogram(values, lo, hi);
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.15;
    let area = area.titled(title, text(14.0))?;
    let mut chart = panel(
        &area,
        &Axes {
            x: lo..hi,
            y: 0.0..top,
            x_desc,
            y_desc: "weeks",
            x_fmt: None,
            x_labels: 6,
        },
    )?;
    let width = (hi - lo) / BINS as f64;
    chart.draw_series(
        counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new(
                    [(x0 + width * 0.05, 0.0), (x0 + width * 0.95, *c as f64)],
                    palette::TRUTH.filled(),
                )
            }),
    )?;
    for (x, colour, label) in marks {
        let y = chart.y_range();
        chart.draw_series(DashedLineSeries::new(
            [(*x, y.start), (*x, y.end)],
            6,
            4,
            colour.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label.to_string(),
            (*x, y.end * 0.97),
            text(11.0).color(colour),
        )))?;
    }
    Ok(())
}

fn draw_violations<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    violations: &[(String, u64)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let area = area.titled("weeks violating each property", text(14.0))?;
    let n = violations.len().max(1);
    let top = violations.iter().map(|v| v.1).max().unwrap_or(0).max(1) as f64 * 1.25;
    // Property names label the bars themselves: no y axis numbers.
    let mut chart = ChartBuilder::on(&area)
        .margin(6)
        .margin_right(super::RIGHT_MARGIN_PX)
        .x_label_area_size(38)
        .y_label_area_size(8)
        .build_cartesian_2d(0.0..top, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(222, 222, 222))
        .label_style(text(12.0))
        .axis_desc_style(text(13.0))
        .x_labels(5)
        .x_desc("weeks")
        .draw()?;
    for (i, (name, count)) in violations.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let colour = if *count > 0 {
            palette::VIOLATION
        } else {
            palette::MUTED
        };
        if *count > 0 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.15), (*count as f64, y + 0.85)],
                colour.filled(),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            format!("{name}  {count}"),
            (
                top * 0.02 + if *count > 0 { *count as f64 } else { 0.0 },
                y + 0.75,
            ),
            text(11.0).color(&if *count > 0 { BLACK } else { palette::MUTED }),
        )))?;
    }
    Ok(())
}

impl Figure for CampaignFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 820)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(&self.title, text(18.0))?;
        let cells = root.split_evenly((2, 2));
        let l = self.limits;
        draw_histogram(
            &cells[0],
            "hottest skin point per week",
            "°C",
            &self.peak_skin_c,
            &[
                (l.skin_normal_c, palette::CAUTION, "skin.normal"),
                (l.skin_absolute_c, palette::LIMIT, "skin.absolute"),
            ],
            2.0,
        )?;
        draw_histogram(
            &cells[1],
            "largest session CEM43 per week",
            "CEM43, min",
            &self.cem43,
            &[
                (l.cem43_normal, palette::CAUTION, "no fault"),
                (l.cem43_fault, palette::LIMIT, "with a fault"),
            ],
            0.5,
        )?;
        let dose_pct: Vec<f64> = self.dose_error.iter().map(|e| e * 100.0).collect();
        draw_histogram(
            &cells[2],
            "largest completed-session dose error per week",
            "dose error, % of target",
            &dose_pct,
            &[(l.dose_tolerance * 100.0, palette::LIMIT, "dose.session")],
            5.0,
        )?;
        draw_violations(&cells[3], &self.violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_finite_value_once_and_clamps_the_ends() {
        let v = [0.0, 0.5, 0.99, 1.0, -5.0, 7.0, f64::NAN];
        let h = histogram(&v, 0.0, 1.0);
        assert_eq!(h.iter().sum::<u64>(), 6, "NaN dropped, outliers clamped in");
        assert_eq!(h[0], 2, "0.0 and the clamped -5.0");
        assert_eq!(h[BINS - 1], 3, "0.99, 1.0 and the clamped 7.0");
    }

    #[test]
    fn span_holds_data_and_limits() {
        let (lo, hi) = span(&[38.0, 39.5], &[41.0, 43.0], 2.0);
        assert!(lo < 38.0 && hi > 43.0, "{lo}..{hi}");
        let (lo, hi) = span(&[], &[], 2.0);
        assert!(hi > lo, "empty data still gives an axis");
    }
}
