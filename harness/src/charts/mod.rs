//! Dose charts: the pictures clinical, regulatory and firmware colleagues read after a run.
//!
//! Charts are for people; verdicts come from properties. Every chart is a [`Figure`] drawn by one
//! generic function over plotters' `DrawingBackend`, rendered twice by [`render`]: to SVG (for
//! the HTML report, byte-identical run to run) and to PNG (encoded here with the `png` crate so
//! the bytes are ours to write atomically). Text uses the bundled font ([`font`]), so rendering
//! needs no system fonts. Charts are drawn after the run from a [`TraceRecorder`] and the
//! [`crate::result::RunResult`], never on the loop's hot path.

pub mod campaign;
pub mod device;
pub mod dose_map;
pub mod font;
pub mod session;
pub mod trace;
pub mod week;

use std::io;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use trace::{DeviceTrace, Mark, StateMark, TracePoint, TraceRecorder};

/// Error while drawing (a backend error, boxed so one type serves both backends).
pub type DrawError = Box<dyn std::error::Error + Send + Sync>;

/// Result of drawing a figure.
pub type DrawResult = Result<(), DrawError>;

/// A chart that can draw itself on any plotters backend.
pub trait Figure {
    /// Size in pixels (width, height); the SVG uses the same user units.
    fn size(&self) -> (u32, u32);

    /// Draw onto a blank (white) root area.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// One rendered chart: SVG text and PNG bytes under a file stem.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File stem (`week`, `session-01-mon-calf`); the files are `STEM.svg` and `STEM.png`.
    pub stem: String,
    /// SVG document.
    pub svg: String,
    /// PNG file bytes (8-bit RGB).
    pub png: Vec<u8>,
    /// Pixel size (width, height).
    pub size: (u32, u32),
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("failed to draw chart: {e}"))
}

/// Render a figure to SVG and PNG.
pub fn render(stem: &str, figure: &impl Figure) -> io::Result<Chart> {
    font::ensure_registered();
    let (w, h) = figure.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(io_err)?;
        figure.draw(&root).map_err(io_err)?;
        root.present().map_err(io_err)?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(io_err)?;
        figure.draw(&root).map_err(io_err)?;
        root.present().map_err(io_err)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Charts are flat colour with anti-aliased edges: per-row adaptive filtering makes the
        // files several times smaller than no filtering. The fast deflate leaves them about twice
        // the default level's size (the library's PNGs: 25 MB against 11 MB), but the default
        // level's deflate was a third of the CPU samples of `run runner-week.toml --out D
        // --trace csv`, and the scenario library with `--out` took 7.7 s with it, 4.0 s with the
        // fast one (BENCHMARKS.md, round 6).
        enc.set_compression(png::Compression::Fast);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = enc.write_header().map_err(io_err)?;
        writer.write_image_data(&rgb).map_err(io_err)?;
        writer.finish().map_err(io_err)?;
    }
    Ok(Chart {
        stem: stem.to_string(),
        svg,
        png: png_bytes,
        size: (w, h),
    })
}

/// A text style in the bundled font.
pub(crate) fn text(size: f64) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().into()
}

/// Colours shared by the charts (chosen to stay distinguishable in grey-scale print as well).
pub(crate) mod palette {
    use plotters::style::RGBColor;

    /// Red channel (630–660 nm).
    pub const RED_CHANNEL: RGBColor = RGBColor(214, 39, 40);
    /// NIR channel (810–850 nm): drawn purple, since NIR has no colour of its own.
    pub const NIR_CHANNEL: RGBColor = RGBColor(117, 59, 160);
    /// Plant truth that is not a channel (fluence, skin).
    pub const TRUTH: RGBColor = RGBColor(31, 119, 180);
    /// The firmware's own view (its dose estimate).
    pub const FIRMWARE: RGBColor = RGBColor(255, 127, 14);
    /// Limits and caps.
    pub const LIMIT: RGBColor = RGBColor(200, 0, 0);
    /// Softer limit (warning level).
    pub const CAUTION: RGBColor = RGBColor(230, 140, 0);
    /// Targets.
    pub const TARGET: RGBColor = RGBColor(44, 160, 44);
    /// Markers of user actions.
    pub const ACTION: RGBColor = RGBColor(110, 110, 110);
    /// Fault firings.
    pub const FAULT: RGBColor = RGBColor(180, 0, 0);
    /// Property violations.
    pub const VIOLATION: RGBColor = RGBColor(220, 0, 180);
    /// Grid and secondary text.
    pub const MUTED: RGBColor = RGBColor(150, 150, 150);
    /// A categorical palette for zones (tab10 without the channel colours).
    pub const ZONES: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
}

/// Colour and name of a channel from its wavelength.
pub(crate) fn channel_style(w: sim::led::Wavelength) -> (RGBColor, String) {
    let colour = if w.is_nir() {
        palette::NIR_CHANNEL
    } else {
        palette::RED_CHANNEL
    };
    (colour, format!("{:.0} nm", w.nm()))
}

/// Colour and name of a firmware session state (the state band).
pub(crate) fn state_style(code: u8, powered: bool) -> (RGBColor, &'static str) {
    use firmware::boundary::SessionState as S;
    if !powered {
        return (RGBColor(60, 60, 60), "unpowered");
    }
    match S::from_code(code) {
        Some(S::Off) => (RGBColor(200, 200, 200), "off"),
        Some(S::Idle) => (RGBColor(225, 235, 245), "idle"),
        Some(S::Treating) => (RGBColor(120, 200, 120), "treating"),
        Some(S::Paused) => (RGBColor(250, 220, 110), "paused"),
        Some(S::Completed) => (RGBColor(60, 140, 200), "completed"),
        Some(S::Refused) => (RGBColor(240, 150, 60), "refused"),
        Some(S::Stopped) => (RGBColor(170, 170, 230), "stopped"),
        Some(S::Fault) => (RGBColor(200, 30, 30), "fault"),
        None => (RGBColor(0, 0, 0), "unknown"),
    }
}

/// The short label of a scenario action for a marker, or `None` for bookkeeping actions
/// (button releases, program selection, skin-state updates) that would clutter the chart.
pub(crate) fn action_label(what: &str) -> Option<String> {
    let head: String = what.chars().take_while(|c| c.is_alphanumeric()).collect();
    match head.as_str() {
        "Release" | "SelectProgram" | "SkinState" => None,
        "Treat" => Some("start".into()),
        "Press" => Some(
            what.trim_start_matches("Press(")
                .trim_end_matches(')')
                .to_lowercase(),
        ),
        "Cover" => Some(if what.contains("true") {
            "cover".into()
        } else {
            "uncover".into()
        }),
        "EyeShields" => Some(if what.contains("true") {
            "shields on".into()
        } else {
            "shields off".into()
        }),
        "Fault" => Some("fault injected".into()),
        "" => None,
        other => Some(split_camel(other)),
    }
}

/// `LiftOff` → `lift off`.
fn split_camel(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A file-name-safe form of a label: lowercase ASCII letters, digits and dashes.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(48).collect()
}

/// A panel: one cartesian chart with f64 axes.
pub(crate) type Panel<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Axes of a panel.
pub(crate) struct Axes<'s> {
    /// x range.
    pub x: std::ops::Range<f64>,
    /// y range.
    pub y: std::ops::Range<f64>,
    /// x description (empty: no description, labels still drawn).
    pub x_desc: &'s str,
    /// y description with its unit.
    pub y_desc: &'s str,
    /// x tick label formatter (default: plotters' numbers).
    pub x_fmt: Option<&'s dyn Fn(&f64) -> String>,
    /// Number of x tick labels to aim for.
    pub x_labels: usize,
}

/// Width of the y label area, px: wide enough for "1000" and a rotated description, and the
/// same on every stacked panel so their time axes line up.
pub(crate) const Y_LABEL_AREA_PX: u32 = 64;
/// Right margin, px: room for the last x tick label and end-of-line annotations.
pub(crate) const RIGHT_MARGIN_PX: u32 = 96;

/// Build a panel with the house mesh (light grid, labelled axes in the bundled font).
pub(crate) fn panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    axes: &Axes<'_>,
) -> Result<Panel<'a, DB>, DrawError>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(6)
        .margin_bottom(2)
        .margin_left(6)
        .margin_right(RIGHT_MARGIN_PX)
        .x_label_area_size(if axes.x_desc.is_empty() { 20 } else { 38 })
        .y_label_area_size(Y_LABEL_AREA_PX)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    let mut mesh = chart.configure_mesh();
    if let Some(f) = axes.x_fmt {
        mesh.x_label_formatter(f);
    }
    mesh.light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(222, 222, 222))
        .label_style(text(12.0))
        .axis_desc_style(text(13.0))
        .x_labels(axes.x_labels)
        .y_labels(6)
        .max_light_lines(4)
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .draw()?;
    Ok(chart)
}

/// Draw the series legend of a panel in its upper-left corner.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Panel<'a, DB>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(text(12.0))
        .draw()?;
    Ok(())
}

/// A horizontal reference line across the panel (a limit, a target), dashed, with a label at
/// its right end.
pub(crate) fn reference_line<DB: DrawingBackend>(
    chart: &mut Panel<'_, DB>,
    y: f64,
    colour: RGBColor,
    label: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let x = chart.x_range();
    chart.draw_series(DashedLineSeries::new(
        [(x.start, y), (x.end, y)],
        6,
        4,
        colour.stroke_width(1),
    ))?;
    chart.draw_series(std::iter::once(Text::new(
        label.to_string(),
        (x.end, y),
        text(11.0)
            .color(&colour)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
    )))?;
    Ok(())
}

/// A vertical marker line over the whole panel height.
pub(crate) fn marker_line<DB: DrawingBackend>(
    chart: &mut Panel<'_, DB>,
    x: f64,
    style: ShapeStyle,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let y = chart.y_range();
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(x, y.start), (x, y.end)],
        style,
    )))?;
    Ok(())
}

/// Upper end of an axis that holds `max` with some headroom, never degenerate.
pub(crate) fn headroom(max: f64, floor: f64) -> f64 {
    if max.is_finite() && max > floor {
        max * 1.1
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_labels_keep_user_actions_and_drop_bookkeeping() {
        let cases = [
            ("Release", None),
            ("SelectProgram(2)", None),
            ("SkinState { skin_c: 34.0, perfusion_scale: 2.0 }", None),
            ("Press(Stop)", Some("stop")),
            ("Treat(Treatment { label: \"x\" })", Some("start")),
            ("Cover(true)", Some("cover")),
            ("Cover(false)", Some("uncover")),
            ("LiftOff", Some("lift off")),
            (
                "Place { zone: LeftCalf, distance_mm: 150.0 }",
                Some("place"),
            ),
            ("PowerOff", Some("power off")),
        ];
        for (what, want) in cases {
            assert_eq!(action_label(what).as_deref(), want, "{what}");
        }
    }

    #[test]
    fn slugs_are_file_name_safe() {
        for (s, want) in [
            ("d0-1915-LeftCalf", "d0-1915-leftcalf"),
            ("mon calf / left!", "mon-calf-left"),
            ("start@123ms", "start-123ms"),
        ] {
            assert_eq!(slug(s), want);
        }
    }
}
