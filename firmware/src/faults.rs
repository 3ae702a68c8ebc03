//! Fault codes and the sensor/actuator fault checks of domain.md §6.3.
//!
//! Every confirmed fault has the same reaction: emission off (duty 0, current 0, hardware enable
//! low), the fault latched until power cycle, its code in [`crate::boundary::OutputFrame::fault_code`].
//! The checks here are pure functions of one sample; persistence (a fault must hold for
//! [`CONFIRM_MS`]) and the time-window checks (stuck, disagreement) live in the state machine.
//!
//! Fault code layout (u16): high byte [`FaultKind`], low byte the index of the part: contact NTC
//! 0–1, [`BOARD_NTC`] for the board NTC, [`NTC_PAIR`] for a disagreement between the two contact
//! NTCs, boundary string 0–3 for LED strings, 0 when there is no part.

use crate::device::ChannelCalibration;

/// What kind of fault is latched (high byte of the fault code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum FaultKind {
    /// NTC code at the top rail (open sensor).
    NtcOpen = 1,
    /// NTC code at the bottom rail (shorted sensor).
    NtcShort = 2,
    /// NTC reading out of physical range, changing faster than 5 K/s, disagreeing with its twin by
    /// > 5 K, or reading > 5 K below ambient while treating (domain.md §6.3).
    NtcImplausible = 3,
    /// Contact NTC did not move > 0.1 K in the first 5 min of emission while the board heated by
    /// ≥ 1 K (domain.md §6.3 "no change while P_heat > threshold").
    NtcStuck = 4,
    /// LED string open: current < 50 % of set-point with the sink at compliance (domain.md §6.3).
    StringOpen = 5,
    /// LED string with shorted LEDs: voltage too low (domain.md §6.3).
    StringShort = 6,
    /// String current > set-point + 20 % (domain.md §6.3 driver over-current).
    StringOverCurrent = 7,
    /// String current while commanded off (domain.md §6.3 driver stuck on); the hardware enable
    /// is dropped.
    DriverStuckOn = 8,
    /// Contact temperature at the latch threshold or rising too fast (domain.md §6.2 latch).
    OverTemperature = 9,
    /// Panel fan tachometer absent while treating (domain.md §6.3 fan failure).
    FanFailure = 10,
}

impl FaultKind {
    /// True for faults that leave the firmware without a trustworthy temperature: while one is
    /// being confirmed the duty is zeroed. LED-string faults are confirmed with the drive left
    /// as it was, since their evidence (current against command) vanishes when the drive stops.
    pub fn blinds_temperature(self) -> bool {
        matches!(
            self,
            FaultKind::NtcOpen
                | FaultKind::NtcShort
                | FaultKind::NtcImplausible
                | FaultKind::NtcStuck
                | FaultKind::OverTemperature
        )
    }
}

/// Fault part index of the board NTC.
pub const BOARD_NTC: u8 = 2;
/// Fault part index for the pair of contact NTCs (disagreement).
pub const NTC_PAIR: u8 = 3;

/// A latched fault: its kind and the part it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Kind.
    pub kind: FaultKind,
    /// Part index (module docs).
    pub index: u8,
}

impl Fault {
    /// The wire code: `kind << 8 | index`; never 0.
    pub fn code(self) -> u16 {
        u16::from(self.kind as u8) << 8 | u16::from(self.index)
    }
}

/// A fault condition must hold this long (on at least two samples) before it latches, ms.
///
/// Long enough to ride out a single glitched ADC sample and the one-tick lag of the current
/// sense behind a command change; short against the 1 s fault.safe reaction budget (the
/// firmware wakes every 10 ms while a fault is suspected).
pub const CONFIRM_MS: u64 = 30;

/// Average string current below which string checks are skipped, mA: at 0.49 mA per count
/// (`hw::CURRENT_SENSE_FULL_SCALE_MA` / 4095) a ratio test needs a few tens of counts.
pub const MIN_CHECKED_MA: f32 = 20.0;
/// Current above which a string commanded off counts as driven, mA (≈ 40 counts).
pub const STUCK_ON_MA: f32 = 20.0;
/// Open string: measured below this fraction of the expected current (domain.md §6.3) ...
pub const OPEN_CURRENT_FRACTION: f32 = 0.5;
/// ... with the string voltage above this fraction of the LED rail (sink at compliance).
pub const OPEN_VOLTAGE_FRACTION: f32 = 0.9;
/// Over-current: measured above this multiple of the expected current (domain.md §6.3: + 10–20 %)
/// ...
pub const OVER_CURRENT_FACTOR: f32 = 1.2;
/// ... plus this allowance for the sense quantisation and offset, mA.
pub const OVER_CURRENT_MARGIN_MA: f32 = 10.0;

/// One string's sample against what it was commanded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StringSample {
    /// Average current the driver was commanded to (set-point × duty, 0 when off), mA.
    pub expected_ma: f32,
    /// Average current measured, mA.
    pub measured_ma: f32,
    /// Voltage across the string while driven, mV.
    pub voltage_mv: f32,
}

/// Which §6.3 string fault (if any) one sample shows. `led_rail_mv` is the rail an open string's
/// voltage sense reads; `ch` gives the LED count and V_F,min for the short test.
#[inline]
pub fn check_string(
    s: &StringSample,
    ch: &ChannelCalibration,
    led_rail_mv: f32,
) -> Option<FaultKind> {
    if s.expected_ma <= 0.0 {
        return (s.measured_ma > STUCK_ON_MA).then_some(FaultKind::DriverStuckOn);
    }
    if s.measured_ma > s.expected_ma * OVER_CURRENT_FACTOR + OVER_CURRENT_MARGIN_MA {
        return Some(FaultKind::StringOverCurrent);
    }
    if s.expected_ma < MIN_CHECKED_MA {
        return None;
    }
    if s.measured_ma < s.expected_ma * OPEN_CURRENT_FRACTION
        && s.voltage_mv > OPEN_VOLTAGE_FRACTION * led_rail_mv
    {
        return Some(FaultKind::StringOpen);
    }
    if s.voltage_mv < short_threshold_mv(ch) {
        return Some(FaultKind::StringShort);
    }
    None
}

/// Shorted-LED threshold of one string, mV: `(n − ½) · V_F,min` (domain.md §6.3
/// "V_string < N·V_F,min − margin", the margin half an LED).
#[inline]
pub fn short_threshold_mv(ch: &ChannelCalibration) -> f32 {
    (f32::from(ch.leds_per_string) - 0.5) * f32::from(ch.vf_min_mv)
}

/// Parallel strings of one channel carry the same current at the same temperature, so their
/// voltages differ by far less than one LED: a difference over this fraction of V_F,min marks the
/// lower string as shorted (catches a single short that the absolute test cannot separate from
/// V_F spread in long strings).
pub const PAIR_SHORT_FRACTION: f32 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceClass, calibration};

    /// The wrap's LED rail, mV (its schematic).
    const WRAP_RAIL_MV: u16 = 38_000;

    fn check(s: StringSample, want: Option<FaultKind>) {
        let cal = calibration(DeviceClass::Wrap);
        assert_eq!(cal.led_rail_mv, WRAP_RAIL_MV);
        let ch = cal.channels[0].unwrap(); // 6 LEDs, V_F,min 1.8 V
        assert_eq!(
            check_string(&s, &ch, f32::from(WRAP_RAIL_MV)),
            want,
            "{s:?}"
        );
    }

    #[test]
    fn string_checks() {
        let s = |expected_ma, measured_ma, voltage_mv| StringSample {
            expected_ma,
            measured_ma,
            voltage_mv,
        };
        let cases = [
            (s(200.0, 199.0, 12_000.0), None),
            (s(0.0, 0.0, 0.0), None),
            (s(0.0, 15.0, 0.0), None),
            (s(0.0, 150.0, 12_000.0), Some(FaultKind::DriverStuckOn)),
            (s(200.0, 0.0, 39_000.0), Some(FaultKind::StringOpen)),
            (s(200.0, 0.0, 12_000.0), None), // low current without compliance: not an open string
            (
                s(200.0, 260.0, 12_000.0),
                Some(FaultKind::StringOverCurrent),
            ),
            (s(200.0, 245.0, 12_000.0), None),
            (s(200.0, 200.0, 9_000.0), Some(FaultKind::StringShort)), // 6 × 1.8 − 0.9 = 9.9 V
            (s(10.0, 10.0, 39_000.0), None),                          // too little current to judge
            // The thresholds are "above", not "at": exactly on them is still healthy (pins the
            // comparisons that mutation testing found unpinned).
            (s(0.0, STUCK_ON_MA, 0.0), None),
            // Below MIN_CHECKED_MA nothing is judged, at it everything is.
            (s(10.0, 0.0, 39_000.0), None),
            (
                s(MIN_CHECKED_MA, 0.0, 39_000.0),
                Some(FaultKind::StringOpen),
            ),
            // Open means below half the expected current, not at it.
            (s(200.0, 200.0 * OPEN_CURRENT_FRACTION, 39_000.0), None),
            // ... with the voltage above 90 % of the rail, not at it.
            (
                s(200.0, 0.0, OPEN_VOLTAGE_FRACTION * f32::from(WRAP_RAIL_MV)),
                None,
            ),
            // Shorted means below (6 − ½) × V_F,min, not at it.
            (
                s(
                    200.0,
                    200.0,
                    short_threshold_mv(&calibration(DeviceClass::Wrap).channels[0].unwrap()),
                ),
                None,
            ),
            (
                s(
                    200.0,
                    200.0 * OVER_CURRENT_FACTOR + OVER_CURRENT_MARGIN_MA,
                    12_000.0,
                ),
                None,
            ),
        ];
        for (sample, want) in cases {
            check(sample, want);
        }
    }

    #[test]
    fn codes() {
        assert_eq!(
            Fault {
                kind: FaultKind::NtcOpen,
                index: 1
            }
            .code(),
            0x0101
        );
        assert_eq!(
            Fault {
                kind: FaultKind::DriverStuckOn,
                index: 3
            }
            .code(),
            0x0803
        );
        assert_eq!(
            Fault {
                kind: FaultKind::FanFailure,
                index: 0
            }
            .code(),
            0x0A00
        );
    }
}
