//! The C example firmware (`examples/c-firmware`): compiled with `cc`, its codec checked byte for
//! byte against `harness::protocol`, and the wrap firmware run over the exec transport.
//!
//! The C wrap implements the basics (treat, time, interlock, the 42 °C stop, NTC open/short and
//! string-open latches) and deliberately lacks the caps, the NVM dose ledger, derating and the
//! CEM43 monitor. Each scenario below states which properties its features make hold and which
//! its missing features make fail; a property listed as failing that starts to hold (or the
//! reverse) fails the test, so the table is the firmware's feature list as the bench sees it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use firmware::DeviceClass;
use firmware::boundary::{Indicator, InputFrame, NVM_SIZE, NvmWrite, OutputFrame};
use harness::dut::{Dut, DutError, FirmwareSpec};
use harness::properties::PropertyId;
use harness::protocol::{self, Frame, Identify};
use harness::result::{RunResult, Status};
use harness::scenario::{Action, Scenario};
use sim::body::Zone;
use sim::device::DeviceKind;

use crate::common::{act, device, scenario, treat};

/// The compiler flags of `examples/c-firmware/Makefile` (kept in step with it by hand: the test
/// compiles the sources itself so that it needs no `make` and writes nothing into the source
/// tree).
const CFLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-O2",
    "-D_POSIX_C_SOURCE=200809L",
];

fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/c-firmware")
}

/// Compile one program of the example (its main file plus `pbm_proto.c`) into the target dir.
fn compile(out_dir: &Path, main: &str, program: &str) -> PathBuf {
    let src = source_dir();
    let exe = out_dir.join(program);
    let out = Command::new("cc")
        .args(CFLAGS)
        .arg("-o")
        .arg(&exe)
        .arg(src.join(main))
        .arg(src.join("pbm_proto.c"))
        .arg("-lm")
        .output()
        .expect("`cc` runs (gcc is on the machine)");
    assert!(
        out.status.success(),
        "the C example does not build ({main}):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Paths of the compiled `wrap_fw` and `codec_check`, built once per test run.
fn built() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-firmware");
        std::fs::create_dir_all(&dir).expect("the target dir is writable");
        (
            compile(&dir, "wrap_fw.c", "wrap_fw"),
            compile(&dir, "codec_check.c", "codec_check"),
        )
    })
}

fn wrap_fw() -> FirmwareSpec {
    FirmwareSpec::Exec(built().0.display().to_string())
}

/// Run `codec_check MODE` with `input` on stdin; its stdout.
fn codec_check(mode: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(&built().1)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("codec_check starts");
    // A few kilobytes: the pipe buffers all of it before the child reads.
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input)
        .expect("codec_check reads its input");
    let out = child.wait_with_output().expect("codec_check ends");
    assert!(
        out.status.success(),
        "codec_check {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn encode(frames: &[(Frame<'_>, u8)]) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; protocol::MAX_FRAME_LEN];
    for (frame, seq) in frames {
        let n = protocol::encode(frame, *seq, &mut buf).expect("a valid frame");
        all.extend_from_slice(&buf[..n]);
    }
    all
}

fn text_line(frame: &Frame<'_>, seq: u8) -> String {
    let mut buf = [0u8; protocol::MAX_LINE_LEN];
    let n = protocol::encode_text(frame, seq, &mut buf).expect("a valid frame");
    String::from_utf8(buf[..n].to_vec()).expect("text frames are ASCII")
}

/// The replies of the worked example in `docs/protocol.md`, which `codec_check encode` writes.
#[test]
fn c_encoders_match_the_rust_codec_byte_for_byte() {
    let mut data = [0u8; 64];
    data[..4].copy_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
    let with_write = OutputFrame {
        duty_permille: [800, 0],
        current_ma: [350, 0],
        hw_enable: true,
        indicator: Indicator::Treating,
        nvm_write: Some(NvmWrite {
            offset: 64,
            len: 4,
            data,
        }),
        next_wake_ms: 10,
        state: 2,
        detail: 3,
        dose_estimate_mj_cm2: 1500,
        fault_code: 0,
    };
    let without = OutputFrame {
        nvm_write: None,
        ..with_write
    };
    let expected = encode(&[
        (
            Frame::Identify(Identify {
                protocol_version: 1,
                class: DeviceClass::Wrap,
                name: "acme-wrap",
                version: "2.3.1",
                build: "9f3c2e1",
            }),
            0,
        ),
        (Frame::Booted, 1),
        (Frame::Output(with_write), 2),
        (Frame::Output(without), 3),
        (Frame::PoweredOff, 4),
        (Frame::Bye, 5),
        (
            Frame::Error {
                code: protocol::error_code::UNEXPECTED,
                message: "step before boot",
            },
            7,
        ),
    ]);
    let got = codec_check("encode", &[]);
    assert_eq!(
        hex(&got),
        hex(&expected),
        "C encoders (left) against harness::protocol::encode (right)"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X} ")).collect()
}

/// Requests encoded by the Rust codec, decoded by the C decoder and printed back in the text
/// grammar: the C view of every field must be the Rust view. A corrupted CRC and an input bit
/// the encoding reserves are rejected (`bad seq=N`), and the decoder resynchronises on the next
/// frame.
#[test]
fn c_decoder_reads_what_the_rust_codec_writes() {
    let mut nvm = [0u8; NVM_SIZE];
    for (i, b) in nvm.iter_mut().enumerate() {
        *b = (i * 37 % 256) as u8;
    }
    let step = |now_ms, k: u16, buttons, flags: [bool; 3], distance_mm| {
        let mut i = InputFrame {
            now_ms,
            buttons,
            program: (k % 7) as u8,
            skin_contact: flags[0],
            eye_shield: flags[1],
            fan_ok: flags[2],
            distance_mm,
            ..InputFrame::default()
        };
        i.adc.contact_ntc = [2048 + k, 2050 - k];
        i.adc.board_ntc = 1900 + k;
        i.adc.string_current = [1024, 1020 + k, k, 4095];
        i.adc.string_voltage = [2600, 2610, 0, 65535 - k];
        i.adc.supply = 1638;
        i
    };
    let frames: Vec<(Frame<'_>, u8)> = vec![
        (
            Frame::Hello {
                protocol_version: 1,
                class: DeviceClass::Wrap,
            },
            0,
        ),
        (Frame::Boot { nvm: &nvm }, 1),
        (Frame::Step(step(120_000, 0, 1, [true, false, true], 0)), 2),
        (
            Frame::Step(step(u32::MAX, 3, 7, [false, true, false], 450)),
            3,
        ),
        (Frame::Step(step(0, 11, 0, [true, true, true], 65535)), 255),
        (Frame::PowerOff, 4),
        (
            Frame::Error {
                code: protocol::error_code::INTERNAL,
                message: "50% = done, ü",
            },
            5,
        ),
        (Frame::Shutdown, 6),
    ];
    let mut input = encode(&frames);
    let mut expected: String = frames.iter().map(|(f, s)| text_line(f, *s)).collect();

    // A STEP with a flipped CRC byte, then one with reserved input bit 3 set (and a good CRC),
    // then a good HELLO: two rejections and a resynchronised decoder.
    let good_step = Frame::Step(step(5, 1, 0, [true, false, true], 0));
    let mut bad_crc = encode(&[(good_step, 9)]);
    *bad_crc.last_mut().expect("a frame") ^= 0x01;
    let mut bad_bit = encode(&[(good_step, 10)]);
    let inputs_at = protocol::HEADER_LEN + 30;
    bad_bit[inputs_at] |= 1 << 3;
    let end = bad_bit.len() - protocol::CRC_LEN;
    let crc = protocol::crc16(&bad_bit[1..end]);
    bad_bit[end..].copy_from_slice(&crc.to_le_bytes());
    let hello = Frame::Hello {
        protocol_version: 2,
        class: DeviceClass::LaserProbe,
    };
    input.extend_from_slice(&[0x00, 0x13]); // line noise before a sync byte
    input.extend_from_slice(&bad_crc);
    input.extend_from_slice(&bad_bit);
    input.extend_from_slice(&encode(&[(hello, 11)]));
    expected.push_str("bad seq=9\nbad seq=10\n");
    expected.push_str(&text_line(&hello, 11));

    let got = String::from_utf8(codec_check("decode", &input)).expect("ASCII output");
    for (g, e) in got.lines().zip(expected.lines()) {
        assert_eq!(g, e, "C decoder (left) against the Rust frame (right)");
    }
    assert_eq!(got.lines().count(), expected.lines().count(), "{got}");
}

/// The link layer over a real exec transport: handshake, boot with an NVM image, the boot-counter
/// NVM write, power off and boot again, and ERROR code 4 for a class the firmware lacks.
#[test]
fn c_wrap_speaks_the_protocol_over_exec() {
    let spec = wrap_fw();
    let mut dut = spec.make(DeviceKind::Wrap).expect("the C wrap handshakes");
    assert_eq!(dut.identity().name, "acme c wrap");
    assert_eq!(dut.identity().version, "0.1.0");

    // A wrap at rest in a 25 °C room: NTCs at mid-scale (domain.md §6.5: 2048 counts at 25 °C).
    let mut idle = InputFrame {
        fan_ok: true,
        ..InputFrame::default()
    };
    idle.adc.contact_ntc = [2048, 2048];
    idle.adc.board_ntc = 2048;
    let mut nvm = [0xFFu8; NVM_SIZE];
    for expected_boots in [1u16, 2, 3] {
        dut.boot(&nvm).expect("boot");
        let out = dut.step(&idle).expect("first step");
        let w = out
            .nvm_write
            .expect("the first step writes the boot counter");
        let [lo, hi] = expected_boots.to_le_bytes();
        assert_eq!((w.offset, w.bytes()), (0, &[b'W', b'C', lo, hi][..]));
        nvm[..4].copy_from_slice(w.bytes());
        // Idle: dark, ready, asleep for a minute.
        assert_eq!(out.state, 1);
        assert_eq!((out.hw_enable, out.duty_permille), (false, [0, 0]));
        assert_eq!(out.next_wake_ms, 60_000);
        assert_eq!(dut.step(&idle).expect("second step").nvm_write, None);
        dut.power_off();
    }
    // A contact NTC shorted to ground at rest: suspected at once (fast wake), latched after the
    // 30 ms confirmation as kind 2 (short) on part 0, and kept until the power cycle.
    dut.boot(&nvm).expect("boot");
    let mut shorted = idle;
    shorted.adc.contact_ntc[0] = 0;
    let first = dut.step(&shorted).expect("step");
    assert_eq!((first.state, first.next_wake_ms), (1, 10));
    shorted.now_ms = 40;
    let latched = dut.step(&shorted).expect("step");
    assert_eq!((latched.state, latched.fault_code), (7, 0x0200));
    idle.now_ms = 1_000;
    assert_eq!(
        dut.step(&idle).expect("step").state,
        7,
        "latched until power cycle"
    );
    dut.power_off();
    dut.boot(&nvm).expect("boot");
    assert_eq!(
        dut.step(&idle).expect("step").state,
        1,
        "a power cycle clears it"
    );
    dut.shutdown().expect("BYE");

    match spec.make(DeviceKind::Pen) {
        Err(DutError::Reported(msg)) => assert!(msg.contains("class"), "{msg}"),
        Err(e) => panic!("a pen should be refused with ERROR code 4, got {e}"),
        Ok(_) => panic!("the C wrap firmware claimed to be a pen"),
    }
}

/// What the C wrap must show on one scenario.
struct Expect {
    /// Properties its features make hold (each must be checked and hold).
    held: &'static [PropertyId],
    /// Properties its missing features make fail.
    violated: &'static [PropertyId],
    /// Treatments the scenario expects refused that the C wrap runs (no caps).
    ran_anyway: &'static [&'static str],
}

/// Run a scenario with the C firmware on the wrap (the reference on any other device) and hold
/// the verdicts to `expect`; every property not listed as violated must not fail.
fn check(s: &Scenario, expect: &Expect) -> RunResult {
    let spec = wrap_fw();
    let mut factory = |kind: DeviceKind| -> Result<Box<dyn Dut>, DutError> {
        match kind {
            DeviceKind::Wrap => spec.make(kind),
            _ => FirmwareSpec::Reference.make(kind),
        }
    };
    let r = harness::run(s, &mut factory, &mut harness::events::Discard)
        .unwrap_or_else(|e| panic!("{}: the C firmware failed: {e}", s.name));
    assert!(r.invalid.is_none(), "{}: {:?}", s.name, r.invalid);
    for v in &r.verdicts {
        let first = v.violations.first().map(|x| x.detail.as_str());
        if expect.violated.contains(&v.property) {
            assert_eq!(
                v.status,
                Status::Violated,
                "{}: {} should fail (the C wrap lacks the feature)",
                s.name,
                v.name
            );
        } else if expect.held.contains(&v.property) {
            assert_eq!(v.status, Status::Held, "{}: {} {first:?}", s.name, v.name);
        } else {
            assert!(
                !v.status.is_failure(),
                "{}: {} is {:?}: {first:?}",
                s.name,
                v.name,
                v.status
            );
        }
    }
    assert_eq!(
        r.expectation_failures.len(),
        expect.ran_anyway.len(),
        "{}: {:?}",
        s.name,
        r.expectation_failures
    );
    for label in expect.ran_anyway {
        assert!(
            r.expectation_failures
                .iter()
                .any(|f| f.contains(&format!("'{label}' was expected to be refused"))),
            "{}: '{label}' should have run: {:?}",
            s.name,
            r.expectation_failures
        );
    }
    r
}

fn library(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    harness::format::load_paths(&[path])
        .expect("a valid library scenario")
        .remove(0)
}

use PropertyId::*;

/// The runner week (C wrap, reference pen): a compliant week passes every property, so the
/// basics (dose, timer, estimate, idle) are right; the caps are never tested by it.
#[test]
fn c_wrap_passes_the_runner_week() {
    let r = check(
        &library("runner-week"),
        &Expect {
            held: &[
                SkinNormal,
                SkinCem43,
                DoseSession,
                DoseEstimate,
                IdleDark,
                SessionLiveness,
                SessionExercised,
            ],
            violated: &[],
            ran_anyway: &[],
        },
    );
    assert!(r.passed());
    assert!(r.firmware.iter().any(|f| f.starts_with("acme c wrap")));
}

/// NTC open and short on a contact sensor, and an open LED string: each latches a fault within
/// the 1 s budget and keeps the wrap dark until the power cycle; the next day's session runs.
#[test]
fn c_wrap_latches_ntc_and_string_faults() {
    for name in ["ntc-open", "ntc-short", "led-string-open"] {
        let r = check(
            &library(name),
            &Expect {
                held: &[FaultSafe, IdleDark, SessionLiveness],
                violated: &[],
                ran_anyway: &[],
            },
        );
        assert!(r.passed(), "{name}");
    }
}

/// No minimum gap, no daily cap: the extra sessions of `giving-extra` all run, and after a power
/// cycle (no NVM ledger) so does the third session of the day.
#[test]
fn c_wrap_lacks_the_daily_caps_and_the_nvm_ledger() {
    check(
        &library("giving-extra"),
        &Expect {
            held: &[DoseSession, DoseEstimate],
            violated: &[DoseDaily, SessionRefusal],
            ran_anyway: &["straight-again", "three-hours-later", "third-of-the-day"],
        },
    );
    check(
        &library("power-cycle-daily-cap"),
        &Expect {
            held: &[DoseSession],
            violated: &[DoseDaily, SessionRefusal, NvmIntegrity],
            ran_anyway: &["after-power-cycle"],
        },
    );
}

/// No weekly cap: two left-calf sessions a day, 7 h apart, for four days. The morning session
/// of each later day is the third in 24 h of uptime (the reference refuses it), and by day 3
/// the week's fluence passes the weekly cap of 5.5 targets (+15 % tolerance).
#[test]
fn c_wrap_lacks_the_weekly_cap() {
    let w = DeviceKind::Wrap;
    let mut timeline = Vec::new();
    for day in 0..4 {
        timeline.push(treat(w, day, 8, 0, Zone::LeftCalf, 14));
        timeline.push(treat(w, day, 15, 0, Zone::LeftCalf, 14));
    }
    let s = scenario(
        "c-wrap-twice-daily",
        4,
        vec![device("wrap", w, timeline)],
        vec![],
    );
    check(
        &s,
        &Expect {
            held: &[DoseSession, DoseEstimate],
            violated: &[DoseWeekly, SessionRefusal],
            ran_anyway: &[],
        },
    );
}

/// Under a blanket the C wrap neither detects the cover nor derates, yet the wrap's
/// 16 mW/cm² cannot lift the skin near 41 °C: the thermal properties hold, so the missing
/// derating and CEM43 monitor are invisible on this device class (a known blind spot, not a
/// feature of the C firmware).
#[test]
fn c_wrap_under_a_blanket_stays_cool_without_derating() {
    let r = check(
        &library("wrap-under-blanket"),
        &Expect {
            held: &[SkinNormal, SkinAbsolute, SkinCem43, DoseSession],
            violated: &[],
            ran_anyway: &[],
        },
    );
    assert!(r.passed());
}

/// Lifted off the skin mid-session and put back: the contact interlock cuts emission at once
/// (the harness steps the firmware on the input change) and the session pauses.
#[test]
fn c_wrap_stops_emitting_when_lifted() {
    let w = DeviceKind::Wrap;
    let s = scenario(
        "c-wrap-lift-off",
        1,
        vec![device(
            "wrap",
            w,
            vec![
                treat(w, 0, 19, 0, Zone::LeftCalf, 20),
                act(0, 19, 5, Action::LiftOff),
            ],
        )],
        vec![],
    );
    check(
        &s,
        &Expect {
            held: &[InterlockContact, IdleDark],
            violated: &[],
            ran_anyway: &[],
        },
    );
}
