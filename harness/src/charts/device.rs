//! Device dosing chart: irradiance and minutes to dose, computed from the plant model.
//!
//! The chart device makers print in their manuals, computed rather than claimed (domain.md §1.3
//! \[V2\]: calibrated measurements are often about half the vendor's claim). Irradiance comes from
//! the device's optics at its reference drive (nominal current, full duty, 25 °C junction): for a
//! panel against distance (the zone mean per channel, domain.md §2.3 superposition), for a worn
//! or handheld device across the treated zone at its standoff (the profile through the centre).
//! Minutes to 4, 10, 20 and 60 J/cm² come from running the plant itself at that drive from a
//! cold start, so LED self-heating (domain.md §3: flux falls as the junction warms) is included;
//! the cold-spot time divides by the zone's uniformity U1 = E_min/E_avg (domain.md §2.3).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use sim::device::{DeviceKind, MAX_STRINGS, STRINGS_PER_CHANNEL};
use sim::optics::{Placement, Vec3};
use sim::plant::{Drive, Plant, PlantChange, PlantConfig, Tolerances};

use super::{Axes, DrawResult, Figure, channel_style, headroom, legend, palette, panel, text};
use crate::scenario::{Environment, MINUTE_MS};

/// The doses the chart answers for, J/cm² (domain.md §1.6: skin 1–10, muscle surface 4–60).
pub const DOSES_J_CM2: [f64; 4] = [4.0, 10.0, 20.0, 60.0];
/// Plant step when timing doses, ms: the drive is constant, so each step is one exact jump and
/// the fluence between steps is interpolated linearly (irradiance drifts by well under 1 % in
/// 10 s as the junction warms).
pub const DOSE_STEP_MS: u64 = 10_000;
/// Longest simulated exposure, ms; a dose not reached by then is shown as "> 6 h".
pub const MAX_EXPOSURE_MS: u64 = 6 * 60 * MINUTE_MS;
/// Panel distances for the irradiance curve, cm (5–60 cm: domain.md §1.3 "15–30 cm range" and
/// beyond, where the view factor tends to inverse square).
pub const PANEL_DISTANCES_CM: [f64; 12] = [
    5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0,
];
/// Points across the zone for a worn device's profile.
pub const PROFILE_POINTS: usize = 241;

/// Irradiance and time to dose at one distance or one placement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DosePoint {
    /// Distance, cm (panel) or the device's standoff.
    pub distance_cm: f64,
    /// Zone-mean irradiance per channel at the reference drive, mW/cm² (0 for an absent one).
    pub mean_mw_cm2: [f64; 2],
    /// Uniformity of the all-channel map, E_min/E_avg.
    pub u1: f64,
    /// Minutes to each of [`DOSES_J_CM2`] at the zone mean, from the plant (NaN: not within
    /// [`MAX_EXPOSURE_MS`]).
    pub minutes: [f64; 4],
}

/// The dosing chart's numbers for one device kind.
#[derive(Clone, Debug, PartialEq)]
pub struct DosingData {
    /// Device kind.
    pub kind: DeviceKind,
    /// Device name.
    pub name: String,
    /// Whether the x axis is distance (panels) rather than position.
    pub at_distance: bool,
    /// One point per panel distance, or the single nominal placement of a worn device.
    pub points: Vec<DosePoint>,
    /// Profile across the zone through its centre along x (worn devices): (x cm, per-channel
    /// mW/cm²).
    pub profile_x: Vec<(f64, [f64; 2])>,
    /// Profile along y through the centre: (y cm, per-channel mW/cm²). Rows of emitters
    /// alternate channel along y on most boards, so this is where the stripes show.
    pub profile_y: Vec<(f64, [f64; 2])>,
}

/// Minutes to each dose at the zone mean, running the plant at the reference drive.
pub fn minutes_to_doses(kind: DeviceKind, distance_cm: f64) -> [f64; 4] {
    let env = Environment::default();
    let mut plant = Plant::new(&PlantConfig {
        device: kind,
        body: crate::plant_io::body_config(&env),
        ambient_c: env.ambient_c,
        tolerances: Tolerances::default(),
        noise_seed: 0,
    });
    let zone = crate::prescription::programs(kind)[0].zone;
    plant.apply(PlantChange::Place {
        zone,
        distance_mm: distance_cm * 10.0,
    });
    let spec = plant.device().clone();
    let mut drive = Drive {
        hw_enable: true,
        ..Drive::default()
    };
    for (c, ch) in spec.channels.iter().enumerate() {
        drive.duty_permille[c] = 1000;
        drive.current_ma[c] = ch.nominal_current_ma.round() as u16;
    }
    plant.set_drive(&drive);
    let fluence = |p: &Plant| p.probe().fluence_mean_j_cm2.iter().sum::<f64>();
    let mut out = [f64::NAN; 4];
    let (mut t, mut prev, mut k) = (0u64, fluence(&plant), 0usize);
    while k < DOSES_J_CM2.len() && t < MAX_EXPOSURE_MS {
        plant.advance(DOSE_STEP_MS);
        t += DOSE_STEP_MS;
        let h = fluence(&plant);
        while k < DOSES_J_CM2.len() && h >= DOSES_J_CM2[k] {
            let frac = if h > prev {
                (DOSES_J_CM2[k] - prev) / (h - prev)
            } else {
                1.0
            };
            let at_ms = (t - DOSE_STEP_MS) as f64 + frac * DOSE_STEP_MS as f64;
            out[k] = at_ms / MINUTE_MS as f64;
            k += 1;
        }
        prev = h;
    }
    out
}

fn dose_point(kind: DeviceKind, distance_cm: f64) -> DosePoint {
    let spec = sim::device::spec(kind);
    let placement = Placement::centred(distance_cm);
    let stats = spec.channel_stats(placement);
    let all = spec
        .reference_maps(placement)
        .combined(&[1.0; MAX_STRINGS])
        .stats();
    DosePoint {
        distance_cm,
        mean_mw_cm2: [0, 1].map(|c| stats[c].map_or(0.0, |s| s.mean)),
        u1: all.u1,
        minutes: minutes_to_doses(kind, distance_cm),
    }
}

impl DosingData {
    /// Compute the chart's numbers for a device kind (a few hundred plant jumps per distance).
    pub fn of(kind: DeviceKind) -> DosingData {
        let spec = sim::device::spec(kind);
        let at_distance = spec.sensors.distance;
        if at_distance {
            return DosingData {
                kind,
                name: spec.name.to_string(),
                at_distance,
                points: PANEL_DISTANCES_CM
                    .iter()
                    .map(|&d| dose_point(kind, d))
                    .collect(),
                profile_x: Vec::new(),
                profile_y: Vec::new(),
            };
        }
        let placement = spec.nominal_placement();
        let beams = spec.reference_beams();
        let profile = |half: f64, point: &dyn Fn(f64) -> Vec3| -> Vec<(f64, [f64; 2])> {
            (0..PROFILE_POINTS)
                .map(|i| {
                    let u = -half + 2.0 * half * i as f64 / (PROFILE_POINTS - 1) as f64;
                    let e = sim::optics::irradiance_per_string(
                        &spec.emitters,
                        &beams,
                        placement,
                        point(u),
                        Vec3::UP,
                    );
                    let per_channel = [0, 1].map(|c| {
                        e[c * STRINGS_PER_CHANNEL..(c + 1) * STRINGS_PER_CHANNEL]
                            .iter()
                            .sum::<f64>()
                    });
                    (u, per_channel)
                })
                .collect()
        };
        let profile_x = profile(spec.skin_grid.width_cm / 2.0, &|u| Vec3::new(u, 0.0, 0.0));
        let profile_y = profile(spec.skin_grid.height_cm / 2.0, &|u| Vec3::new(0.0, u, 0.0));
        DosingData {
            kind,
            name: spec.name.to_string(),
            at_distance,
            points: vec![dose_point(kind, spec.distance_cm)],
            profile_x,
            profile_y,
        }
    }
}

/// The dosing chart of a device kind.
pub struct DeviceChart<'a> {
    /// The numbers.
    pub data: &'a DosingData,
}

const DOSE_COLOURS: [RGBColor; 4] = [
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
];

impl Figure for DeviceChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 900)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let d = self.data;
        let spec = sim::device::spec(d.kind);
        let channels: Vec<(usize, RGBColor, String)> = spec
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| {
                let (col, name) = channel_style(ch.wavelength);
                (c, col, name)
            })
            .collect();
        let areas = root.split_by_breakpoints([] as [i32; 0], [64, 470]);
        let [title, top, bottom] = &areas[..] else {
            unreachable!("three areas from two breakpoints")
        };
        title.draw(&Text::new(
            format!(
                "{} ({:?}) — dosing chart from the plant model",
                d.name, d.kind
            ),
            (16, 10),
            text(18.0),
        ))?;
        title.draw(&Text::new(
            "nominal LED current, full duty; irradiance at 25 °C junction, minutes from a cold start with self-heating; resting skin, 22 °C room",
            (16, 38),
            text(12.0),
        ))?;
        if d.at_distance {
            let x = 0.0..(PANEL_DISTANCES_CM[PANEL_DISTANCES_CM.len() - 1] + 2.0);
            let e_max = d
                .points
                .iter()
                .map(|p| p.mean_mw_cm2.iter().sum::<f64>())
                .fold(0.0, f64::max);
            let mut c = panel(
                top,
                &Axes {
                    x: x.clone(),
                    y: 0.0..headroom(e_max, 1.0),
                    x_desc: "LED plane to skin, cm",
                    y_desc: "zone-mean irradiance, mW/cm²",
                    x_fmt: None,
                    x_labels: 14,
                },
            )?;
            for (ch, col, name) in &channels {
                c.draw_series(LineSeries::new(
                    d.points.iter().map(|p| (p.distance_cm, p.mean_mw_cm2[*ch])),
                    col.stroke_width(2),
                ))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                });
            }
            c.draw_series(LineSeries::new(
                d.points
                    .iter()
                    .map(|p| (p.distance_cm, p.mean_mw_cm2.iter().sum::<f64>())),
                BLACK.stroke_width(2),
            ))?
            .label("all channels")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
            c.draw_series(d.points.iter().map(|p| {
                Circle::new(
                    (p.distance_cm, p.mean_mw_cm2.iter().sum::<f64>()),
                    3,
                    BLACK.filled(),
                )
            }))?;
            legend(&mut c)?;
            let t_max = d
                .points
                .iter()
                .flat_map(|p| p.minutes)
                .filter(|m| m.is_finite())
                .fold(1.0, f64::max);
            let mut c = ChartBuilder::on(bottom)
                .margin_top(8)
                .margin_left(6)
                .margin_right(super::RIGHT_MARGIN_PX)
                .x_label_area_size(38)
                .y_label_area_size(super::Y_LABEL_AREA_PX)
                .build_cartesian_2d(x, (0.5..t_max * 1.5).log_scale())?;
            c.configure_mesh()
                .light_line_style(RGBColor(242, 242, 242))
                .bold_line_style(RGBColor(222, 222, 222))
                .label_style(text(12.0))
                .axis_desc_style(text(13.0))
                .x_desc("LED plane to skin, cm")
                .y_desc("minutes to dose (zone mean)")
                .draw()?;
            for (k, dose) in DOSES_J_CM2.iter().enumerate() {
                let col = DOSE_COLOURS[k];
                let pts: Vec<(f64, f64)> = d
                    .points
                    .iter()
                    .filter(|p| p.minutes[k].is_finite())
                    .map(|p| (p.distance_cm, p.minutes[k]))
                    .collect();
                c.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))?
                    .label(format!("{dose:.0} J/cm²"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                    });
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))?;
            }
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(text(12.0))
                .draw()?;
            return Ok(());
        }

        // Worn and handheld devices: profiles through the zone's centre, then minutes per dose.
        let half = spec.skin_grid.width_cm.max(spec.skin_grid.height_cm) / 2.0;
        let e_max = d
            .profile_x
            .iter()
            .chain(&d.profile_y)
            .map(|(_, e)| e.iter().sum::<f64>())
            .fold(0.0, f64::max);
        let mut c = panel(
            top,
            &Axes {
                x: -half..half,
                y: 0.0..headroom(e_max, 1.0) * 1.25,
                x_desc: "position from the zone's centre, cm",
                y_desc: "irradiance, mW/cm²",
                x_fmt: None,
                x_labels: 12,
            },
        )?;
        let p0 = d.points[0];
        for (ch, col, name) in &channels {
            c.draw_series(LineSeries::new(
                d.profile_y.iter().map(|(y, e)| (*y, e[*ch])),
                col.stroke_width(if *ch == 0 { 4 } else { 2 }),
            ))?
            .label(format!(
                "{name} along y, zone mean {:.1}",
                p0.mean_mw_cm2[*ch]
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2)));
            super::reference_line(
                &mut c,
                p0.mean_mw_cm2[*ch],
                *col,
                &format!("mean {:.1}", p0.mean_mw_cm2[*ch]),
            )?;
        }
        c.draw_series(LineSeries::new(
            d.profile_y.iter().map(|(y, e)| (*y, e.iter().sum::<f64>())),
            BLACK.stroke_width(2),
        ))?
        .label("all channels along y")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        c.draw_series(LineSeries::new(
            d.profile_x.iter().map(|(x, e)| (*x, e.iter().sum::<f64>())),
            palette::MUTED.stroke_width(1),
        ))?
        .label("all channels across x")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], palette::MUTED.stroke_width(1))
        });
        legend(&mut c)?;

        let cold: Vec<f64> = p0
            .minutes
            .iter()
            .map(|m| if p0.u1 > 0.0 { m / p0.u1 } else { f64::NAN })
            .collect();
        let t_max = p0
            .minutes
            .iter()
            .chain(cold.iter())
            .filter(|m| m.is_finite())
            .fold(1.0, |a: f64, b| a.max(*b));
        let mut c = panel(
            bottom,
            &Axes {
                x: -0.5..3.5,
                y: 0.0..t_max * 1.2,
                x_desc: "dose, J/cm²",
                y_desc: "minutes",
                x_fmt: Some(&|x: &f64| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && (0.0..4.0).contains(&i) {
                        format!("{:.0} J/cm²", DOSES_J_CM2[i as usize])
                    } else {
                        String::new()
                    }
                }),
                x_labels: 5,
            },
        )?;
        for (k, (&mean, &cold)) in p0.minutes.iter().zip(&cold).enumerate() {
            let x = k as f64;
            for (m, dx, col) in [(mean, -0.2, palette::TRUTH), (cold, 0.2, palette::MUTED)] {
                let label = if m.is_finite() {
                    format!("{m:.1}")
                } else {
                    "> 6 h".into()
                };
                let h = if m.is_finite() { m } else { t_max * 1.1 };
                c.draw_series([Rectangle::new(
                    [(x + dx - 0.17, 0.0), (x + dx + 0.17, h)],
                    col.filled(),
                )])?;
                c.draw_series([Text::new(
                    label,
                    (x + dx, h),
                    text(12.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )])?;
            }
        }
        c.draw_series(std::iter::once(Rectangle::new(
            [(-1.0, -1.0), (-1.0, -1.0)],
            palette::TRUTH.filled(),
        )))?
        .label("zone mean (plant run)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], palette::TRUTH.filled()));
        c.draw_series(std::iter::once(Rectangle::new(
            [(-1.0, -1.0), (-1.0, -1.0)],
            palette::MUTED.filled(),
        )))?
        .label(format!("cold spot (zone mean ÷ U1 = {:.2})", p0.u1))
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], palette::MUTED.filled()));
        legend(&mut c)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative agreement between the plant's time to dose and H/E at the reference irradiance:
    /// the plant starts from a cold junction (22 °C room, below the 25 °C reference) and warms,
    /// so its flux drifts by a few percent either way over a session (domain.md §3.2 \[V\]/\[M\]:
    /// output temperature coefficient −0.2…−1.0 %/K, over a junction rise of 5–15 K).
    const DROOP_REL_TOL: f64 = 0.15;

    #[test]
    fn plant_time_to_dose_agrees_with_dose_over_irradiance() {
        for kind in [DeviceKind::Pen, DeviceKind::Wrap] {
            let p = dose_point(kind, sim::device::spec(kind).distance_cm);
            let e: f64 = p.mean_mw_cm2.iter().sum();
            for (k, dose) in DOSES_J_CM2.iter().enumerate() {
                let closed_form_min = dose * 1000.0 / e / 60.0;
                let rel = p.minutes[k] / closed_form_min - 1.0;
                assert!(
                    rel.abs() < DROOP_REL_TOL,
                    "{kind:?} {dose} J/cm²: plant {:.2} min, H/E {closed_form_min:.2} min",
                    p.minutes[k]
                );
            }
            assert!(
                p.minutes.windows(2).all(|w| w[0] < w[1]),
                "{kind:?} {:?}",
                p.minutes
            );
        }
    }
}
