//! A minimal ideal device for driving the firmware frame by frame: sensors read what the test
//! sets, the LED drivers do what the firmware commands (or what an injected fault makes them do),
//! and NVM writes land in an image that survives reboots.

use firmware::boundary::{InputFrame, NVM_SIZE, NvmWrite, OutputFrame, SessionState, hw};
use firmware::device::calibration;
use firmware::machine::Phase;
use firmware::ntc::counts_from_celsius;
use firmware::{DeviceClass, Firmware};

/// A typical healthy LED sits this far above the calibration's V_F,min, mV.
pub const VF_TYP_ABOVE_MIN_MV: f32 = 250.0;

/// Electrical faults the rig can put on the LED strings.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringFaults {
    /// This string is open: no current, voltage at full scale.
    pub open: Option<usize>,
    /// This string has this many shorted LEDs.
    pub shorted: Option<(usize, u8)>,
    /// This string draws 50 % more than commanded.
    pub over_current: Option<usize>,
    /// This string's driver is stuck on at nominal current, whatever the command.
    pub stuck_on: Option<usize>,
}

/// The rig.
pub struct Rig {
    /// Class under test.
    pub class: DeviceClass,
    /// The firmware.
    pub fw: Firmware,
    /// The NVM image as on the chip.
    pub nvm: [u8; NVM_SIZE],
    /// Rig time since the rig was made, ms (never wraps).
    pub t_ms: u64,
    /// Firmware counter value at the last boot.
    pub boot_now_ms: u32,
    /// Rig time of the last boot.
    pub boot_t_ms: u64,
    /// Digital inputs and selector held by the test (time and ADC are filled in by the rig).
    pub input: InputFrame,
    /// Last output.
    pub out: OutputFrame,
    /// Contact NTC temperatures, °C.
    pub contact_c: [f32; 2],
    /// Board NTC temperature, °C.
    pub board_c: f32,
    /// Raw code overrides (open / short / stuck sensors).
    pub contact_counts: [Option<u16>; 2],
    /// Raw code override of the board NTC.
    pub board_counts: Option<u16>,
    /// String faults.
    pub strings: StringFaults,
    /// Milliseconds during which any channel was driven with non-zero duty and enable.
    pub emitting_ms: u64,
    /// Every NVM write, in order.
    pub writes: Vec<NvmWrite>,
}

impl Rig {
    /// A new device (blank NVM) whose counter starts at `boot_now_ms`, stepped once.
    pub fn new(class: DeviceClass) -> Rig {
        Rig::with_nvm(class, [0xFF; NVM_SIZE], 0)
    }

    /// A device booting from `nvm` with its counter at `boot_now_ms`, stepped once.
    pub fn with_nvm(class: DeviceClass, nvm: [u8; NVM_SIZE], boot_now_ms: u32) -> Rig {
        let mut input = InputFrame {
            skin_contact: true,
            eye_shield: true,
            fan_ok: true,
            ..InputFrame::default()
        };
        if calibration(class).distance_sensor {
            input.distance_mm = 150;
        }
        let mut rig = Rig {
            class,
            fw: Firmware::boot(class, &nvm),
            nvm,
            t_ms: 0,
            boot_now_ms,
            boot_t_ms: 0,
            input,
            out: OutputFrame::default(),
            contact_c: [33.0; 2],
            board_c: 25.0,
            contact_counts: [None; 2],
            board_counts: None,
            strings: StringFaults::default(),
            emitting_ms: 0,
            writes: Vec::new(),
        };
        rig.step();
        rig
    }

    /// The firmware's counter now.
    pub fn now_ms(&self) -> u32 {
        self.boot_now_ms
            .wrapping_add((self.t_ms - self.boot_t_ms) as u32)
    }

    /// Power-cycle: boot from the NVM image as it is; the counter restarts at 0.
    pub fn reboot(&mut self) {
        self.fw = Firmware::boot(self.class, &self.nvm);
        self.boot_now_ms = 0;
        self.boot_t_ms = self.t_ms;
        self.out = OutputFrame::default();
        self.step();
    }

    /// Whether the last output drives light.
    pub fn emitting(&self) -> bool {
        self.out.hw_enable
            && self
                .out
                .duty_permille
                .iter()
                .zip(self.out.current_ma)
                .any(|(d, i)| *d > 0 && i > 0)
    }

    /// Run the firmware once at the current time.
    pub fn step(&mut self) -> OutputFrame {
        self.input.now_ms = self.now_ms();
        self.fill_adc();
        self.out = self.fw.step(&self.input);
        if let Some(w) = self.out.nvm_write {
            let at = usize::from(w.offset);
            self.nvm[at..at + w.bytes().len()].copy_from_slice(w.bytes());
            self.writes.push(w);
        }
        self.out
    }

    /// Let `dt_ms` pass with the outputs held, without running the firmware.
    pub fn advance(&mut self, dt_ms: u64) {
        if self.emitting() {
            self.emitting_ms += dt_ms;
        }
        self.t_ms += dt_ms;
    }

    /// Let `dt_ms` pass in one jump, then step (an input change after a long silence).
    pub fn jump(&mut self, dt_ms: u64) -> OutputFrame {
        self.advance(dt_ms);
        self.step()
    }

    /// Run for `ms`, waking the firmware when it asks.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.t_ms + ms;
        while self.t_ms < end {
            let dt = u64::from(self.out.next_wake_ms.max(1)).min(end - self.t_ms);
            self.advance(dt);
            self.step();
        }
    }

    /// Run until the state is `state` or `max_ms` passed; returns whether it got there.
    pub fn run_until_state(&mut self, state: SessionState, max_ms: u64) -> bool {
        let end = self.t_ms + max_ms;
        while self.t_ms < end {
            if self.out.state == state as u8 {
                return true;
            }
            let dt = u64::from(self.out.next_wake_ms.max(1)).min(end - self.t_ms);
            self.advance(dt);
            self.step();
        }
        self.out.state == state as u8
    }

    /// Press `button` for 50 ms (longer than the debounce), release, and let 50 ms pass.
    pub fn press(&mut self, button: u8) {
        self.input.buttons |= button;
        self.step();
        self.run_for(50);
        self.input.buttons &= !button;
        self.step();
        self.run_for(50);
    }

    /// Select `program` and press START.
    pub fn start(&mut self, program: u8) {
        self.input.program = program;
        self.press(firmware::boundary::buttons::START);
    }

    /// The firmware's phase.
    pub fn phase(&self) -> Phase {
        self.fw.phase()
    }

    fn fill_adc(&mut self) {
        let cal = calibration(self.class);
        let adc = &mut self.input.adc;
        for i in 0..2 {
            adc.contact_ntc[i] = if i < usize::from(cal.contact_ntcs) {
                self.contact_counts[i].unwrap_or_else(|| counts_from_celsius(self.contact_c[i]))
            } else {
                0
            };
        }
        adc.board_ntc = self
            .board_counts
            .unwrap_or_else(|| counts_from_celsius(self.board_c));
        adc.string_current = [0; 4];
        adc.string_voltage = [0; 4];
        for (c, ch) in cal.channels.iter().enumerate() {
            let Some(ch) = ch else { continue };
            for s in cal.strings_of(c) {
                let set_ma = f32::from(self.out.current_ma[c]);
                let on = self.out.hw_enable && set_ma > 0.0;
                let mut i_ma = if on {
                    set_ma * f32::from(self.out.duty_permille[c]) / 1000.0
                } else {
                    0.0
                };
                let vf = f32::from(ch.vf_min_mv) + VF_TYP_ABOVE_MIN_MV;
                let mut v_mv = if on {
                    f32::from(ch.leds_per_string) * vf
                } else {
                    0.0
                };
                if self.strings.stuck_on == Some(s) {
                    i_ma = f32::from(ch.nominal_ma);
                    v_mv = f32::from(ch.leds_per_string) * vf;
                }
                if self.strings.over_current == Some(s) {
                    i_ma *= 1.5;
                }
                if let Some((ss, k)) = self.strings.shorted
                    && ss == s
                {
                    v_mv -= f32::from(k) * vf;
                }
                if self.strings.open == Some(s) && on {
                    i_ma = 0.0;
                    v_mv = hw::STRING_VOLTAGE_FULL_SCALE_MV;
                }
                adc.string_current[s] = to_counts(i_ma, hw::CURRENT_SENSE_FULL_SCALE_MA);
                adc.string_voltage[s] = to_counts(v_mv, hw::STRING_VOLTAGE_FULL_SCALE_MV);
            }
        }
    }
}

fn to_counts(value: f32, full_scale: f32) -> u16 {
    (value / full_scale * f32::from(hw::ADC_MAX))
        .round()
        .clamp(0.0, f32::from(hw::ADC_MAX)) as u16
}

impl Rig {
    /// Move contact NTC `i` to `to_c` at `k_per_s`, stepping every 100 ms (an input change).
    pub fn ramp_contact(&mut self, i: usize, to_c: f32, k_per_s: f32) {
        let step_k = k_per_s / 10.0;
        while (self.contact_c[i] - to_c).abs() > 1e-3 {
            let d = (to_c - self.contact_c[i]).clamp(-step_k, step_k);
            self.contact_c[i] += d;
            self.jump(100);
        }
    }

    /// Move the board NTC to `to_c` at `k_per_s`, stepping every 100 ms.
    pub fn ramp_board(&mut self, to_c: f32, k_per_s: f32) {
        let step_k = k_per_s / 10.0;
        while (self.board_c - to_c).abs() > 1e-3 {
            let d = (to_c - self.board_c).clamp(-step_k, step_k);
            self.board_c += d;
            self.jump(100);
        }
    }
}
