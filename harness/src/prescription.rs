//! The prescription: each device's programs and the per-zone caps, as the instructions for use
//! state them.
//!
//! This is the product specification the firmware implements and the properties judge against.
//! It lives in the harness, not in the firmware, because limits never come from the firmware
//! under test: a test checks that the reference firmware's own tables agree with it.
//!
//! Numbers: session lengths from domain.md §6.1 (wrap 10–15 min, max 20; panel 10, max 20; mask
//! 10, max 15; pen per point 20–300 s, WALT [V]); target fluences inside the response bands of
//! domain.md §1.6 (muscle surface fluence 4–60 J/cm², skin 1–10 J/cm² — an engineering choice
//! there, not literature) and reachable in 10–20 min at each device's zone-mean irradiance
//! (domain.md §1.3); per-session point caps at the top of those bands; daily caps of two sessions
//! with at least 6 h between them on a zone (domain.md §6.1 [design]; "1–3 times a day" in
//! manuals [V2]); weekly caps of seven sessions' worth (the article's 3–5 sessions a week, with
//! room for the busy weeks).

use sim::body::Zone;
use sim::device::DeviceKind;

/// One program on a device's selector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgramSpec {
    /// Name (equals the zone's file name, e.g. "left-calf").
    pub name: &'static str,
    /// Zone the program treats.
    pub zone: Zone,
    /// Target zone-mean fluence, J/cm² (all channels).
    pub target_j_cm2: f64,
    /// Per-session cap on the fluence at any point of the zone, J/cm².
    pub session_cap_j_cm2: f64,
    /// Session time limit, s.
    pub time_limit_s: u32,
}

/// Caps per zone for one device class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZoneCaps {
    /// Sessions per zone in any 24 h.
    pub max_sessions_per_day: u32,
    /// Minimum time between the end of one session and the start of the next on a zone, ms.
    pub min_gap_ms: u64,
    /// Zone-mean fluence per zone in any 24 h, J/cm².
    pub daily_cap_j_cm2: f64,
    /// Zone-mean fluence per zone in any 7 days, J/cm².
    pub weekly_cap_j_cm2: f64,
}

const fn p(name: &'static str, zone: Zone, target: f64, cap: f64, limit_s: u32) -> ProgramSpec {
    ProgramSpec {
        name,
        zone,
        target_j_cm2: target,
        session_cap_j_cm2: cap,
        time_limit_s: limit_s,
    }
}

/// Muscle programs: 12 J/cm² zone mean, point cap 60 J/cm² (top of the muscle band), 20 min.
const WRAP: &[ProgramSpec] = &[
    p("left-calf", Zone::LeftCalf, 12.0, 60.0, 1200),
    p("right-calf", Zone::RightCalf, 12.0, 60.0, 1200),
    p("left-quad", Zone::LeftQuadriceps, 12.0, 60.0, 1200),
    p("right-quad", Zone::RightQuadriceps, 12.0, 60.0, 1200),
    p("left-hamstring", Zone::LeftHamstrings, 12.0, 60.0, 1200),
    p("right-hamstring", Zone::RightHamstrings, 12.0, 60.0, 1200),
];

const PAD: &[ProgramSpec] = &[
    p("glutes", Zone::Glutes, 12.0, 60.0, 1200),
    p("back", Zone::Back, 12.0, 60.0, 1200),
    p("left-quad", Zone::LeftQuadriceps, 12.0, 60.0, 1200),
    p("right-quad", Zone::RightQuadriceps, 12.0, 60.0, 1200),
];

/// Panel at 15 cm: 24 J/cm² (8 min at 50 mW/cm², domain.md §1.3 "40 × 10 min = 24"), 20 min limit.
const PANEL: &[ProgramSpec] = &[
    p("left-quad", Zone::LeftQuadriceps, 24.0, 60.0, 1200),
    p("right-quad", Zone::RightQuadriceps, 24.0, 60.0, 1200),
    p("left-hamstring", Zone::LeftHamstrings, 24.0, 60.0, 1200),
    p("right-hamstring", Zone::RightHamstrings, 24.0, 60.0, 1200),
    p("glutes", Zone::Glutes, 24.0, 60.0, 1200),
    p("back", Zone::Back, 24.0, 60.0, 1200),
];

/// Face: skin band, 6 J/cm² target, 10 J/cm² point cap, 15 min limit.
const MASK: &[ProgramSpec] = &[p("face", Zone::Face, 6.0, 10.0, 900)];

/// Tendons and joints with the LED pen: 6 J/cm², point cap 15 J/cm², 300 s (WALT's upper time).
const PEN: &[ProgramSpec] = &[
    p("left-achilles", Zone::LeftAchilles, 6.0, 15.0, 300),
    p("right-achilles", Zone::RightAchilles, 6.0, 15.0, 300),
    p("left-knee", Zone::LeftKnee, 6.0, 15.0, 300),
    p("right-knee", Zone::RightKnee, 6.0, 15.0, 300),
    p("hip", Zone::Hip, 6.0, 15.0, 300),
];

/// Laser probe: 4 J/cm² on ~1 cm² = 4 J per point (WALT "min 4 J per point"), cap 8, 120 s.
const LASER: &[ProgramSpec] = &[
    p("left-achilles", Zone::LeftAchilles, 4.0, 8.0, 120),
    p("right-achilles", Zone::RightAchilles, 4.0, 8.0, 120),
    p("left-knee", Zone::LeftKnee, 4.0, 8.0, 120),
    p("right-knee", Zone::RightKnee, 4.0, 8.0, 120),
    p("hip", Zone::Hip, 4.0, 8.0, 120),
];

/// The program table of a device class, in selector order.
pub fn programs(kind: DeviceKind) -> &'static [ProgramSpec] {
    match kind {
        DeviceKind::Wrap => WRAP,
        DeviceKind::Pad => PAD,
        DeviceKind::Panel => PANEL,
        DeviceKind::Mask => MASK,
        DeviceKind::Pen => PEN,
        DeviceKind::LaserProbe => LASER,
    }
}

/// Program at a selector position.
pub fn program(kind: DeviceKind, index: u8) -> Option<ProgramSpec> {
    programs(kind).get(usize::from(index)).copied()
}

/// Selector position of the first program for a zone.
pub fn program_for_zone(kind: DeviceKind, zone: Zone) -> Option<u8> {
    programs(kind)
        .iter()
        .position(|p| p.zone == zone)
        .and_then(|i| u8::try_from(i).ok())
}

/// Selector position of a program by name.
pub fn program_by_name(kind: DeviceKind, name: &str) -> Option<u8> {
    programs(kind)
        .iter()
        .position(|p| p.name == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// Caps for a zone: two sessions a day at least 6 h apart; daily cap two targets, weekly seven.
pub fn zone_caps(kind: DeviceKind, zone: Zone) -> ZoneCaps {
    let target = programs(kind)
        .iter()
        .find(|p| p.zone == zone)
        .map_or(0.0, |p| p.target_j_cm2);
    ZoneCaps {
        max_sessions_per_day: 2,
        min_gap_ms: 6 * 3_600_000,
        daily_cap_j_cm2: 2.0 * target,
        weekly_cap_j_cm2: 7.0 * target,
    }
}
