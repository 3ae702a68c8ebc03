//! The property catalog: named, sourced checks on plant truth.
//!
//! A property is a value: an id, a one-line statement, a kind, a default limit with its unit, and
//! the clause or paper the limit comes from (`domain.md`). Limits come from the device class, the
//! prescription and the scenario, never from the firmware. The judging itself lives in
//! [`crate::monitor`]; this module is the catalog people read in reports.

/// How a property quantifies over a run (stateright's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Must hold at every instant it applies to.
    Always,
    /// Must become true within a bound after its trigger.
    Eventually,
    /// Must never happen.
    Never,
    /// Must happen at least once, or the scenario does not exercise what it claims to.
    Sometimes,
}

/// Identifier of a property in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum PropertyId {
    /// Contact-skin temperature ≤ 41 °C while no fault is injected.
    SkinNormal,
    /// Contact-skin temperature ≤ 43 °C always.
    SkinAbsolute,
    /// Thermal dose per session ≤ 1 CEM43 (≤ 2 with a fault).
    SkinCem43,
    /// LED junction ≤ T_j,max − 20 K.
    LedJunction,
    /// A completed session delivers the target fluence within ±15 %.
    DoseSession,
    /// No point of the zone exceeds the per-session cap.
    DoseSessionCap,
    /// Per zone per 24 h: fluence and session count under the caps, minimum gap kept.
    DoseDaily,
    /// Per zone per 7 days: fluence under the weekly cap.
    DoseWeekly,
    /// The firmware's dose estimate is within ±10 % of plant truth.
    DoseEstimate,
    /// Emission stops within 100 ms of losing skin contact.
    InterlockContact,
    /// Masks: no NIR emission without eye shields; NIR at the eye ≤ 10 mW/cm².
    InterlockEye,
    /// After a fault fires, emission off within 1 s and latched until power cycle.
    FaultSafe,
    /// No emission outside a session.
    IdleDark,
    /// An allowed request starts within 1 s and runs to completion.
    SessionLiveness,
    /// A request that would break a cap or start on hot skin is refused without emission.
    SessionRefusal,
    /// Power cycles and torn NVM writes never lose or roll back recorded dose.
    NvmIntegrity,
    /// At least one session emits when the scenario requests treatment.
    SessionExercised,
}

/// A catalog entry.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Property {
    /// Identifier.
    pub id: PropertyId,
    /// Dotted name used in reports and scenario files (`skin.normal`).
    pub name: &'static str,
    /// One-line statement, with the default limit.
    pub statement: &'static str,
    /// Kind.
    pub kind: Kind,
    /// Unit of the limit.
    pub unit: &'static str,
    /// Where the limit comes from.
    pub source: &'static str,
}

/// The catalog, in report order.
pub const CATALOG: &[Property] = &[
    Property {
        id: PropertyId::SkinNormal,
        name: "skin.normal",
        statement: "contact-skin temperature (hottest point) <= 41 °C while no fault is injected, for devices worn in skin contact (applied parts); light-only heating by panels and masks is judged by skin.absolute and skin.cem43",
        kind: Kind::Always,
        unit: "°C",
        source: "IEC 60601-1 cl. 11.1.2.2: applied part not intended to supply heat, <= 41 °C needs no justification (domain.md §5.1 [M])",
    },
    Property {
        id: PropertyId::SkinAbsolute,
        name: "skin.absolute",
        statement: "contact-skin temperature (hottest point) <= 43 °C always, faults included",
        kind: Kind::Always,
        unit: "°C",
        source: "IEC 60601-1 Table 24, contact >= 10 min; ISO 13732-1 8 h threshold (domain.md §5.1 [M]/[V])",
    },
    Property {
        id: PropertyId::SkinCem43,
        name: "skin.cem43",
        statement: "thermal dose at the hottest skin point per wear period <= 1 CEM43 (<= 2 with a fault)",
        kind: Kind::Always,
        unit: "CEM43 min",
        source: "Sapareto & Dewey 1984; van Rhoon et al. 2013, 2 CEM43 for uncontrolled conditions (domain.md §5.5 [V])",
    },
    Property {
        id: PropertyId::LedJunction,
        name: "led.junction",
        statement: "LED junction temperature <= T_j,max - 20 K",
        kind: Kind::Always,
        unit: "°C",
        source: "LED datasheets: T_j,max 135 °C red / 145 °C IR, derating margin (domain.md §3.2 [V], §6.2)",
    },
    Property {
        id: PropertyId::DoseSession,
        name: "dose.session",
        statement: "a session the firmware reports completed delivered the program's target zone-mean fluence within ±15 %",
        kind: Kind::Eventually,
        unit: "J/cm²",
        source: "program prescription; ±20 % therapeutic output accuracy (domain.md §6.3 [M]) tightened for the dose",
    },
    Property {
        id: PropertyId::DoseSessionCap,
        name: "dose.session_cap",
        statement: "no point of the zone exceeds the program's per-session fluence cap",
        kind: Kind::Always,
        unit: "J/cm²",
        source: "biphasic dose response, inhibition at high fluence (Huang et al. 2009/2011, domain.md §1.6 [V])",
    },
    Property {
        id: PropertyId::DoseDaily,
        name: "dose.daily",
        statement: "per zone in any 24 h: sessions and zone-mean fluence under the daily caps, and the minimum gap between sessions kept",
        kind: Kind::Always,
        unit: "J/cm²",
        source: "\"stick to the guidance instead of giving extra\" (seed article); domain.md §6.1 daily cap and gap [design]",
    },
    Property {
        id: PropertyId::DoseWeekly,
        name: "dose.weekly",
        statement: "per zone in any 7 days: zone-mean fluence under the weekly cap",
        kind: Kind::Always,
        unit: "J/cm²",
        source: "biphasic response in number of treatments (Huang et al. 2011, domain.md §1.6 [V]); 3–5 sessions a week (seed article)",
    },
    Property {
        id: PropertyId::DoseEstimate,
        name: "dose.estimate",
        statement: "at the end of a session the firmware's dose estimate is within ±10 % of the plant's zone-mean fluence",
        kind: Kind::Always,
        unit: "J/cm²",
        source: "differential oracle: the firmware's integrator against plant truth (domain.md §8 item 8)",
    },
    Property {
        id: PropertyId::InterlockContact,
        name: "interlock.contact",
        statement: "emission stops within 100 ms of losing skin contact (contact devices)",
        kind: Kind::Eventually,
        unit: "ms",
        source: "IEC 60825-1 practice: emission only with skin contact (domain.md §6.4 [M])",
    },
    Property {
        id: PropertyId::InterlockEye,
        name: "interlock.eye",
        statement: "masks: no NIR emission without eye shields; NIR irradiance at the eye <= 10 mW/cm²",
        kind: Kind::Always,
        unit: "mW/cm²",
        source: "IEC 62471 IR eye limit 100 W/m² for t > 1000 s (domain.md §5.3 [M])",
    },
    Property {
        id: PropertyId::FaultSafe,
        name: "fault.safe",
        statement: "after an injected fault reaches the firmware's inputs, emission is off within 1 s and stays off until power cycle",
        kind: Kind::Eventually,
        unit: "ms",
        source: "IEC 60730-1 Annex H / IEC 60601-1 single-fault practice (domain.md §6.3 [M])",
    },
    Property {
        id: PropertyId::IdleDark,
        name: "idle.dark",
        statement: "no emission outside a session, nor while the firmware reports it is not treating",
        kind: Kind::Never,
        unit: "",
        source: "product requirement: light only when the user asked for it",
    },
    Property {
        id: PropertyId::SessionLiveness,
        name: "session.liveness",
        statement: "an allowed request starts emitting within 1 s and runs to completion unless the user or a hazard ends it",
        kind: Kind::Eventually,
        unit: "ms",
        source: "efficacy: a device that never treats passes every safety property",
    },
    Property {
        id: PropertyId::SessionRefusal,
        name: "session.refusal",
        statement: "a request that would break a cap or start on hot skin is refused, with no emission",
        kind: Kind::Never,
        unit: "",
        source: "domain.md §6.1 caps and §6.2 start checks [design]",
    },
    Property {
        id: PropertyId::NvmIntegrity,
        name: "nvm.integrity",
        statement: "after a power cycle or a torn NVM write, requests the recorded dose forbids are still refused",
        kind: Kind::Never,
        unit: "",
        source: "domain.md §6.1 real-time clock integrity; fail-safe caps [design]",
    },
    Property {
        id: PropertyId::SessionExercised,
        name: "session.exercised",
        statement: "when a scenario requests treatment that is not expected to be refused, at least one session emits",
        kind: Kind::Sometimes,
        unit: "",
        source: "stateright practice: a sometimes-property that never happens means the scenario does not exercise the path",
    },
];

impl PropertyId {
    /// The catalog entry.
    pub fn property(self) -> &'static Property {
        CATALOG
            .iter()
            .find(|p| p.id == self)
            .expect("every id is in the catalog")
    }

    /// Dotted name.
    pub fn name(self) -> &'static str {
        self.property().name
    }

    /// Look up by dotted name.
    pub fn from_name(name: &str) -> Option<PropertyId> {
        CATALOG.iter().find(|p| p.name == name).map(|p| p.id)
    }
}

/// Numeric limits of the properties; defaults from `domain.md`, overridable per scenario.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Limits {
    /// skin.normal, °C.
    pub skin_normal_c: f64,
    /// skin.absolute, °C.
    pub skin_absolute_c: f64,
    /// skin.cem43 without a fault, CEM43 minutes per wear period.
    pub cem43_normal: f64,
    /// skin.cem43 with a fault injected.
    pub cem43_fault: f64,
    /// led.junction margin below T_j,max, K.
    pub junction_margin_k: f64,
    /// dose.session relative tolerance.
    pub dose_tolerance: f64,
    /// dose.estimate relative tolerance.
    pub estimate_tolerance: f64,
    /// dose.estimate absolute floor, J/cm² (a near-zero session is not judged by ratio).
    pub estimate_floor_j_cm2: f64,
    /// interlock.contact reaction time, ms.
    pub contact_reaction_ms: u64,
    /// interlock.eye NIR irradiance at the eye, mW/cm².
    pub eye_nir_mw_cm2: f64,
    /// fault.safe reaction time, ms.
    pub fault_reaction_ms: u64,
    /// session.liveness start latency, ms.
    pub start_latency_ms: u64,
    /// session.refusal / liveness: skin at or above this must be refused, °C (truth).
    pub must_refuse_skin_c: f64,
    /// session.liveness: skin at or below this must be allowed, °C (truth); between the two
    /// either answer is accepted, since the firmware sees the skin through a lagging sensor.
    pub must_allow_skin_c: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            skin_normal_c: 41.0,
            skin_absolute_c: 43.0,
            cem43_normal: 1.0,
            cem43_fault: 2.0,
            junction_margin_k: 20.0,
            dose_tolerance: 0.15,
            estimate_tolerance: 0.10,
            estimate_floor_j_cm2: 0.05,
            contact_reaction_ms: 100,
            eye_nir_mw_cm2: 10.0,
            fault_reaction_ms: 1_000,
            start_latency_ms: 1_000,
            must_refuse_skin_c: 39.0,
            must_allow_skin_c: 37.0,
        }
    }
}
