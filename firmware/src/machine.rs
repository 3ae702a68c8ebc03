//! The firmware's state machine: [`Firmware::boot`] and [`Firmware::step`].
//!
//! One step reads the whole [`InputFrame`], and in this order: advances the uptime clock,
//! converts the sensors, integrates the dose delivered since the last step under the *previous*
//! command, looks for faults, debounces the buttons, takes at most one transition, and computes
//! the outputs and the NVM write. Everything it needs between steps is in [`Firmware`], a
//! fixed-size `Copy` value; nothing is allocated. The states and their thresholds are drawn in
//! the crate documentation.

use crate::boundary::{
    AdcFrame, Indicator, InputFrame, MAX_CHANNELS, MAX_CONTACT_NTCS, MAX_STRINGS, NVM_SIZE,
    NvmWrite, OutputFrame, STRINGS_PER_CHANNEL, SessionState, buttons, hw,
};
use crate::device::{
    DeviceCalibration, DeviceClass, PANEL_MAX_DISTANCE_MM, PANEL_MIN_DISTANCE_MM, calibration,
    panel_distance_factor,
};
use crate::dose::{
    self, DoseMeter, PeakScreen, channel_flux_mw_cm2, irradiance_from_fraction_uw_cm2, round_to_u32,
};
use crate::faults::{self, BOARD_NTC, CONFIRM_MS, Fault, FaultKind, NTC_PAIR};
use crate::ntc::{self, NtcReading};
use crate::nvm::{
    self, FLUENCE_QUANTUM_MJ_CM2, HISTORY_LOCKOUT_S, Ledger, LoadStatus, NvmWriter, SessionEntry,
};
use crate::programs::{Program, nominal_irradiance_mw_cm2, programs};
use crate::thermal::{self, CoveredMonitor, JunctionRamp, LIMITS};
use crate::variant::{Reference, Variant};

/// Control tick while a session runs or anything is pending, ms (brief: 10 ms).
pub const TREAT_TICK_MS: u32 = 10;
/// Wake-up period while paused, ms: the pause timeout and resumption need no finer resolution.
pub const PAUSE_WAKE_MS: u32 = 100;
/// Wake-up period at rest, ms. At rest the drivers' hardware enable is off, so nothing can emit
/// whatever a driver does; the firmware is also run on every input change, and a sensor fault
/// that appears at rest is seen within a minute and latched before any session can start. Rare
/// wakes keep an idle device idle (and an idle simulated day cheap).
pub const IDLE_WAKE_MS: u32 = 60_000;
/// A button level must hold this long, over at least two samples, to count, ms.
pub const DEBOUNCE_MS: u64 = 20;
/// A paused session ends after this long, ms (session auto-off; domain.md §6.1 "no silent
/// restart": resuming always needs a press).
pub const PAUSE_TIMEOUT_MS: u64 = 300_000;
/// At rest, the uptime is persisted at least this often, ms, so that a power cut loses at most
/// this much uptime (which only makes the caps stricter).
pub const UPTIME_PERSIST_MS: u64 = 30 * 60_000;
/// A step further from the previous than this is an implausible clock (the counter went
/// backwards, or the firmware was not run for ~25 days while it asked to be woken within 1 s).
pub const MAX_PLAUSIBLE_STEP_MS: u32 = 1 << 31;
/// A start is refused when, at nominal output, the target would need more than this fraction of
/// the time limit (panels too far away): the rest is headroom for thermal derating.
pub const REACHABLE_FRACTION: f32 = 0.8;
/// A session cut by its timer is reported `Completed` only if it delivered at least this fraction
/// of its target (the low edge of the ±15 % dose.session tolerance); otherwise `Stopped`.
pub const COMPLETED_FRACTION: f32 = 0.85;
/// Window over which temperature rates are measured, ms (ADC noise over one 10 ms tick would
/// swamp a 0.5 K/s threshold).
pub const RATE_WINDOW_MS: u64 = 500;
/// Faster than this an NTC is implausible, K/s (domain.md §6.3).
pub const IMPLAUSIBLE_RATE_K_PER_S: f32 = 5.0;
/// Two contact NTCs further apart than this are implausible, K (domain.md §6.3) ...
pub const NTC_DISAGREE_K: f32 = 5.0;
/// ... for this long, ms ...
pub const NTC_DISAGREE_HOLD_MS: u64 = 10_000;
/// The two contact NTCs are not redundant twins: NTC 0 sits on the hot spot (domain.md §6.2), so
/// it may read above NTC 1 by more than [`NTC_DISAGREE_K`] in normal use (a campaign measured
/// 5.0 K under a pad on Fitzpatrick VI skin at perfusion ×0.8, which the symmetric 5 K test
/// latched as a fault). The spot reading is protected by its own thresholds; only an excess
/// beyond this is implausible, K.
pub const SPOT_EXCESS_MAX_K: f32 = 10.0;
/// ... after this much treatment (both sensors settled on the skin through their ~10 s lag), ms.
pub const NTC_SETTLE_MS: u64 = 60_000;
/// A contact NTC this far below the ambient at start, while treating, is implausible, K (domain.md
/// §6.3 "reading < ambient − 5 K during treatment"), for [`NTC_DISAGREE_HOLD_MS`]. The ambient is
/// the cooler of the board and the contact sensors at start (a board still warm from the last
/// session is not the ambient).
pub const BELOW_AMBIENT_K: f32 = 5.0;
/// Hot-spot sensor detached (domain.md §6.2: contact NTC 0 sits at the hottest location, so
/// under light it reads above NTC 1): sampled every this-much of treatment, ms ...
pub const SPOT_SAMPLE_MS: u64 = 10_000;
/// ... and if the hot-spot excess `T_0 − T_1` fell by more than this since one of the last
/// [`SPOT_SAMPLES`] samples, with NTC 0 itself falling by half as much, while the drive did not
/// fall, NTC 0 has lost the skin, K (NTC 1 rising instead is the pair check's case). Heat
/// cannot leave the hot spot that fast while the LEDs above it keep their duty (the spot column's
/// time constant is minutes); a sensor lifting off reads the pad's inner face instead, close to
/// the mean. A campaign found the gap: on Fitzpatrick VI skin the spot runs ~4 K above the mean,
/// and a detached spot sensor left the pad regulating on the mean while the skin reached 43 °C.
pub const SPOT_DROP_K: f32 = 2.0;
/// Samples kept for the hot-spot check (with [`SPOT_SAMPLE_MS`]: a 40 s look-back).
pub const SPOT_SAMPLES: usize = 4;
/// Stuck check window: the first this-much of emission, ms (domain.md §6.3 "N minutes").
pub const STUCK_WINDOW_MS: u64 = 300_000;
/// A contact NTC that moved less than this over the window is stuck, K (domain.md §6.3) ...
pub const STUCK_MIN_CHANGE_K: f32 = 0.1;
/// ... provided the board warmed by at least this (heat was flowing), K.
pub const STUCK_BOARD_RISE_K: f32 = 1.0;
/// Fan tachometer may be absent for this long while treating (spin-up), ms.
pub const FAN_GRACE_MS: u64 = 2000;
/// Plausible contact NTC range, °C (body-worn; outside it the sensor is broken).
pub const CONTACT_RANGE_C: (f32, f32) = (-10.0, 80.0);
/// Plausible board NTC range, °C.
pub const BOARD_RANGE_C: (f32, f32) = (-20.0, 125.0);

/// Why a start request was refused (low nibble of the `Refused` detail code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Refusal {
    /// The selector points past the program table.
    InvalidProgram = 1,
    /// Contact device not on the skin.
    NoSkinContact = 2,
    /// Mask program with NIR and no eye shields.
    NoEyeShield = 3,
    /// Panel distance missing or outside 10–45 cm.
    Distance = 4,
    /// Contact NTC above 38 °C.
    HotSkin = 5,
    /// Ambient (board at rest) outside 5–40 °C.
    Ambient = 6,
    /// At nominal output the target would take more than 80 % of the time limit.
    TargetUnreachable = 7,
    /// Less than 6 h of uptime since the last session on the zone ended.
    MinGap = 8,
    /// Two sessions on the zone in the last 24 h of uptime.
    DailySessions = 9,
    /// Six sessions on the zone in the last 7 × 24 h of uptime.
    WeeklySessions = 10,
    /// The session would exceed the zone's daily fluence cap.
    DailyFluence = 11,
    /// The session would exceed the zone's weekly fluence cap.
    WeeklyFluence = 12,
    /// History lost (NVM unreadable) or clock implausible: caps count as reached.
    HistoryLost = 13,
    /// A sensor fault is being confirmed.
    SensorFault = 14,
}

/// Why a session paused (low nibble of the `Paused` detail code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PauseReason {
    /// PAUSE pressed.
    User = 1,
    /// Skin contact lost (contact devices).
    ContactLost = 2,
    /// Eye shields removed during a NIR program (masks).
    EyeShieldRemoved = 3,
    /// Panel distance out of range.
    Distance = 4,
}

/// Why a session ended (low nibble of the `Completed` / `Stopped` detail code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SessionEnd {
    /// The dose estimate reached the program's target.
    TargetReached = 1,
    /// The session timer ran out.
    TimeLimit = 2,
    /// The peak-point estimate reached the per-session cap.
    SessionCap = 3,
    /// STOP pressed.
    UserStop = 4,
    /// Paused longer than [`PAUSE_TIMEOUT_MS`].
    PauseTimeout = 5,
    /// Contact temperature reached the stop threshold (41 °C).
    ContactHot = 6,
    /// Session CEM43 estimate reached 0.5.
    Cem43 = 7,
    /// Board reached 85 °C.
    BoardHot = 8,
    /// A fault latched.
    Fault = 9,
    /// The clock was implausible: session timers cannot be trusted.
    ClockImplausible = 10,
    /// START pressed while paused with another program selected: the paused session ends with
    /// its dose recorded, and the press asks for the newly selected program.
    ProgramChanged = 11,
}

/// The firmware's own states (the trace's `detail` code is `state << 4 | reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Ready, no session since boot.
    Idle,
    /// Session accepted; waiting for its reservation record to be committed before emitting.
    Arming {
        /// Writer ticket of the reservation record.
        ticket: u32,
    },
    /// Emitting (possibly derated to zero).
    Treating,
    /// Session paused; dose kept.
    Paused {
        /// Why.
        reason: PauseReason,
        /// Uptime at which the pause began, ms.
        since_ms: u64,
    },
    /// Last session completed.
    Completed(SessionEnd),
    /// Last session ended early.
    Stopped(SessionEnd),
    /// Last request refused.
    Refused(Refusal),
    /// Fault latched until power cycle.
    Fault,
}

impl Phase {
    /// The standard session state the bench reads.
    pub fn session_state(self) -> SessionState {
        match self {
            Phase::Idle => SessionState::Idle,
            Phase::Arming { .. } | Phase::Treating => SessionState::Treating,
            Phase::Paused { .. } => SessionState::Paused,
            Phase::Completed(_) => SessionState::Completed,
            Phase::Stopped(_) => SessionState::Stopped,
            Phase::Refused(_) => SessionState::Refused,
            Phase::Fault => SessionState::Fault,
        }
    }

    /// The trace's detail code: high nibble the phase (1 Idle, 2 Arming, 3 Treating, 4 Paused,
    /// 5 Completed, 6 Stopped, 7 Refused, 8 Fault), low nibble its reason.
    pub fn detail(self) -> u8 {
        match self {
            Phase::Idle => 0x10,
            Phase::Arming { .. } => 0x20,
            Phase::Treating => 0x30,
            Phase::Paused { reason, .. } => 0x40 | reason as u8,
            Phase::Completed(e) => 0x50 | e as u8,
            Phase::Stopped(e) => 0x60 | e as u8,
            Phase::Refused(r) => 0x70 | r as u8,
            Phase::Fault => 0x80,
        }
    }

    fn in_session(self) -> bool {
        matches!(
            self,
            Phase::Arming { .. } | Phase::Treating | Phase::Paused { .. }
        )
    }
}

/// What the firmware last drove, for dose integration and the current-sense checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Command {
    duty_permille: [u16; MAX_CHANNELS],
    current_ma: [u16; MAX_CHANNELS],
    hw_enable: bool,
}

/// Button debouncer: a level counts once it held [`DEBOUNCE_MS`] over two samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Debouncer {
    stable: u8,
    candidate: u8,
    since_ms: u64,
    primed: bool,
}

impl Debouncer {
    /// Sample the raw levels; returns the buttons that became pressed.
    fn sample(&mut self, raw: u8, now_ms: u64) -> u8 {
        if !self.primed {
            // Buttons held at power-on are not presses: no start without a fresh press.
            *self = Debouncer {
                stable: raw,
                candidate: raw,
                since_ms: now_ms,
                primed: true,
            };
            return 0;
        }
        if raw != self.candidate {
            self.candidate = raw;
            self.since_ms = now_ms;
            return 0;
        }
        if self.candidate != self.stable && now_ms - self.since_ms >= DEBOUNCE_MS {
            let pressed = self.candidate & !self.stable;
            self.stable = self.candidate;
            return pressed;
        }
        0
    }

    fn settling(&self) -> bool {
        self.candidate != self.stable
    }
}

/// Temperatures of one step (after the rail checks).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Temps {
    /// Each NTC's classified reading (slot 0–1 contact, 2 board), for the sensor checks.
    readings: [NtcReading; 3],
    contact: [Option<f32>; MAX_CONTACT_NTCS],
    board: Option<f32>,
    /// Hottest contact reading, °C: taken once per step, read by half a dozen decisions.
    contact_max: Option<f32>,
    /// The ADC code of a contact NTC that reads `contact_max`, for the CEM43 rate table.
    contact_max_counts: Option<u16>,
    /// Whether [`ntc::read`] of `contact_max_counts` equals `contact_max` ([`reads_as_reference`]):
    /// decided where the reading is made, so that for the reference variant the compiler sees
    /// the same conversion on both sides and drops the test, instead of converting the code
    /// again and comparing on every control tick.
    contact_max_reference: bool,
}

impl Temps {
    fn contact_max(&self) -> Option<f32> {
        self.contact_max
    }
}

/// The LED strings' current and voltage sense of one step, converted once: the junction
/// estimate, the covered monitor's heat and the strings' pair test read them (the single-string
/// checks compare the codes themselves, [`StringScreen`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct StringSense {
    /// Voltage per string while driven, mV ([`string_mv`]); read only on fitted strings.
    mv: [f32; MAX_STRINGS],
    /// Heat per LED of each channel, W: the mean over its strings of the string's heat
    /// `P_el (1 − WPE)` (`P_el = I·V`, mA × mV / 10⁶; domain.md §3.1) shared by its LEDs.
    heat_per_led_w: [f32; MAX_CHANNELS],
    /// Heat of the whole board, W: the strings' heat summed string by string, channel by
    /// channel.
    total_heat_w: f32,
}

impl StringSense {
    /// The sense of one step's codes. Every lane is converted, fitted or not, in one pass over
    /// arrays (four divisions of four lanes each instead of sixteen scalar ones on the tick's
    /// critical path: the junction estimate, the dose and the duty wait for them); the constants
    /// make a lane not fitted add +0.0, which leaves the sums as the string-by-string loop over
    /// the fitted strings made them ([`StringConstants`]).
    // Inline: returned through memory from a call, the sense cost 7 more instructions a tick.
    #[inline(always)]
    fn sample(adc: &AdcFrame, k: &StringConstants) -> StringSense {
        let mut mv = [0.0; MAX_STRINGS];
        let mut heat_w = [0.0; MAX_STRINGS];
        let mut per_led_w = [0.0; MAX_STRINGS];
        for s in 0..MAX_STRINGS {
            mv[s] = string_mv(adc, s);
            // P_el (1 − WPE), mA × mV / 10⁶ = W (domain.md §3.1).
            heat_w[s] = string_ma(adc, s) * mv[s] / 1.0e6 * k.heat_fraction[s];
            // `heat / leds / n` as one division ([`StringConstants::leds_per_channel_string`]).
            per_led_w[s] = heat_w[s] / k.leds_per_channel_string[s];
        }
        // Sums folded from their first term rather than from +0.0: `+0.0 + x` is `x` for every
        // `x` but −0.0, and no lane is −0.0 (products and quotients of non-negative codes and
        // constants, [`StringConstants`]), so the sums are the same bits one addition sooner
        // (the junction estimate and the dose wait for them).
        let mut heat_per_led_w = [0.0; MAX_CHANNELS];
        for (c, h) in heat_per_led_w.iter_mut().enumerate() {
            let first = c * STRINGS_PER_CHANNEL;
            *h = per_led_w[first];
            for w in &per_led_w[first + 1..first + STRINGS_PER_CHANNEL] {
                *h += w;
            }
        }
        let mut total_heat_w = heat_w[0];
        for w in &heat_w[1..] {
            total_heat_w += w;
        }
        StringSense {
            mv,
            heat_per_led_w,
            total_heat_w,
        }
    }
}

/// The calibration constants of [`StringSense::sample`], per boundary string, taken once at
/// boot.
///
/// A string not fitted gets a heat fraction of 0: its heat is `p × 0 = +0.0` (`p`, a product
/// of non-negative finite conversions, is itself non-negative and finite), and adding +0.0 to a
/// sum that started at +0.0 never changes it (such a sum is never −0.0). So summing every lane
/// gives, bit for bit, what summing only the fitted strings gave.
#[derive(Clone, Copy, Debug, PartialEq)]
struct StringConstants {
    /// `1 − WPE` of the string's channel (the part of the electrical power that is heat,
    /// domain.md §3.1), computed as the per-string loop computed it; 0 on strings not fitted.
    /// Never negative (every WPE is below 1), so no lane's heat is −0.0.
    heat_fraction: [f32; MAX_STRINGS],
    /// `leds · n`: the LEDs per string of the string's channel times its `n` strings (an exact
    /// integer in f32); 1 on strings not fitted. `h / (leds · n)` is `h / leds / n` bit for
    /// bit, one division sooner on the tick's longest chain: `n` is 1 or 2
    /// ([`STRINGS_PER_CHANNEL`]), and halving commutes with rounding to nearest wherever the
    /// result is a normal f32 or zero, which it is here (a string's heat is 0 or at least
    /// ~5·10⁻⁶ W times its heat fraction, far above 2⁻¹²⁶ × 2·65 535).
    leds_per_channel_string: [f32; MAX_STRINGS],
}

// Halving is exact only for powers of two: 1 and 2 are the only string counts that can be fitted.
const _: () = assert!(STRINGS_PER_CHANNEL <= 2);

impl StringConstants {
    fn new(cal: &DeviceCalibration) -> StringConstants {
        let mut k = StringConstants {
            heat_fraction: [0.0; MAX_STRINGS],
            leds_per_channel_string: [1.0; MAX_STRINGS],
        };
        for (c, ch) in cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            let strings = cal.strings_of(c);
            let n = strings.len() as f32;
            for s in strings {
                k.heat_fraction[s] = 1.0 - ch.wpe;
                k.leds_per_channel_string[s] = f32::from(ch.leds_per_string) * n;
            }
        }
        k
    }
}

/// The string checks of [`faults::check_string`] for one command, as ADC code thresholds.
///
/// Why this is exact: a string's current and voltage ([`string_ma`], [`string_mv`]) are an
/// exact conversion of the code to f32 followed by a multiplication and a division by positive
/// constants, each rounded to nearest: non-decreasing in the code. So for a fixed threshold
/// `T`, "`string_ma(code) > T`" holds exactly for the codes from the first one where it holds,
/// and that code can be found once per command by bisection. The checks' thresholds depend on
/// the command (expected current) and the calibration only, and a session drives one command
/// for thousands of ticks (the runner week changes it 12 times in 0.7 M treating ticks), so the
/// control tick compares integers instead of converting and scaling eight codes.
#[derive(Clone, Copy, Debug, PartialEq)]
struct StringScreen {
    /// The command the thresholds are for.
    command: Command,
    /// Per channel, the average current the strings were commanded to, mA (as
    /// [`Firmware::find_string_fault`] computes it: set-point × duty, 0 with the enable off).
    expected_ma: [f32; MAX_CHANNELS],
    /// Per channel, the first current code above the over-current limit (`expected > 0`), or
    /// above [`faults::STUCK_ON_MA`] (`expected ≤ 0`).
    over_code: [u32; MAX_CHANNELS],
    /// Per channel, the first current code not below [`faults::OPEN_CURRENT_FRACTION`] of the
    /// expected current.
    open_code: [u32; MAX_CHANNELS],
    /// Per channel, the first voltage code not below the shorted-LED threshold.
    short_code: [u32; MAX_CHANNELS],
    /// The first voltage code above [`faults::OPEN_VOLTAGE_FRACTION`] of the LED rail
    /// (compliance: an open string).
    open_voltage_code: u32,
    /// The first voltage code not below that fraction of the rail (below it the sink regulates).
    compliance_code: u32,
    /// Per string, [`Self::check`]'s thresholds spread over the four lanes for
    /// [`Self::all_clear`]: the channel's `over_code` ([`NO_CODE`] on strings not fitted) ...
    /// (`i32`, as are the codes there: every code and threshold is at most 2¹⁶, and x86's SIMD
    /// compares are signed)
    lane_over_code: [i32; MAX_STRINGS],
    /// ... its `open_code` where the open and short tests run (at least
    /// [`faults::MIN_CHECKED_MA`] expected), else 0, which no code is below ...
    lane_open_code: [i32; MAX_STRINGS],
    /// ... and its `short_code` likewise.
    lane_short_code: [i32; MAX_STRINGS],
    /// Per channel, the largest difference of its two strings' voltage codes that cannot fail
    /// the pair test ([`pair_slack_codes`]); `i32::MAX` where the test does not run (one
    /// string, or less than [`faults::MIN_CHECKED_MA`] expected).
    pair_slack_codes: [i32; MAX_CHANNELS],
    /// `open_voltage_code` and `compliance_code` as `i32`, for [`Self::all_clear`].
    lane_voltage_codes: [i32; 2],
    /// Per channel, the output model's current-only part at the command's current,
    /// [`channel_flux_mw_cm2`], mW/cm² (0 on channels not fitted): a session drives one current.
    flux_mw_cm2: [f32; MAX_CHANNELS],
    /// Per channel, the command's duty as a fraction ([`dose::duty_fraction`]).
    duty_fraction: [f32; MAX_CHANNELS],
    /// Per channel, the pair test's slack for a checked pair ([`pair_slack_codes`]).
    checked_pair_slack_codes: [u32; MAX_CHANNELS],
}

/// The largest difference of two strings' voltage codes for which the pair test
/// (`mv(a) − mv(b) > limit`, [`string_mv`]) cannot fail, for a `limit_mv` (mV).
///
/// Why it is safe: a code converts to `x·40 000/4095` mV through two roundings, each within
/// 2⁻²⁴ relative, so every converted value (≤ 640 157 mV for a `u16` code) is within 0.08 mV of
/// the exact one, and the f32 subtraction of two such values adds at most 0.04 mV: for codes
/// `d` apart the computed difference is at most `d · 40 000/4095 + 0.2` mV. With `d` at most
/// `(limit − 1 mV)` in codes it stays below the limit (the f32 rounding of the bound itself
/// moves it by far less than the 0.8 mV left). The tests check it for every code of every
/// calibration.
fn pair_slack_codes(limit_mv: f32) -> u32 {
    // `as` saturates: a limit under 1 mV gives 0 (equal codes only).
    ((limit_mv - 1.0) * VOLTAGE_CODES_PER_MV) as u32
}

/// One past the largest code a `u16` ADC lane can carry: "no code" for a threshold.
const NO_CODE: u32 = 1 << 16;

/// The first current code above [`faults::STUCK_ON_MA`] ([`string_ma`]; [`StringScreen`] says
/// why a code threshold is exact).
const STUCK_ON_CODE: u32 = {
    let mut code = 0;
    while code < NO_CODE && current_code_ma(code as u16) <= faults::STUCK_ON_MA {
        code += 1;
    }
    code
};

/// The first `u16` code for which `holds` is true, [`NO_CODE`] if none, searched from `guess`
/// (a code near the boundary): `holds` must be false up to some code and true from it on, so
/// walking down while the code below holds and up while this one does not ends exactly on the
/// boundary. A guess from the inverse conversion is within a code or two: a few tests instead of
/// a bisection's seventeen (campaign weeks change the command every few ticks while derating).
fn first_code_from(guess: f32, holds: impl Fn(u16) -> bool) -> u32 {
    // `as` saturates: NaN gives 0, anything beyond the range its end.
    let mut code = (guess as u32).min(NO_CODE);
    while code > 0 && holds((code - 1) as u16) {
        code -= 1;
    }
    while code < NO_CODE && !holds(code as u16) {
        code += 1;
    }
    code
}

impl StringScreen {
    /// The thresholds for `command` on `cal`'s strings.
    fn new(command: Command, cal: &DeviceCalibration) -> StringScreen {
        let rail_mv = f32::from(cal.led_rail_mv);
        let compliance_mv = faults::OPEN_VOLTAGE_FRACTION * rail_mv;
        let (mv, per_mv) = (voltage_code_mv, VOLTAGE_CODES_PER_MV);
        let mut screen = StringScreen {
            command,
            expected_ma: [0.0; MAX_CHANNELS],
            over_code: [NO_CODE; MAX_CHANNELS],
            open_code: [0; MAX_CHANNELS],
            short_code: [0; MAX_CHANNELS],
            open_voltage_code: first_code_from(compliance_mv * per_mv, |v| mv(v) > compliance_mv),
            compliance_code: first_code_from(compliance_mv * per_mv, |v| mv(v) >= compliance_mv),
            lane_over_code: [NO_CODE as i32; MAX_STRINGS],
            lane_open_code: [0; MAX_STRINGS],
            lane_short_code: [0; MAX_STRINGS],
            pair_slack_codes: [i32::MAX; MAX_CHANNELS],
            lane_voltage_codes: [0; 2],
            flux_mw_cm2: [0.0; MAX_CHANNELS],
            duty_fraction: [0.0; MAX_CHANNELS],
            checked_pair_slack_codes: [u32::MAX; MAX_CHANNELS],
        };
        // Codes and thresholds are at most `NO_CODE` = 2¹⁶: exact in `i32`.
        screen.lane_voltage_codes = [
            screen.open_voltage_code.min(NO_CODE) as i32,
            screen.compliance_code.min(NO_CODE) as i32,
        ];
        for (c, ch) in cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            let short_mv = faults::short_threshold_mv(ch);
            screen.short_code[c] = first_code_from(short_mv * per_mv, |v| mv(v) >= short_mv);
            if cal.strings_of(c).len() == 2 {
                // The limit as `find_string_fault` computes it.
                let limit = faults::PAIR_SHORT_FRACTION * f32::from(ch.vf_min_mv);
                screen.checked_pair_slack_codes[c] = pair_slack_codes(limit);
            }
        }
        screen.set_command(command, cal);
        screen
    }

    /// The thresholds for another command on the same strings: only the current thresholds
    /// depend on the command.
    fn set_command(&mut self, command: Command, cal: &DeviceCalibration) {
        let (ma, per_ma) = (current_code_ma, CURRENT_CODES_PER_MA);
        self.command = command;
        for (c, ch) in cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            let expected_ma = if command.hw_enable {
                f32::from(command.current_ma[c]) * f32::from(command.duty_permille[c]) / 1000.0
            } else {
                0.0
            };
            self.expected_ma[c] = expected_ma;
            self.over_code[c] = if expected_ma <= 0.0 {
                STUCK_ON_CODE
            } else {
                let limit =
                    expected_ma * faults::OVER_CURRENT_FACTOR + faults::OVER_CURRENT_MARGIN_MA;
                first_code_from(limit * per_ma, |i| ma(i) > limit)
            };
            let open_below_ma = expected_ma * faults::OPEN_CURRENT_FRACTION;
            self.open_code[c] = first_code_from(open_below_ma * per_ma, |i| ma(i) >= open_below_ma);
            let checked = expected_ma >= faults::MIN_CHECKED_MA;
            // Codes and thresholds are at most `NO_CODE` = 2¹⁶: exact in `i32`.
            let code = |threshold: u32| threshold.min(NO_CODE) as i32;
            for s in cal.strings_of(c) {
                self.lane_over_code[s] = code(self.over_code[c]);
                self.lane_open_code[s] = if checked { code(self.open_code[c]) } else { 0 };
                self.lane_short_code[s] = if checked { code(self.short_code[c]) } else { 0 };
            }
            self.pair_slack_codes[c] = if checked {
                self.checked_pair_slack_codes[c].min(i32::MAX as u32) as i32
            } else {
                i32::MAX
            };
            self.flux_mw_cm2[c] = channel_flux_mw_cm2(ch, command.current_ma[c]);
            self.duty_fraction[c] = dose::duty_fraction(command.duty_permille[c]);
        }
    }

    /// Whether no string of `adc` can fail a check: [`Self::check`] finds nothing on any
    /// string and no pair test can fail. A lane's test is [`Self::check`]'s conditions with the
    /// lane thresholds, which make the tests that do not run false; the pair test cannot fail
    /// within [`Self::pair_slack_codes`]. Lane by lane without branches: usually nothing is
    /// wrong, and then the per-string decisions need not be taken one by one.
    #[inline]
    fn all_clear(&self, adc: &AdcFrame) -> bool {
        let [open_voltage, compliance] = self.lane_voltage_codes;
        let mut flagged = false;
        for s in 0..MAX_STRINGS {
            let current = i32::from(adc.string_current[s]);
            let voltage = i32::from(adc.string_voltage[s]);
            flagged |= (current >= self.lane_over_code[s])
                | ((current < self.lane_open_code[s]) & (voltage >= open_voltage))
                | (voltage < self.lane_short_code[s]);
        }
        for c in 0..MAX_CHANNELS {
            let a = i32::from(adc.string_voltage[c * STRINGS_PER_CHANNEL]);
            let b = i32::from(adc.string_voltage[c * STRINGS_PER_CHANNEL + 1]);
            flagged |=
                ((a - b).abs() > self.pair_slack_codes[c]) & (a < compliance) & (b < compliance);
        }
        !flagged
    }

    /// [`faults::check_string`] for a string of channel `c` reading these codes.
    #[inline]
    fn check(&self, c: usize, current: u16, voltage: u16) -> Option<FaultKind> {
        let (current, voltage) = (u32::from(current), u32::from(voltage));
        let expected_ma = self.expected_ma[c];
        if expected_ma <= 0.0 {
            (current >= self.over_code[c]).then_some(FaultKind::DriverStuckOn)
        } else if current >= self.over_code[c] {
            Some(FaultKind::StringOverCurrent)
        } else if expected_ma < faults::MIN_CHECKED_MA {
            None
        } else if current < self.open_code[c] && voltage >= self.open_voltage_code {
            Some(FaultKind::StringOpen)
        } else if voltage < self.short_code[c] {
            Some(FaultKind::StringShort)
        } else {
            None
        }
    }

    /// Whether a string voltage code is below [`faults::OPEN_VOLTAGE_FRACTION`] of the rail.
    #[inline]
    fn below_compliance(&self, voltage: u16) -> bool {
        u32::from(voltage) < self.compliance_code
    }
}

/// Everything that lives only for one session.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Session {
    program: &'static Program,
    /// Per channel, the program's set-point where this device drives the channel (the program
    /// uses it and it is fitted), else 0, mA: what [`Firmware::drive`] commands, fixed for the
    /// session.
    drive_current_ma: [u16; MAX_CHANNELS],
    slot: u8,
    treated_ms: u64,
    emitted_ms: u64,
    dose: DoseMeter,
    /// The session-cap test of the program's cap for `dose`.
    cap_screen: PeakScreen,
    cem43_min: f32,
    ambient_c: f32,
    covered: CoveredMonitor,
    stuck_base: Option<([f32; MAX_CONTACT_NTCS], f32)>,
    stuck_done: bool,
    /// The stuck verdict, once found (reported on every later step so it can be confirmed).
    stuck: Option<Fault>,
    disagree_ms: u64,
    below_ambient_ms: u64,
    fan_bad_ms: u64,
    /// The last [`SPOT_SAMPLES`] hot-spot samples, oldest first; `None` until filled.
    spot: [Option<SpotSample>; SPOT_SAMPLES],
    /// Treatment time of the next hot-spot sample, ms.
    spot_next_ms: u64,
    /// The hot-spot sensor was found detached (reported on every later step so it can be
    /// confirmed: the blinded drive would otherwise invalidate the evidence).
    spot_lost: bool,
    /// The largest hot-spot excess among the samples, K ([`spot_excess_max_k`]).
    spot_excess_max_k: f32,
    /// The largest `min_duty_since` among the samples, ‰ (0 without one): a duty not below
    /// it lowers no sample's, so the control tick leaves the samples alone
    /// ([`spot_min_duty_max`]).
    spot_min_duty_max: u16,
}

/// The largest `min_duty_since` of the hot-spot samples, ‰ (0 when there is none).
fn spot_min_duty_max(spot: &[Option<SpotSample>; SPOT_SAMPLES]) -> u16 {
    spot.iter()
        .flatten()
        .fold(0, |max, sample| max.max(sample.min_duty_since))
}

/// The largest excess of the hot-spot samples, K (`f32::max`, which passes over NaN; NaN when
/// there is none). The check's `x − excess > drop` rounds monotonically in `x` (a NaN or
/// `∞ − ∞` difference fails every comparison), so when it fails for this value it fails for
/// every sample: one subtraction screens the samples on a control tick.
fn spot_excess_max_k(spot: &[Option<SpotSample>; SPOT_SAMPLES]) -> f32 {
    spot.iter()
        .flatten()
        .fold(f32::NAN, |max, sample| max.max(sample.excess_k))
}

/// One sample of the hot-spot check.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SpotSample {
    /// Hot-spot excess `T_0 − T_1`, K.
    excess_k: f32,
    /// The hot-spot reading `T_0`, °C.
    spot_c: f32,
    /// Highest channel duty when sampled, ‰.
    duty: u16,
    /// Lowest highest-channel duty since (0 once the drivers were disabled), ‰: the check only
    /// trusts a sample whose drive never fell (a pause or a derating lets the spot cool).
    min_duty_since: u16,
}

/// The firmware's view of itself, for tests and traces (not part of the boundary).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Diagnostics {
    /// Device uptime, ms.
    pub uptime_ms: u64,
    /// Hottest contact NTC, °C (`None` without contact NTCs or when broken).
    pub contact_c: Option<f32>,
    /// Board NTC, °C.
    pub board_c: Option<f32>,
    /// Junction estimate per channel, °C.
    pub junction_c: [f32; MAX_CHANNELS],
    /// Duty factor applied per channel this step (1 = none).
    pub duty_factor: [f32; MAX_CHANNELS],
    /// Session CEM43 estimate, min.
    pub cem43_min: f32,
    /// Covered-device verdict.
    pub covered: bool,
    /// Peak-point fluence bound of the session, mJ/cm².
    pub peak_mj_cm2: u32,
    /// Emitting time of the session, ms.
    pub treated_ms: u64,
    /// Temperature rates over the last window, K/s: contact 0, contact 1, board.
    pub rate_k_per_s: [f32; 3],
}

/// The reference firmware: all state, fixed size, no allocation.
///
/// `V` selects the decisions of [`crate::variant`]; the default, [`Reference`], is the shipped
/// firmware. `Reference` is zero-sized and its hooks are constants after inlining, so the seam
/// costs one 16-byte field (`contact_lost_since_ms`, written only by debouncing variants).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Firmware<V: Variant = Reference> {
    variant: V,
    class: DeviceClass,
    cal: &'static DeviceCalibration,
    phase: Phase,
    fault: Option<Fault>,
    candidate: Option<(Fault, u64)>,
    last_now_ms: Option<u32>,
    uptime_ms: u64,
    buttons: Debouncer,
    ledger: Ledger,
    load_status: LoadStatus,
    writer: NvmWriter,
    session: Option<Session>,
    command: Command,
    rate_ref: Option<(u64, [f32; 3])>,
    rate_k_per_s: [f32; 3],
    /// No rate's magnitude is above [`IMPLAUSIBLE_RATE_K_PER_S`] (kept with the rates, which
    /// change once per [`RATE_WINDOW_MS`]): the sensor checks then skip the three rate tests
    /// (12 instructions a step in the runner week).
    rates_quiet: bool,
    /// What depends only on the last command: the string checks' thresholds and the output
    /// model's per-command parts (brought up to date at the start of each full step).
    string_screen: StringScreen,
    /// The calibration's constants of the string sense.
    string_constants: StringConstants,
    /// The quotients of a [`TREAT_TICK_MS`] step, computed once.
    tick: TickConstants,
    warning: bool,
    next_persist_ms: u64,
    last_dose_mj_cm2: u32,
    /// Uptime at which skin contact was lost, ms; kept only by variants that debounce contact
    /// loss ([`Variant::contact_debounce_ms`]).
    contact_lost_since_ms: Option<u64>,
    /// What only the last step knew, for [`Self::diagnostics`]; the rest of the view is state.
    last_step: StepView,
}

/// The divisions of a control tick whose operands are all constant for a [`TREAT_TICK_MS`] step,
/// done once at boot: the step takes these when the step is a tick and divides otherwise (the
/// same quotients); and the junction ramps' constants. Held as data rather than as `const`s: given a constant, the compiler proves
/// that the quotient for the tick equals the division and divides on every tick again.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TickConstants {
    /// The covered monitor's gain for a tick ([`thermal::covered_gain`]).
    covered_gain: f32,
    /// A tick in minutes, for the CEM43 increment ([`thermal::cem43_minutes`]).
    cem43_minutes: f32,
    /// Per channel, the junction derating's constants (any on channels not fitted).
    junction_ramps: [JunctionRamp; MAX_CHANNELS],
}

impl TickConstants {
    /// A step of `elapsed_ms` in minutes ([`thermal::cem43_minutes`]): the constant for a tick.
    #[inline]
    fn cem43_minutes(&self, elapsed_ms: u32) -> f32 {
        if elapsed_ms == TREAT_TICK_MS {
            self.cem43_minutes
        } else {
            thermal::cem43_minutes(elapsed_ms)
        }
    }

    /// The covered monitor's gain for a step of `elapsed_ms` ([`thermal::covered_gain`] through
    /// the board's `tau_s`, the one these constants were made with): the constant for a tick.
    #[inline]
    fn covered_gain(&self, elapsed_ms: u32, tau_s: f32) -> f32 {
        if elapsed_ms == TREAT_TICK_MS {
            self.covered_gain
        } else {
            thermal::covered_gain(elapsed_ms, tau_s)
        }
    }

    fn new(cal: &DeviceCalibration) -> TickConstants {
        TickConstants {
            covered_gain: thermal::covered_gain(TREAT_TICK_MS, cal.board_tau_s),
            cem43_minutes: thermal::cem43_minutes(TREAT_TICK_MS),
            junction_ramps: cal
                .channels
                .map(|ch| JunctionRamp::new(ch.map_or(f32::NAN, |ch| ch.t_j_max_c))),
        }
    }
}

/// The part of [`Diagnostics`] that lives only for one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct StepView {
    contact_c: Option<f32>,
    board_c: Option<f32>,
    /// The step's ADC codes, for the junction estimate (recomputed on request: a step at rest
    /// has no other use for it).
    adc: AdcFrame,
    duty_factor: [f32; MAX_CHANNELS],
    covered: bool,
}

impl Firmware {
    /// Power-on: the NVM image as it is on the chip (may be blank 0xFF, or hold torn records).
    pub fn boot(class: DeviceClass, nvm: &[u8; NVM_SIZE]) -> Firmware {
        Firmware::boot_variant(class, nvm)
    }
}

impl<V: Variant> Firmware<V> {
    /// [`Firmware::boot`] for any [`Variant`] (the tests' seeded bugs).
    pub fn boot_variant(class: DeviceClass, nvm: &[u8; NVM_SIZE]) -> Firmware<V> {
        let variant = V::default();
        let (mut ledger, load_status) = nvm::load_checked(class, nvm, variant.check_record_crc());
        if !variant.persist_caps() {
            ledger.zones = Ledger::fresh().zones;
        }
        let last_slot = match load_status {
            LoadStatus::Restored { slot } => Some(slot),
            LoadStatus::Blank | LoadStatus::HistoryLost => None,
        };
        let mut writer = NvmWriter::new(last_slot);
        if !matches!(load_status, LoadStatus::Restored { .. }) {
            // A new device writes its genesis record; a lost history writes the lockout at once.
            writer.request();
        }
        let uptime_ms = u64::from(ledger.uptime_s) * 1000;
        Firmware {
            variant,
            class,
            cal: calibration(class),
            phase: Phase::Idle,
            fault: None,
            candidate: None,
            last_now_ms: None,
            uptime_ms,
            buttons: Debouncer::default(),
            ledger,
            load_status,
            writer,
            session: None,
            command: Command::default(),
            rate_ref: None,
            rate_k_per_s: [0.0; 3],
            rates_quiet: true,
            string_screen: StringScreen::new(Command::default(), calibration(class)),
            string_constants: StringConstants::new(calibration(class)),
            tick: TickConstants::new(calibration(class)),
            warning: false,
            next_persist_ms: uptime_ms + UPTIME_PERSIST_MS,
            last_dose_mj_cm2: 0,
            contact_lost_since_ms: None,
            last_step: StepView::default(),
        }
    }

    /// One step: called when `next_wake_ms` elapses and whenever an input changes.
    pub fn step(&mut self, input: &InputFrame) -> OutputFrame {
        let mut out = OutputFrame::default();
        self.step_into(input, &mut out);
        out
    }

    /// [`Self::step`] with the frame written into `out`, where the caller keeps it. A returned
    /// frame is built in a temporary and copied on with wide loads that read its narrow stores
    /// back before they reach the cache: a store-forwarding stall every step.
    pub fn step_into(&mut self, input: &InputFrame, out: &mut OutputFrame) {
        let elapsed = self.advance_clock(input.now_ms);
        let now = self.uptime_ms;
        let temps = self.read_temps(input);
        self.update_rates(&temps, now);
        if self.session.is_none() && !self.command.hw_enable {
            *out = self.step_at_rest(input, &temps, now);
            return;
        }
        if self.string_screen.command != self.command {
            self.string_screen.set_command(self.command, self.cal);
        }
        let sense = StringSense::sample(&input.adc, &self.string_constants);
        let junction_c = self.junction_estimates(&sense, temps.board);
        self.integrate(input, &temps, &junction_c, elapsed);

        let suspect = self.find_fault(input, &temps, &sense, elapsed);
        self.confirm(suspect, now);

        if self.variant.contact_debounce_ms() > 0 {
            self.contact_lost_since_ms = if self.cal.skin_contact && !input.skin_contact {
                Some(self.contact_lost_since_ms.unwrap_or(now))
            } else {
                None
            };
        }
        let pressed = self.buttons.sample(input.buttons, now);
        self.transition(input, &temps, pressed, suspect.is_some());
        if self.phase == Phase::Treating {
            self.check_session_end(&temps);
        }

        let blind = suspect.is_some_and(|f| f.kind.blinds_temperature());
        let (duty_factor, covered) = if self.phase == Phase::Treating && !blind {
            self.duty_factors(&temps, &junction_c, &sense, elapsed)
        } else {
            (
                [0.0; MAX_CHANNELS],
                self.session.as_ref().is_some_and(|s| s.covered.covered),
            )
        };
        let (command, derated) = self.drive(duty_factor);
        self.command = command;

        let nvm_write = self.persist_and_poll(now);

        let warning = self.contact_warning(&temps) || covered || derated;
        *out = self.finish_step(
            input,
            &temps,
            duty_factor,
            covered,
            command,
            nvm_write,
            warning,
            now,
        );
    }

    /// The end of both step paths: the step's `warning` stored, what diagnostics read back, and
    /// the output frame.
    #[inline(always)]
    #[expect(
        clippy::too_many_arguments,
        reason = "the step's results, passed on once"
    )]
    fn finish_step(
        &mut self,
        input: &InputFrame,
        temps: &Temps,
        duty_factor: [f32; MAX_CHANNELS],
        covered: bool,
        command: Command,
        nvm_write: Option<NvmWrite>,
        warning: bool,
        now: u64,
    ) -> OutputFrame {
        // The fault code is read before the warning is stored: the two fields are neighbours,
        // and the compiler reads the code with a load wide enough to cover the warning's byte,
        // which stalled behind that byte's store (5 % of the step's samples when the warning
        // was stored first).
        let fault_code = self.fault.map_or(0, Fault::code);
        self.warning = warning;
        self.last_step = StepView {
            contact_c: temps.contact_max(),
            board_c: temps.board,
            adc: input.adc,
            duty_factor,
            covered,
        };
        self.outputs(command, nvm_write, fault_code, now)
    }

    /// Out of session, requests the periodic uptime record when it is due; then gives the NVM
    /// writer its turn (both step paths, in the same place of the step).
    #[inline(always)]
    fn persist_and_poll(&mut self, now: u64) -> Option<NvmWrite> {
        if !self.phase.in_session()
            && !matches!(self.phase, Phase::Fault)
            && now >= self.next_persist_ms
        {
            self.request_persist();
        }
        self.writer
            .poll(&mut self.ledger, self.class, (now / 1000) as u32)
    }

    /// [`Self::step`] at rest: no session open and the drivers' hardware enable off since the
    /// last step, so nothing was emitted and nothing can be integrated. The same decisions in the
    /// same order as the full step, without what cannot matter at rest: with the enable off every
    /// string's expected current is zero, so the string checks reduce to the driver-stuck-on
    /// test; the over-temperature and session checks need a session; and a start only arms a
    /// session (the drive stays off until its reservation is committed, a later step). The sensor
    /// checks stay: a sensor fault that appears at rest is seen within a minute.
    // Out of line, and its shared helpers forced inline: called from two places, they would
    // otherwise be called out of line from the control tick too (measured: +60 instructions per
    // tick with `transition`, `confirm` and the sensor checks as calls).
    #[inline(never)]
    fn step_at_rest(&mut self, input: &InputFrame, temps: &Temps, now: u64) -> OutputFrame {
        let suspect = match self.find_sensor_fault(temps) {
            Some(fault) => Some(fault),
            None => self.find_stuck_on_string(&input.adc),
        };
        self.confirm(suspect, now);
        if self.variant.contact_debounce_ms() > 0 {
            self.contact_lost_since_ms = if self.cal.skin_contact && !input.skin_contact {
                Some(self.contact_lost_since_ms.unwrap_or(now))
            } else {
                None
            };
        }
        let pressed = self.buttons.sample(input.buttons, now);
        // Out of session a transition needs a press (a start, or nothing in the fault state).
        if pressed != 0 {
            self.transition(input, temps, pressed, suspect.is_some());
        }
        let covered = self.session.as_ref().is_some_and(|s| s.covered.covered);
        let command = Command::default();
        self.command = command;
        let nvm_write = self.persist_and_poll(now);
        // The warning without the derating test, which needs the treating phase.
        let warning = self.contact_warning(temps) || covered;
        let duty_factor = [0.0; MAX_CHANNELS];
        self.finish_step(
            input,
            temps,
            duty_factor,
            covered,
            command,
            nvm_write,
            warning,
            now,
        )
    }

    /// The output frame of a step that drives `command`, writes `nvm_write` and reports
    /// `fault_code` (the latched fault's [`Fault::code`], 0 without one).
    // Inline in both step paths (see `step_at_rest`).
    #[inline(always)]
    fn outputs(
        &self,
        command: Command,
        nvm_write: Option<NvmWrite>,
        fault_code: u16,
        now: u64,
    ) -> OutputFrame {
        // The phase's four fields from one test while treating (the control tick's phase):
        // what `indicator`, `next_wake`, `session_state` and `detail` give for `Treating`.
        let (indicator, next_wake_ms, state, detail) = if self.phase == Phase::Treating {
            let indicator = if self.warning {
                Indicator::Warning
            } else {
                Indicator::Treating
            };
            (indicator, TREAT_TICK_MS, SessionState::Treating, 0x30)
        } else {
            (
                self.indicator(),
                self.next_wake(now),
                self.phase.session_state(),
                self.phase.detail(),
            )
        };
        let mut out = OutputFrame {
            duty_permille: command.duty_permille,
            current_ma: command.current_ma,
            hw_enable: command.hw_enable,
            indicator,
            nvm_write: None,
            next_wake_ms,
            state: state as u8,
            detail,
            dose_estimate_mj_cm2: self
                .session
                .as_ref()
                .map_or(self.last_dose_mj_cm2, |s| s.dose.mean_mj_cm2()),
            fault_code,
        };
        // Copied only when there is one: `Some` is rare and the record is 67 bytes, which a
        // move of the whole `Option` copied into the frame on every step.
        if nvm_write.is_some() {
            out.nvm_write = nvm_write;
        }
        out
    }

    /// The device class this firmware was booted as.
    pub fn class(&self) -> DeviceClass {
        self.class
    }

    /// The current phase (state and reason).
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The latched fault, if any.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// The dose ledger as held in RAM.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// What the boot-time NVM load found.
    pub fn load_status(&self) -> LoadStatus {
        self.load_status
    }

    /// Internal view of the last step (all zero before the first). Assembled on request: the
    /// control tick keeps only what it cannot recompute.
    pub fn diagnostics(&self) -> Diagnostics {
        if self.last_now_ms.is_none() {
            return Diagnostics::default();
        }
        let v = self.last_step;
        let session = self.session.as_ref();
        let sense = StringSense::sample(&v.adc, &self.string_constants);
        Diagnostics {
            uptime_ms: self.uptime_ms,
            contact_c: v.contact_c,
            board_c: v.board_c,
            junction_c: self.junction_estimates(&sense, v.board_c),
            duty_factor: v.duty_factor,
            cem43_min: session.map_or(0.0, |s| s.cem43_min),
            covered: v.covered,
            peak_mj_cm2: session.map_or(0, |s| s.dose.peak_mj_cm2(self.cal)),
            treated_ms: session.map_or(0, |s| s.treated_ms),
            rate_k_per_s: self.rate_k_per_s,
        }
    }

    fn advance_clock(&mut self, now_ms: u32) -> u32 {
        let elapsed = self
            .last_now_ms
            .map_or(0, |last| self.variant.elapsed_ms(now_ms, last));
        self.last_now_ms = Some(now_ms);
        if elapsed >= MAX_PLAUSIBLE_STEP_MS {
            // Time went backwards or jumped weeks: the caps' windows cannot be trusted.
            let now_s = (self.uptime_ms / 1000) as u32;
            self.ledger
                .lock_until(now_s.saturating_add(HISTORY_LOCKOUT_S));
            if self.phase.in_session() {
                self.end_session(SessionEnd::ClockImplausible);
            } else {
                self.request_persist();
            }
            return 0;
        }
        self.uptime_ms += u64::from(elapsed);
        elapsed
    }

    /// Convert the NTCs ([`Variant::ntc_to_c`], a table lookup for the reference).
    fn read_temps(&self, input: &InputFrame) -> Temps {
        let mut t = Temps {
            readings: [NtcReading::Short; 3],
            contact: [None; MAX_CONTACT_NTCS],
            board: None,
            contact_max: None,
            contact_max_counts: None,
            contact_max_reference: false,
        };
        for i in 0..usize::from(self.cal.contact_ntcs) {
            let counts = input.adc.contact_ntc[i];
            let reading = self.variant.ntc_to_c(counts);
            t.readings[i] = reading;
            if let NtcReading::Celsius(c) = reading {
                t.contact[i] = Some(c);
                // `f32::max` folded in sensor order, remembering whose reading it is.
                let max = t.contact_max.map_or(c, |m| m.max(c));
                if t.contact_max != Some(max) {
                    t.contact_max = Some(max);
                    t.contact_max_counts = Some(counts);
                    t.contact_max_reference = reads_as_reference(counts, c);
                }
            }
        }
        let reading = self.variant.ntc_to_c(input.adc.board_ntc);
        t.readings[2] = reading;
        if let NtcReading::Celsius(c) = reading {
            t.board = Some(c);
        }
        t
    }

    fn update_rates(&mut self, temps: &Temps, now: u64) {
        // The window is tested first: the readings are gathered (three `unwrap_or`s and a blend)
        // only on the one step in fifty that takes a new reference.
        if let Some((t0, _)) = self.rate_ref
            && now - t0 < RATE_WINDOW_MS
        {
            return;
        }
        let cur = [
            temps.contact[0].unwrap_or(f32::NAN),
            temps.contact[1].unwrap_or(f32::NAN),
            temps.board.unwrap_or(f32::NAN),
        ];
        if let Some((t0, ref_c)) = self.rate_ref {
            let dt_s = (now - t0) as f32 / 1000.0;
            for i in 0..3 {
                let r = (cur[i] - ref_c[i]) / dt_s;
                self.rate_k_per_s[i] = if r.is_nan() { 0.0 } else { r };
            }
            self.rates_quiet = !self
                .rate_k_per_s
                .iter()
                .any(|r| r.abs() > IMPLAUSIBLE_RATE_K_PER_S);
        }
        self.rate_ref = Some((now, cur));
    }

    /// Per-channel junction estimate from the board NTC and the measured string power.
    fn junction_estimates(&self, sense: &StringSense, board_c: Option<f32>) -> [f32; MAX_CHANNELS] {
        let board = board_c.unwrap_or(25.0);
        let mut tj = [board; MAX_CHANNELS];
        for (c, ch) in self.cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            tj[c] =
                thermal::junction_estimate_c(board, ch.r_th_jb_k_per_w, sense.heat_per_led_w[c]);
        }
        tj
    }

    /// Dose and CEM43 for the interval that just ended, under the command that was in force.
    fn integrate(
        &mut self,
        input: &InputFrame,
        temps: &Temps,
        junction_c: &[f32; MAX_CHANNELS],
        elapsed: u32,
    ) {
        let cal = self.cal;
        let command = self.command;
        let variant = self.variant;
        let tick = self.tick;
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if let Some(t) = temps.contact_max() {
            // The rate table holds the reference conversion of each code: a variant converting
            // codes its own way gets the formula.
            let increment = match temps.contact_max_counts {
                Some(counts) if temps.contact_max_reference => {
                    tick.cem43_minutes(elapsed) * thermal::cem43_rate_at_code(counts)
                }
                _ => thermal::cem43_increment_min(t + LIMITS.cem43_margin_k, elapsed),
            };
            s.cem43_min += increment;
        }
        if self.phase != Phase::Treating {
            return;
        }
        s.treated_ms += u64::from(elapsed);
        if !command.hw_enable {
            return;
        }
        let distance_factor = if cal.distance_sensor {
            panel_distance_factor(input.distance_mm)
        } else {
            1.0
        };
        // Up to date: the step refreshed the screen for `self.command` before integrating.
        let screen = &self.string_screen;
        let mut irr = [0u32; MAX_CHANNELS];
        for (c, ch) in cal.channels.iter().enumerate() {
            if let Some(ch) = ch {
                irr[c] = irradiance_from_fraction_uw_cm2(
                    screen.flux_mw_cm2[c],
                    screen.duty_fraction[c],
                    variant.output_factor(ch.k_phi_per_k, junction_c[c]),
                    distance_factor,
                );
            }
        }
        if irr.iter().any(|&e| e > 0) {
            s.emitted_ms += u64::from(elapsed);
            s.dose.add(irr, elapsed);
        }
    }

    fn distance_factor(&self, input: &InputFrame) -> f32 {
        if self.cal.distance_sensor {
            panel_distance_factor(input.distance_mm)
        } else {
            1.0
        }
    }

    /// The first fault condition present this step (not yet confirmed).
    fn find_fault(
        &mut self,
        input: &InputFrame,
        temps: &Temps,
        sense: &StringSense,
        elapsed: u32,
    ) -> Option<Fault> {
        let f = |kind, index| Some(Fault { kind, index });
        if let Some(fault) = self.find_sensor_fault(temps) {
            return Some(fault);
        }
        if let Some(fault) = self.find_string_fault(&input.adc, sense) {
            return Some(fault);
        }
        // Over-temperature latch while a session is open.
        if self.phase.in_session() {
            for (i, t) in temps.contact.iter().enumerate() {
                let Some(t) = *t else { continue };
                let too_fast = self.phase == Phase::Treating
                    && t >= LIMITS.latch_rate_gate_c
                    && self.rate_k_per_s[i] > LIMITS.latch_rate_k_per_s;
                if t >= LIMITS.latch_c || too_fast {
                    return f(FaultKind::OverTemperature, i as u8);
                }
            }
        }
        if self.phase == Phase::Treating {
            return self.find_session_fault(input, temps, elapsed);
        }
        None
    }

    /// The first NTC fault (rails, range, rate): contact NTCs first, then the board.
    // Inline in both step paths (see `step_at_rest`).
    #[inline(always)]
    fn find_sensor_fault(&self, temps: &Temps) -> Option<Fault> {
        for slot in 0..usize::from(self.cal.contact_ntcs) {
            if let Some(kind) = self.sensor_fault(temps.readings[slot], CONTACT_RANGE_C, slot) {
                return Some(Fault {
                    kind,
                    index: slot as u8,
                });
            }
        }
        self.sensor_fault(temps.readings[2], BOARD_RANGE_C, 2)
            .map(|kind| Fault {
                kind,
                index: BOARD_NTC,
            })
    }

    /// [`Self::find_string_fault`] with the hardware enable off: every string's expected
    /// current is zero, so [`faults::check_string`] can only find a driver stuck on, and the
    /// pair test (which needs [`faults::MIN_CHECKED_MA`] expected) never runs.
    fn find_stuck_on_string(&self, adc: &AdcFrame) -> Option<Fault> {
        for c in 0..MAX_CHANNELS {
            for s in self.cal.strings_of(c) {
                if u32::from(adc.string_current[s]) >= STUCK_ON_CODE {
                    return Some(Fault {
                        kind: FaultKind::DriverStuckOn,
                        index: s as u8,
                    });
                }
            }
        }
        None
    }

    /// The rail, range or rate fault of one NTC (slot 0–1 contact, 2 board), if any; an open
    /// sensor that the variant tolerates is not judged further.
    // Inline in both step paths (see `step_at_rest`).
    #[inline(always)]
    fn sensor_fault(
        &self,
        reading: NtcReading,
        (lo, hi): (f32, f32),
        slot: usize,
    ) -> Option<FaultKind> {
        match reading {
            NtcReading::Open if self.variant.open_ntc_is_fault() => Some(FaultKind::NtcOpen),
            NtcReading::Open => None,
            NtcReading::Short => Some(FaultKind::NtcShort),
            NtcReading::Celsius(c) if c < lo || c > hi => Some(FaultKind::NtcImplausible),
            NtcReading::Celsius(_) => (!self.rates_quiet
                && self.rate_k_per_s[slot].abs() > IMPLAUSIBLE_RATE_K_PER_S)
                .then_some(FaultKind::NtcImplausible),
        }
    }

    /// The first string fault of `adc` under the last command (the screen is up to date).
    fn find_string_fault(&self, adc: &AdcFrame, sense: &StringSense) -> Option<Fault> {
        if self.string_screen.all_clear(adc) {
            return None;
        }
        self.find_string_fault_in_order(adc, sense)
    }

    /// [`Self::find_string_fault`] string by string, in channel and string order.
    // Out of line: taken only when a lane is flagged.
    #[inline(never)]
    fn find_string_fault_in_order(&self, adc: &AdcFrame, sense: &StringSense) -> Option<Fault> {
        let screen = &self.string_screen;
        for (c, ch) in self.cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            let expected_ma = screen.expected_ma[c];
            let mut volts: [Option<f32>; 2] = [None; 2];
            for (k, s) in self.cal.strings_of(c).enumerate() {
                let (current, voltage) = (adc.string_current[s], adc.string_voltage[s]);
                if let Some(kind) = screen.check(c, current, voltage) {
                    return Some(Fault {
                        kind,
                        index: s as u8,
                    });
                }
                if expected_ma >= faults::MIN_CHECKED_MA && screen.below_compliance(voltage) {
                    volts[k] = Some(sense.mv[s]);
                }
            }
            if let [Some(a), Some(b)] = volts {
                let limit = faults::PAIR_SHORT_FRACTION * f32::from(ch.vf_min_mv);
                let first = self.cal.strings_of(c).start as u8;
                if a - b > limit {
                    return Some(Fault {
                        kind: FaultKind::StringShort,
                        index: first + 1,
                    });
                }
                if b - a > limit {
                    return Some(Fault {
                        kind: FaultKind::StringShort,
                        index: first,
                    });
                }
            }
        }
        None
    }

    /// Time-window checks that only make sense while emitting.
    fn find_session_fault(
        &mut self,
        input: &InputFrame,
        temps: &Temps,
        elapsed: u32,
    ) -> Option<Fault> {
        let board = temps.board?;
        let cal = self.cal;
        let s = self.session.as_mut()?;
        let f = |kind, index| Some(Fault { kind, index });
        let contact = temps.contact;
        if let [Some(a), Some(b)] = contact
            && s.treated_ms >= NTC_SETTLE_MS
            && (b - a > NTC_DISAGREE_K || a - b > SPOT_EXCESS_MAX_K)
        {
            s.disagree_ms += u64::from(elapsed);
        } else {
            s.disagree_ms = 0;
        }
        if s.disagree_ms >= NTC_DISAGREE_HOLD_MS {
            return f(FaultKind::NtcImplausible, NTC_PAIR);
        }
        let duty = if self.command.hw_enable {
            self.command.duty_permille.into_iter().max().unwrap_or(0)
        } else {
            0
        };
        if s.spot_lost {
            return f(FaultKind::NtcImplausible, 0);
        }
        // `min(x, duty)` is `x` for every sample when the duty is not below the largest `x`.
        if duty < s.spot_min_duty_max {
            for sample in s.spot.iter_mut().flatten() {
                sample.min_duty_since = sample.min_duty_since.min(duty);
            }
            s.spot_min_duty_max = spot_min_duty_max(&s.spot);
        }
        if let [Some(a), Some(b)] = contact
            && s.treated_ms >= NTC_SETTLE_MS
        {
            let excess_k = a - b;
            // `x − excess_k` rounds monotonically in `x`: no sample's excess fell by more than
            // the drop unless the largest one's did ([`Session::spot_excess_max_k`]).
            let dropped = s.spot_excess_max_k - excess_k > SPOT_DROP_K
                && s.spot.iter().flatten().any(|was| {
                    was.excess_k - excess_k > SPOT_DROP_K
                        && was.spot_c - a > SPOT_DROP_K / 2.0
                        && u32::from(was.min_duty_since) * 10 >= u32::from(was.duty) * 9
                });
            if dropped {
                s.spot_lost = true;
                return f(FaultKind::NtcImplausible, 0);
            }
            if s.treated_ms >= s.spot_next_ms {
                s.spot.rotate_left(1);
                s.spot[SPOT_SAMPLES - 1] = Some(SpotSample {
                    excess_k,
                    spot_c: a,
                    duty,
                    min_duty_since: duty,
                });
                s.spot_next_ms = s.treated_ms + SPOT_SAMPLE_MS;
                s.spot_excess_max_k = spot_excess_max_k(&s.spot);
                s.spot_min_duty_max = spot_min_duty_max(&s.spot);
            }
        }
        let low = contact
            .iter()
            .position(|t| t.is_some_and(|t| t < s.ambient_c - BELOW_AMBIENT_K));
        if low.is_some() {
            s.below_ambient_ms += u64::from(elapsed);
        } else {
            s.below_ambient_ms = 0;
        }
        if let Some(i) = low
            && s.below_ambient_ms >= NTC_DISAGREE_HOLD_MS
        {
            return f(FaultKind::NtcImplausible, i as u8);
        }
        match s.stuck_base {
            None => s.stuck_base = Some((contact.map(|t| t.unwrap_or(f32::NAN)), board)),
            Some((base, board0)) if !s.stuck_done && s.treated_ms >= STUCK_WINDOW_MS => {
                s.stuck_done = true;
                if board - board0 >= STUCK_BOARD_RISE_K {
                    for (i, t) in contact.iter().enumerate() {
                        if let Some(t) = t
                            && (t - base[i]).abs() < STUCK_MIN_CHANGE_K
                        {
                            s.stuck = Some(Fault {
                                kind: FaultKind::NtcStuck,
                                index: i as u8,
                            });
                            break;
                        }
                    }
                }
            }
            Some(_) => {}
        }
        if s.stuck.is_some() {
            return s.stuck;
        }
        if cal.fan && s.treated_ms >= FAN_GRACE_MS && !input.fan_ok {
            s.fan_bad_ms += u64::from(elapsed);
        } else {
            s.fan_bad_ms = 0;
        }
        if s.fan_bad_ms >= FAN_GRACE_MS {
            return f(FaultKind::FanFailure, 0);
        }
        None
    }

    /// Latch a fault once the same condition has held for [`CONFIRM_MS`].
    // Inline in both step paths (see `step_at_rest`).
    #[inline(always)]
    fn confirm(&mut self, suspect: Option<Fault>, now: u64) {
        if self.fault.is_some() {
            return;
        }
        let Some(fault) = suspect else {
            self.candidate = None;
            return;
        };
        match self.candidate {
            Some((c, since)) if c == fault => {
                if now - since >= CONFIRM_MS {
                    self.latch(fault);
                }
            }
            _ => self.candidate = Some((fault, now)),
        }
    }

    fn latch(&mut self, fault: Fault) {
        self.fault = Some(fault);
        self.candidate = None;
        if self.phase.in_session() {
            self.end_session(SessionEnd::Fault);
        }
        self.phase = Phase::Fault;
    }

    // Inline in both step paths (see `step_at_rest`).
    #[inline(always)]
    fn transition(&mut self, input: &InputFrame, temps: &Temps, pressed: u8, suspect: bool) {
        let now = self.uptime_ms;
        let start = pressed & buttons::START != 0;
        let stop = pressed & buttons::STOP != 0;
        let pause = pressed & buttons::PAUSE != 0;
        if stop && self.phase.in_session() {
            self.end_session(SessionEnd::UserStop);
            return;
        }
        match self.phase {
            Phase::Fault => {}
            Phase::Idle | Phase::Completed(_) | Phase::Stopped(_) | Phase::Refused(_) => {
                if start {
                    self.try_start(input, temps, suspect);
                }
            }
            Phase::Arming { ticket } => {
                if self.writer.committed(ticket) {
                    self.phase = Phase::Treating;
                    self.treating_checks(input, pause);
                }
            }
            Phase::Treating => self.treating_checks(input, pause),
            Phase::Paused { since_ms, .. } => {
                let program = self.session.as_ref().map(|s| s.program);
                let selected = crate::programs::programs(self.class)
                    .get(usize::from(input.program))
                    .copied();
                if start && program.is_some() && selected != program.copied() {
                    self.end_session(SessionEnd::ProgramChanged);
                    self.try_start(input, temps, suspect);
                } else if start
                    && let Some(p) = program
                    && self.interlock(input, p).is_none()
                {
                    self.phase = Phase::Treating;
                    if !self.variant.keeps_dose_on_resume()
                        && let Some(s) = self.session.as_mut()
                    {
                        s.dose = DoseMeter::default();
                    }
                } else if now - since_ms >= PAUSE_TIMEOUT_MS {
                    self.end_session(SessionEnd::PauseTimeout);
                }
            }
        }
    }

    fn treating_checks(&mut self, input: &InputFrame, pause: bool) {
        let Some(program) = self.session.as_ref().map(|s| s.program) else {
            return;
        };
        let reason = if pause {
            Some(PauseReason::User)
        } else {
            let eye_checked = self.variant.eye_interlock_while_treating();
            let interlock = self
                .interlock(input, program)
                .filter(|&r| eye_checked || r != Refusal::NoEyeShield);
            interlock.map(|r| match r {
                Refusal::NoSkinContact => PauseReason::ContactLost,
                Refusal::NoEyeShield => PauseReason::EyeShieldRemoved,
                _ => PauseReason::Distance,
            })
        };
        if let Some(reason) = reason {
            self.phase = Phase::Paused {
                reason,
                since_ms: self.uptime_ms,
            };
        }
    }

    fn check_session_end(&mut self, temps: &Temps) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let p = s.program;
        let end = if s.dose.mean_mj_cm2() >= p.target_mj_cm2 {
            Some(SessionEnd::TargetReached)
        } else if s.dose.peak_reaches(self.cal, &s.cap_screen) {
            Some(SessionEnd::SessionCap)
        } else if s.treated_ms >= u64::from(p.time_limit_s) * 1000 {
            Some(SessionEnd::TimeLimit)
        } else if temps.contact_max().is_some_and(|t| t >= LIMITS.stop_c) {
            Some(SessionEnd::ContactHot)
        } else if s.cem43_min >= LIMITS.cem43_stop_min {
            Some(SessionEnd::Cem43)
        } else if temps.board.is_some_and(|t| t >= LIMITS.board_stop_c) {
            Some(SessionEnd::BoardHot)
        } else {
            None
        };
        if let Some(end) = end {
            self.end_session(end);
        }
    }

    /// Whether a loss of skin contact has lasted the variant's debounce (at once for the
    /// reference).
    fn contact_loss_confirmed(&self) -> bool {
        let debounce_ms = self.variant.contact_debounce_ms();
        debounce_ms == 0
            || self
                .contact_lost_since_ms
                .is_some_and(|t| self.uptime_ms - t >= debounce_ms)
    }

    /// The interlock that forbids emitting `program` now, as a refusal reason.
    fn interlock(&self, input: &InputFrame, program: &Program) -> Option<Refusal> {
        let cal = self.cal;
        if cal.skin_contact && !input.skin_contact && self.contact_loss_confirmed() {
            return Some(Refusal::NoSkinContact);
        }
        // Only the mask has the eye-shield detect: the NIR test runs only where it can matter.
        let uses_nir = || {
            cal.channels
                .iter()
                .zip(program.current_ma)
                .any(|(ch, i)| i > 0 && ch.is_some_and(|ch| ch.wavelength.is_nir()))
        };
        if cal.eye_shield && !input.eye_shield && uses_nir() {
            return Some(Refusal::NoEyeShield);
        }
        if cal.distance_sensor
            && !(PANEL_MIN_DISTANCE_MM..=PANEL_MAX_DISTANCE_MM).contains(&input.distance_mm)
        {
            return Some(Refusal::Distance);
        }
        None
    }

    fn try_start(&mut self, input: &InputFrame, temps: &Temps, suspect: bool) {
        match self.start_refusal(input, temps, suspect) {
            Err(r) => self.phase = Phase::Refused(r),
            Ok((program, slot)) => {
                let now_s = (self.uptime_ms / 1000) as u32;
                // Reserve the session at its target plus one quantum (the stop overshoots by at
                // most one tick): a torn end record then never under-states the dose.
                let reserve = program.target_mj_cm2 + FLUENCE_QUANTUM_MJ_CM2;
                self.ledger.push(
                    usize::from(slot),
                    SessionEntry {
                        end_s: now_s,
                        fluence_q: nvm::quantize_fluence(reserve),
                    },
                );
                let ticket = self.request_persist();
                let board = temps.board.unwrap_or(25.0);
                // The board at rest may still be warm from a previous session: the cooler of it
                // and the contact sensors stands for the ambient of the below-ambient check.
                let ambient = temps.contact.iter().flatten().fold(board, |a, &t| a.min(t));
                let cal = self.cal;
                self.session = Some(Session {
                    program,
                    drive_current_ma: core::array::from_fn(|c| {
                        if cal.channels[c].is_some() {
                            program.current_ma[c]
                        } else {
                            0
                        }
                    }),
                    slot,
                    treated_ms: 0,
                    emitted_ms: 0,
                    dose: DoseMeter::default(),
                    cap_screen: PeakScreen::new(self.cal, program.session_cap_mj_cm2),
                    cem43_min: 0.0,
                    ambient_c: ambient,
                    covered: CoveredMonitor::new(board),
                    stuck_base: None,
                    stuck_done: false,
                    stuck: None,
                    disagree_ms: 0,
                    below_ambient_ms: 0,
                    spot: [None; SPOT_SAMPLES],
                    spot_next_ms: NTC_SETTLE_MS,
                    spot_lost: false,
                    spot_excess_max_k: spot_excess_max_k(&[None; SPOT_SAMPLES]),
                    spot_min_duty_max: spot_min_duty_max(&[None; SPOT_SAMPLES]),
                    fan_bad_ms: 0,
                });
                self.phase = Phase::Arming { ticket };
            }
        }
    }

    fn start_refusal(
        &self,
        input: &InputFrame,
        temps: &Temps,
        suspect: bool,
    ) -> Result<(&'static Program, u8), Refusal> {
        let program = programs(self.class)
            .get(usize::from(input.program))
            .ok_or(Refusal::InvalidProgram)?;
        let slot = self
            .variant
            .zone_slot(self.class, program.zone)
            .ok_or(Refusal::InvalidProgram)? as u8;
        if suspect {
            return Err(Refusal::SensorFault);
        }
        if let Some(r) = self.interlock(input, program) {
            return Err(r);
        }
        if temps
            .contact_max()
            .is_some_and(|t| t > LIMITS.start_max_contact_c)
        {
            return Err(Refusal::HotSkin);
        }
        let ambient = temps.board.ok_or(Refusal::SensorFault)?;
        if !(LIMITS.ambient_min_c..=LIMITS.ambient_max_c).contains(&ambient) {
            return Err(Refusal::Ambient);
        }
        let e = nominal_irradiance_mw_cm2(self.class, program) * self.distance_factor(input);
        if program.target_mj_cm2 as f32 > e * REACHABLE_FRACTION * program.time_limit_s as f32 {
            return Err(Refusal::TargetUnreachable);
        }
        let now_s = (self.uptime_ms / 1000) as u32;
        let min_gap_s = self.variant.min_gap_s();
        match self
            .ledger
            .cap_refusal_with_gap(usize::from(slot), now_s, program, min_gap_s)
        {
            Some(r) => Err(r),
            None => Ok((program, slot)),
        }
    }

    fn end_session(&mut self, end: SessionEnd) {
        let Some(s) = self.session.take() else { return };
        let delivered = s.dose.mean_mj_cm2();
        let slot = usize::from(s.slot);
        if s.emitted_ms == 0 {
            // Nothing emitted: the session never happened as far as the caps are concerned.
            self.ledger.remove_newest(slot);
        } else {
            let now_s = (self.uptime_ms / 1000) as u32;
            self.ledger.replace_newest(
                slot,
                SessionEntry {
                    end_s: now_s,
                    fluence_q: nvm::quantize_fluence(delivered),
                },
            );
        }
        self.request_persist();
        self.last_dose_mj_cm2 = delivered;
        let enough = delivered as f32 >= COMPLETED_FRACTION * s.program.target_mj_cm2 as f32;
        self.phase = match end {
            SessionEnd::TargetReached => Phase::Completed(end),
            SessionEnd::TimeLimit if enough => Phase::Completed(end),
            SessionEnd::Fault => Phase::Fault,
            _ => Phase::Stopped(end),
        };
    }

    fn request_persist(&mut self) -> u32 {
        self.next_persist_ms = self.uptime_ms + UPTIME_PERSIST_MS;
        self.writer.request()
    }

    /// Duty factor per channel from the contact, junction and covered derating.
    fn duty_factors(
        &mut self,
        temps: &Temps,
        junction_c: &[f32; MAX_CHANNELS],
        sense: &StringSense,
        elapsed: u32,
    ) -> ([f32; MAX_CHANNELS], bool) {
        let cal = self.cal;
        let tick = self.tick;
        let hysteresis_k = self.variant.derate_hysteresis_k();
        let Some(s) = self.session.as_mut() else {
            return ([0.0; MAX_CHANNELS], false);
        };
        let contact = temps.contact_max().map_or(1.0, thermal::contact_derate);
        let heat_w = sense.total_heat_w;
        let covered = match temps.board {
            Some(b) => {
                // A contact device is heat-sunk into the skin: its board runs at skin temperature
                // plus its own rise, so the skin (the contact NTCs) is the reference.
                let a = tick.covered_gain(elapsed, cal.board_tau_s);
                s.covered.update_with_gain(
                    hysteresis_k,
                    a,
                    heat_w,
                    cal.board_r_th_k_per_w,
                    b,
                    temps.contact_max(),
                )
            }
            None => s.covered.covered,
        };
        let cover = if covered {
            LIMITS.covered_duty_factor
        } else {
            1.0
        };
        let mut f = [0.0; MAX_CHANNELS];
        for (c, ch) in cal.channels.iter().enumerate() {
            if ch.is_some() {
                f[c] = contact * tick.junction_ramps[c].derate(junction_c[c]) * cover;
            }
        }
        (f, covered)
    }

    /// The command for `duty_factor`, and whether a channel the program drives is derated (for
    /// the warning: both need the treating phase and the program's channels).
    fn drive(&self, duty_factor: [f32; MAX_CHANNELS]) -> (Command, bool) {
        let Some(s) = self
            .session
            .as_ref()
            .filter(|_| self.phase == Phase::Treating)
        else {
            return (Command::default(), false);
        };
        let program = s.program;
        // The channels the program drives on this device have a current; the others stay at 0.
        let current_ma = s.drive_current_ma;
        // The duties made whole from per-channel values rather than element by element into a
        // `Command` in memory: assembled by 16-bit stores, the command was copied on by a 64-bit
        // load that waited for them (a store-forwarding stall, 7 % of the step's samples).
        let duty_permille = core::array::from_fn(|c| {
            if current_ma[c] == 0 {
                return 0;
            }
            let factor = duty_factor[c];
            // `roundf(..) as u16`: the duty never exceeds 1000 ‰, the clamp keeps the cast's
            // saturation for any factor.
            // A factor of exactly 1 (no derating, the usual case) keeps the integer duty:
            // `roundf(d · 1.0) = d` for any u16 `d`.
            let duty = if factor == 1.0 {
                u32::from(program.duty_permille[c])
            } else {
                round_to_u32(f32::from(program.duty_permille[c]) * factor)
            };
            duty.min(u32::from(u16::MAX)) as u16
        });
        // Any channel the program drives, fitted or not.
        let derated = program
            .current_ma
            .iter()
            .zip(duty_factor)
            .any(|(&i, factor)| i != 0 && factor < 1.0);
        let cmd = Command {
            duty_permille,
            current_ma,
            hw_enable: true,
        };
        (cmd, derated)
    }

    /// The contact-temperature warning after this step's `temps`, with its hysteresis (the last
    /// warning holds between the two thresholds); both step paths add their other reasons (the
    /// covered verdict, a driven channel derated, [`Self::drive`]) before storing it.
    #[inline(always)]
    fn contact_warning(&self, temps: &Temps) -> bool {
        let t = temps.contact_max().unwrap_or(f32::NEG_INFINITY);
        if t >= LIMITS.warn_on_c {
            true
        } else if t < LIMITS.warn_off_c {
            false
        } else {
            self.warning
        }
    }

    fn indicator(&self) -> Indicator {
        match self.phase {
            Phase::Idle | Phase::Completed(_) | Phase::Stopped(_) => Indicator::Ready,
            Phase::Arming { .. } | Phase::Treating if self.warning => Indicator::Warning,
            Phase::Arming { .. } | Phase::Treating => Indicator::Treating,
            Phase::Paused { .. } => Indicator::Paused,
            Phase::Refused(_) => Indicator::Refused,
            Phase::Fault => Indicator::Fault,
        }
    }

    fn next_wake(&self, now: u64) -> u32 {
        let busy = self.writer.busy() || self.buttons.settling() || self.candidate.is_some();
        match self.phase {
            Phase::Arming { .. } | Phase::Treating => TREAT_TICK_MS,
            _ if busy => TREAT_TICK_MS,
            Phase::Paused { .. } => PAUSE_WAKE_MS,
            Phase::Fault => IDLE_WAKE_MS,
            _ => self
                .next_persist_ms
                .saturating_sub(now)
                .clamp(u64::from(TREAT_TICK_MS), u64::from(IDLE_WAKE_MS)) as u32,
        }
    }
}

/// Whether [`ntc::read`] gives `Celsius(c)` for `counts`, as `==` compares the readings. The
/// bit test is the same verdict (the table holds no NaN, the one value `==` denies its own bits;
/// a test checks every code) and lets the compiler decide it at build time when `c` is itself
/// that reading (the reference variant): 4.8 fewer instructions a step in the runner week.
#[inline(always)]
fn reads_as_reference(counts: u16, c: f32) -> bool {
    match ntc::read(counts) {
        NtcReading::Celsius(r) => r.to_bits() == c.to_bits() || r == c,
        _ => false,
    }
}

/// Average string current, mA.
fn string_ma(adc: &AdcFrame, s: usize) -> f32 {
    current_code_ma(adc.string_current[s])
}

/// String voltage while driven, mV.
fn string_mv(adc: &AdcFrame, s: usize) -> f32 {
    voltage_code_mv(adc.string_voltage[s])
}

/// A string current sense code in mA: the one conversion the string checks and their code
/// thresholds ([`StringScreen`]) share, so the thresholds stay exact.
#[inline]
const fn current_code_ma(code: u16) -> f32 {
    code as f32 * hw::CURRENT_SENSE_FULL_SCALE_MA / hw::ADC_MAX as f32
}

/// A string voltage sense code in mV (see [`current_code_ma`]).
#[inline]
const fn voltage_code_mv(code: u16) -> f32 {
    code as f32 * hw::STRING_VOLTAGE_FULL_SCALE_MV / hw::ADC_MAX as f32
}

/// Current codes per mA, to guess a current threshold's code (the walk of
/// [`first_code_from`] makes it exact).
const CURRENT_CODES_PER_MA: f32 = hw::ADC_MAX as f32 / hw::CURRENT_SENSE_FULL_SCALE_MA;

/// Voltage codes per mV, to guess a voltage threshold's code and for [`pair_slack_codes`].
const VOLTAGE_CODES_PER_MV: f32 = hw::ADC_MAX as f32 / hw::STRING_VOLTAGE_FULL_SCALE_MV;

#[cfg(test)]
mod tests {
    use super::*;

    /// What makes [`reads_as_reference`]'s bit test exact: no code reads as NaN.
    #[test]
    fn no_ntc_code_reads_as_nan() {
        for counts in 0..=u16::MAX {
            if let NtcReading::Celsius(c) = ntc::read(counts) {
                assert!(!c.is_nan(), "code {counts}");
                assert!(reads_as_reference(counts, c));
            }
        }
    }

    #[test]
    fn the_code_search_from_a_guess_finds_the_boundary_from_anywhere() {
        for boundary in [0u32, 1, 2, 7, 1000, 4095, 4096, 65_535, NO_CODE] {
            let holds = |code: u16| u32::from(code) >= boundary;
            for guess in [
                0.0f32,
                0.4,
                1.0,
                999.0,
                4095.7,
                65_535.0,
                70_000.0,
                -3.0,
                f32::NAN,
            ] {
                assert_eq!(
                    first_code_from(guess, holds),
                    boundary,
                    "boundary {boundary}, guess {guess}"
                );
            }
        }
    }
    use crate::device::CALIBRATION;
    use crate::faults::StringSample;

    /// A small deterministic generator for the codes of the tests below (64-bit LCG, Knuth's
    /// MMIX constants): reproducible without a dependency.
    struct Codes(u64);

    impl Codes {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) as u32
        }

        /// A code within `spread` of `around` (clamped to the `u16` lane).
        fn near(&mut self, around: u32, spread: u32) -> u16 {
            let offset = i64::from(self.next() % (2 * spread + 1)) - i64::from(spread);
            (i64::from(around) + offset).clamp(0, 65_535) as u16
        }
    }

    /// The string sense as it was computed string by string over the fitted strings only.
    fn sense_string_by_string(adc: &AdcFrame, cal: &DeviceCalibration) -> StringSense {
        let mut sense = StringSense::default();
        for (c, ch) in cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            let strings = cal.strings_of(c);
            let n = strings.len() as f32;
            let leds = f32::from(ch.leds_per_string);
            for st in strings {
                let ma = string_ma(adc, st);
                let mv = string_mv(adc, st);
                let heat_w = ma * mv / 1.0e6 * (1.0 - ch.wpe);
                sense.mv[st] = mv;
                sense.heat_per_led_w[c] += heat_w / leds / n;
                sense.total_heat_w += heat_w;
            }
        }
        sense
    }

    /// The four-lane sense is the string-by-string loop bit for bit, for every class, on codes
    /// over the whole lane (zeros, the ADC range, the `u16` end) and around typical operation.
    #[test]
    fn string_sense_is_the_string_by_string_loop() {
        let mut codes = Codes(7);
        let mut compared = 0u32;
        for cal in &CALIBRATION {
            let k = StringConstants::new(cal);
            // What lets the sums start from their first term: no lane's heat can be −0.0; and
            // what keeps the one division exact: a fitted string's heat is far from subnormal.
            assert!(k.heat_fraction.iter().all(|&h| h >= 0.0), "{:?}", cal.class);
            for (c, ch) in cal.channels.iter().enumerate() {
                if ch.is_some() {
                    let strings = cal.strings_of(c);
                    assert!(strings.clone().all(|s| k.heat_fraction[s] > 1.0e-20));
                }
            }
            for round in 0..20_000 {
                let mut adc = AdcFrame::default();
                for s in 0..MAX_STRINGS {
                    let (current, voltage) = match round % 4 {
                        0 => (0, 0),
                        1 => (codes.near(32_768, 32_768), codes.near(32_768, 32_768)),
                        2 => (codes.near(200, 200), codes.near(2000, 2000)),
                        _ => (codes.near(2048, 2048), codes.near(2048, 2048)),
                    };
                    adc.string_current[s] = current;
                    adc.string_voltage[s] = voltage;
                }
                let got = StringSense::sample(&adc, &k);
                let want = sense_string_by_string(&adc, cal);
                let bits = |x: &StringSense| {
                    (x.heat_per_led_w.map(f32::to_bits), x.total_heat_w.to_bits())
                };
                assert_eq!(bits(&got), bits(&want), "{:?} {adc:?}", cal.class);
                for st in (0..MAX_CHANNELS).flat_map(|c| cal.strings_of(c)) {
                    assert_eq!(got.mv[st].to_bits(), want.mv[st].to_bits());
                }
                compared += 1;
            }
        }
        assert_eq!(compared, 20_000 * CALIBRATION.len() as u32);
    }

    /// The largest sample's excess screens the hot-spot drop test: whenever some sample's
    /// excess fell by more than the drop, the largest one's did, on excesses around the drop's
    /// edge (to units in the last place), large, and non-finite, with samples missing.
    #[test]
    fn spot_excess_max_screens_every_sample() {
        let mut codes = Codes(5);
        let mut edge = [0.0f32; 40];
        for (k, e) in edge.iter_mut().enumerate() {
            *e = f32::from_bits(SPOT_DROP_K.to_bits() - 20 + k as u32);
        }
        let specials = [
            0.0,
            -0.0,
            1.0e30,
            -1.0e30,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        let pick = |codes: &mut Codes| -> f32 {
            match codes.next() % 4 {
                0 => specials[codes.next() as usize % specials.len()],
                1 => edge[codes.next() as usize % edge.len()] - 1.5,
                _ => codes.near(4000, 4000) as f32 / 500.0 - 4.0,
            }
        };
        let (mut screened, mut dropped) = (0u32, 0u32);
        for _ in 0..200_000 {
            let mut spot = [None; SPOT_SAMPLES];
            for sample in &mut spot {
                if !codes.next().is_multiple_of(5) {
                    *sample = Some(SpotSample {
                        excess_k: pick(&mut codes),
                        spot_c: 35.0,
                        duty: 500,
                        min_duty_since: 500,
                    });
                }
            }
            let now = pick(&mut codes);
            let any = spot
                .iter()
                .flatten()
                .any(|was| was.excess_k - now > SPOT_DROP_K);
            if spot_excess_max_k(&spot) - now > SPOT_DROP_K {
                dropped += u32::from(any);
            } else {
                assert!(!any, "{spot:?} now {now}");
                screened += 1;
            }
        }
        assert!(
            screened > 10_000 && dropped > 10_000,
            "{screened} {dropped}"
        );
    }

    /// A duty not below the samples' largest `min_duty_since` lowers none of them (the tick's
    /// screen), and one below it lowers some: on sample sets with gaps and duties around them.
    #[test]
    fn spot_min_duty_max_screens_every_sample() {
        let mut codes = Codes(11);
        let (mut screened, mut lowered) = (0u32, 0u32);
        for _ in 0..100_000 {
            let mut spot = [None; SPOT_SAMPLES];
            for sample in &mut spot {
                if !codes.next().is_multiple_of(4) {
                    let min_duty_since = codes.near(500, 20);
                    *sample = Some(SpotSample {
                        excess_k: 1.0,
                        spot_c: 35.0,
                        duty: 520,
                        min_duty_since,
                    });
                }
            }
            let duty = codes.near(500, 25);
            let mut updated = spot;
            for sample in updated.iter_mut().flatten() {
                sample.min_duty_since = sample.min_duty_since.min(duty);
            }
            if duty < spot_min_duty_max(&spot) {
                assert_ne!(updated, spot, "duty {duty}");
                lowered += 1;
            } else {
                assert_eq!(updated, spot, "duty {duty}");
                screened += 1;
            }
        }
        assert!(
            screened > 10_000 && lowered > 10_000,
            "{screened} {lowered}"
        );
    }

    /// The output frame's treating shortcut gives what the phase's own functions give, with
    /// the warning on and off, the writer idle and busy, and a fault candidate or none.
    #[test]
    fn treating_frame_fields_are_the_phase_functions() {
        let mut compared = 0;
        for cal in &CALIBRATION {
            // A blank NVM makes the writer busy with the genesis record; a step later it is not.
            let mut fw = Firmware::boot(cal.class, &[0xFF; NVM_SIZE]);
            for round in 0..8 {
                fw.phase = Phase::Treating;
                fw.warning = round % 2 == 0;
                fw.candidate = (round % 4 < 2).then_some((
                    Fault {
                        kind: FaultKind::NtcOpen,
                        index: 0,
                    },
                    0,
                ));
                let now = fw.uptime_ms;
                let out = fw.outputs(Command::default(), None, 0, now);
                assert_eq!(out.indicator, fw.indicator());
                assert_eq!(out.next_wake_ms, fw.next_wake(now));
                assert_eq!(out.state, fw.phase.session_state() as u8);
                assert_eq!(out.detail, fw.phase.detail());
                compared += 1;
                if round == 3 {
                    let mut input = InputFrame::default();
                    input.adc.contact_ntc = [2000; MAX_CONTACT_NTCS];
                    input.adc.board_ntc = 2000;
                    fw.phase = Phase::Idle;
                    fw.step(&input);
                }
            }
        }
        assert_eq!(compared, 8 * CALIBRATION.len());
    }

    /// The pair test's slack holds for every pair of codes that far apart, on every two-string
    /// channel of every class: the test cannot fail within it (a computed difference grows with
    /// the code difference, so the pairs exactly the slack apart are the worst).
    #[test]
    fn pair_slack_never_hides_a_pair_fault() {
        let mut channels = 0;
        for cal in &CALIBRATION {
            let screen = StringScreen::new(Command::default(), cal);
            for (c, ch) in cal.channels.iter().enumerate() {
                let Some(ch) = ch else { continue };
                if cal.strings_of(c).len() != 2 {
                    assert_eq!(screen.checked_pair_slack_codes[c], u32::MAX);
                    continue;
                }
                let limit = faults::PAIR_SHORT_FRACTION * f32::from(ch.vf_min_mv);
                let slack = screen.checked_pair_slack_codes[c];
                // Meaningful: the slack covers tens of codes of ordinary string mismatch.
                assert!(slack > 10, "{:?} channel {c}: {slack}", cal.class);
                let mut adc = AdcFrame::default();
                for low in 0..=(65_535 - slack) {
                    adc.string_voltage[0] = low as u16;
                    adc.string_voltage[1] = (low + slack) as u16;
                    let (a, b) = (string_mv(&adc, 0), string_mv(&adc, 1));
                    assert!(
                        b - a <= limit && a - b <= limit,
                        "{:?} channel {c} codes {low} + {slack}",
                        cal.class
                    );
                }
                channels += 1;
            }
        }
        assert!(channels >= 8, "{channels}");
    }

    /// Writes a command at each fitted channel's nominal current for each of `duties` into
    /// `commands` from index `n`; returns the index after the last.
    fn push_nominal_commands(
        cal: &crate::device::DeviceCalibration,
        duties: &[u16],
        commands: &mut [Command],
        mut n: usize,
    ) -> usize {
        for ch in cal.channels.iter().flatten() {
            for &duty in duties {
                commands[n] = Command {
                    duty_permille: [duty; MAX_CHANNELS],
                    current_ma: [ch.nominal_ma; MAX_CHANNELS],
                    hw_enable: true,
                };
                n += 1;
            }
        }
        n
    }

    /// When the lane screen finds every string clear, the checks in string order find no
    /// fault, for every class and command, on codes around every threshold; and frames with
    /// faults do occur among them (so the screen is not vacuously clear).
    #[test]
    fn all_clear_means_no_string_fault() {
        let mut codes = Codes(11);
        let mut faulty = 0u32;
        let mut clear = 0u32;
        for cal in &CALIBRATION {
            let mut fw = Firmware::boot(cal.class, &[0xFF; NVM_SIZE]);
            let mut commands = [Command::default(); 12];
            let mut n = 1;
            n = push_nominal_commands(cal, &[1, 99, 250, 731, 1000], &mut commands, n);
            for &command in &commands[..n] {
                fw.command = command;
                fw.string_screen = StringScreen::new(command, cal);
                let screen = fw.string_screen;
                for _ in 0..4_000 {
                    let mut adc = AdcFrame::default();
                    for s in 0..MAX_STRINGS {
                        let c = s / STRINGS_PER_CHANNEL;
                        let current_at = [
                            screen.over_code[c].min(65_535),
                            screen.open_code[c],
                            screen.expected_ma[c] as u32 * 2,
                        ];
                        let voltage_at = [
                            screen.short_code[c],
                            screen.open_voltage_code,
                            screen.compliance_code,
                        ];
                        let i = codes.next() as usize % 3;
                        let j = codes.next() as usize % 3;
                        adc.string_current[s] = codes.near(current_at[i], 3);
                        adc.string_voltage[s] = codes.near(voltage_at[j], 3);
                    }
                    if codes.next().is_multiple_of(4) {
                        // A pair apart by about the slack: the pair test's edge.
                        let slack = screen.checked_pair_slack_codes[0].min(4000);
                        let low = u32::from(adc.string_voltage[0]);
                        adc.string_voltage[1] = codes.near(low + slack, 4);
                    }
                    let sense = StringSense::sample(&adc, &fw.string_constants);
                    let in_order = fw.find_string_fault_in_order(&adc, &sense);
                    if screen.all_clear(&adc) {
                        assert_eq!(in_order, None, "{:?} {command:?} {adc:?}", cal.class);
                        clear += 1;
                    }
                    faulty += u32::from(in_order.is_some());
                }
            }
        }
        assert!(faulty > 1000 && clear > 1000, "{faulty} {clear}");
    }

    /// The screen decides as [`faults::check_string`] on the converted codes, for every class,
    /// commands from off to over nominal, and every code of one lane against codes on and
    /// around the other lane's thresholds.
    #[test]
    fn string_screen_is_check_string() {
        let mut compared = 0u32;
        for cal in &CALIBRATION {
            let rail_mv = f32::from(cal.led_rail_mv);
            // Off; fixed currents (zero, below and around MIN_CHECKED_MA expected, 200 mA);
            // each fitted channel's nominal current at several duties.
            let mut commands = [Command::default(); 14];
            let mut n = 1;
            for (current_ma, duty) in [(0, 1000), (200, 0), (30, 500), (200, 99), (200, 100)] {
                commands[n] = Command {
                    duty_permille: [duty; MAX_CHANNELS],
                    current_ma: [current_ma; MAX_CHANNELS],
                    hw_enable: true,
                };
                n += 1;
            }
            n = push_nominal_commands(cal, &[1, 250, 731, 1000], &mut commands, n);
            for &command in &commands[..n] {
                let screen = StringScreen::new(command, cal);
                for (c, ch) in cal.channels.iter().enumerate() {
                    let Some(ch) = ch else { continue };
                    if !command.hw_enable {
                        assert_eq!(screen.over_code[c], STUCK_ON_CODE, "{:?}", cal.class);
                    }
                    // The rails and each threshold's code, the one below and the one above.
                    let mut probes = [0u16; 19];
                    probes[..4].copy_from_slice(&[0, 1, hw::ADC_MAX, u16::MAX]);
                    let mut p = 4;
                    for t in [
                        screen.over_code[c],
                        screen.open_code[c],
                        screen.short_code[c],
                        screen.open_voltage_code,
                        screen.compliance_code,
                    ] {
                        for d in [-1i64, 0, 1] {
                            probes[p] = (i64::from(t) + d).clamp(0, 65535) as u16;
                            p += 1;
                        }
                    }
                    let adc = |current: u16, voltage: u16| {
                        let mut adc = AdcFrame::default();
                        adc.string_current[0] = current;
                        adc.string_voltage[0] = voltage;
                        adc
                    };
                    let mut judge = |current: u16, voltage: u16| {
                        let a = adc(current, voltage);
                        let sample = StringSample {
                            expected_ma: screen.expected_ma[c],
                            measured_ma: string_ma(&a, 0),
                            voltage_mv: string_mv(&a, 0),
                        };
                        assert_eq!(
                            screen.check(c, current, voltage),
                            faults::check_string(&sample, ch, rail_mv),
                            "{:?} {command:?} channel {c} codes {current}/{voltage}",
                            cal.class
                        );
                        assert_eq!(
                            screen.below_compliance(voltage),
                            sample.voltage_mv < faults::OPEN_VOLTAGE_FRACTION * rail_mv,
                            "{:?} voltage code {voltage}",
                            cal.class
                        );
                        compared += 1;
                    };
                    for code in 0..=hw::ADC_MAX + 64 {
                        for &p in &probes {
                            judge(code, p);
                            judge(p, code);
                        }
                    }
                }
            }
        }
        // Every class has a fitted channel: the loops above did run.
        assert!(compared > 1_000_000, "{compared}");
    }
}
