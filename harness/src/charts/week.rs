//! Week chart: what a week of treatment added up to, zone by zone and day by day.
//!
//! For clinical and regulatory readers: delivered zone-mean fluence per zone per calendar day
//! against the daily cap, the running total of the week against the weekly cap (`dose.daily`,
//! `dose.weekly`; caps from [`crate::prescription::zone_caps`]), how many requests were
//! completed, ended early, refused or never made (skipped), and the training load of the day
//! that the treatments follow. The properties judge the caps over any 24 h and any 7 days; the
//! chart shows calendar days, which is how a user reads a week.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use sim::body::Zone;

use super::{Axes, DrawResult, Figure, headroom, legend, palette, panel, reference_line, text};
use crate::prescription;
use crate::result::{RunResult, SessionEnd};
use crate::scenario::{Action, DAY_MS, HOUR_MS, Scenario};

/// A (device, zone) pair: caps are per zone and per device class.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneKey {
    /// Device id.
    pub device: String,
    /// Zone.
    pub zone: Zone,
    /// Daily cap, J/cm².
    pub daily_cap_j_cm2: f64,
    /// Weekly cap, J/cm².
    pub weekly_cap_j_cm2: f64,
}

/// Requests of one day by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Completed by the firmware.
    pub completed: u32,
    /// Ended early (stopped, removed, fault, power lost, user stop, scenario end).
    pub ended_early: u32,
    /// Refused by the firmware.
    pub refused: u32,
    /// Planned in the scenario but never opened a request window.
    pub skipped: u32,
}

/// The week's numbers, computed from the scenario and the result.
#[derive(Clone, Debug, PartialEq)]
pub struct WeekData {
    /// Scenario name.
    pub scenario: String,
    /// Calendar days covered.
    pub days: usize,
    /// Zones treated, in order of first treatment.
    pub zones: Vec<ZoneKey>,
    /// Zone-mean fluence per zone (outer) per day (inner), J/cm².
    pub fluence_j_cm2: Vec<Vec<f64>>,
    /// Running total per zone: (time in days, cumulative J/cm²) after each session.
    pub cumulative: Vec<Vec<(f64, f64)>>,
    /// Requests per day by outcome.
    pub counts: Vec<DayCounts>,
    /// Training load per day, intensity × hours.
    pub training_load: Vec<f64>,
    /// Training kinds per day, for labels.
    pub training_kinds: Vec<String>,
}

/// The zone of a session summary (its `zone` is the zone's debug name).
pub fn zone_named(name: &str) -> Option<Zone> {
    Zone::ALL.iter().copied().find(|z| format!("{z:?}") == name)
}

impl WeekData {
    /// Tally a run.
    pub fn of(scenario: &Scenario, result: &RunResult) -> WeekData {
        let days = scenario.duration_ms.div_ceil(DAY_MS).max(1) as usize;
        let day_of = |t_ms: u64| ((t_ms / DAY_MS) as usize).min(days - 1);
        let mut zones: Vec<ZoneKey> = Vec::new();
        let mut fluence: Vec<Vec<f64>> = Vec::new();
        let mut cumulative: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut counts = vec![DayCounts::default(); days];
        for s in &result.sessions {
            let c = &mut counts[day_of(s.start_ms)];
            match s.end {
                SessionEnd::Completed => c.completed += 1,
                SessionEnd::Refused => c.refused += 1,
                _ => c.ended_early += 1,
            }
            let (Some(zone), Some(dev)) = (
                zone_named(&s.zone),
                scenario.devices.iter().find(|d| d.id == s.device),
            ) else {
                continue;
            };
            let i = match zones
                .iter()
                .position(|k| k.device == s.device && k.zone == zone)
            {
                Some(i) => i,
                None => {
                    let caps = prescription::zone_caps(dev.kind, zone);
                    zones.push(ZoneKey {
                        device: s.device.clone(),
                        zone,
                        daily_cap_j_cm2: caps.daily_cap_j_cm2,
                        weekly_cap_j_cm2: caps.weekly_cap_j_cm2,
                    });
                    fluence.push(vec![0.0; days]);
                    cumulative.push(vec![(0.0, 0.0)]);
                    zones.len() - 1
                }
            };
            fluence[i][day_of(s.start_ms)] += s.fluence_mean_j_cm2;
            let total = cumulative[i].last().map_or(0.0, |p| p.1);
            let t = s.end_ms as f64 / DAY_MS as f64;
            cumulative[i].push((t, total));
            cumulative[i].push((t, total + s.fluence_mean_j_cm2));
        }
        for (i, c) in cumulative.iter_mut().enumerate() {
            let total = c.last().map_or(0.0, |p| p.1);
            c.push((days as f64, total));
            debug_assert!(i < zones.len());
        }
        for dev in &scenario.devices {
            for t in &dev.timeline {
                if let Action::Treat(tr) = &t.action
                    && !result
                        .sessions
                        .iter()
                        .any(|s| s.device == dev.id && s.label == tr.label)
                {
                    counts[day_of(t.at_ms)].skipped += 1;
                }
            }
        }
        let mut training_load = vec![0.0; days];
        let mut training_kinds = vec![String::new(); days];
        for t in &scenario.training {
            let d = day_of(t.end_ms.saturating_sub(t.duration_ms));
            training_load[d] += t.intensity * t.duration_ms as f64 / HOUR_MS as f64;
            if !training_kinds[d].is_empty() {
                training_kinds[d].push_str(", ");
            }
            training_kinds[d]
                .push_str(&super::action_label(&format!("{:?}", t.kind)).unwrap_or_default());
        }
        WeekData {
            scenario: scenario.name.clone(),
            days,
            zones,
            fluence_j_cm2: fluence,
            cumulative,
            counts,
            training_load,
            training_kinds,
        }
    }
}

/// The week chart of a run.
pub struct WeekChart<'a> {
    /// The numbers.
    pub data: &'a WeekData,
}

fn day_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 && x.round() >= 0.0 {
        format!("day {}", x.round() as i64)
    } else {
        String::new()
    }
}

impl Figure for WeekChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 1120)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let d = self.data;
        let n = d.days as f64;
        let x = -0.5..(n - 0.5);
        let areas = root.split_by_breakpoints([] as [i32; 0], [56, 400, 680, 900]);
        let [title, daily, weekly, sessions, training] = &areas[..] else {
            unreachable!("five areas from four breakpoints")
        };
        let done: u32 = d.counts.iter().map(|c| c.completed).sum();
        let early: u32 = d.counts.iter().map(|c| c.ended_early).sum();
        let refused: u32 = d.counts.iter().map(|c| c.refused).sum();
        let skipped: u32 = d.counts.iter().map(|c| c.skipped).sum();
        title.draw(&Text::new(
            format!("{} — fluence per zone per day against the caps", d.scenario),
            (16, 10),
            text(18.0),
        ))?;
        title.draw(&Text::new(
            format!(
                "{} zones · {done} completed, {early} ended early, {refused} refused, {skipped} skipped · caps per zone: daily and weekly zone-mean fluence (prescription)",
                d.zones.len()
            ),
            (16, 34),
            text(13.0),
        ))?;
        let colour = |i: usize| palette::ZONES[i % palette::ZONES.len()];
        let name = |k: &ZoneKey| format!("{} {:?}", k.device, k.zone);

        // Fluence per zone per day, grouped bars, with each zone's daily cap over its bar.
        let top = d
            .fluence_j_cm2
            .iter()
            .flatten()
            .copied()
            .chain(d.zones.iter().map(|k| k.daily_cap_j_cm2))
            .fold(0.0, f64::max);
        let mut c = panel(
            daily,
            &Axes {
                x: x.clone(),
                // Headroom for the legend above the bars and cap ticks.
                y: 0.0..headroom(top, 1.0) * 1.5,
                x_desc: "",
                y_desc: "fluence per day, J/cm²",
                x_fmt: Some(&day_label),
                x_labels: d.days + 1,
            },
        )?;
        let width = 0.8 / d.zones.len().max(1) as f64;
        for (i, k) in d.zones.iter().enumerate() {
            let col = colour(i);
            let bars = d.fluence_j_cm2[i].iter().enumerate().map(|(day, v)| {
                let x0 = day as f64 - 0.4 + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.9, *v)], col.filled())
            });
            c.draw_series(bars)?
                .label(format!("{} (daily cap {:.1})", name(k), k.daily_cap_j_cm2))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
            // A cap tick only over bars that exist: the cap of an untreated zone is noise.
            let treated: Vec<usize> = (0..d.days)
                .filter(|&day| d.fluence_j_cm2[i][day] > 0.0)
                .collect();
            let caps = treated.into_iter().map(|day| {
                let x0 = day as f64 - 0.4 + i as f64 * width;
                PathElement::new(
                    vec![
                        (x0, k.daily_cap_j_cm2),
                        (x0 + width * 0.9, k.daily_cap_j_cm2),
                    ],
                    palette::LIMIT.stroke_width(2),
                )
            });
            c.draw_series(caps)?;
        }
        c.draw_series(std::iter::once(PathElement::new(
            vec![(x.start, -1.0), (x.start, -1.0)],
            palette::LIMIT.stroke_width(2),
        )))?
        .label("daily cap (red tick over each zone's bar)")
        .legend(|(x, y)| {
            PathElement::new(vec![(x, y), (x + 12, y)], palette::LIMIT.stroke_width(2))
        });
        legend(&mut c)?;

        // Running total of the week against each zone's weekly cap.
        let top = d
            .cumulative
            .iter()
            .flatten()
            .map(|p| p.1)
            .chain(d.zones.iter().map(|k| k.weekly_cap_j_cm2))
            .fold(0.0, f64::max);
        let mut c = panel(
            weekly,
            &Axes {
                x: x.clone(),
                y: 0.0..headroom(top, 1.0),
                x_desc: "",
                y_desc: "running total, J/cm²",
                x_fmt: Some(&day_label),
                x_labels: d.days + 1,
            },
        )?;
        let mut caps_drawn: Vec<f64> = Vec::new();
        for (i, k) in d.zones.iter().enumerate() {
            let col = colour(i);
            if !caps_drawn
                .iter()
                .any(|c| (c - k.weekly_cap_j_cm2).abs() < 1e-9)
            {
                caps_drawn.push(k.weekly_cap_j_cm2);
                let who: Vec<String> = d
                    .zones
                    .iter()
                    .filter(|z| (z.weekly_cap_j_cm2 - k.weekly_cap_j_cm2).abs() < 1e-9)
                    .map(|z| z.device.clone())
                    .fold(Vec::new(), |mut v, dev| {
                        if !v.contains(&dev) {
                            v.push(dev);
                        }
                        v
                    });
                reference_line(
                    &mut c,
                    k.weekly_cap_j_cm2,
                    palette::LIMIT,
                    &format!("{:.1} {}", k.weekly_cap_j_cm2, who.join(", ")),
                )?;
            }
            // Shift by half a day so day N's bar and the running total share the tick.
            c.draw_series(LineSeries::new(
                d.cumulative[i].iter().map(|(t, v)| (t - 0.5, *v)),
                col.stroke_width(2),
            ))?
            .label(format!(
                "{} (weekly cap {:.1}, red dashed)",
                name(k),
                k.weekly_cap_j_cm2
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], col.stroke_width(2)));
        }
        legend(&mut c)?;

        // Requests per day by outcome, stacked.
        let top = d
            .counts
            .iter()
            .map(|c| c.completed + c.ended_early + c.refused + c.skipped)
            .max()
            .unwrap_or(0) as f64;
        let mut c = panel(
            sessions,
            &Axes {
                x: x.clone(),
                y: 0.0..(top * 1.8 + 1.0).max(2.0),
                x_desc: "",
                y_desc: "requests",
                x_fmt: Some(&day_label),
                x_labels: d.days + 1,
            },
        )?;
        type Count = fn(&DayCounts) -> u32;
        let outcome: [(&str, RGBColor, Count); 4] = [
            ("completed", palette::TARGET, |c| c.completed),
            ("ended early", palette::CAUTION, |c| c.ended_early),
            ("refused", palette::LIMIT, |c| c.refused),
            ("skipped", palette::MUTED, |c| c.skipped),
        ];
        let mut base = vec![0u32; d.days];
        for (label, col, get) in outcome {
            let bars: Vec<_> = d
                .counts
                .iter()
                .enumerate()
                .filter(|(_, c)| get(c) > 0)
                .map(|(day, cnt)| {
                    let b = f64::from(base[day]);
                    Rectangle::new(
                        [
                            (day as f64 - 0.3, b),
                            (day as f64 + 0.3, b + f64::from(get(cnt))),
                        ],
                        col.filled(),
                    )
                })
                .collect();
            for (day, cnt) in d.counts.iter().enumerate() {
                base[day] += get(cnt);
            }
            c.draw_series(bars)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
        }
        legend(&mut c)?;

        // Training load of the day.
        let top = d.training_load.iter().copied().fold(0.0, f64::max);
        let mut c = panel(
            training,
            &Axes {
                x,
                y: 0.0..headroom(top, 1.0) * 1.2,
                x_desc: "day of the scenario",
                y_desc: "training load",
                x_fmt: Some(&day_label),
                x_labels: d.days + 1,
            },
        )?;
        c.draw_series(d.training_load.iter().enumerate().map(|(day, v)| {
            Rectangle::new(
                [(day as f64 - 0.3, 0.0), (day as f64 + 0.3, *v)],
                palette::ACTION.mix(0.7).filled(),
            )
        }))?
        .label("intensity × hours")
        .legend(|(x, y)| {
            Rectangle::new(
                [(x, y - 5), (x + 12, y + 5)],
                palette::ACTION.mix(0.7).filled(),
            )
        });
        c.draw_series(
            d.training_kinds
                .iter()
                .enumerate()
                .filter(|(_, k)| !k.is_empty())
                .map(|(day, k)| {
                    Text::new(
                        k.clone(),
                        (day as f64, d.training_load[day]),
                        text(11.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
                }),
        )?;
        legend(&mut c)?;
        Ok(())
    }
}
