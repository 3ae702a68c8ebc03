//! `pbm-fw-reference`: the reference firmware behind the wire protocol (`docs/protocol.md`).
//!
//! It is the firmware side of a software-in-the-loop run: `pbm-hil run --firmware
//! exec:pbm-fw-reference` must give the trace of the in-process run bit for bit, and so must TCP
//! (`--tcp PORT`, `--listen ADDR`) and a serial port (`--serial PATH[@BAUD]`). It doubles as a
//! worked example for a C firmware side, and, with `--misbehave`, as the faulty firmware of the
//! transport fault suite.
//!
//! Misbehaviours (test-only; `N` is the 1-based number of the `STEP` whose reply is hit, counted
//! over the whole session, default 3):
//! `crash-at-step:N` (a message on stderr, then abort: SIGABRT), `hang-at-step:N` (never answers),
//! `garbage[:N]` (answers bytes that are not a frame), `truncate[:N]` (sends half the reply, then
//! nothing), `bad-crc[:N]` (a corrupted CRC), `wrong-version` (`IDENTIFY` says protocol 2),
//! `slow:MS` (waits MS ms before every reply), `out-of-order[:N]` (the reply carries the wrong
//! sequence number).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::AsFd as _;
use std::time::Duration;

use clap::Parser;
use firmware::boundary::NVM_SIZE;
use firmware::{DeviceClass, Firmware};
use harness::protocol::{
    self, Decoder, Frame, Identify, MAX_LINE_LEN, PROTOCOL_VERSION, SYNC, Wire, error_code,
};

/// The reference firmware of pbm-hil behind the wire protocol (stdin/stdout by default).
#[derive(Debug, Parser)]
#[command(name = "pbm-fw-reference", version)]
struct Args {
    /// Listen on 127.0.0.1:PORT (0 picks a free port); prints `listening on ADDR` first.
    #[arg(long, conflicts_with_all = ["listen", "serial"])]
    tcp: Option<u16>,
    /// Listen on this address (`HOST:PORT`); prints `listening on ADDR` first.
    #[arg(long, conflicts_with = "serial")]
    listen: Option<String>,
    /// Serve on a serial port, `PATH[@BAUD]` (115200 baud by default).
    #[arg(long)]
    serial: Option<String>,
    /// Test-only faults: `crash-at-step:N`, `hang-at-step:N`, `garbage[:N]`, `truncate[:N]`,
    /// `bad-crc[:N]`, `wrong-version`, `slow:MS`, `out-of-order[:N]`.
    #[arg(long, value_parser = Misbehaviour::parse)]
    misbehave: Vec<Misbehaviour>,
}

/// A fault the firmware side injects into its own replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Misbehaviour {
    CrashAtStep(u64),
    HangAtStep(u64),
    Garbage(u64),
    Truncate(u64),
    BadCrc(u64),
    WrongVersion,
    SlowMs(u64),
    OutOfOrder(u64),
}

/// Step hit by a misbehaviour given without `:N`.
const DEFAULT_STEP: u64 = 3;

impl Misbehaviour {
    fn parse(s: &str) -> Result<Misbehaviour, String> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let number = |required: bool| -> Result<u64, String> {
            match arg {
                Some(a) => a
                    .parse::<u64>()
                    .map_err(|_| format!("{s:?}: {a:?} is not a number")),
                None if required => Err(format!("{s:?}: needs `:N`")),
                None => Ok(DEFAULT_STEP),
            }
        };
        Ok(match name {
            "crash-at-step" => Misbehaviour::CrashAtStep(number(true)?),
            "hang-at-step" => Misbehaviour::HangAtStep(number(true)?),
            "garbage" => Misbehaviour::Garbage(number(false)?),
            "truncate" => Misbehaviour::Truncate(number(false)?),
            "bad-crc" => Misbehaviour::BadCrc(number(false)?),
            "wrong-version" => Misbehaviour::WrongVersion,
            "slow" => Misbehaviour::SlowMs(number(true)?),
            "out-of-order" => Misbehaviour::OutOfOrder(number(false)?),
            _ => {
                return Err(format!(
                    "{s:?}: expected crash-at-step:N, hang-at-step:N, garbage[:N], truncate[:N], bad-crc[:N], wrong-version, slow:MS or out-of-order[:N]"
                ));
            }
        })
    }
}

/// The firmware side of one link.
struct Session<'a> {
    misbehave: &'a [Misbehaviour],
    decoder: Option<Decoder>,
    class: Option<DeviceClass>,
    firmware: Option<Firmware>,
    steps: u64,
    out: [u8; MAX_LINE_LEN],
}

/// What the serving loop does after a frame.
enum Next {
    Continue,
    /// `BYE` sent: the session is over.
    Bye,
}

impl Session<'_> {
    fn new(misbehave: &[Misbehaviour]) -> Session<'_> {
        Session {
            misbehave,
            decoder: None,
            class: None,
            firmware: None,
            steps: 0,
            out: [0; MAX_LINE_LEN],
        }
    }

    /// Serve until the link closes (`Ok(())`) or, when `once`, until `BYE`.
    fn serve(
        &mut self,
        input: &mut dyn Read,
        output: &mut dyn Write,
        once: bool,
    ) -> std::io::Result<()> {
        let mut buf = [0u8; 512];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let decoder = self.decoder.get_or_insert_with(|| {
                    // The first byte of a session picks the encoding (docs/protocol.md).
                    Decoder::new(if rest[0] == SYNC {
                        Wire::Binary
                    } else {
                        Wire::Text
                    })
                });
                let wire = decoder.wire();
                let (used, r) = decoder.feed(rest);
                rest = &rest[used..];
                let next = match r {
                    Ok(None) => Next::Continue,
                    Ok(Some(rx)) => {
                        let (seq, frame) = (rx.seq, rx.frame);
                        // The frame borrows the decoder; copy what the handler needs.
                        let mut nvm = [0u8; NVM_SIZE];
                        let owned = match frame {
                            Frame::Boot { nvm: image } => {
                                nvm.copy_from_slice(image);
                                Owned::Boot
                            }
                            Frame::Hello { class, .. } => Owned::Hello(class),
                            Frame::Step(i) => Owned::Step(i),
                            Frame::PowerOff => Owned::PowerOff,
                            Frame::Shutdown => Owned::Shutdown,
                            Frame::Error { .. } => Owned::Ignore,
                            _ => Owned::Unexpected(frame.frame_type().keyword()),
                        };
                        self.handle(owned, seq, &nvm, wire, output)?
                    }
                    Err(e) => {
                        let msg = format!("{e}");
                        self.reply(
                            wire,
                            0,
                            &Frame::Error {
                                code: error_code::MALFORMED,
                                message: &msg[..msg.len().min(protocol::MAX_MESSAGE_LEN)],
                            },
                            output,
                        )?;
                        Next::Continue
                    }
                };
                if let Next::Bye = next {
                    self.decoder = None;
                    if once {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn hit(&self, pick: impl Fn(Misbehaviour) -> Option<u64>) -> bool {
        self.misbehave.iter().any(|m| pick(*m) == Some(self.steps))
    }

    fn handle(
        &mut self,
        frame: Owned,
        seq: u8,
        nvm: &[u8; NVM_SIZE],
        wire: Wire,
        output: &mut dyn Write,
    ) -> std::io::Result<Next> {
        match frame {
            Owned::Hello(class) => {
                self.class = Some(class);
                self.firmware = None;
                let version = if self.misbehave.contains(&Misbehaviour::WrongVersion) {
                    PROTOCOL_VERSION + 1
                } else {
                    PROTOCOL_VERSION
                };
                let id = Frame::Identify(Identify {
                    protocol_version: version,
                    class,
                    name: "pbm-hil reference firmware",
                    version: env!("CARGO_PKG_VERSION"),
                    build: "",
                });
                self.reply(wire, seq, &id, output)?;
            }
            Owned::Boot => {
                let Some(class) = self.class else {
                    return self.unexpected(wire, seq, "boot before hello", output);
                };
                self.firmware = Some(Firmware::boot(class, nvm));
                self.reply(wire, seq, &Frame::Booted, output)?;
            }
            Owned::Step(input) => {
                let Some(fw) = self.firmware.as_mut() else {
                    return self.unexpected(wire, seq, "step before boot", output);
                };
                let out = fw.step(&input);
                self.steps += 1;
                if self.hit(|m| match m {
                    Misbehaviour::CrashAtStep(n) => Some(n),
                    _ => None,
                }) {
                    // Abort, like a C firmware's segfault: at once, with no unwinding or
                    // backtrace that would keep the link open while it prints.
                    eprintln!(
                        "pbm-fw-reference: injected crash at step {} (now_ms={})",
                        self.steps, input.now_ms
                    );
                    std::process::abort();
                }
                if self.hit(|m| match m {
                    Misbehaviour::HangAtStep(n) => Some(n),
                    _ => None,
                }) {
                    eprintln!("pbm-fw-reference: injected hang at step {}", self.steps);
                    hang();
                }
                self.reply(wire, seq, &Frame::Output(out), output)?;
            }
            Owned::PowerOff => {
                self.firmware = None;
                self.reply(wire, seq, &Frame::PoweredOff, output)?;
            }
            Owned::Shutdown => {
                self.firmware = None;
                self.reply(wire, seq, &Frame::Bye, output)?;
                return Ok(Next::Bye);
            }
            Owned::Ignore => {}
            Owned::Unexpected(what) => {
                return self.unexpected(wire, seq, what, output);
            }
        }
        Ok(Next::Continue)
    }

    fn unexpected(
        &mut self,
        wire: Wire,
        seq: u8,
        what: &str,
        output: &mut dyn Write,
    ) -> std::io::Result<Next> {
        let message = format!("unexpected frame: {what}");
        self.reply(
            wire,
            seq,
            &Frame::Error {
                code: error_code::UNEXPECTED,
                message: &message,
            },
            output,
        )?;
        Ok(Next::Continue)
    }

    /// Encode and send a reply, with any misbehaviour due at this step applied.
    fn reply(
        &mut self,
        wire: Wire,
        seq: u8,
        frame: &Frame<'_>,
        output: &mut dyn Write,
    ) -> std::io::Result<()> {
        for m in self.misbehave {
            if let Misbehaviour::SlowMs(ms) = m {
                std::thread::sleep(Duration::from_millis(*ms));
            }
        }
        let is_output = matches!(frame, Frame::Output(_));
        let at = |want: fn(Misbehaviour) -> Option<u64>| is_output && self.hit(want);
        let seq = if at(|m| match m {
            Misbehaviour::OutOfOrder(n) => Some(n),
            _ => None,
        }) {
            seq.wrapping_add(1)
        } else {
            seq
        };
        let garbage = at(|m| match m {
            Misbehaviour::Garbage(n) => Some(n),
            _ => None,
        });
        let truncate = at(|m| match m {
            Misbehaviour::Truncate(n) => Some(n),
            _ => None,
        });
        let bad_crc = at(|m| match m {
            Misbehaviour::BadCrc(n) => Some(n),
            _ => None,
        });
        let n = match wire {
            Wire::Binary => protocol::encode(frame, seq, &mut self.out),
            Wire::Text => protocol::encode_text(frame, seq, &mut self.out),
        }
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        if garbage {
            output.write_all(b"\x00\x13garbage, not a frame\r\n")?;
            output.flush()?;
            return Ok(());
        }
        if bad_crc {
            self.out[n - 1] ^= 0x5A;
        }
        if truncate {
            output.write_all(&self.out[..n / 2])?;
            output.flush()?;
            eprintln!(
                "pbm-fw-reference: injected truncated reply at step {}",
                self.steps
            );
            hang();
        }
        output.write_all(&self.out[..n])?;
        output.flush()
    }
}

/// A request, copied out of the decoder's buffer.
enum Owned {
    Hello(DeviceClass),
    Boot,
    Step(firmware::boundary::InputFrame),
    PowerOff,
    Shutdown,
    Ignore,
    Unexpected(&'static str),
}

/// Never answer again (the harness's timeout must catch it; it kills the process).
fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = if let Some(addr) = args
        .listen
        .clone()
        .or(args.tcp.map(|p| format!("127.0.0.1:{p}")))
    {
        serve_tcp(&addr, &args.misbehave)
    } else if let Some(spec) = &args.serial {
        serve_serial(spec, &args.misbehave)
    } else {
        // Rust's stdout is line-buffered: it would split a binary frame at every 0x0A byte into
        // two writes (and wake the harness twice). An unbuffered handle on the same descriptor
        // sends each reply in one write.
        let mut input = std::io::stdin().lock();
        match std::io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => {
                let mut output = std::fs::File::from(fd);
                Session::new(&args.misbehave).serve(&mut input, &mut output, true)
            }
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pbm-fw-reference: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Accept connections forever, one thread and one session each.
fn serve_tcp(addr: &str, misbehave: &[Misbehaviour]) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let stream = stream?;
        let misbehave = misbehave.to_vec();
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let Ok(mut input) = stream.try_clone() else {
                return;
            };
            let mut output = stream;
            let _ = Session::new(&misbehave).serve(&mut input, &mut output, true);
        });
    }
    Ok(())
}

/// Serve sessions on a serial port until it fails (a board waits for the next `HELLO`).
fn serve_serial(spec: &str, misbehave: &[Misbehaviour]) -> std::io::Result<()> {
    let (path, baud) = match spec.rsplit_once('@') {
        Some((p, b)) => (
            p,
            b.parse::<u32>()
                .map_err(|_| std::io::Error::other(format!("{spec:?}: bad baud rate")))?,
        ),
        None => (spec, harness::dut::DEFAULT_BAUD),
    };
    let mut port = serialport::new(path, baud)
        .timeout(Duration::from_millis(100))
        .open()
        .map_err(|e| std::io::Error::other(format!("{path}: {e}")))?;
    let mut input = port
        .try_clone()
        .map_err(|e| std::io::Error::other(format!("{path}: {e}")))?;
    Session::new(misbehave).serve(&mut input, &mut port, false)
}
