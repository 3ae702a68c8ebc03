//! Transports: the reference firmware behind the wire protocol gives the in-process trace bit for
//! bit over exec, TCP and a pty serial pair; a misbehaving firmware is reported precisely and
//! never hangs the harness; `pbm-hil run` keeps the trace of a run whose firmware failed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use firmware::DeviceClass;
use firmware::boundary::{InputFrame, NVM_SIZE};
use harness::dut::{Dut, DutError, FirmwareSpec};
use harness::protocol::Wire;
use harness::scenario::Scenario;
use harness::transport::{self, Remote, TransportConfig};
use serialport::SerialPort as _;
use sim::body::Zone;
use sim::device::DeviceKind;

use crate::common;

/// The firmware side: the reference firmware behind the protocol.
const FW: &str = env!("CARGO_BIN_EXE_pbm-fw-reference");

/// Per-frame timeout of the fault tests, ms: long enough for a debug build on a heavily loaded
/// 2-core machine (load average 10 seen) to start and answer a good frame, short enough that
/// the three faults that must time out cost about a second each.
const FAULT_FRAME_TIMEOUT_MS: u64 = 1_000;

fn library() -> &'static [Scenario] {
    static LIB: OnceLock<Vec<Scenario>> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        harness::format::load_paths(&[dir]).expect("the library is valid")
    })
}

/// Trace hash of every library scenario, in process.
fn in_process_hashes() -> &'static [u64] {
    static HASHES: OnceLock<Vec<u64>> = OnceLock::new();
    HASHES.get_or_init(|| {
        library()
            .iter()
            .map(|s| {
                harness::run_reference(s, &mut harness::events::Discard)
                    .expect("in process cannot fail")
                    .trace_hash
            })
            .collect()
    })
}

/// A child process killed and reaped when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `pbm-fw-reference --tcp 0 ARGS` and return it with the address it listens on.
fn tcp_server(args: &[&str]) -> (Server, String) {
    let mut child = Command::new(FW)
        .args(["--tcp", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the firmware binary starts");
    let stdout = child.stdout.take().expect("piped");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the server prints its address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (server, addr)
}

/// Per-frame timeout of the equivalence runs: generous, as a slow reply there is load, not a
/// fault (the fault tests below keep short timeouts of their own).
const EQUIVALENCE_FRAME_TIMEOUT_MS: u64 = 30_000;

/// The whole library over exec, TCP and a pty serial pair, the three transports in parallel
/// threads (a lockstep link waits on the other process far more than it computes, so the three
/// overlap well even on two cores).
#[test]
fn library_over_exec_tcp_and_a_pty_serial_pair_matches_in_process() {
    let expected = in_process_hashes();
    // This test is about equal traces, not latency: a loaded CI box (three links and the other
    // tests on two cores) once let a pty reply take over the default 2 s.
    let cfg = TransportConfig {
        frame_timeout_ms: EQUIVALENCE_FRAME_TIMEOUT_MS,
        ..TransportConfig::default()
    };
    let (_tcp_server, addr) = tcp_server(&[]);
    let (master, slave) = serialport::TTYPort::pair().expect("a pty pair");
    let slave_path = slave.name().expect("the slave has a path");
    let _serial_server = Server(
        Command::new(FW)
            .args(["--serial", &slave_path])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the firmware binary starts"),
    );
    let exec = FirmwareSpec::Exec(FW.into());
    let tcp = FirmwareSpec::Tcp(addr);
    let mismatches: Vec<String> = std::thread::scope(|scope| {
        let cfg = &cfg;
        let by_spec = move |spec: &FirmwareSpec| {
            let mut factory = |kind| spec.make_with(kind, cfg);
            compare(&mut factory, expected, &format!("{spec:?}"))
        };
        let exec = scope.spawn(move || by_spec(&exec));
        let tcp = scope.spawn(move || by_spec(&tcp));
        let master = &master;
        let serial = scope.spawn(move || {
            let mut factory = |kind| -> Result<Box<dyn Dut>, DutError> {
                let port = master
                    .try_clone()
                    .map_err(|e| DutError::Transport(e.to_string()))?;
                let class = harness::plant_io::device_class(kind);
                Ok(Box::new(transport::serial_port(port, "pty", class, cfg)?))
            };
            compare(&mut factory, expected, "pty serial")
        });
        [exec, tcp, serial]
            .into_iter()
            .flat_map(|h| h.join().expect("no panic"))
            .collect()
    });
    // The slave stays open until here: with no slave open, reads on the master fail.
    drop(slave);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Every library scenario through `factory` against the in-process trace hashes.
fn compare(
    factory: &mut harness::bench::DutFactory<'_>,
    expected: &[u64],
    label: &str,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for (s, want) in library().iter().zip(expected) {
        match harness::run(s, factory, &mut harness::events::Discard) {
            Ok(r) if r.trace_hash == *want => {}
            Ok(r) => mismatches.push(format!(
                "{label} {}: trace hash {:016x}, in process {want:016x}",
                s.name, r.trace_hash
            )),
            Err(e) => mismatches.push(format!("{label} {}: {e}", s.name)),
        }
    }
    mismatches
}

/// The text wire carries the same frames: one multi-device scenario gives the in-process hash.
#[test]
fn text_wire_over_exec_matches_in_process() {
    let lib = library();
    let i = (0..lib.len())
        .filter(|&i| lib[i].devices.len() > 1)
        .min_by_key(|&i| lib[i].duration_ms)
        .expect("the library has a scenario with several devices");
    let cfg = TransportConfig {
        wire: Wire::Text,
        ..TransportConfig::default()
    };
    let spec = FirmwareSpec::Exec(FW.into());
    let mut factory = |kind| spec.make_with(kind, &cfg);
    let r =
        harness::run(&lib[i], &mut factory, &mut harness::events::Discard).expect("text wire runs");
    assert_eq!(r.trace_hash, in_process_hashes()[i], "{}", lib[i].name);
}

// ---------------------------------------------------------------------------------------------
// Fault suite
// ---------------------------------------------------------------------------------------------

/// What a misbehaving firmware must produce: the error kind, and text its message must contain.
struct Fault {
    misbehave: &'static str,
    kind: fn(&DutError) -> bool,
    says: &'static [&'static str],
}

/// Drive a firmware directly: handshake, boot, then up to ten steps 10 ms apart.
fn drive(cfg: &TransportConfig, command: &str) -> Result<usize, DutError> {
    let mut dut: Remote = transport::exec(command, DeviceClass::Wrap, cfg)?;
    dut.boot(&[0xFF; NVM_SIZE])?;
    let mut input = InputFrame {
        fan_ok: true,
        ..InputFrame::default()
    };
    for i in 0..10 {
        input.now_ms = 10 * i;
        dut.step(&input)?;
    }
    dut.shutdown()?;
    Ok(10)
}

fn check_fault(f: &Fault) {
    let cfg = TransportConfig {
        frame_timeout_ms: FAULT_FRAME_TIMEOUT_MS,
        ..TransportConfig::default()
    };
    let command = format!("{FW} --misbehave {}", f.misbehave);
    let err = drive(&cfg, &command).expect_err(f.misbehave);
    assert!((f.kind)(&err), "{}: wrong kind: {err:?}", f.misbehave);
    let msg = err.to_string();
    let truncated = f.misbehave.starts_with("truncate");
    assert_eq!(
        msg.contains("a frame was incomplete"),
        truncated,
        "{}: {msg}",
        f.misbehave
    );
    for s in f.says {
        assert!(msg.contains(s), "{}: {msg:?} lacks {s:?}", f.misbehave);
    }
}

#[test]
fn each_misbehaviour_is_reported_with_step_bytes_and_stderr() {
    let faults = [
        Fault {
            misbehave: "crash-at-step:3",
            kind: |e| matches!(e, DutError::Crashed(_)),
            says: &[
                "closed the link",
                "step now_ms=20",
                "SIGABRT",
                "injected crash at step 3",
            ],
        },
        Fault {
            misbehave: "hang-at-step:3",
            kind: |e| matches!(e, DutError::Timeout(_)),
            says: &[
                "no complete step reply within 1000 ms",
                "step now_ms=20",
                "injected hang at step 3",
            ],
        },
        Fault {
            misbehave: "garbage:3",
            kind: |e| matches!(e, DutError::Malformed(_)),
            says: &[
                "expected sync byte 0xa5, found 0x00",
                "step now_ms=20",
                "00 13 67 61 72 62 61 67 65",
            ],
        },
        Fault {
            misbehave: "truncate:3",
            kind: |e| matches!(e, DutError::Timeout(_)),
            says: &["a frame was incomplete", "step now_ms=20", "a5 83 04 16 00"],
        },
        Fault {
            misbehave: "bad-crc:3",
            kind: |e| matches!(e, DutError::Malformed(_)),
            says: &["CRC mismatch", "step now_ms=20"],
        },
        Fault {
            misbehave: "out-of-order:3",
            kind: |e| matches!(e, DutError::OutOfOrder(_)),
            says: &[
                "expected output seq 4, received output seq 5",
                "step now_ms=20",
            ],
        },
        Fault {
            misbehave: "wrong-version",
            kind: |e| matches!(e, DutError::Version(_)),
            says: &["the harness speaks protocol 1", "answered with protocol 2"],
        },
        Fault {
            misbehave: "slow:3000",
            kind: |e| matches!(e, DutError::Timeout(_)),
            says: &[
                "no complete hello reply within 1000 ms",
                "before the first step",
            ],
        },
    ];
    for f in &faults {
        check_fault(f);
    }
}

#[test]
fn a_slow_firmware_within_the_frame_timeout_is_fine() {
    let cfg = TransportConfig::default();
    let steps = drive(&cfg, &format!("{FW} --misbehave slow:5")).expect("slow but in time");
    assert_eq!(steps, 10);
}

#[test]
fn the_whole_run_timeout_ends_a_run_that_is_slow_in_every_frame() {
    let cfg = TransportConfig {
        run_timeout_s: 1,
        ..TransportConfig::default()
    };
    let err = drive(&cfg, &format!("{FW} --misbehave slow:150")).expect_err("too slow overall");
    assert!(
        matches!(&err, DutError::Timeout(m) if m.contains("whole-run timeout")),
        "{err:?}"
    );
}

#[test]
fn after_a_failure_the_link_fails_at_once() {
    let cfg = TransportConfig {
        frame_timeout_ms: FAULT_FRAME_TIMEOUT_MS,
        ..TransportConfig::default()
    };
    let mut dut = transport::exec(
        &format!("{FW} --misbehave crash-at-step:1"),
        DeviceClass::Wrap,
        &cfg,
    )
    .expect("handshake works");
    dut.boot(&[0xFF; NVM_SIZE]).expect("boot works");
    let first = dut.step(&InputFrame::default()).expect_err("crashes");
    assert!(matches!(first, DutError::Crashed(_)), "{first:?}");
    let again = dut.step(&InputFrame::default()).expect_err("still dead");
    assert!(
        matches!(&again, DutError::Transport(m) if m.contains("the link failed earlier")),
        "{again:?}"
    );
}

#[test]
fn a_crash_over_tcp_is_reported_as_a_crash() {
    let (_server, addr) = tcp_server(&["--misbehave", "crash-at-step:2"]);
    let cfg = TransportConfig {
        frame_timeout_ms: FAULT_FRAME_TIMEOUT_MS,
        ..TransportConfig::default()
    };
    let mut dut = transport::tcp(&addr, DeviceClass::Pen, &cfg).expect("connects");
    dut.boot(&[0xFF; NVM_SIZE]).expect("boot works");
    dut.step(&InputFrame::default()).expect("first step works");
    let err = dut.step(&InputFrame::default()).expect_err("crashes");
    assert!(
        matches!(&err, DutError::Crashed(m) if m.contains("tcp:")),
        "{err:?}"
    );
}

#[test]
fn links_that_cannot_be_made_say_why() {
    let cfg = TransportConfig::default();
    for (spec, says) in [
        ("exec:/nonexistent/firmware", "cannot start"),
        ("serial:/nonexistent/tty", "cannot open"),
        ("tcp:127.0.0.1:1", "cannot connect"),
    ] {
        let spec = FirmwareSpec::parse(spec).expect("valid spec");
        let err = spec
            .make_with(DeviceKind::Wrap, &cfg)
            .err()
            .unwrap_or_else(|| panic!("{spec:?} must fail"));
        assert!(
            matches!(&err, DutError::Transport(m) if m.contains(says)),
            "{spec:?}: {err:?}"
        );
    }
}

/// `pbm-hil run` with a firmware that crashes mid-week: exit 3, the error names the step, and
/// the trace up to the crash is on disk.
#[test]
fn cli_keeps_the_trace_of_a_crashed_firmware_and_exits_3() {
    let dir = std::env::temp_dir().join(format!("pbm-hil-transport-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = common::scenario(
        "crash-mid-session",
        1,
        vec![common::device(
            "wrap",
            DeviceKind::Wrap,
            vec![common::treat(DeviceKind::Wrap, 0, 8, 0, Zone::LeftCalf, 10)],
        )],
        Vec::new(),
    );
    let scenario = Scenario {
        description: "a wrap session whose firmware crashes at its 2000th step".into(),
        ..scenario
    };
    let file = dir.join("crash-mid-session.toml");
    std::fs::write(&file, harness::format::to_toml(&scenario)).expect("write scenario");
    let out = dir.join("out");
    let args: Vec<std::ffi::OsString> = vec![
        "pbm-hil".into(),
        "run".into(),
        file.clone().into(),
        "--firmware".into(),
        format!("exec:{FW} --misbehave crash-at-step:2000").into(),
        "--frame-timeout-ms".into(),
        "5000".into(),
        "--out".into(),
        out.clone().into(),
        "--trace".into(),
        "csv".into(),
    ];
    let code = pbm_hil::cli::main(args);
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::from(3))
    );
    let sdir = out.join("crash-mid-session");
    let error = std::fs::read_to_string(sdir.join("error.txt")).expect("error.txt kept");
    assert!(error.contains("firmware crashed"), "{error}");
    assert!(error.contains("injected crash at step 2000"), "{error}");
    let csv: Vec<_> = std::fs::read_dir(&sdir)
        .expect("scenario folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    assert!(!csv.is_empty(), "no CSV trace kept in {}", sdir.display());
    let rows = std::fs::read_to_string(&csv[0])
        .expect("csv")
        .lines()
        .count();
    assert!(rows > 1000, "{} has only {rows} lines", csv[0].display());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn realtime_pacing_records_the_jitter_of_every_step() {
    let pacing = std::sync::Arc::new(transport::Pacing::default());
    let cfg = TransportConfig {
        pacing: Some(std::sync::Arc::clone(&pacing)),
        ..TransportConfig::default()
    };
    assert_eq!(pacing.jitter(), None);
    drive(&cfg, FW).expect("a paced run works");
    let j = pacing.jitter().expect("steps were paced");
    assert_eq!(j.steps, 10);
    assert!(j.p50_us <= j.p99_us && j.p99_us <= j.max_us, "{j:?}");
}
