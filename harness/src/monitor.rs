//! Judging the property catalog on plant truth, instant by instant and session by session.
//!
//! The monitor is fed by the bench: an observation at every bench instant, and notices of what
//! the scenario did (placement, contact, faults, power) and of request windows opening and
//! closing. It keeps per-property tallies and the first violations with their context. It never
//! looks at the firmware's limits; it does look at what the firmware *claims* (its session state,
//! its dose estimate) to hold it to those claims.

use firmware::boundary::SessionState;

use crate::prescription::{ProgramSpec, ZoneCaps};
use crate::properties::{CATALOG, Limits, PropertyId};
use crate::result::{SessionEnd, SessionSummary, Violation};
use crate::scenario::DAY_MS;

/// Violations kept per property (the count goes on).
const KEEP_VIOLATIONS: usize = 5;

/// Plant truth at one instant, as the monitor needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observation {
    /// Time, ms.
    pub t_ms: u64,
    /// Hottest skin surface point, °C.
    pub skin_hot_c: f64,
    /// Junction temperature per channel, °C.
    pub junction_c: [f64; 2],
    /// Any optical output.
    pub emitting: bool,
    /// NIR channel optical output.
    pub nir_emitting: bool,
    /// NIR irradiance at the eye (masks), mW/cm².
    pub nir_at_eye_mw_cm2: f64,
    /// Firmware's reported state (`None` when unpowered or not a standard code).
    pub state: Option<SessionState>,
    /// Firmware's dose estimate, J/cm².
    pub estimate_j_cm2: f64,
}

/// An emitted session on a zone, for the rolling daily and weekly caps.
#[derive(Clone, Copy, Debug)]
struct ZoneSession {
    zone: usize,
    start_ms: u64,
    end_ms: u64,
    fluence_j_cm2: f64,
}

/// A treatment request as the refusal rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Zone index ([`crate::plant_io::zone_index`]).
    pub zone: usize,
    /// When, ms.
    pub t_ms: u64,
    /// The selected program.
    pub program: &'a ProgramSpec,
    /// The zone's caps.
    pub caps: &'a ZoneCaps,
    /// Skin temperature (truth), °C.
    pub skin_c: f64,
    /// Room temperature, °C.
    pub ambient_c: f64,
}

/// Why a request must be refused, judged on truth and the caps (or `None` if it may run).
/// `history` holds the emitted sessions so far as (zone, start ms, end ms, fluence J/cm²).
pub fn must_refuse_reason(
    history: &[(usize, u64, u64, f64)],
    req: &Request<'_>,
    limits: &Limits,
) -> Option<String> {
    let Request {
        zone,
        t_ms,
        program,
        caps,
        skin_c,
        ambient_c,
    } = *req;
    let day_start = t_ms.saturating_sub(DAY_MS);
    let week_start = t_ms.saturating_sub(7 * DAY_MS);
    let on_zone = || history.iter().filter(|h| h.0 == zone);
    let today: Vec<_> = on_zone().filter(|h| h.2 > day_start).collect();
    if today.len() as u32 >= caps.max_sessions_per_day {
        return Some(format!(
            "{} sessions on this zone in the last 24 h (cap {})",
            today.len(),
            caps.max_sessions_per_day
        ));
    }
    if let Some(last) = on_zone().map(|h| h.2).max()
        && t_ms < last + caps.min_gap_ms
    {
        return Some(format!(
            "last session on this zone ended {} min ago (minimum gap {} min)",
            (t_ms - last) / 60_000,
            caps.min_gap_ms / 60_000
        ));
    }
    let this_week = on_zone().filter(|h| h.2 > week_start).count() as u32;
    if this_week >= caps.max_sessions_per_week {
        return Some(format!(
            "{this_week} sessions on this zone in the last 7 days (cap {})",
            caps.max_sessions_per_week
        ));
    }
    let daily: f64 = today.iter().map(|h| h.3).sum();
    if daily + program.target_j_cm2 > caps.daily_cap_j_cm2 * (1.0 + limits.dose_tolerance) {
        return Some(format!(
            "{daily:.1} J/cm² today + {:.1} target exceeds the daily cap {:.1}",
            program.target_j_cm2, caps.daily_cap_j_cm2
        ));
    }
    let weekly: f64 = on_zone().filter(|h| h.2 > week_start).map(|h| h.3).sum();
    if weekly + program.target_j_cm2 > caps.weekly_cap_j_cm2 * (1.0 + limits.dose_tolerance) {
        return Some(format!(
            "{weekly:.1} J/cm² this week + {:.1} target exceeds the weekly cap {:.1}",
            program.target_j_cm2, caps.weekly_cap_j_cm2
        ));
    }
    if skin_c >= limits.must_refuse_skin_c {
        return Some(format!(
            "skin at {skin_c:.1} °C (must refuse at {:.1})",
            limits.must_refuse_skin_c
        ));
    }
    if !(5.0..=40.0).contains(&ambient_c) {
        return Some(format!("ambient {ambient_c:.1} °C outside 5–40 °C"));
    }
    None
}

/// Per-property tallies and the state the temporal properties need.
pub struct Monitor {
    scenario: String,
    seed: u64,
    device: String,
    limits: Limits,
    junction_limit_c: [f64; 2],
    checks: Vec<u64>,
    counts: Vec<u64>,
    violations: Vec<Vec<Violation>>,
    /// Collected violations, in order, for the event stream.
    pub fresh: Vec<Violation>,
    // Context from the scenario.
    /// A fault is injected and not cleared.
    pub fault_injected: bool,
    /// A must-stop fault fired at this time (and no power cycle since).
    pub fault_fired_at: Option<u64>,
    /// Contact lost (lifted or removed) at this time, for contact devices, while a window is open.
    pub contact_lost_at: Option<u64>,
    /// Eye shields fitted (masks).
    pub eye_shields: bool,
    /// Device is a mask.
    pub is_mask: bool,
    /// Device is worn in skin contact (an applied part in IEC 60601-1's sense): skin.normal applies.
    pub applied_part: bool,
    /// A power cycle happened since the last emitted session (for nvm.integrity attribution).
    pub power_cycled_since_session: bool,
    /// A session window is open.
    pub window_open: bool,
    history: Vec<ZoneSession>,
    /// Some session emitted.
    pub any_emission_in_session: bool,
    fault_reported: bool,
    contact_reported: bool,
    /// Emission is tolerated until this time after a window closed on a user action (the
    /// firmware sees the stop or the contact loss at its next step; interlock.contact bounds it).
    pub grace_until_ms: u64,
}

impl Monitor {
    /// A monitor for one device's run.
    pub fn new(
        scenario: &str,
        seed: u64,
        device: &str,
        limits: Limits,
        tj_max_c: [f64; 2],
        is_mask: bool,
    ) -> Monitor {
        let n = CATALOG.len();
        Monitor {
            scenario: scenario.to_string(),
            seed,
            device: device.to_string(),
            limits,
            junction_limit_c: [
                tj_max_c[0] - limits.junction_margin_k,
                tj_max_c[1] - limits.junction_margin_k,
            ],
            checks: vec![0; n],
            counts: vec![0; n],
            violations: vec![Vec::new(); n],
            fresh: Vec::new(),
            fault_injected: false,
            fault_fired_at: None,
            contact_lost_at: None,
            eye_shields: false,
            is_mask,
            applied_part: true,
            power_cycled_since_session: false,
            window_open: false,
            history: Vec::new(),
            any_emission_in_session: false,
            fault_reported: false,
            contact_reported: false,
            grace_until_ms: 0,
        }
    }

    fn idx(id: PropertyId) -> usize {
        CATALOG
            .iter()
            .position(|p| p.id == id)
            .expect("every id is in the catalog")
    }

    fn check(&mut self, id: PropertyId) {
        self.checks[Self::idx(id)] += 1;
    }

    /// Record a violation.
    pub fn violate(
        &mut self,
        id: PropertyId,
        t_ms: u64,
        measured: f64,
        limit: f64,
        detail: String,
    ) {
        let i = Self::idx(id);
        self.counts[i] += 1;
        let v = Violation {
            property: id,
            name: id.name(),
            scenario: self.scenario.clone(),
            seed: self.seed,
            device: self.device.clone(),
            t_ms,
            measured,
            limit,
            detail,
        };
        if self.violations[i].len() < KEEP_VIOLATIONS {
            self.violations[i].push(v.clone());
            self.fresh.push(v);
        }
    }

    /// Judge the instantaneous properties at one bench instant.
    pub fn observe(&mut self, o: &Observation) {
        let l = self.limits;
        // Temperature limits: count a violation once per excursion would need state; instead count
        // every instant over the limit but keep only the first few in detail.
        self.check(PropertyId::SkinAbsolute);
        if o.skin_hot_c > l.skin_absolute_c {
            self.violate(
                PropertyId::SkinAbsolute,
                o.t_ms,
                o.skin_hot_c,
                l.skin_absolute_c,
                "hottest skin point above the absolute limit".into(),
            );
        }
        if !self.fault_injected && self.applied_part {
            self.check(PropertyId::SkinNormal);
            if o.skin_hot_c > l.skin_normal_c {
                self.violate(
                    PropertyId::SkinNormal,
                    o.t_ms,
                    o.skin_hot_c,
                    l.skin_normal_c,
                    "hottest skin point above the normal limit with no fault injected".into(),
                );
            }
        }
        self.check(PropertyId::LedJunction);
        for ch in 0..2 {
            if o.junction_c[ch] > self.junction_limit_c[ch] {
                self.violate(
                    PropertyId::LedJunction,
                    o.t_ms,
                    o.junction_c[ch],
                    self.junction_limit_c[ch],
                    format!("channel {ch} junction above T_j,max - margin"),
                );
            }
        }
        if self.is_mask {
            self.check(PropertyId::InterlockEye);
            if o.nir_emitting && !self.eye_shields {
                self.violate(
                    PropertyId::InterlockEye,
                    o.t_ms,
                    o.nir_at_eye_mw_cm2,
                    0.0,
                    "NIR emitting with no eye shields fitted".into(),
                );
            } else if o.nir_at_eye_mw_cm2 > l.eye_nir_mw_cm2 {
                self.violate(
                    PropertyId::InterlockEye,
                    o.t_ms,
                    o.nir_at_eye_mw_cm2,
                    l.eye_nir_mw_cm2,
                    "NIR irradiance at the eye above the IEC 62471 long-exposure limit".into(),
                );
            }
        }
        if let Some(lost) = self.contact_lost_at {
            self.check(PropertyId::InterlockContact);
            let after = o.t_ms - lost;
            if o.emitting && after > l.contact_reaction_ms && !self.contact_reported {
                self.contact_reported = true;
                self.violate(
                    PropertyId::InterlockContact,
                    o.t_ms,
                    after as f64,
                    l.contact_reaction_ms as f64,
                    "still emitting after skin contact was lost".into(),
                );
            }
            if !o.emitting {
                self.contact_lost_at = None;
            }
        }
        if let Some(fired) = self.fault_fired_at {
            self.check(PropertyId::FaultSafe);
            let after = o.t_ms - fired;
            if o.emitting && after > l.fault_reaction_ms && !self.fault_reported {
                self.fault_reported = true;
                self.violate(
                    PropertyId::FaultSafe,
                    o.t_ms,
                    after as f64,
                    l.fault_reaction_ms as f64,
                    "still (or again) emitting after a fault reached the firmware's inputs".into(),
                );
            }
        }
        if !self.fault_injected {
            self.check(PropertyId::IdleDark);
            let claims_treating = o.state == Some(SessionState::Treating);
            let in_grace = o.t_ms <= self.grace_until_ms;
            if o.emitting && !in_grace && (!self.window_open || !claims_treating) {
                let why = if self.window_open {
                    "emitting while the firmware reports it is not treating"
                } else {
                    "emitting with no session requested"
                };
                self.violate(PropertyId::IdleDark, o.t_ms, 1.0, 0.0, why.into());
            }
        }
    }

    /// A power cycle: latches may clear, so the fault-reaction clock stops.
    pub fn power_cycled(&mut self) {
        self.fault_fired_at = None;
        self.fault_reported = false;
        self.power_cycled_since_session = true;
    }

    /// Emitted sessions so far as (zone, start, end, fluence) for refusal judgement.
    pub fn history(&self) -> Vec<(usize, u64, u64, f64)> {
        self.history
            .iter()
            .map(|h| (h.zone, h.start_ms, h.end_ms, h.fluence_j_cm2))
            .collect()
    }

    /// Judge a closed request window.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the arguments are the window's facts"
    )]
    pub fn session_closed(
        &mut self,
        s: &SessionSummary,
        zone: usize,
        program: &ProgramSpec,
        caps: &ZoneCaps,
        must_refuse: Option<&str>,
        allowed: bool,
        first_emission_ms: Option<u64>,
        hazard_in_window: bool,
    ) {
        let l = self.limits;
        let emitted = s.emitting_ms > 0;
        let fault_limit = if self.fault_injected {
            l.cem43_fault
        } else {
            l.cem43_normal
        };
        self.check(PropertyId::SkinCem43);
        if s.cem43 > fault_limit {
            self.violate(
                PropertyId::SkinCem43,
                s.end_ms,
                s.cem43,
                fault_limit,
                format!("session '{}'", s.label),
            );
        }
        if s.end == SessionEnd::Completed && emitted {
            self.check(PropertyId::DoseSession);
            let target = program.target_j_cm2;
            if (s.fluence_mean_j_cm2 - target).abs() > l.dose_tolerance * target {
                self.violate(
                    PropertyId::DoseSession,
                    s.end_ms,
                    s.fluence_mean_j_cm2,
                    target,
                    format!("session '{}' reported completed", s.label),
                );
            }
        }
        if emitted {
            self.check(PropertyId::DoseSessionCap);
            if s.fluence_max_j_cm2 > program.session_cap_j_cm2 {
                self.violate(
                    PropertyId::DoseSessionCap,
                    s.end_ms,
                    s.fluence_max_j_cm2,
                    program.session_cap_j_cm2,
                    format!("session '{}' zone maximum", s.label),
                );
            }
            self.check(PropertyId::DoseEstimate);
            let truth = s.fluence_mean_j_cm2;
            let err = (s.firmware_estimate_j_cm2 - truth).abs();
            let allowed_err = (l.estimate_tolerance * truth).max(l.estimate_floor_j_cm2);
            if err > allowed_err {
                self.violate(PropertyId::DoseEstimate, s.end_ms, s.firmware_estimate_j_cm2, truth, format!("session '{}': firmware estimate vs plant zone mean (allowed ±{allowed_err:.2} J/cm²)", s.label));
            }
            self.any_emission_in_session = true;
            // Rolling daily and weekly caps, judged with this session included.
            self.check(PropertyId::DoseDaily);
            self.check(PropertyId::DoseWeekly);
            let day_start = s.end_ms.saturating_sub(DAY_MS);
            let week_start = s.end_ms.saturating_sub(7 * DAY_MS);
            let prev: Vec<ZoneSession> = self
                .history
                .iter()
                .filter(|h| h.zone == zone)
                .copied()
                .collect();
            let day: Vec<&ZoneSession> = prev.iter().filter(|h| h.end_ms > day_start).collect();
            let count = day.len() as u32 + 1;
            let daily = day.iter().map(|h| h.fluence_j_cm2).sum::<f64>() + s.fluence_mean_j_cm2;
            let weekly = prev
                .iter()
                .filter(|h| h.end_ms > week_start)
                .map(|h| h.fluence_j_cm2)
                .sum::<f64>()
                + s.fluence_mean_j_cm2;
            if count > caps.max_sessions_per_day {
                self.violate(
                    PropertyId::DoseDaily,
                    s.end_ms,
                    f64::from(count),
                    f64::from(caps.max_sessions_per_day),
                    format!("session '{}': sessions on {} in 24 h", s.label, s.zone),
                );
            }
            if daily > caps.daily_cap_j_cm2 * (1.0 + l.dose_tolerance) {
                self.violate(
                    PropertyId::DoseDaily,
                    s.end_ms,
                    daily,
                    caps.daily_cap_j_cm2,
                    format!("session '{}': fluence on {} in 24 h", s.label, s.zone),
                );
            }
            if let Some(last) = prev.iter().map(|h| h.end_ms).max()
                && s.start_ms < last + caps.min_gap_ms
            {
                self.violate(
                    PropertyId::DoseDaily,
                    s.end_ms,
                    (s.start_ms - last) as f64 / 60_000.0,
                    caps.min_gap_ms as f64 / 60_000.0,
                    format!(
                        "session '{}': minutes since the previous session on {}",
                        s.label, s.zone
                    ),
                );
            }
            let week_count = prev.iter().filter(|h| h.end_ms > week_start).count() as u32 + 1;
            if week_count > caps.max_sessions_per_week {
                self.violate(
                    PropertyId::DoseWeekly,
                    s.end_ms,
                    f64::from(week_count),
                    f64::from(caps.max_sessions_per_week),
                    format!("session '{}': sessions on {} in 7 days", s.label, s.zone),
                );
            }
            if weekly > caps.weekly_cap_j_cm2 * (1.0 + l.dose_tolerance) {
                self.violate(
                    PropertyId::DoseWeekly,
                    s.end_ms,
                    weekly,
                    caps.weekly_cap_j_cm2,
                    format!("session '{}': fluence on {} in 7 days", s.label, s.zone),
                );
            }
            self.history.push(ZoneSession {
                zone,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                fluence_j_cm2: s.fluence_mean_j_cm2,
            });
        }
        if let Some(reason) = must_refuse {
            self.check(PropertyId::SessionRefusal);
            if emitted {
                self.violate(
                    PropertyId::SessionRefusal,
                    s.start_ms,
                    s.emitting_ms as f64,
                    0.0,
                    format!(
                        "session '{}' emitted for {} ms but had to be refused: {reason}",
                        s.label, s.emitting_ms
                    ),
                );
                if self.power_cycled_since_session {
                    self.check(PropertyId::NvmIntegrity);
                    self.violate(PropertyId::NvmIntegrity, s.start_ms, s.emitting_ms as f64, 0.0, format!("after a power cycle the firmware forgot recorded dose: '{}' ran although {reason}", s.label));
                }
            } else if self.power_cycled_since_session {
                self.check(PropertyId::NvmIntegrity);
            }
        }
        if allowed {
            self.check(PropertyId::SessionLiveness);
            match first_emission_ms {
                None => self.violate(
                    PropertyId::SessionLiveness,
                    s.end_ms,
                    (s.end_ms - s.start_ms) as f64,
                    l.start_latency_ms as f64,
                    format!(
                        "allowed session '{}' never emitted (firmware ended it as {:?})",
                        s.label, s.end
                    ),
                ),
                Some(t) if t - s.start_ms > l.start_latency_ms => self.violate(
                    PropertyId::SessionLiveness,
                    t,
                    (t - s.start_ms) as f64,
                    l.start_latency_ms as f64,
                    format!("allowed session '{}' started late", s.label),
                ),
                Some(_) => {
                    let ended_by_user = matches!(
                        s.end,
                        SessionEnd::UserStop
                            | SessionEnd::Removed
                            | SessionEnd::PowerLost
                            | SessionEnd::ScenarioEnd
                    );
                    // A thermal stop is a hazard ending the session when the skin really was hot
                    // (within the sensor margin of the limit), not a refusal to treat.
                    let justified_stop = s.end == SessionEnd::StoppedByFirmware
                        && s.peak_skin_c >= l.must_refuse_skin_c;
                    if !hazard_in_window
                        && !ended_by_user
                        && !justified_stop
                        && s.end != SessionEnd::Completed
                    {
                        self.violate(
                            PropertyId::SessionLiveness,
                            s.end_ms,
                            s.fluence_mean_j_cm2,
                            program.target_j_cm2,
                            format!(
                                "allowed session '{}' did not run to completion: ended as {:?}",
                                s.label, s.end
                            ),
                        );
                    }
                }
            }
        }
        if emitted {
            self.power_cycled_since_session = false;
        }
    }

    /// Finish: the `sometimes` property and the tallies.
    pub fn finish(
        mut self,
        requested_any_allowed: bool,
    ) -> (Vec<u64>, Vec<Vec<Violation>>, Vec<u64>) {
        if requested_any_allowed {
            self.check(PropertyId::SessionExercised);
            if !self.any_emission_in_session {
                self.violate(
                    PropertyId::SessionExercised,
                    0,
                    0.0,
                    1.0,
                    "treatment was requested but no session ever emitted".into(),
                );
            }
        }
        (self.checks, self.violations, self.counts)
    }
}
