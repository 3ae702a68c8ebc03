//! The device under test: one trait for every way of reaching a firmware.
//!
//! The bench only ever talks to a [`Dut`]: the in-process reference firmware ([`InProcess`]), a
//! host-compiled program over stdin/stdout or TCP, or a board on a serial port all implement it and
//! carry the same [`firmware::boundary`] frames unchanged. A transport can fail (a crash, a hang, a
//! malformed frame); the in-process firmware cannot, but shares the signature so the bench has one
//! loop.

use firmware::boundary::{InputFrame, NVM_SIZE, OutputFrame};

use crate::transport::{self, TransportConfig};

/// Who the firmware says it is (from the in-process crate or a transport's handshake).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DutIdentity {
    /// Firmware name.
    pub name: String,
    /// Firmware version string.
    pub version: String,
    /// Build identity (a commit hash or image checksum); empty when the firmware does not say.
    pub build: String,
}

/// Why a firmware or its transport failed: exit code 3 territory, never a property verdict.
///
/// A transport's message names the link, the step (`now_ms`), the last bytes received and, for a
/// child process, the tail of its stderr.
#[derive(Debug, thiserror::Error)]
pub enum DutError {
    /// The firmware process crashed or closed its end.
    #[error("firmware crashed: {0}")]
    Crashed(String),
    /// The firmware did not answer in time (per-frame or whole-run timeout).
    #[error("firmware timed out: {0}")]
    Timeout(String),
    /// The firmware sent bytes that do not decode as a frame.
    #[error("malformed frame from firmware: {0}")]
    Malformed(String),
    /// The firmware answered with the wrong frame type or sequence number.
    #[error("firmware reply out of order: {0}")]
    OutOfOrder(String),
    /// The firmware speaks another protocol version.
    #[error("protocol version mismatch: {0}")]
    Version(String),
    /// The firmware answered with an `ERROR` frame.
    #[error("firmware reported an error: {0}")]
    Reported(String),
    /// The transport could not be set up or used.
    #[error("transport failed: {0}")]
    Transport(String),
}

/// A device under test, driven frame by frame by the bench.
pub trait Dut {
    /// Name and version the firmware reports.
    fn identity(&self) -> DutIdentity;
    /// Power on with the given NVM image (the chip's contents at boot).
    fn boot(&mut self, nvm: &[u8; NVM_SIZE]) -> Result<(), DutError>;
    /// One step: inputs in, outputs out.
    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError>;
    /// One step with the outputs written into `out` (left as it was on an error). The bench
    /// calls this one: an in-process firmware then writes its frame where the bench keeps it,
    /// instead of through a returned `Result` that the caller copies again (on x86 those copies
    /// read the frame's narrow stores back with wide loads, a store-forwarding stall of a few
    /// percent of the closed loop's time). The default calls [`Dut::step`].
    fn step_into(&mut self, input: &InputFrame, out: &mut OutputFrame) -> Result<(), DutError> {
        *out = self.step(input)?;
        Ok(())
    }
    /// Power off: the firmware loses its RAM; the next call is `boot`.
    fn power_off(&mut self);
    /// End of the run: a transport says goodbye and closes the link (dropping does the same,
    /// without reporting how it went). Nothing to do in process.
    fn shutdown(&mut self) -> Result<(), DutError> {
        Ok(())
    }
}

/// Signature of the in-process firmware's constructor: boot a device class with an NVM image.
pub type BootFn<F> = fn(firmware::DeviceClass, &[u8; NVM_SIZE]) -> F;

/// A firmware linked into the harness process, stepped by direct calls.
///
/// Generic over the firmware type so a customer's Rust firmware crate (or a seeded-bug variant in
/// the tests) plugs in the same way as the reference firmware.
pub struct InProcess<F> {
    class: firmware::DeviceClass,
    boot_fn: BootFn<F>,
    step_fn: StepFn<F>,
    identity: DutIdentity,
    running: Option<F>,
}

/// Signature of an in-process firmware's step that writes its frame into the caller's (see
/// [`InProcess::with_step_into`]).
pub type StepIntoFn<F> = fn(&mut F, &InputFrame, &mut OutputFrame);

/// How an in-process firmware is stepped.
#[derive(Clone, Copy)]
enum StepFn<F> {
    /// The step returns its frame.
    Returning(fn(&mut F, &InputFrame) -> OutputFrame),
    /// The step writes its frame where the caller keeps it.
    InPlace(StepIntoFn<F>),
}

impl<F> InProcess<F> {
    /// Wrap a firmware given its boot and step functions.
    pub fn new(
        class: firmware::DeviceClass,
        identity: DutIdentity,
        boot_fn: BootFn<F>,
        step_fn: fn(&mut F, &InputFrame) -> OutputFrame,
    ) -> InProcess<F> {
        InProcess {
            class,
            boot_fn,
            step_fn: StepFn::Returning(step_fn),
            identity,
            running: None,
        }
    }

    /// The same firmware, stepped by `step_into` in place of the step given to [`Self::new`]:
    /// for a firmware whose step can write its output frame where the bench keeps it (as the
    /// reference firmware's `Firmware::step_into` does), which spares the loop a copy of the
    /// returned frame and the store-forwarding stall that copy causes. It must write what the
    /// returning step would return.
    pub fn with_step_into(mut self, step_into: StepIntoFn<F>) -> InProcess<F> {
        self.step_fn = StepFn::InPlace(step_into);
        self
    }
}

/// The reference firmware of this repository, in process.
pub fn reference(class: firmware::DeviceClass) -> InProcess<firmware::Firmware> {
    InProcess::new(
        class,
        DutIdentity {
            name: "pbm-hil reference firmware".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            build: String::new(),
        },
        firmware::Firmware::boot,
        firmware::Firmware::step,
    )
    .with_step_into(firmware::Firmware::step_into)
}

impl<F> Dut for InProcess<F> {
    fn identity(&self) -> DutIdentity {
        self.identity.clone()
    }

    fn boot(&mut self, nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        self.running = Some((self.boot_fn)(self.class, nvm));
        Ok(())
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let mut out = OutputFrame::default();
        self.step_into(input, &mut out)?;
        Ok(out)
    }

    fn step_into(&mut self, input: &InputFrame, out: &mut OutputFrame) -> Result<(), DutError> {
        let fw = self
            .running
            .as_mut()
            .ok_or_else(|| DutError::Transport("step before boot".into()))?;
        match self.step_fn {
            StepFn::InPlace(step_into) => step_into(fw, input, out),
            StepFn::Returning(step) => *out = step(fw, input),
        }
        Ok(())
    }

    fn power_off(&mut self) {
        self.running = None;
    }
}

/// Which firmware to test, as the `--firmware` flag names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirmwareSpec {
    /// The reference firmware of this repository, linked in process.
    Reference,
    /// A host-compiled firmware started as a child process, speaking the protocol on stdin/stdout.
    Exec(String),
    /// A firmware listening on a TCP address (`HOST:PORT`).
    Tcp(String),
    /// A board on a serial port.
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Baud rate (default 115200).
        baud: u32,
    },
}

/// Default baud rate of `serial:PATH` without `@BAUD`.
pub const DEFAULT_BAUD: u32 = 115_200;

impl FirmwareSpec {
    /// Parse a `--firmware` value: `reference`, `exec:COMMAND`, `tcp:HOST:PORT`,
    /// `serial:PATH[@BAUD]`. The error says what was found and what was expected.
    pub fn parse(s: &str) -> Result<FirmwareSpec, String> {
        let expected =
            "expected `reference`, `exec:COMMAND`, `tcp:HOST:PORT` or `serial:PATH[@BAUD]`";
        if s == "reference" {
            return Ok(FirmwareSpec::Reference);
        }
        if let Some(cmd) = s.strip_prefix("exec:") {
            if cmd.trim().is_empty() {
                return Err(format!("{s:?}: `exec:` needs a command; {expected}"));
            }
            return Ok(FirmwareSpec::Exec(cmd.to_string()));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            let ok = addr
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(format!(
                    "{s:?}: `tcp:` needs HOST:PORT with a port 0..=65535; {expected}"
                ));
            }
            return Ok(FirmwareSpec::Tcp(addr.to_string()));
        }
        if let Some(rest) = s.strip_prefix("serial:") {
            let (path, baud) = match rest.rsplit_once('@') {
                Some((path, baud)) => match baud.parse::<u32>() {
                    Ok(b) if b > 0 => (path, b),
                    _ => {
                        return Err(format!(
                            "{s:?}: baud rate {baud:?} is not a positive integer; {expected}"
                        ));
                    }
                },
                None => (rest, DEFAULT_BAUD),
            };
            if path.is_empty() {
                return Err(format!("{s:?}: `serial:` needs a device path; {expected}"));
            }
            return Ok(FirmwareSpec::Serial {
                path: path.to_string(),
                baud,
            });
        }
        Err(format!("{s:?} is not a firmware; {expected}"))
    }

    /// Make the device under test for one device of `kind`, with the transport settings of
    /// [`TransportConfig::from_env`] (defaults when the variables are unset).
    pub fn make(&self, kind: sim::device::DeviceKind) -> Result<Box<dyn Dut>, DutError> {
        let cfg = TransportConfig::from_env().map_err(DutError::Transport)?;
        self.make_with(kind, &cfg)
    }

    /// Make the device under test for one device of `kind`: connect, handshake (a transport
    /// learns the firmware's identity here) and hand it to the bench.
    pub fn make_with(
        &self,
        kind: sim::device::DeviceKind,
        cfg: &TransportConfig,
    ) -> Result<Box<dyn Dut>, DutError> {
        let class = crate::plant_io::device_class(kind);
        Ok(match self {
            FirmwareSpec::Reference => Box::new(reference(class)),
            FirmwareSpec::Exec(cmd) => Box::new(transport::exec(cmd, class, cfg)?),
            FirmwareSpec::Tcp(addr) => Box::new(transport::tcp(addr, class, cfg)?),
            FirmwareSpec::Serial { path, baud } => {
                Box::new(transport::serial(path, *baud, class, cfg)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_specs_parse_and_bad_ones_say_what_was_expected() {
        assert_eq!(
            FirmwareSpec::parse("reference"),
            Ok(FirmwareSpec::Reference)
        );
        assert_eq!(
            FirmwareSpec::parse("exec:./fw --fast"),
            Ok(FirmwareSpec::Exec("./fw --fast".into()))
        );
        assert_eq!(
            FirmwareSpec::parse("tcp:127.0.0.1:7000"),
            Ok(FirmwareSpec::Tcp("127.0.0.1:7000".into()))
        );
        assert_eq!(
            FirmwareSpec::parse("serial:/dev/ttyUSB0"),
            Ok(FirmwareSpec::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: DEFAULT_BAUD
            })
        );
        assert_eq!(
            FirmwareSpec::parse("serial:/dev/ttyACM0@921600"),
            Ok(FirmwareSpec::Serial {
                path: "/dev/ttyACM0".into(),
                baud: 921_600
            })
        );
        for bad in [
            "",
            "ref",
            "exec:",
            "tcp:host",
            "tcp:host:99999",
            "serial:",
            "serial:/dev/x@fast",
        ] {
            let e = FirmwareSpec::parse(bad).expect_err(bad);
            assert!(e.contains("expected"), "{bad}: {e}");
        }
    }
}
