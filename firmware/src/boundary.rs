//! The firmware boundary: plain data frames at the level of electrical signals.
//!
//! These frames are what a HIL rig sees on the pins of the device's microcontroller. The
//! in-process adapter, the process/TCP transport and the serial transport all carry exactly these
//! frames, unchanged. Units are in the field names (`_ms`, `_ma`, `_permille`, counts are raw ADC
//! codes) because this is an integer boundary.
//!
//! The electrical design behind the counts (dividers, sense resistors, ADC width) is described by
//! [`hw`]: it is the schematic that both the plant's sensor model and the firmware are written
//! from.

/// Number of LED channels (wavelength groups) a device can have: red and NIR.
pub const MAX_CHANNELS: usize = 2;
/// Parallel LED strings per channel; each string has its own constant-current sink and sense.
pub const STRINGS_PER_CHANNEL: usize = 2;
/// Total LED strings; string `s` belongs to channel `s / STRINGS_PER_CHANNEL`.
pub const MAX_STRINGS: usize = MAX_CHANNELS * STRINGS_PER_CHANNEL;
/// Contact (skin-side) NTC thermistors a device can have.
pub const MAX_CONTACT_NTCS: usize = 2;
/// Size of the non-volatile memory image, bytes.
pub const NVM_SIZE: usize = 256;
/// Largest single NVM write, bytes (one record).
pub const NVM_WRITE_MAX: usize = 64;

/// The electrical design the counts are defined by (the schematic). Plant and firmware share it
/// by reading the same numbers, as a board and its firmware share a schematic.
pub mod hw {
    /// ADC resolution, bits; full scale is `ADC_MAX` counts.
    pub const ADC_BITS: u32 = 12;
    /// Largest ADC code.
    pub const ADC_MAX: u16 = (1 << ADC_BITS) - 1;
    /// NTC divider: NTC to ground, fixed resistor to the ratiometric reference (domain.md §6.5).
    pub const NTC_R_FIXED_OHM: f32 = 10_000.0;
    /// NTC nominal resistance at 25 °C (domain.md §6.5, 10k/B3950 typical part).
    pub const NTC_R25_OHM: f32 = 10_000.0;
    /// NTC Beta constant, K (domain.md §6.5).
    pub const NTC_BETA_K: f32 = 3950.0;
    /// String current sense: full scale of the ADC in mA (sense resistor + amplifier).
    pub const CURRENT_SENSE_FULL_SCALE_MA: f32 = 2_000.0;
    /// String voltage sense: full scale of the ADC in mV (resistive divider).
    pub const STRING_VOLTAGE_FULL_SCALE_MV: f32 = 40_000.0;
    /// Supply voltage sense: full scale of the ADC in mV.
    pub const SUPPLY_FULL_SCALE_MV: f32 = 30_000.0;
}

/// Raw ADC codes sampled this step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdcFrame {
    /// Contact NTCs through their dividers (`hw::NTC_*`); unused sensors read 0.
    pub contact_ntc: [u16; MAX_CONTACT_NTCS],
    /// LED board NTC through its divider.
    pub board_ntc: u16,
    /// Average (PWM-filtered) current of each string, `hw::CURRENT_SENSE_FULL_SCALE_MA` at full scale.
    pub string_current: [u16; MAX_STRINGS],
    /// Voltage across each string while driven, `hw::STRING_VOLTAGE_FULL_SCALE_MV` at full scale;
    /// reads near full scale when a string is open (the sink is at compliance).
    pub string_voltage: [u16; MAX_STRINGS],
    /// Supply voltage, `hw::SUPPLY_FULL_SCALE_MV` at full scale.
    pub supply: u16,
}

/// Button bits in [`InputFrame::buttons`] (level, pressed = 1; the firmware debounces and finds edges).
pub mod buttons {
    /// Start, or resume after a pause.
    pub const START: u8 = 1 << 0;
    /// Pause the running session (dose so far is kept).
    pub const PAUSE: u8 = 1 << 1;
    /// Stop the session.
    pub const STOP: u8 = 1 << 2;
}

/// Everything the firmware reads in one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputFrame {
    /// Milliseconds since boot; wraps at `u32::MAX` like a microcontroller tick counter.
    pub now_ms: u32,
    /// Sampled analogue inputs.
    pub adc: AdcFrame,
    /// Button levels ([`buttons`]).
    pub buttons: u8,
    /// Program selector position (index into the device's program table).
    pub program: u8,
    /// Skin-contact / proximity sensor (pens, wraps, pads): true when on the skin.
    pub skin_contact: bool,
    /// Eye-shield detect (masks): true when the shields are fitted.
    pub eye_shield: bool,
    /// Fan tachometer healthy (panels); true on devices without a fan.
    pub fan_ok: bool,
    /// Distance sensor reading (panels with a time-of-flight sensor), mm; 0 when absent.
    pub distance_mm: u16,
}

/// Indicator output (LED ring / beeper pattern).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Indicator {
    /// Nothing shown.
    #[default]
    Off = 0,
    /// Ready / idle.
    Ready = 1,
    /// Treating.
    Treating = 2,
    /// Paused.
    Paused = 3,
    /// Warning (warm, derating).
    Warning = 4,
    /// Request refused (cap, hot skin, ambient).
    Refused = 5,
    /// Latched fault.
    Fault = 6,
}

/// One write to non-volatile memory, applied by the plant in order after the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmWrite {
    /// Byte offset into the NVM image.
    pub offset: u16,
    /// Number of valid bytes in `data`.
    pub len: u8,
    /// Data; only the first `len` bytes are written.
    pub data: [u8; NVM_WRITE_MAX],
}

impl NvmWrite {
    /// The bytes to be written.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len).min(NVM_WRITE_MAX)]
    }
}

/// Everything the firmware drives in one step, plus what the trace records of its view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputFrame {
    /// PWM duty per channel, 0..=1000 ‰.
    pub duty_permille: [u16; MAX_CHANNELS],
    /// Constant-current set-point per string of each channel, mA.
    pub current_ma: [u16; MAX_CHANNELS],
    /// Independent hardware enable of the LED drivers (second switch); false cuts all current.
    pub hw_enable: bool,
    /// Indicator output.
    pub indicator: Indicator,
    /// At most one NVM write this step.
    pub nvm_write: Option<NvmWrite>,
    /// Milliseconds until the firmware next needs to run (it is also run whenever an input changes).
    pub next_wake_ms: u32,
    /// Session state as a standard [`SessionState`] code (the bench holds the firmware to it).
    pub state: u8,
    /// Firmware-specific detail state for the trace (its own state machine; free-form).
    pub detail: u8,
    /// Firmware's own estimate of the session's delivered zone-mean fluence, mJ/cm².
    pub dose_estimate_mj_cm2: u32,
    /// Latched fault code, 0 when none (firmware-defined).
    pub fault_code: u16,
}

/// Standard session-state codes for [`OutputFrame::state`].
///
/// The bench judges properties on plant truth, but it needs to know what the firmware *claims*
/// (a session completed, a request refused) to hold it to that claim: a firmware that reports
/// `Completed` must have delivered the program's dose; one that reports `Refused` must not emit.
/// Every firmware, in-process or over a transport, reports one of these codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SessionState {
    /// Booting or unpowered; nothing to report.
    #[default]
    Off = 0,
    /// Ready, no session.
    Idle = 1,
    /// A session is running and may emit.
    Treating = 2,
    /// A session is paused; its dose so far is kept.
    Paused = 3,
    /// The last session ended because it delivered its program's dose or reached its timer.
    Completed = 4,
    /// The last request was refused (cap, hot skin, ambient, interlock); nothing was emitted.
    Refused = 5,
    /// The last session was ended early: user stop, contact lost, thermal cut-off, cap reached.
    Stopped = 6,
    /// A fault is latched; emission is off until power cycle.
    Fault = 7,
}

impl SessionState {
    /// Decode a wire code; `None` for codes outside the standard set.
    pub fn from_code(code: u8) -> Option<SessionState> {
        Some(match code {
            0 => SessionState::Off,
            1 => SessionState::Idle,
            2 => SessionState::Treating,
            3 => SessionState::Paused,
            4 => SessionState::Completed,
            5 => SessionState::Refused,
            6 => SessionState::Stopped,
            7 => SessionState::Fault,
            _ => return None,
        })
    }
}
