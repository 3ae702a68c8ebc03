//! The bundled chart font, registered once before any text is drawn.
//!
//! Charts must render on a bare CI machine with no system fonts: plotters' `ab_glyph` backend
//! draws only fonts registered with it, so the repository ships DejaVu Sans (licence text beside
//! it in `harness/assets/`) and every chart uses the one family name registered here.

use std::sync::Once;

/// DejaVu Sans, from Debian's `fonts-dejavu-core` (free licence, bundling allowed with its text).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The family name every chart asks for.
pub const FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Register the bundled font under [`FAMILY`] (idempotent, thread-safe).
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are a well-formed TrueType file compiled into the binary: a failure here is a
        // broken build, not a run-time condition.
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .unwrap_or_else(|_| panic!("bundled DejaVu Sans does not parse"));
    });
}
