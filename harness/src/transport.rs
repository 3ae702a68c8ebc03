//! Transports: a firmware outside the harness process, reached over stdin/stdout of a child
//! process, a TCP socket or a serial port, behind the same [`Dut`] trait as the in-process one.
//!
//! All three carry the bytes of [`crate::protocol`] and differ only in how the link is set up and
//! torn down, so one type, [`Remote`], drives them. A reader thread per link turns the incoming
//! byte stream into chunks on a channel; the harness waits on the channel with `recv_timeout`, so
//! neither a hung firmware nor a half-sent frame can make it hang: every wait is bounded by the
//! per-frame timeout and the whole-run deadline. A failure names the step (`now_ms`), the last
//! bytes received and, for a child process, the tail of its stderr, because that is what a
//! firmware engineer needs to find the bug; after a failure the link is dead and every later call
//! fails at once.
//!
//! Wall-clock reads are confined to this module: timeouts and real-time pacing are about the
//! real world, while the bench's virtual time stays the only time the firmware sees.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firmware::DeviceClass;
use firmware::boundary::{InputFrame, NVM_SIZE, OutputFrame};

use crate::dut::{Dut, DutError, DutIdentity};
use crate::protocol::{self, Decoder, Frame, MAX_FRAME_LEN, MAX_LINE_LEN, PROTOCOL_VERSION, Wire};

/// Default per-frame timeout, ms: generous for a UART at 115200 baud (a step round trip is about
/// 6 ms of line time) and for a debug build on a loaded CI machine, short enough that a hang is
/// reported within seconds.
pub const DEFAULT_FRAME_TIMEOUT_MS: u64 = 2_000;
/// Default whole-run timeout per device, s: a week through a slow serial link takes minutes.
pub const DEFAULT_RUN_TIMEOUT_S: u64 = 3_600;
/// Bytes of the child's stderr kept for error messages (the tail is where the panic is).
pub const STDERR_TAIL_BYTES: usize = 4_096;
/// Bytes last received kept for error messages.
pub const RECENT_BYTES: usize = 48;
/// How long a clean shutdown may take before the child is killed, ms.
const SHUTDOWN_GRACE_MS: u64 = 500;
/// A read may overrun the frame deadline by this much before the timeout is shortened (setting
/// it is a system call, not worth making on every read).
const TIMEOUT_SLACK: Duration = Duration::from_millis(20);

/// Environment variable: per-frame timeout, ms.
pub const ENV_FRAME_TIMEOUT_MS: &str = "PBM_HIL_FRAME_TIMEOUT_MS";
/// Environment variable: whole-run timeout, s.
pub const ENV_RUN_TIMEOUT_S: &str = "PBM_HIL_RUN_TIMEOUT_S";
/// Environment variable: `text` selects the text wire (`docs/protocol.md`).
pub const ENV_WIRE: &str = "PBM_HIL_WIRE";

/// How a transport waits, encodes and paces.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Longest wait for one reply, ms.
    pub frame_timeout_ms: u64,
    /// Longest wall-clock time for one device's run through a scenario, s.
    pub run_timeout_s: u64,
    /// Binary (default) or text frames.
    pub wire: Wire,
    /// Pace steps to the wall clock and record how late each was (serial `--realtime`).
    pub pacing: Option<Arc<Pacing>>,
}

impl Default for TransportConfig {
    fn default() -> TransportConfig {
        TransportConfig {
            frame_timeout_ms: DEFAULT_FRAME_TIMEOUT_MS,
            run_timeout_s: DEFAULT_RUN_TIMEOUT_S,
            wire: Wire::Binary,
            pacing: None,
        }
    }
}

impl TransportConfig {
    /// Defaults overridden by [`ENV_FRAME_TIMEOUT_MS`], [`ENV_RUN_TIMEOUT_S`] and [`ENV_WIRE`];
    /// the error names the variable and its bad value.
    pub fn from_env() -> Result<TransportConfig, String> {
        let mut cfg = TransportConfig::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let positive = |name: &str, v: String| match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{name}={v:?} is not a positive integer")),
        };
        if let Some(v) = var(ENV_FRAME_TIMEOUT_MS) {
            cfg.frame_timeout_ms = positive(ENV_FRAME_TIMEOUT_MS, v)?;
        }
        if let Some(v) = var(ENV_RUN_TIMEOUT_S) {
            cfg.run_timeout_s = positive(ENV_RUN_TIMEOUT_S, v)?;
        }
        if let Some(v) = var(ENV_WIRE) {
            cfg.wire = match v.as_str() {
                "text" => Wire::Text,
                "binary" => Wire::Binary,
                _ => return Err(format!("{ENV_WIRE}={v:?}: expected `text` or `binary`")),
            };
        }
        Ok(cfg)
    }
}

/// Step lateness against the wall clock in real-time mode, shared by the devices of a run.
#[derive(Debug, Default)]
pub struct Pacing {
    lateness_us: Mutex<Vec<u64>>,
}

/// Step jitter of a real-time run: how late each step was sent against its wall-clock instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jitter {
    /// Steps paced.
    pub steps: usize,
    /// Median lateness, µs.
    pub p50_us: u64,
    /// 99th-percentile lateness, µs.
    pub p99_us: u64,
    /// Largest lateness, µs.
    pub max_us: u64,
}

impl Pacing {
    fn record(&self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.lateness_us
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(us);
    }

    /// The jitter so far; `None` before the first paced step.
    pub fn jitter(&self) -> Option<Jitter> {
        let mut v = self
            .lateness_us
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |q: usize| v[(v.len() - 1) * q / 100];
        Some(Jitter {
            steps: v.len(),
            p50_us: at(50),
            p99_us: at(99),
            max_us: v[v.len() - 1],
        })
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "transport timeouts and real-time pacing are wall-clock by nature; the firmware still sees only virtual time"
)]
fn wall_now() -> Instant {
    Instant::now()
}

/// A byte link the harness reads with a timeout, in its own thread: no reader thread, so a step
/// costs one write and one read system call on each side.
trait Port: Send {
    /// Longest a `read` may block.
    fn set_timeout(&mut self, timeout: Duration) -> std::io::Result<()>;
    /// Read what is there, waiting at most the timeout (`TimedOut`/`WouldBlock` when nothing came).
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize>;
    /// Write all of `bytes` and push them out.
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Close both directions so the other end sees the end of the stream.
    fn close(&mut self);
}

impl Port for UnixStream {
    fn set_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(timeout))
    }
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Read::read(self, buf)
    }
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Port for TcpStream {
    fn set_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(timeout))
    }
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Read::read(self, buf)
    }
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Port for Box<dyn serialport::SerialPort> {
    fn set_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        serialport::SerialPort::set_timeout(self.as_mut(), timeout).map_err(std::io::Error::from)
    }
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Read::read(self, buf)
    }
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }
    fn close(&mut self) {}
}

/// The tail of a child's stderr, filled by a thread.
#[derive(Default)]
struct StderrTail {
    bytes: VecDeque<u8>,
    done: bool,
}

fn spawn_stderr(mut reader: impl Read + Send + 'static) -> Arc<Mutex<StderrTail>> {
    let tail = Arc::new(Mutex::new(StderrTail::default()));
    let t = Arc::clone(&tail);
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            let n = reader.read(&mut buf).unwrap_or(0);
            let mut g = t.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if n == 0 {
                g.done = true;
                return;
            }
            g.bytes.extend(&buf[..n]);
            let excess = g.bytes.len().saturating_sub(STDERR_TAIL_BYTES);
            g.bytes.drain(..excess);
        }
    });
    tail
}

/// How the link was made, for tearing it down.
enum Endpoint {
    Exec {
        child: Child,
        stderr: Arc<Mutex<StderrTail>>,
    },
    Tcp,
    Serial,
}

/// A firmware over a link: a child process, a TCP connection or a serial port.
pub struct Remote {
    link: String,
    identity: DutIdentity,
    port: Box<dyn Port>,
    /// The read timeout currently set on `port`.
    timeout_set: Duration,
    endpoint: Endpoint,
    decoder: Decoder,
    wire: Wire,
    /// Bytes received but not yet decoded.
    pending: [u8; 512],
    pending_at: usize,
    pending_len: usize,
    recent: VecDeque<u8>,
    tx_buf: [u8; MAX_LINE_LEN],
    seq: u8,
    frame_timeout: Duration,
    deadline: Instant,
    /// `now_ms` of the step in flight or last done, for messages.
    now_ms: Option<u32>,
    /// The first failure; the link is unusable after it.
    broken: Option<String>,
    shut_down: bool,
    pacing: Option<Arc<Pacing>>,
    /// Wall-clock instant and `now_ms` of the first step since boot (real-time mode).
    anchor: Option<(Instant, u32)>,
}

/// What came back for a request.
enum Reply {
    Identify {
        version: u8,
        class: DeviceClass,
        identity: DutIdentity,
    },
    Output(OutputFrame),
    Ack,
}

/// Start a firmware as a child process speaking the protocol on stdin/stdout.
///
/// A command with shell syntax (quotes, `;`, `&`, `|`, redirections, `$`) runs under `sh -c`;
/// otherwise it is split on whitespace and run directly, so killing it kills the firmware.
pub fn exec(command: &str, class: DeviceClass, cfg: &TransportConfig) -> Result<Remote, DutError> {
    let shell = command.chars().any(|c| ";&|<>()$`'\"\\*?\n".contains(c));
    let mut cmd = if shell {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    } else {
        let mut words = command.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| DutError::Transport("exec: empty command".into()))?;
        let mut c = Command::new(program);
        c.args(words);
        c
    };
    // The child's stdin and stdout are one end of a socket pair rather than two pipes: a socket
    // takes a read timeout, so the harness reads in its own thread without a reader thread.
    let cannot =
        |e: std::io::Error| DutError::Transport(format!("exec {command:?}: cannot start: {e}"));
    let (ours, theirs) = UnixStream::pair().map_err(cannot)?;
    let theirs_out = theirs.try_clone().map_err(cannot)?;
    let mut child = cmd
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(cannot)?;
    // `cmd` holds the child's ends until dropped; the child's exit must close the socket.
    drop(cmd);
    let stderr = spawn_stderr(child.stderr.take().expect("piped"));
    Remote::handshake(
        format!("exec:{command}"),
        cfg,
        Box::new(ours),
        Endpoint::Exec { child, stderr },
        class,
    )
}

/// Connect to a firmware listening on TCP `HOST:PORT`.
pub fn tcp(addr: &str, class: DeviceClass, cfg: &TransportConfig) -> Result<Remote, DutError> {
    let timeout = Duration::from_millis(cfg.frame_timeout_ms);
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| DutError::Transport(format!("tcp:{addr}: cannot resolve: {e}")))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = stream.ok_or_else(|| {
        DutError::Transport(format!(
            "tcp:{addr}: cannot connect: {}",
            last.map_or("no address".into(), |e| e.to_string())
        ))
    })?;
    // Each reply is one small write: without NODELAY, Nagle's algorithm would hold it back.
    let _ = stream.set_nodelay(true);
    Remote::handshake(
        format!("tcp:{addr}"),
        cfg,
        Box::new(stream),
        Endpoint::Tcp,
        class,
    )
}

/// Open a board on a serial port (8N1, no flow control).
pub fn serial(
    path: &str,
    baud: u32,
    class: DeviceClass,
    cfg: &TransportConfig,
) -> Result<Remote, DutError> {
    let port = serialport::new(path, baud)
        .timeout(Duration::from_millis(cfg.frame_timeout_ms))
        .open()
        .map_err(|e| DutError::Transport(format!("serial:{path}@{baud}: cannot open: {e}")))?;
    serial_port(port, &format!("serial:{path}@{baud}"), class, cfg)
}

/// Drive a firmware on an already open serial port (a pty in tests, or a port set up by hand).
pub fn serial_port(
    port: Box<dyn serialport::SerialPort>,
    label: &str,
    class: DeviceClass,
    cfg: &TransportConfig,
) -> Result<Remote, DutError> {
    // Stale bytes from an earlier session would be read as the reply to HELLO.
    let _ = port.clear(serialport::ClearBuffer::Input);
    Remote::handshake(
        label.to_string(),
        cfg,
        Box::new(port),
        Endpoint::Serial,
        class,
    )
}

fn hex(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut s = String::new();
    for (i, b) in bytes.into_iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Remote {
    fn handshake(
        link: String,
        cfg: &TransportConfig,
        mut port: Box<dyn Port>,
        endpoint: Endpoint,
        class: DeviceClass,
    ) -> Result<Remote, DutError> {
        let frame_timeout = Duration::from_millis(cfg.frame_timeout_ms);
        port.set_timeout(frame_timeout)
            .map_err(|e| DutError::Transport(format!("{link}: cannot set a read timeout: {e}")))?;
        let mut r = Remote {
            link,
            identity: DutIdentity {
                name: String::new(),
                version: String::new(),
                build: String::new(),
            },
            port,
            timeout_set: frame_timeout,
            endpoint,
            decoder: Decoder::new(cfg.wire),
            wire: cfg.wire,
            pending: [0; 512],
            pending_at: 0,
            pending_len: 0,
            recent: VecDeque::with_capacity(RECENT_BYTES),
            tx_buf: [0; MAX_LINE_LEN],
            seq: 0,
            frame_timeout,
            deadline: wall_now() + Duration::from_secs(cfg.run_timeout_s),
            now_ms: None,
            broken: None,
            shut_down: false,
            pacing: cfg.pacing.clone(),
            anchor: None,
        };
        let hello = Frame::Hello {
            protocol_version: PROTOCOL_VERSION,
            class,
        };
        match r.exchange(&hello)? {
            Reply::Identify {
                version,
                class: echoed,
                identity,
            } => {
                if version != PROTOCOL_VERSION {
                    return Err(r.fail(DutError::Version(format!(
                        "the harness speaks protocol {PROTOCOL_VERSION}, the firmware {:?} {:?} answered with protocol {version}{}",
                        identity.name,
                        identity.version,
                        r.context()
                    ))));
                }
                if echoed != class {
                    return Err(r.fail(DutError::Malformed(format!(
                        "IDENTIFY echoes device class {echoed:?}, HELLO asked for {class:?}{}",
                        r.context()
                    ))));
                }
                r.identity = identity;
                Ok(r)
            }
            _ => unreachable!("exchange checks the reply type"),
        }
    }

    /// Where the link is: step, recent bytes, stderr tail.
    fn context(&self) -> String {
        let mut s = format!(" [{}", self.link);
        match self.now_ms {
            Some(t) => s.push_str(&format!(", step now_ms={t}")),
            None => s.push_str(", before the first step"),
        }
        s.push_str(&format!(", request seq {}]", self.seq.wrapping_sub(1)));
        if self.recent.is_empty() {
            s.push_str("; no bytes received");
        } else {
            s.push_str(&format!(
                "; last {} bytes received: {}",
                self.recent.len(),
                hex(self.recent.iter().copied())
            ));
        }
        if !self.decoder.idle() {
            s.push_str(" (a frame was incomplete)");
        }
        if let Endpoint::Exec { stderr, .. } = &self.endpoint {
            let g = stderr
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (a, b) = g.bytes.as_slices();
            let text = String::from_utf8_lossy(&[a, b].concat())
                .trim_end()
                .to_string();
            if text.is_empty() {
                s.push_str("; firmware stderr: (empty)");
            } else {
                s.push_str(&format!("; firmware stderr:\n{text}"));
            }
        }
        s
    }

    /// Remember the failure so later calls fail at once, and hand it back.
    fn fail(&mut self, e: DutError) -> DutError {
        if self.broken.is_none() {
            self.broken = Some(e.to_string());
        }
        e
    }

    /// A child that closed its end: wait briefly for its exit status and stderr.
    fn crashed(&mut self, why: &str) -> DutError {
        let mut status = String::new();
        if let Endpoint::Exec { child, stderr } = &mut self.endpoint {
            let until = wall_now() + Duration::from_millis(SHUTDOWN_GRACE_MS);
            loop {
                let exited = child.try_wait().ok().flatten();
                let stderr_done = stderr
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .done;
                if let Some(st) = exited {
                    status = format!(", {st}");
                    if stderr_done {
                        break;
                    }
                }
                if wall_now() >= until {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let msg = format!("{why}{status}{}", self.context());
        self.fail(DutError::Crashed(msg))
    }

    fn send(&mut self, frame: &Frame<'_>) -> Result<(), DutError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let n = match self.wire {
            Wire::Binary => protocol::encode(frame, seq, &mut self.tx_buf[..MAX_FRAME_LEN]),
            Wire::Text => protocol::encode_text(frame, seq, &mut self.tx_buf),
        }
        .map_err(|e| DutError::Transport(format!("cannot encode {frame:?}: {e}")))?;
        match self.port.send(&self.tx_buf[..n]) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.crashed(&format!(
                "the firmware closed its input (writing {} failed: {e})",
                frame.frame_type().keyword()
            ))),
        }
    }

    /// Send a request and wait for its reply.
    fn exchange(&mut self, frame: &Frame<'_>) -> Result<Reply, DutError> {
        if let Some(why) = &self.broken {
            return Err(DutError::Transport(format!(
                "the link failed earlier: {why}"
            )));
        }
        let request = frame.frame_type();
        let expected = request.reply().expect("a request");
        let seq = self.seq;
        if self.timeout_set != self.frame_timeout {
            let _ = self.port.set_timeout(self.frame_timeout);
            self.timeout_set = self.frame_timeout;
        }
        self.send(frame)?;
        let started = wall_now();
        loop {
            if self.pending_at == self.pending_len {
                let now = wall_now();
                let frame_end = started + self.frame_timeout;
                let until = frame_end.min(self.deadline);
                if now >= until {
                    let what = if until == self.deadline {
                        "the whole-run timeout expired".to_string()
                    } else {
                        format!(
                            "no complete {} reply within {} ms",
                            request.keyword(),
                            self.frame_timeout.as_millis()
                        )
                    };
                    let msg = format!("{what}{}", self.context());
                    return Err(self.fail(DutError::Timeout(msg)));
                }
                // Shorten the read timeout only when the deadline is near (a system call each time).
                let wait = until - now;
                if wait + TIMEOUT_SLACK < self.timeout_set {
                    let _ = self.port.set_timeout(wait.max(Duration::from_millis(1)));
                    self.timeout_set = wait;
                }
                match self.port.read(&mut self.pending) {
                    Ok(0) => {
                        return Err(self.crashed("the firmware closed the link"));
                    }
                    Ok(n) => {
                        self.pending_at = 0;
                        self.pending_len = n;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::TimedOut
                                | std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => {
                        return Err(self.crashed(&format!("reading from the firmware failed: {e}")));
                    }
                }
            }
            let input = &self.pending[self.pending_at..self.pending_len];
            let (used, result) = self.decoder.feed(input);
            for &b in &input[..used] {
                if self.recent.len() == RECENT_BYTES {
                    self.recent.pop_front();
                }
                self.recent.push_back(b);
            }
            self.pending_at += used;
            let reply = match result {
                Ok(None) => continue,
                Err(e) => {
                    // Show the rest of what came with the bad byte, not just the byte.
                    let rest = &self.pending[self.pending_at..self.pending_len];
                    for &b in rest.iter().take(RECENT_BYTES / 2) {
                        if self.recent.len() == RECENT_BYTES {
                            self.recent.pop_front();
                        }
                        self.recent.push_back(b);
                    }
                    Err(DutError::Malformed(format!("{e}")))
                }
                Ok(Some(rx)) => {
                    let got = rx.frame.frame_type();
                    if let Frame::Error { code, message } = rx.frame {
                        Err(DutError::Reported(format!(
                            "code {code}: {message:?} (answering {} seq {seq}, reply seq {})",
                            request.keyword(),
                            rx.seq
                        )))
                    } else if got != expected || rx.seq != seq {
                        Err(DutError::OutOfOrder(format!(
                            "expected {} seq {seq}, received {} seq {}",
                            expected.keyword(),
                            got.keyword(),
                            rx.seq
                        )))
                    } else {
                        Ok(match rx.frame {
                            Frame::Identify(id) => Reply::Identify {
                                version: id.protocol_version,
                                class: id.class,
                                identity: DutIdentity {
                                    name: id.name.to_string(),
                                    version: id.version.to_string(),
                                    build: id.build.to_string(),
                                },
                            },
                            Frame::Output(o) => Reply::Output(o),
                            _ => Reply::Ack,
                        })
                    }
                }
            };
            return match reply {
                Ok(r) => Ok(r),
                Err(e) => {
                    let e = match e {
                        DutError::Malformed(m) => {
                            DutError::Malformed(format!("{m}{}", self.context()))
                        }
                        DutError::Reported(m) => {
                            DutError::Reported(format!("{m}{}", self.context()))
                        }
                        DutError::OutOfOrder(m) => {
                            DutError::OutOfOrder(format!("{m}{}", self.context()))
                        }
                        other => other,
                    };
                    Err(self.fail(e))
                }
            };
        }
    }

    fn pace(&mut self, now_ms: u32) {
        let Some(pacing) = &self.pacing else {
            return;
        };
        let now = wall_now();
        let (t0, ms0) = *self.anchor.get_or_insert((now, now_ms));
        let target = t0 + Duration::from_millis(u64::from(now_ms.wrapping_sub(ms0)));
        if target > now {
            std::thread::sleep(target - now);
        }
        pacing.record(wall_now().saturating_duration_since(target));
    }

    fn teardown(&mut self) {
        // The end of the stream tells a child or a TCP server that the session is over.
        self.port.close();
        match &mut self.endpoint {
            Endpoint::Exec { child, .. } => {
                // A firmware that said BYE exits by itself; give it a moment, then kill.
                let until = wall_now() + Duration::from_millis(SHUTDOWN_GRACE_MS);
                while self.broken.is_none() && wall_now() < until {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            Endpoint::Tcp | Endpoint::Serial => {}
        }
    }
}

impl Dut for Remote {
    fn identity(&self) -> DutIdentity {
        self.identity.clone()
    }

    fn boot(&mut self, nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        self.now_ms = None;
        self.anchor = None;
        self.exchange(&Frame::Boot { nvm }).map(|_| ())
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        self.now_ms = Some(input.now_ms);
        self.pace(input.now_ms);
        match self.exchange(&Frame::Step(*input))? {
            Reply::Output(o) => Ok(o),
            _ => unreachable!("exchange checks the reply type"),
        }
    }

    fn power_off(&mut self) {
        // Errors here surface on the next boot or step: the link is marked broken.
        let _ = self.exchange(&Frame::PowerOff);
    }

    fn shutdown(&mut self) -> Result<(), DutError> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let result = if self.broken.is_none() {
            let saved = self.frame_timeout;
            self.frame_timeout = saved.min(Duration::from_millis(SHUTDOWN_GRACE_MS));
            let r = self.exchange(&Frame::Shutdown).map(|_| ());
            self.frame_timeout = saved;
            r
        } else {
            Ok(())
        };
        self.teardown();
        result
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
