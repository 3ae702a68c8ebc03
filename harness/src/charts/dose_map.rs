//! Dose map: where on the zone the light landed, and the cold spot that limits the dose.
//!
//! The session's fluence over the treated zone's skin grid (plant truth, J/cm²) as a heat map
//! with a colour bar, the uniformity figures of domain.md §2.3 (U1 = H_min/H_avg,
//! U2 = H_min/H_max, CV = σ/H_avg over equal-area grid points) and the coldest and hottest
//! points marked. domain.md §2.3 \[D\]: "the firmware/app dose estimate must use the zone minimum,
//! not the headline value", hence the cold spot is named with its share of the target.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawResult, Figure, palette, text};
use crate::result::SessionSummary;

/// Colour-bar steps (enough that the gradient looks continuous at the bar's 300–400 px height).
const COLOUR_BAR_STEPS: usize = 120;

/// The dose map of one session.
pub struct DoseMapChart<'a> {
    /// The session (its `fluence_map`, target and cap).
    pub summary: &'a SessionSummary,
    /// The program's per-session point cap, J/cm², if known.
    pub point_cap_j_cm2: Option<f64>,
}

/// Index and value of the smallest and largest grid values.
pub fn extremes(values: &[f64]) -> Option<((usize, f64), (usize, f64))> {
    let first = *values.first()?;
    let mut lo = (0, first);
    let mut hi = (0, first);
    for (i, &v) in values.iter().enumerate() {
        if v < lo.1 {
            lo = (i, v);
        }
        if v > hi.1 {
            hi = (i, v);
        }
    }
    Some((lo, hi))
}

fn colour(v: f64, top: f64) -> RGBColor {
    let h = if top > 0.0 {
        (v / top).clamp(0.0, 1.0)
    } else {
        0.0
    };
    ViridisRGB::get_color(h as f32)
}

impl Figure for DoseMapChart<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let s = self.summary;
        let m = &s.fluence_map;
        let stats = sim::optics::ZoneStats::of(&m.j_cm2);
        let (title, body) = root.split_vertically(84);
        title.draw(&Text::new(
            format!(
                "{} · {} · {} — fluence map (plant truth)",
                s.device, s.label, s.zone
            ),
            (16, 10),
            text(18.0),
        ))?;
        title.draw(&Text::new(
            format!(
                "mean {:.2} · min {:.2} · max {:.2} J/cm² · U1 = min/mean {:.2} · U2 = min/max {:.2} · CV {:.2} (domain.md §2.3)",
                stats.mean, stats.min, stats.max, stats.u1, stats.u2, stats.cv
            ),
            (16, 36),
            text(13.0),
        ))?;
        let (map_area, bar_area) = body.split_horizontally(740);
        if m.nx == 0 || m.ny == 0 || m.j_cm2.len() != m.nx * m.ny {
            map_area.draw(&Text::new(
                "no dose map for this session",
                (40, 40),
                text(14.0),
            ))?;
            return Ok(());
        }
        let ((lo_i, lo_v), (hi_i, hi_v)) = extremes(&m.j_cm2).expect("non-empty map");
        let top = [hi_v, s.target_j_cm2]
            .into_iter()
            .fold(0.0, f64::max)
            .max(1e-3);
        let (w, h) = (m.width_cm, m.height_cm);
        let (dx, dy) = (w / m.nx as f64, h / m.ny as f64);
        let centre = |i: usize| {
            (
                (i % m.nx) as f64 * dx + dx / 2.0 - w / 2.0,
                (i / m.nx) as f64 * dy + dy / 2.0 - h / 2.0,
            )
        };
        // Keep the zone's aspect ratio: 1 cm across is 1 cm along.
        let (area_w, area_h) = map_area.dim_in_pixel();
        let (label_x, label_y, margin) = (56u32, 40u32, 12u32);
        let free_w = f64::from(area_w - label_x - 2 * margin);
        let free_h = f64::from(area_h - label_y - 2 * margin);
        let scale = (free_w / w).min(free_h / h);
        let pad_x = ((free_w - w * scale) / 2.0) as u32;
        let pad_y = ((free_h - h * scale) / 2.0) as u32;
        let mut c = ChartBuilder::on(&map_area)
            .margin_left(margin + pad_x)
            .margin_right(margin + pad_x)
            .margin_top(margin + pad_y)
            .margin_bottom(margin + pad_y)
            .x_label_area_size(label_x)
            .y_label_area_size(label_y + 16)
            .build_cartesian_2d(-w / 2.0..w / 2.0, -h / 2.0..h / 2.0)?;
        c.configure_mesh()
            .disable_mesh()
            .label_style(text(12.0))
            .axis_desc_style(text(13.0))
            .x_desc("x across the zone, cm")
            .y_desc("y along the zone, cm")
            .draw()?;
        c.draw_series(m.j_cm2.iter().enumerate().map(|(i, &v)| {
            let (x, y) = centre(i);
            Rectangle::new(
                [(x - dx / 2.0, y - dy / 2.0), (x + dx / 2.0, y + dy / 2.0)],
                colour(v, top).filled(),
            )
        }))?;
        let (cx, cy) = centre(lo_i);
        let share = if s.target_j_cm2 > 0.0 {
            format!(
                " = {:.0} % of the {:.1} target",
                100.0 * lo_v / s.target_j_cm2,
                s.target_j_cm2
            )
        } else {
            String::new()
        };
        title.draw(&Text::new(
            format!(
                "cold spot (the dose the whole zone is sure of) at ({cx:.1}, {cy:.1}) cm: {lo_v:.2} J/cm²{share}"
            ),
            (16, 58),
            text(13.0).color(&palette::TRUTH),
        ))?;
        c.draw_series([
            Circle::new((cx, cy), 9, WHITE.stroke_width(3)),
            Circle::new((cx, cy), 9, palette::LIMIT.stroke_width(1)),
        ])?;
        let (hx, hy) = centre(hi_i);
        c.draw_series([
            Cross::new((hx, hy), 7, BLACK.stroke_width(3)),
            Cross::new((hx, hy), 7, WHITE.stroke_width(1)),
        ])?;
        // Labels on white boxes beside their marks, on the side facing the zone's centre.
        for (label, (x, y)) in [
            (format!("cold spot {lo_v:.2}"), (cx, cy)),
            (format!("hottest {hi_v:.2}"), (hx, hy)),
        ] {
            let style = text(12.0);
            let (tw, th) = root.estimate_text_size(&label, &style)?;
            let (px, py) = c.backend_coord(&(x, y));
            let left = if x > 0.0 {
                px - 14 - tw as i32
            } else {
                px + 14
            };
            let topy = py - th as i32 / 2;
            root.draw(&Rectangle::new(
                [
                    (left - 3, topy - 2),
                    (left + tw as i32 + 3, topy + th as i32 + 2),
                ],
                WHITE.mix(0.85).filled(),
            ))?;
            root.draw(&Text::new(label, (left, topy), style))?;
        }

        // Colour bar with the target and the point cap on it.
        let mut bar = ChartBuilder::on(&bar_area)
            .margin_top(12)
            .margin_bottom(52)
            .margin_right(60)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..1.0, 0.0..top)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(8)
            .label_style(text(11.0))
            .axis_desc_style(text(12.0))
            .y_desc("fluence, J/cm²")
            .draw()?;
        bar.draw_series((0..COLOUR_BAR_STEPS).map(|k| {
            let a = top * k as f64 / COLOUR_BAR_STEPS as f64;
            let b = top * (k + 1) as f64 / COLOUR_BAR_STEPS as f64;
            Rectangle::new([(0.0, a), (1.0, b)], colour((a + b) / 2.0, top).filled())
        }))?;
        let mut marks = vec![(s.target_j_cm2, "target", palette::TARGET)];
        if let Some(cap) = self.point_cap_j_cm2 {
            marks.push((cap, "cap", palette::LIMIT));
        }
        for (v, name, col) in marks {
            if v > 0.0 && v <= top {
                bar.draw_series([PathElement::new(
                    vec![(0.0, v), (1.0, v)],
                    col.stroke_width(3),
                )])?;
                bar.draw_series([Text::new(
                    name.to_string(),
                    (1.0, v),
                    text(11.0)
                        .color(&col)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::extremes;

    #[test]
    fn extremes_find_the_cold_and_hot_points() {
        assert_eq!(
            extremes(&[3.0, 1.0, 4.0, 1.5, 9.0, 2.0]),
            Some(((1, 1.0), (4, 9.0)))
        );
        assert_eq!(extremes(&[]), None);
    }
}
