//! A validated [`Scenario`] written back as a scenario file: the inverse of [`super::load_str`].
//!
//! Campaigns shrink a failing generated week to a small [`Scenario`] and must hand the engineer
//! a file that `pbm-hil run` replays with the same violation, so the file has to load back into
//! an *equal* scenario, bit for bit in every float. Three choices make that hold:
//! - floats are written with Rust's shortest round-trip representation (`{:?}`), which TOML
//!   reads back to the same `f64`;
//! - every device entry is written in its timeline order, interleaving `[[treatment]]`,
//!   `[[action]]` and `[[fault]]` tables (TOML allows it), because the loader keeps the written
//!   order of simultaneous entries;
//! - values the loader derives (treatment labels, minutes, panel distance) are written
//!   explicitly, with a value chosen so that the loader's arithmetic gives back the exact
//!   integer or float (`minutes × 60 000` rounded, `distance_cm × 10`).
//!
//! What a file cannot express is not written: [`Action::Release`] (the bench schedules it after
//! each press), a healthy [`NtcFault::None`] injection, and a non-panel placed at another
//! distance than its class's standoff (files place contact devices at their standoff). A scenario
//! from the loader or from [`crate::generate`] never holds those.

use std::fmt::Write as _;

use sim::body::{SkinType, Zone};
use sim::device::DeviceKind;
use sim::plant::{NtcId, PlantFault};
use sim::sensors::NtcFault;

use super::raw::{DEVICE_KINDS, SENSORS, SKIN_TYPES, TRAINING_KINDS, ZONES};
use super::validate::{to_device_kind, to_ntc, to_skin_type, to_training_kind, to_zone};
use crate::prescription;
use crate::properties::Limits;
use crate::scenario::{
    Action, Button, DAY_MS, Environment, Expectation, MINUTE_MS, Scenario, Timed, TrainingKind,
};

/// The scenario as a format-1 scenario file. `load_str("NAME.toml", &to_toml(s))` gives back a
/// scenario equal to `s` when `s.name` is `NAME` (the name comes from the file name).
pub fn to_toml(s: &Scenario) -> String {
    let mut out = String::new();
    out.push_str("#:schema ./schema.json\n");
    for line in s.description.lines() {
        let _ = writeln!(out, "# {line}");
    }
    out.push_str("format = 1\n");
    let _ = writeln!(out, "description = {}", quote(s.description.trim()));
    let _ = writeln!(out, "seed = {}", s.seed);
    let _ = writeln!(out, "days = {}", s.duration_ms.div_ceil(DAY_MS).max(1));
    write_environment(&mut out, &s.environment);
    write_limits(&mut out, &s.limits);
    for d in &s.devices {
        out.push_str("\n[[device]]\n");
        let _ = writeln!(out, "id = {}", quote(&d.id));
        let _ = writeln!(out, "kind = {}", quote(kind_name(d.kind)));
        if d.uptime_at_start_ms != 0 {
            let _ = writeln!(out, "uptime_at_start_ms = {}", d.uptime_at_start_ms);
        }
        let t = &d.tolerances;
        if *t != sim::plant::Tolerances::default() {
            out.push_str("[device.tolerances]\n");
            let _ = writeln!(out, "led_efficiency = {:?}", t.led_efficiency_scale);
            let _ = writeln!(out, "ntc_r25 = {:?}", t.ntc_r25_scale);
            let _ = writeln!(out, "ntc_beta = {:?}", t.ntc_beta_scale);
            let _ = writeln!(out, "rth = {:?}", t.rth_scale);
        }
    }
    for t in &s.training {
        out.push_str("\n[[training]]\n");
        write_instant(&mut out, "end", t.end_ms);
        let _ = writeln!(out, "minutes = {:?}", minutes(t.duration_ms));
        let _ = writeln!(out, "kind = {}", quote(training_name(t.kind)));
        let _ = writeln!(out, "intensity = {:?}", t.intensity);
    }
    for g in &s.global {
        write_global(&mut out, g);
    }
    for d in &s.devices {
        for t in &d.timeline {
            write_device_entry(&mut out, &d.id, d.kind, t);
        }
    }
    for e in &s.expectations {
        out.push_str("\n[[expect]]\n");
        match e {
            Expectation::Refused { label } => {
                let _ = writeln!(out, "refused = {}", quote(label));
            }
            Expectation::PropertyFails { property, reason } => {
                let _ = writeln!(out, "property_fails = {}", quote(property));
                let _ = writeln!(out, "reason = {}", quote(reason));
            }
        }
    }
    out
}

fn write_environment(out: &mut String, e: &Environment) {
    out.push_str("\n[environment]\n");
    let _ = writeln!(out, "ambient_c = {:?}", e.ambient_c);
    let _ = writeln!(out, "skin_type = {}", quote(skin_name(e.skin_type)));
    let _ = writeln!(out, "perfusion = {:?}", e.perfusion_scale);
    let _ = writeln!(out, "skin_c = {:?}", e.skin_c);
    let _ = writeln!(out, "arterial_c = {:?}", e.arterial_c);
}

/// Only the limits that differ from the defaults, so a file states what it overrides.
fn write_limits(out: &mut String, l: &Limits) {
    let d = Limits::default();
    let floats = [
        ("skin_normal_c", l.skin_normal_c, d.skin_normal_c),
        ("skin_absolute_c", l.skin_absolute_c, d.skin_absolute_c),
        ("cem43_normal", l.cem43_normal, d.cem43_normal),
        ("cem43_fault", l.cem43_fault, d.cem43_fault),
        (
            "junction_margin_k",
            l.junction_margin_k,
            d.junction_margin_k,
        ),
        ("dose_tolerance", l.dose_tolerance, d.dose_tolerance),
        (
            "estimate_tolerance",
            l.estimate_tolerance,
            d.estimate_tolerance,
        ),
        (
            "estimate_floor_j_cm2",
            l.estimate_floor_j_cm2,
            d.estimate_floor_j_cm2,
        ),
        ("eye_nir_mw_cm2", l.eye_nir_mw_cm2, d.eye_nir_mw_cm2),
        (
            "must_refuse_skin_c",
            l.must_refuse_skin_c,
            d.must_refuse_skin_c,
        ),
        (
            "must_allow_skin_c",
            l.must_allow_skin_c,
            d.must_allow_skin_c,
        ),
    ];
    let ints = [
        (
            "contact_reaction_ms",
            l.contact_reaction_ms,
            d.contact_reaction_ms,
        ),
        (
            "fault_reaction_ms",
            l.fault_reaction_ms,
            d.fault_reaction_ms,
        ),
        ("start_latency_ms", l.start_latency_ms, d.start_latency_ms),
    ];
    let changed_f: Vec<_> = floats
        .iter()
        .filter(|(_, v, d)| v.to_bits() != d.to_bits())
        .collect();
    let changed_i: Vec<_> = ints.iter().filter(|(_, v, d)| v != d).collect();
    if changed_f.is_empty() && changed_i.is_empty() {
        return;
    }
    out.push_str("\n[limits]\n");
    for (k, v, _) in changed_f {
        let _ = writeln!(out, "{k} = {v:?}");
    }
    for (k, v, _) in changed_i {
        let _ = writeln!(out, "{k} = {v}");
    }
}

fn write_global(out: &mut String, t: &Timed) {
    match &t.action {
        Action::Ambient(c) => {
            out.push_str("\n[[action]]\n");
            write_instant(out, "at", t.at_ms);
            out.push_str("do = \"ambient\"\n");
            let _ = writeln!(out, "ambient_c = {c:?}");
        }
        Action::SkinState {
            skin_c,
            perfusion_scale,
        } => {
            out.push_str("\n[[action]]\n");
            write_instant(out, "at", t.at_ms);
            out.push_str("do = \"skin-state\"\n");
            let _ = writeln!(out, "skin_c = {skin_c:?}");
            let _ = writeln!(out, "perfusion = {perfusion_scale:?}");
        }
        // Device actions never sit in the global timeline of a loaded scenario.
        _ => {}
    }
}

fn write_device_entry(out: &mut String, device: &str, kind: DeviceKind, t: &Timed) {
    let header = |out: &mut String, table: &str| {
        let _ = write!(out, "\n[[{table}]]\n");
        write_instant(out, "at", t.at_ms);
        let _ = writeln!(out, "device = {}", quote(device));
    };
    let simple = |out: &mut String, name: &str| {
        header(out, "action");
        let _ = writeln!(out, "do = {}", quote(name));
    };
    match &t.action {
        Action::Treat(tr) => {
            header(out, "treatment");
            let _ = writeln!(out, "zone = {}", quote(zone_name(tr.zone)));
            if let Some(p) = prescription::program(kind, tr.program) {
                let _ = writeln!(out, "program = {}", quote(p.name));
            }
            write_distance(out, kind, tr.distance_mm);
            let _ = writeln!(out, "minutes = {:?}", minutes(tr.remove_after_ms));
            let _ = writeln!(out, "label = {}", quote(&tr.label));
        }
        Action::Place { zone, distance_mm } => {
            simple(out, "place");
            let _ = writeln!(out, "zone = {}", quote(zone_name(*zone)));
            write_distance(out, kind, *distance_mm);
        }
        Action::Remove => simple(out, "remove"),
        Action::LiftOff => simple(out, "lift-off"),
        Action::PutBack => simple(out, "put-back"),
        Action::Cover(true) => simple(out, "cover"),
        Action::Cover(false) => simple(out, "uncover"),
        Action::Press(Button::Start) => simple(out, "press-start"),
        Action::Press(Button::Pause) => simple(out, "press-pause"),
        Action::Press(Button::Stop) => simple(out, "press-stop"),
        Action::SelectProgram(p) => {
            simple(out, "select-program");
            let name = prescription::program(kind, *p).map_or("?", |p| p.name);
            let _ = writeln!(out, "program = {}", quote(name));
        }
        Action::EyeShields(true) => simple(out, "eye-shields-on"),
        Action::EyeShields(false) => simple(out, "eye-shields-off"),
        Action::PowerOff => simple(out, "power-off"),
        Action::PowerOn => simple(out, "power-on"),
        Action::TearNextNvmWrite {
            bytes_written,
            off_ms,
        } => {
            simple(out, "tear-nvm-write");
            let _ = writeln!(out, "bytes = {bytes_written}");
            let _ = writeln!(out, "off_ms = {off_ms}");
        }
        Action::ClearFaults => simple(out, "clear-faults"),
        Action::Fault(f) => write_fault(out, device, t.at_ms, f),
        // Scheduled by the bench after each press; not a file entry.
        Action::Release => {}
        // Environment changes live in the global timeline.
        Action::Ambient(_) | Action::SkinState { .. } => write_global(out, t),
    }
}

fn write_fault(out: &mut String, device: &str, at_ms: u64, f: &PlantFault) {
    let (kind, keys): (&str, String) = match f {
        PlantFault::Ntc { sensor, fault } => {
            let s = quote(sensor_name(*sensor));
            match fault {
                NtcFault::None => return,
                NtcFault::Open => ("ntc-open", format!("sensor = {s}\n")),
                NtcFault::Short => ("ntc-short", format!("sensor = {s}\n")),
                NtcFault::Detached => ("ntc-detached", format!("sensor = {s}\n")),
                NtcFault::Drift { k_per_hour } => (
                    "ntc-drift",
                    format!("sensor = {s}\nrate_k_per_hour = {k_per_hour:?}\n"),
                ),
            }
        }
        PlantFault::StringOpen(s) => ("string-open", format!("string = {s}\n")),
        PlantFault::StringShort { string, leds } => (
            "string-short",
            format!("string = {string}\nleds = {leds}\n"),
        ),
        PlantFault::DriverStuckOn(s) => ("driver-stuck-on", format!("string = {s}\n")),
        PlantFault::FanStall => ("fan-stall", String::new()),
    };
    out.push_str("\n[[fault]]\n");
    write_instant(out, "at", at_ms);
    let _ = writeln!(out, "device = {}", quote(device));
    let _ = writeln!(out, "kind = {}", quote(kind));
    out.push_str(&keys);
}

/// Panels take `distance_cm`; the other classes sit at their standoff and must not.
fn write_distance(out: &mut String, kind: DeviceKind, distance_mm: f64) {
    if kind == DeviceKind::Panel {
        let _ = writeln!(out, "distance_cm = {:?}", cm_for_mm(distance_mm));
    }
}

/// A centimetre value whose `× 10` (the loader's conversion) is exactly `mm`: `mm / 10` or one
/// of its neighbouring floats (division and multiplication each round once, so the exact
/// preimage, when there is one, is within a couple of ulps).
fn cm_for_mm(mm: f64) -> f64 {
    let cm = mm / 10.0;
    let mut candidates = [cm; 5];
    candidates[1] = cm.next_down();
    candidates[2] = cm.next_up();
    candidates[3] = cm.next_down().next_down();
    candidates[4] = cm.next_up().next_up();
    candidates
        .into_iter()
        .find(|c| c * 10.0 == mm)
        .unwrap_or(cm)
}

/// Minutes whose `× 60 000`, rounded (the loader's conversion), is exactly `ms`.
fn minutes(ms: u64) -> f64 {
    ms as f64 / MINUTE_MS as f64
}

/// `day = D` and `KEY = "HH:MM[:SS[.mmm]]"`.
fn write_instant(out: &mut String, key: &str, at_ms: u64) {
    let day = at_ms / DAY_MS;
    let t = at_ms % DAY_MS;
    let (h, m, s, ms) = (t / 3_600_000, t / 60_000 % 60, t / 1_000 % 60, t % 1_000);
    let _ = writeln!(out, "day = {day}");
    let _ = match (s, ms) {
        (0, 0) => writeln!(out, "{key} = \"{h:02}:{m:02}\""),
        (_, 0) => writeln!(out, "{key} = \"{h:02}:{m:02}:{s:02}\""),
        _ => writeln!(out, "{key} = \"{h:02}:{m:02}:{s:02}.{ms:03}\""),
    };
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn zone_name(z: Zone) -> &'static str {
    ZONES
        .iter()
        .find(|(_, n)| to_zone(*n) == z)
        .map_or("?", |(name, _)| name)
}

fn kind_name(k: DeviceKind) -> &'static str {
    DEVICE_KINDS
        .iter()
        .find(|(_, n)| to_device_kind(*n) == k)
        .map_or("?", |(name, _)| name)
}

fn skin_name(s: SkinType) -> &'static str {
    SKIN_TYPES
        .iter()
        .find(|(_, n)| to_skin_type(*n) == s)
        .map_or("?", |(name, _)| name)
}

fn training_name(k: TrainingKind) -> &'static str {
    TRAINING_KINDS
        .iter()
        .find(|(_, n)| to_training_kind(*n) == k)
        .map_or("?", |(name, _)| name)
}

fn sensor_name(s: NtcId) -> &'static str {
    SENSORS
        .iter()
        .find(|(_, n)| to_ntc(*n) == s)
        .map_or("?", |(name, _)| name)
}
