//! The device under test: one trait for every way of reaching a firmware.
//!
//! The bench only ever talks to a [`Dut`]: the in-process reference firmware ([`InProcess`]), a
//! host-compiled program over stdin/stdout or TCP, or a board on a serial port all implement it and
//! carry the same [`firmware::boundary`] frames unchanged. A transport can fail (a crash, a hang, a
//! malformed frame); the in-process firmware cannot, but shares the signature so the bench has one
//! loop.

use firmware::boundary::{InputFrame, NVM_SIZE, OutputFrame};

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
#[derive(Debug, thiserror::Error)]
pub enum DutError {
    /// The firmware process crashed or closed its end.
    #[error("firmware crashed: {0}")]
    Crashed(String),
    /// The firmware did not answer in time.
    #[error("firmware timed out after {0} ms")]
    Timeout(u64),
    /// The firmware sent a frame the protocol does not allow.
    #[error("malformed frame from firmware: {0}")]
    Malformed(String),
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
    /// Power off: the firmware loses its RAM; the next call is `boot`.
    fn power_off(&mut self);
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
    step_fn: fn(&mut F, &InputFrame) -> OutputFrame,
    identity: DutIdentity,
    running: Option<F>,
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
            step_fn,
            identity,
            running: None,
        }
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
        match self.running.as_mut() {
            Some(fw) => Ok((self.step_fn)(fw, input)),
            None => Err(DutError::Transport("step before boot".into())),
        }
    }

    fn power_off(&mut self) {
        self.running = None;
    }
}
