//! Run bundles: every frame that crossed the firmware boundary, plant samples and a manifest,
//! streamed to disk so a failure seen in CI, a campaign or on a bench replays on a laptop.
//!
//! Recording sits at the DUT seam, not in the bench: [`Recording`] wraps any [`Dut`] and writes
//! each `boot`, `step` (input and output) and `power_off` to a per-device frames file, and
//! [`SampleWriter`] is a [`Reporter`] that keeps plant samples at a chosen rate. The bench calls
//! the DUT in an order fixed by the scenario and the firmware's own `next_wake_ms`, so the frames
//! alone are enough to replay a run open loop or to compare a new firmware step by step
//! (`crate::replay`).
//!
//! Files of a bundle folder (format 1, documented in `docs/replay.md`):
//! - `manifest.json`: [`Manifest`], written first with `complete: false` and rewritten
//!   atomically at the end, so a crash leaves a bundle that says it is incomplete;
//! - `scenario.toml`: the scenario as run (the format writer's round trip);
//! - `device-N.frames`: frames of device `N` (binary, delta-coded, see [`FramesWriter`]);
//! - `samples.bin`: decimated plant samples (binary, raw `f64` bits, see [`SampleWriter`]).
//!
//! Everything is written through `BufWriter`s as the run goes: memory stays bounded whatever the
//! run's length. Hashes are FNV-1a 64 ([`fnv1a64`]): a fixed, documented function, stable across
//! platforms and Rust versions, enough to tell "same input" from "edited input" (not a defence
//! against forgery).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use firmware::boundary::{
    AdcFrame, Indicator, InputFrame, MAX_CONTACT_NTCS, MAX_STRINGS, NVM_SIZE, NVM_WRITE_MAX,
    NvmWrite, OutputFrame,
};
use serde::{Deserialize, Serialize};

use crate::bench::{BenchError, DutFactory};
use crate::dut::{Dut, DutError, DutIdentity, FirmwareSpec};
use crate::events::{Event, Reporter, Sample, Tee};
use crate::result::{RunResult, Status};
use crate::scenario::Scenario;

/// Bundle format this build writes and reads. Any change to a file's layout bumps it, and other
/// versions are refused, never misread.
pub const FORMAT_VERSION: u32 = 1;

/// Default sample rate of a recording, ms between kept samples of one device: a 1 s grid keeps a
/// week of treatment (a few hours of emission) at a few MB while resolving the thermal time
/// constants (tens of seconds, domain.md §4) that the charts show.
pub const DEFAULT_RECORD_RATE_MS: u64 = 1_000;

/// Manifest file name in a bundle folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Scenario file name in a bundle folder.
pub const SCENARIO_FILE: &str = "scenario.toml";
/// Samples file name in a bundle folder.
pub const SAMPLES_FILE: &str = "samples.bin";

/// Magic bytes opening a frames file.
pub const FRAMES_MAGIC: &[u8; 8] = b"PBMHILFR";
/// Magic bytes opening a samples file.
pub const SAMPLES_MAGIC: &[u8; 8] = b"PBMHILSA";

/// Frames file name of device `index`.
pub fn frames_file(index: usize) -> String {
    format!("device-{index}.frames")
}

/// FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3; Fowler, Noll, Vo): the
/// bundle's content hash.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash as the manifest writes it: 16 lowercase hex digits.
pub fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// Hash of the reference firmware: its crate's sources, so two builds from different commits of
/// the firmware differ (the reference reports no build identity of its own).
pub fn reference_firmware_hash() -> u64 {
    const SOURCES: [&[u8]; 11] = [
        include_bytes!("../../firmware/src/boundary.rs"),
        include_bytes!("../../firmware/src/device.rs"),
        include_bytes!("../../firmware/src/dose.rs"),
        include_bytes!("../../firmware/src/faults.rs"),
        include_bytes!("../../firmware/src/lib.rs"),
        include_bytes!("../../firmware/src/machine.rs"),
        include_bytes!("../../firmware/src/ntc.rs"),
        include_bytes!("../../firmware/src/nvm.rs"),
        include_bytes!("../../firmware/src/programs.rs"),
        include_bytes!("../../firmware/src/thermal.rs"),
        include_bytes!("../../firmware/src/variant.rs"),
    ];
    fnv1a64(&SOURCES.concat())
}

/// Hash of the firmware a spec names, when it can be had: the reference's sources, or the bytes
/// of an `exec:` program's executable. Transports to other machines have only their reported
/// build identity (`DutIdentity::build`).
pub fn firmware_hash(spec: &FirmwareSpec) -> Option<u64> {
    match spec {
        FirmwareSpec::Reference => Some(reference_firmware_hash()),
        FirmwareSpec::Exec(cmd) => {
            let program = cmd.split_whitespace().next()?;
            std::fs::read(program).ok().map(|b| fnv1a64(&b))
        }
        _ => None,
    }
}

/// Hash of the plant parameters of a scenario: the `Debug` text of the environment and of each
/// device's kind, tolerances and catalog spec (`sim::device::spec`). A plant model change that
/// alters a parameter changes it; the seed is recorded separately.
pub fn plant_hash(scenario: &Scenario) -> u64 {
    let mut text = format!("{:?}", scenario.environment);
    for d in &scenario.devices {
        text.push_str(&format!(
            "|{:?}|{:?}|{:?}",
            d.kind,
            d.tolerances,
            sim::device::spec(d.kind)
        ));
    }
    fnv1a64(text.as_bytes())
}

// ---- Frames as lanes: one list of named integers per step, shared by writer, reader, compare.

/// Named integer fields of an [`InputFrame`], in lane order.
pub const INPUT_LANES: [&str; 19] = [
    "input.now_ms",
    "input.adc.contact_ntc[0]",
    "input.adc.contact_ntc[1]",
    "input.adc.board_ntc",
    "input.adc.string_current[0]",
    "input.adc.string_current[1]",
    "input.adc.string_current[2]",
    "input.adc.string_current[3]",
    "input.adc.string_voltage[0]",
    "input.adc.string_voltage[1]",
    "input.adc.string_voltage[2]",
    "input.adc.string_voltage[3]",
    "input.adc.supply",
    "input.buttons",
    "input.program",
    "input.skin_contact",
    "input.eye_shield",
    "input.fan_ok",
    "input.distance_mm",
];

/// Named integer fields of an [`OutputFrame`] (all but the NVM write), in lane order.
pub const OUTPUT_LANES: [&str; 11] = [
    "output.duty_permille[0]",
    "output.duty_permille[1]",
    "output.current_ma[0]",
    "output.current_ma[1]",
    "output.hw_enable",
    "output.indicator",
    "output.next_wake_ms",
    "output.state",
    "output.detail",
    "output.dose_estimate_mj_cm2",
    "output.fault_code",
];

/// Lanes of an input frame.
pub type InputLanes = [u32; INPUT_LANES.len()];
/// Lanes of an output frame.
pub type OutputLanes = [u32; OUTPUT_LANES.len()];
const LANES: usize = INPUT_LANES.len() + OUTPUT_LANES.len();

/// An input frame as lanes.
pub fn input_lanes(i: &InputFrame) -> InputLanes {
    let a = &i.adc;
    [
        i.now_ms,
        a.contact_ntc[0].into(),
        a.contact_ntc[1].into(),
        a.board_ntc.into(),
        a.string_current[0].into(),
        a.string_current[1].into(),
        a.string_current[2].into(),
        a.string_current[3].into(),
        a.string_voltage[0].into(),
        a.string_voltage[1].into(),
        a.string_voltage[2].into(),
        a.string_voltage[3].into(),
        a.supply.into(),
        i.buttons.into(),
        i.program.into(),
        i.skin_contact.into(),
        i.eye_shield.into(),
        i.fan_ok.into(),
        i.distance_mm.into(),
    ]
}

/// An output frame's lanes (the NVM write travels beside them).
pub fn output_lanes(o: &OutputFrame) -> OutputLanes {
    [
        o.duty_permille[0].into(),
        o.duty_permille[1].into(),
        o.current_ma[0].into(),
        o.current_ma[1].into(),
        o.hw_enable.into(),
        o.indicator as u32,
        o.next_wake_ms,
        o.state.into(),
        o.detail.into(),
        o.dose_estimate_mj_cm2,
        o.fault_code.into(),
    ]
}

/// Largest value each lane may hold (the width of its field), for the reader's range check.
fn lane_max(lane: usize) -> u32 {
    const BOOL: u32 = 1;
    const U8: u32 = u8::MAX as u32;
    const U16: u32 = u16::MAX as u32;
    match lane {
        0 => u32::MAX,
        1..=12 | 18 => U16,
        13 | 14 => U8,
        15..=17 => BOOL,
        l if l == INPUT_LANES.len() + 4 => BOOL,
        l if l == INPUT_LANES.len() + 5 => Indicator::Fault as u32,
        l if l == INPUT_LANES.len() + 6 || l == INPUT_LANES.len() + 9 => u32::MAX,
        l if l == INPUT_LANES.len() + 7 || l == INPUT_LANES.len() + 8 => U8,
        _ => U16,
    }
}

fn indicator_from(code: u32) -> Indicator {
    match code {
        1 => Indicator::Ready,
        2 => Indicator::Treating,
        3 => Indicator::Paused,
        4 => Indicator::Warning,
        5 => Indicator::Refused,
        6 => Indicator::Fault,
        _ => Indicator::Off,
    }
}

// Narrowing below is exact: the reader range-checks every lane against `lane_max` first.
fn u16_of(x: u32) -> u16 {
    x as u16
}

/// An input frame from its lanes.
pub fn input_from_lanes(l: &InputLanes) -> InputFrame {
    InputFrame {
        now_ms: l[0],
        adc: AdcFrame {
            contact_ntc: [u16_of(l[1]), u16_of(l[2])],
            board_ntc: u16_of(l[3]),
            string_current: [u16_of(l[4]), u16_of(l[5]), u16_of(l[6]), u16_of(l[7])],
            string_voltage: [u16_of(l[8]), u16_of(l[9]), u16_of(l[10]), u16_of(l[11])],
            supply: u16_of(l[12]),
        },
        buttons: l[13] as u8,
        program: l[14] as u8,
        skin_contact: l[15] != 0,
        eye_shield: l[16] != 0,
        fan_ok: l[17] != 0,
        distance_mm: u16_of(l[18]),
    }
}

/// An output frame from its lanes and NVM write.
pub fn output_from_lanes(l: &OutputLanes, nvm_write: Option<NvmWrite>) -> OutputFrame {
    OutputFrame {
        duty_permille: [u16_of(l[0]), u16_of(l[1])],
        current_ma: [u16_of(l[2]), u16_of(l[3])],
        hw_enable: l[4] != 0,
        indicator: indicator_from(l[5]),
        nvm_write,
        next_wake_ms: l[6],
        state: l[7] as u8,
        detail: l[8] as u8,
        dose_estimate_mj_cm2: l[9],
        fault_code: u16_of(l[10]),
    }
}

const _: () = assert!(
    MAX_CONTACT_NTCS == 2 && MAX_STRINGS == 4,
    "lane table layout"
);

// ---- Frames file.

/// One thing that crossed the firmware boundary.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameRecord {
    /// Power on with this NVM image.
    Boot(Box<[u8; NVM_SIZE]>),
    /// One step: inputs in, outputs out.
    Step {
        /// What the firmware read.
        input: InputFrame,
        /// What it drove.
        output: OutputFrame,
    },
    /// Power off.
    PowerOff,
    /// The firmware or its transport failed on this step's input (the run ended here).
    Failure {
        /// What it was given.
        input: InputFrame,
        /// The transport's error, as text.
        message: String,
    },
}

const TAG_BOOT: u8 = 0x01;
const TAG_STEP: u8 = 0x02;
const TAG_STEP_NVM: u8 = 0x03;
const TAG_POWER_OFF: u8 = 0x04;
const TAG_FAILURE: u8 = 0x05;
const TAG_END: u8 = 0xFF;

fn put_varint(buf: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        buf.push((x as u8) | 0x80);
        x >>= 7;
    }
    buf.push(x as u8);
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Writes a frames file as the run goes.
///
/// Layout (little-endian): the 8-byte [`FRAMES_MAGIC`], the format version as `u32`, then
/// records, each a tag byte: `0x01` boot + 256 NVM bytes; `0x02` step: a LEB128 bit mask of the
/// lanes ([`INPUT_LANES`] then [`OUTPUT_LANES`]) that changed since the previous step, then for
/// each set bit the zigzag-LEB128 difference; `0x03` the same followed by the NVM write (`u16`
/// offset, `u8` length, the bytes); `0x04` power off; `0x05` failure: the input as a step's
/// lanes, then a LEB128 length and UTF-8 text; `0xFF` end, then the LEB128 record count. A file
/// without the end record is truncated. Delta coding keeps a week's steps at a few bytes each:
/// between two ticks usually only time and a few noisy ADC codes move.
pub struct FramesWriter {
    out: BufWriter<File>,
    prev: [u32; LANES],
    records: u64,
    bytes: u64,
    buf: Vec<u8>,
}

impl FramesWriter {
    /// Create the file and write its header.
    pub fn create(path: &Path) -> io::Result<FramesWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(FRAMES_MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        Ok(FramesWriter {
            out,
            prev: [0; LANES],
            records: 0,
            bytes: 12,
            buf: Vec::with_capacity(128),
        })
    }

    fn lanes_delta(&mut self, lanes: &[u32]) {
        let mut mask = 0u64;
        for (i, (&new, old)) in lanes.iter().zip(self.prev.iter()).enumerate() {
            if new != *old {
                mask |= 1 << i;
            }
        }
        put_varint(&mut self.buf, mask);
        for (i, &new) in lanes.iter().enumerate() {
            if mask & (1 << i) != 0 {
                put_varint(
                    &mut self.buf,
                    zigzag(i64::from(new) - i64::from(self.prev[i])),
                );
                self.prev[i] = new;
            }
        }
    }

    /// Append one record.
    pub fn write(&mut self, record: &FrameRecord) -> io::Result<()> {
        self.buf.clear();
        match record {
            FrameRecord::Boot(nvm) => {
                self.buf.push(TAG_BOOT);
                self.buf.extend_from_slice(&nvm[..]);
            }
            FrameRecord::Step { input, output } => {
                self.buf.push(if output.nvm_write.is_some() {
                    TAG_STEP_NVM
                } else {
                    TAG_STEP
                });
                let mut lanes = [0u32; LANES];
                lanes[..INPUT_LANES.len()].copy_from_slice(&input_lanes(input));
                lanes[INPUT_LANES.len()..].copy_from_slice(&output_lanes(output));
                self.lanes_delta(&lanes);
                if let Some(w) = &output.nvm_write {
                    let bytes = w.bytes();
                    self.buf.extend_from_slice(&w.offset.to_le_bytes());
                    self.buf.push(bytes.len() as u8);
                    self.buf.extend_from_slice(bytes);
                }
            }
            FrameRecord::PowerOff => self.buf.push(TAG_POWER_OFF),
            FrameRecord::Failure { input, message } => {
                self.buf.push(TAG_FAILURE);
                let mut lanes = self.prev;
                lanes[..INPUT_LANES.len()].copy_from_slice(&input_lanes(input));
                self.lanes_delta(&lanes);
                put_varint(&mut self.buf, message.len() as u64);
                self.buf.extend_from_slice(message.as_bytes());
            }
        }
        self.out.write_all(&self.buf)?;
        self.records += 1;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Write the end record and flush; returns (records, bytes).
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        self.buf.clear();
        self.buf.push(TAG_END);
        put_varint(&mut self.buf, self.records);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok((self.records, self.bytes + self.buf.len() as u64))
    }
}

/// Why a bundle cannot be read: every message names the file (and the byte offset when the
/// frames or samples are corrupt). Exit code 2 territory.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The bundle was written by another format version.
    #[error("{path}: bundle format {found}, this pbm-hil reads format {FORMAT_VERSION}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Version it declares.
        found: u64,
    },
    /// The recording never finished (a crash or kill mid-run).
    #[error("{path}: the bundle is incomplete (the recording run did not finish)")]
    Incomplete {
        /// The manifest.
        path: PathBuf,
    },
    /// The manifest or scenario is malformed or does not match its hash.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A binary file is truncated or corrupt.
    #[error("{path}: at byte offset {offset}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

/// Reads a frames file back one record at a time (bounded memory), checking as it goes.
pub struct FramesReader {
    path: PathBuf,
    input: BufReader<File>,
    offset: u64,
    prev: [u32; LANES],
    records: u64,
    ended: bool,
}

impl FramesReader {
    /// Open a frames file and check its header.
    pub fn open(path: &Path) -> Result<FramesReader, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = FramesReader {
            path: path.to_path_buf(),
            input: BufReader::new(file),
            offset: 0,
            prev: [0; LANES],
            records: 0,
            ended: false,
        };
        let mut magic = [0u8; 8];
        for b in &mut magic {
            *b = r.byte("the header")?;
        }
        if &magic != FRAMES_MAGIC {
            return Err(r.corrupt(0, "not a pbm-hil frames file (bad magic bytes)".into()));
        }
        let mut v = [0u8; 4];
        for b in &mut v {
            *b = r.byte("the header")?;
        }
        let found = u32::from_le_bytes(v);
        if found != FORMAT_VERSION {
            return Err(BundleError::Version {
                path: path.to_path_buf(),
                found: found.into(),
            });
        }
        Ok(r)
    }

    fn corrupt(&self, offset: u64, message: String) -> BundleError {
        BundleError::Corrupt {
            path: self.path.clone(),
            offset,
            message,
        }
    }

    fn byte(&mut self, inside: &str) -> Result<u8, BundleError> {
        let mut b = [0u8; 1];
        match self.input.read(&mut b) {
            Ok(1) => {
                self.offset += 1;
                Ok(b[0])
            }
            Ok(_) => Err(self.corrupt(
                self.offset,
                format!("truncated inside {inside} (record {})", self.records),
            )),
            Err(source) => Err(BundleError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn varint(&mut self, inside: &str) -> Result<u64, BundleError> {
        let start = self.offset;
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte(inside)?;
            x |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(x);
            }
        }
        Err(self.corrupt(start, format!("over-long integer in {inside}")))
    }

    fn lanes(&mut self, inside: &str) -> Result<[u32; LANES], BundleError> {
        let start = self.offset;
        let mask = self.varint(inside)?;
        if mask >> LANES != 0 {
            return Err(self.corrupt(start, format!("lane mask {mask:#x} names unknown lanes")));
        }
        for i in 0..LANES {
            if mask & (1 << i) != 0 {
                let at = self.offset;
                let v = i64::from(self.prev[i]) + unzigzag(self.varint(inside)?);
                match u32::try_from(v) {
                    Ok(v) if v <= lane_max(i) => self.prev[i] = v,
                    _ => {
                        return Err(self
                            .corrupt(at, format!("value {v} out of range for {}", lane_name(i))));
                    }
                }
            }
        }
        Ok(self.prev)
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next record; `None` after the end record. A file that stops without one is
    /// truncated, and the error says at which byte offset.
    pub fn next_record(&mut self) -> Result<Option<FrameRecord>, BundleError> {
        if self.ended {
            return Ok(None);
        }
        let start = self.offset;
        let mut tag = [0u8; 1];
        let n = self
            .input
            .read(&mut tag)
            .map_err(|source| BundleError::Io {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Err(self.corrupt(
                start,
                format!(
                    "truncated after {} records: no end record (the recording did not finish)",
                    self.records
                ),
            ));
        }
        self.offset += 1;
        let record = match tag[0] {
            TAG_BOOT => {
                let mut nvm = Box::new([0u8; NVM_SIZE]);
                for b in nvm.iter_mut() {
                    *b = self.byte("a boot record")?;
                }
                FrameRecord::Boot(nvm)
            }
            TAG_STEP | TAG_STEP_NVM => {
                let lanes = self.lanes("a step record")?;
                let nvm_write = if tag[0] == TAG_STEP_NVM {
                    let lo = self.byte("an NVM write")?;
                    let hi = self.byte("an NVM write")?;
                    let len_at = self.offset;
                    let len = self.byte("an NVM write")?;
                    if usize::from(len) > NVM_WRITE_MAX {
                        return Err(self.corrupt(
                            len_at,
                            format!("NVM write of {len} bytes (at most {NVM_WRITE_MAX})"),
                        ));
                    }
                    let mut data = [0u8; NVM_WRITE_MAX];
                    for b in data.iter_mut().take(len.into()) {
                        *b = self.byte("an NVM write")?;
                    }
                    Some(NvmWrite {
                        offset: u16::from_le_bytes([lo, hi]),
                        len,
                        data,
                    })
                } else {
                    None
                };
                let (i, o) = lanes.split_at(INPUT_LANES.len());
                FrameRecord::Step {
                    input: input_from_lanes(i.try_into().expect("lane split")),
                    output: output_from_lanes(o.try_into().expect("lane split"), nvm_write),
                }
            }
            TAG_POWER_OFF => FrameRecord::PowerOff,
            TAG_FAILURE => {
                let lanes = self.lanes("a failure record")?;
                let len_at = self.offset;
                let len = self.varint("a failure record")?;
                if len > 4096 {
                    return Err(self.corrupt(len_at, format!("failure message of {len} bytes")));
                }
                let mut text = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    text.push(self.byte("a failure record")?);
                }
                let (i, _) = lanes.split_at(INPUT_LANES.len());
                FrameRecord::Failure {
                    input: input_from_lanes(i.try_into().expect("lane split")),
                    message: String::from_utf8_lossy(&text).into_owned(),
                }
            }
            TAG_END => {
                let count_at = self.offset;
                let count = self.varint("the end record")?;
                if count != self.records {
                    return Err(self.corrupt(
                        count_at,
                        format!(
                            "end record counts {count} records, the file holds {}",
                            self.records
                        ),
                    ));
                }
                let mut extra = [0u8; 1];
                if self
                    .input
                    .read(&mut extra)
                    .map_err(|source| BundleError::Io {
                        path: self.path.clone(),
                        source,
                    })?
                    != 0
                {
                    return Err(self.corrupt(self.offset, "bytes after the end record".into()));
                }
                self.ended = true;
                return Ok(None);
            }
            other => {
                return Err(self.corrupt(start, format!("unknown record tag {other:#04x}")));
            }
        };
        self.records += 1;
        Ok(Some(record))
    }
}

/// Name of lane `i` (input lanes, then output lanes).
pub fn lane_name(i: usize) -> &'static str {
    if i < INPUT_LANES.len() {
        INPUT_LANES[i]
    } else {
        OUTPUT_LANES[i - INPUT_LANES.len()]
    }
}

// ---- Recording DUT.

/// Shared state of one device's recording: the frames writer and the first write error (a DUT
/// call cannot report one without turning it into a firmware failure).
struct DeviceSink {
    writer: Option<FramesWriter>,
    error: Option<io::Error>,
}

impl DeviceSink {
    fn write(&mut self, record: &FrameRecord) {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.write(record)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }
}

/// A [`Dut`] that forwards to another and writes every call to a frames file.
pub struct Recording {
    inner: Box<dyn Dut>,
    sink: Rc<RefCell<DeviceSink>>,
}

impl Dut for Recording {
    fn identity(&self) -> DutIdentity {
        self.inner.identity()
    }

    fn boot(&mut self, nvm: &[u8; NVM_SIZE]) -> Result<(), DutError> {
        self.sink
            .borrow_mut()
            .write(&FrameRecord::Boot(Box::new(*nvm)));
        self.inner.boot(nvm)
    }

    fn step(&mut self, input: &InputFrame) -> Result<OutputFrame, DutError> {
        let result = self.inner.step(input);
        let record = match &result {
            Ok(output) => FrameRecord::Step {
                input: *input,
                output: *output,
            },
            Err(e) => FrameRecord::Failure {
                input: *input,
                message: e.to_string(),
            },
        };
        self.sink.borrow_mut().write(&record);
        result
    }

    fn power_off(&mut self) {
        self.sink.borrow_mut().write(&FrameRecord::PowerOff);
        self.inner.power_off();
    }
}

// ---- Samples.

/// Plant-truth fields of a kept sample, in file order: the names of [`Sample::plant_values`].
pub const SAMPLE_FIELDS: [&str; 9] = [
    "skin_hot_c",
    "skin_mean_c",
    "junction_c[0]",
    "junction_c[1]",
    "board_c",
    "irradiance_mw_cm2[0]",
    "irradiance_mw_cm2[1]",
    "fluence_j_cm2",
    "cem43",
];

/// One kept sample: plant truth at a bench instant, exact to the bit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleRecord {
    /// Device index.
    pub device: usize,
    /// Bench time, ms.
    pub t_ms: u64,
    /// Whether the firmware was powered.
    pub powered: bool,
    /// [`SAMPLE_FIELDS`], in order.
    pub values: [f64; SAMPLE_FIELDS.len()],
}

impl SampleRecord {
    /// The record of a bench sample.
    pub fn of(s: &Sample) -> SampleRecord {
        SampleRecord {
            device: s.device,
            t_ms: s.t_ms,
            powered: s.powered,
            values: s.plant_values(),
        }
    }

    /// The first field that differs from `other` bit for bit (time and device included).
    pub fn first_difference(&self, other: &SampleRecord) -> Option<&'static str> {
        if self.device != other.device {
            return Some("device");
        }
        if self.t_ms != other.t_ms {
            return Some("t_ms");
        }
        if self.powered != other.powered {
            return Some("powered");
        }
        self.values
            .iter()
            .zip(other.values.iter())
            .position(|(a, b)| a.to_bits() != b.to_bits())
            .map(|i| SAMPLE_FIELDS[i])
    }
}

/// Which samples to keep: the first of each device, then the first at or after each
/// `rate_ms` step since the last kept one (0 keeps every sample).
#[derive(Clone, Debug)]
pub struct Decimator {
    rate_ms: u64,
    next_due_ms: Vec<u64>,
}

impl Decimator {
    /// A decimator keeping one sample per `rate_ms` per device.
    pub fn new(rate_ms: u64) -> Decimator {
        Decimator {
            rate_ms,
            next_due_ms: Vec::new(),
        }
    }

    /// Whether to keep this sample.
    pub fn keep(&mut self, s: &Sample) -> bool {
        if self.next_due_ms.len() <= s.device {
            self.next_due_ms.resize(s.device + 1, 0);
        }
        let due = &mut self.next_due_ms[s.device];
        if s.t_ms < *due {
            return false;
        }
        *due = s.t_ms + self.rate_ms;
        true
    }
}

/// A [`Reporter`] that streams decimated plant samples to `samples.bin`.
///
/// Layout (little-endian): the 8-byte [`SAMPLES_MAGIC`], the format version as `u32`, the rate
/// as `u64` ms; then per kept sample the tag `0x01`, the device as `u32`, `t_ms` as `u64`,
/// `powered` as a byte, and the nine [`SAMPLE_FIELDS`] as raw `f64` bits; `0xFF` and the `u64`
/// sample count at the end.
pub struct SampleWriter {
    out: Option<BufWriter<File>>,
    decimator: Decimator,
    count: u64,
    error: Option<io::Error>,
}

const SAMPLE_TAG: u8 = 0x01;
const SAMPLE_RECORD_BYTES: usize = 4 + 8 + 1 + 8 * SAMPLE_FIELDS.len();

fn encode_sample(r: &SampleRecord) -> [u8; 1 + SAMPLE_RECORD_BYTES] {
    let mut b = [0u8; 1 + SAMPLE_RECORD_BYTES];
    b[0] = SAMPLE_TAG;
    b[1..5].copy_from_slice(&(r.device as u32).to_le_bytes());
    b[5..13].copy_from_slice(&r.t_ms.to_le_bytes());
    b[13] = r.powered.into();
    for (k, v) in r.values.iter().enumerate() {
        b[14 + 8 * k..22 + 8 * k].copy_from_slice(&v.to_bits().to_le_bytes());
    }
    b
}

impl SampleWriter {
    /// Create `path` and write its header.
    pub fn create(path: &Path, rate_ms: u64) -> io::Result<SampleWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(SAMPLES_MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&rate_ms.to_le_bytes())?;
        Ok(SampleWriter {
            out: Some(out),
            decimator: Decimator::new(rate_ms),
            count: 0,
            error: None,
        })
    }

    /// Write the end record and flush; returns the number of samples kept.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut out = self.out.take().expect("finished once");
        out.write_all(&[TAG_END])?;
        out.write_all(&self.count.to_le_bytes())?;
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(self.count)
    }
}

impl Reporter for SampleWriter {
    fn event(&mut self, event: &Event) {
        let Event::Sample(s) = event else { return };
        if !self.decimator.keep(s) {
            return;
        }
        if let Some(out) = self.out.as_mut()
            && self.error.is_none()
        {
            match out.write_all(&encode_sample(&SampleRecord::of(s))) {
                Ok(()) => self.count += 1,
                Err(e) => self.error = Some(e),
            }
        }
    }
}

/// Reads `samples.bin` back one sample at a time.
pub struct SampleReader {
    path: PathBuf,
    input: BufReader<File>,
    offset: u64,
    count: u64,
    /// The rate the samples were kept at, ms.
    pub rate_ms: u64,
}

impl SampleReader {
    /// Open a samples file and check its header.
    pub fn open(path: &Path) -> Result<SampleReader, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = SampleReader {
            path: path.to_path_buf(),
            input: BufReader::new(file),
            offset: 0,
            count: 0,
            rate_ms: 0,
        };
        let mut head = [0u8; 20];
        r.exact(&mut head, "the header")?;
        if &head[..8] != SAMPLES_MAGIC {
            return Err(r.corrupt(0, "not a pbm-hil samples file (bad magic bytes)".into()));
        }
        let found = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        if found != FORMAT_VERSION {
            return Err(BundleError::Version {
                path: path.to_path_buf(),
                found: found.into(),
            });
        }
        r.rate_ms = u64::from_le_bytes(head[12..20].try_into().expect("8 bytes"));
        Ok(r)
    }

    fn corrupt(&self, offset: u64, message: String) -> BundleError {
        BundleError::Corrupt {
            path: self.path.clone(),
            offset,
            message,
        }
    }

    fn exact(&mut self, buf: &mut [u8], inside: &str) -> Result<(), BundleError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.corrupt(
                self.offset,
                format!("truncated inside {inside} (sample {})", self.count),
            )),
            Err(source) => Err(BundleError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// The next sample; `None` after the end record.
    pub fn next_sample(&mut self) -> Result<Option<SampleRecord>, BundleError> {
        let start = self.offset;
        let mut tag = [0u8; 1];
        self.exact(&mut tag, "a sample tag (no end record)")?;
        match tag[0] {
            SAMPLE_TAG => {
                let mut b = [0u8; SAMPLE_RECORD_BYTES];
                self.exact(&mut b, "a sample")?;
                let mut values = [0.0; SAMPLE_FIELDS.len()];
                for (k, v) in values.iter_mut().enumerate() {
                    *v = f64::from_bits(u64::from_le_bytes(
                        b[13 + 8 * k..21 + 8 * k].try_into().expect("8 bytes"),
                    ));
                }
                self.count += 1;
                Ok(Some(SampleRecord {
                    device: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")) as usize,
                    t_ms: u64::from_le_bytes(b[4..12].try_into().expect("8 bytes")),
                    powered: b[12] != 0,
                    values,
                }))
            }
            TAG_END => {
                let mut c = [0u8; 8];
                self.exact(&mut c, "the end record")?;
                let count = u64::from_le_bytes(c);
                if count != self.count {
                    return Err(self.corrupt(
                        start,
                        format!(
                            "end record counts {count} samples, the file holds {}",
                            self.count
                        ),
                    ));
                }
                Ok(None)
            }
            other => Err(self.corrupt(start, format!("unknown record tag {other:#04x}"))),
        }
    }
}

// ---- Manifest and the bundle writer.

/// A device of a recorded run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceManifest {
    /// Device id from the scenario.
    pub id: String,
    /// Frames file name in the bundle folder.
    pub frames_file: String,
    /// Records in the frames file.
    pub records: u64,
    /// Size of the frames file, bytes.
    pub bytes: u64,
    /// Firmware name it reported.
    pub firmware_name: String,
    /// Firmware version it reported.
    pub firmware_version: String,
    /// Firmware build identity it reported (empty when it does not say).
    pub firmware_build: String,
}

/// A property's verdict in the recorded run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedVerdict {
    /// Dotted property name.
    pub property: String,
    /// `held`, `violated`, `expected_violation`, `unexpected_hold` or `not_applicable`.
    pub status: String,
    /// Violations counted.
    pub violations: u64,
}

/// Name of a verdict status as the manifest stores it (the report's serde names).
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Held => "held",
        Status::Violated => "violated",
        Status::ExpectedViolation => "expected_violation",
        Status::UnexpectedHold => "unexpected_hold",
        Status::NotApplicable => "not_applicable",
    }
}

/// `manifest.json` of a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Bundle format ([`FORMAT_VERSION`]); checked before anything else is read.
    pub format_version: u32,
    /// False until the recording run finished and every file was flushed.
    pub complete: bool,
    /// Version of the pbm-hil that recorded it.
    pub pbm_hil_version: String,
    /// Scenario name.
    pub scenario: String,
    /// FNV-1a 64 of `scenario.toml`'s bytes, hex.
    pub scenario_hash: String,
    /// Seed of the run.
    pub seed: u64,
    /// The `--firmware` spec recorded (`reference`, `exec:...`).
    pub firmware_spec: String,
    /// FNV-1a 64 of the firmware (reference sources or executable bytes), hex; `None` when the
    /// transport offers nothing to hash.
    pub firmware_hash: Option<String>,
    /// [`plant_hash`] of the scenario, hex.
    pub plant_hash: String,
    /// Every device, in scenario order.
    pub devices: Vec<DeviceManifest>,
    /// Sample rate of `samples.bin`, ms.
    pub record_rate_ms: u64,
    /// Samples kept in `samples.bin`.
    pub samples: u64,
    /// The run's trace hash (every sample at full rate), hex; `None` if the run did not finish.
    pub trace_hash: Option<String>,
    /// Samples the trace hash covers.
    pub trace_samples: Option<u64>,
    /// Whether the run passed; `None` if the firmware failed.
    pub passed: Option<bool>,
    /// The firmware failure that ended the run, if one did.
    pub firmware_failure: Option<String>,
    /// Verdicts of the recorded run, in catalog order (empty if the firmware failed).
    pub verdicts: Vec<RecordedVerdict>,
}

/// How to record.
#[derive(Clone, Debug)]
pub struct RecordConfig {
    /// Keep one plant sample per this many ms per device.
    pub rate_ms: u64,
    /// The firmware spec as the user wrote it (stored in the manifest; replay re-parses it).
    pub firmware_spec: String,
    /// Hash of the firmware, if any ([`firmware_hash`]).
    pub firmware_hash: Option<u64>,
}

impl RecordConfig {
    /// Record the firmware `spec` at the default rate.
    pub fn new(spec: &FirmwareSpec, spec_text: &str) -> RecordConfig {
        RecordConfig {
            rate_ms: DEFAULT_RECORD_RATE_MS,
            firmware_spec: spec_text.to_string(),
            firmware_hash: firmware_hash(spec),
        }
    }
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Run `scenario` (as [`crate::bench::run`]) and record it into the bundle folder `dir`.
///
/// Returns the run's own result (a firmware failure is recorded, not an error here) and the
/// manifest written; the `io::Error` is a failure to write the bundle.
pub fn record_run(
    scenario: &Scenario,
    factory: &mut DutFactory<'_>,
    reporter: &mut dyn Reporter,
    dir: &Path,
    cfg: &RecordConfig,
) -> io::Result<(Result<RunResult, BenchError>, Manifest)> {
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    let text = crate::format::to_toml(scenario);
    // A bundle must replay: refuse before running a scenario whose file would not load back.
    if let Err(errors) = crate::format::load_str(SCENARIO_FILE, &text) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "scenario '{}' does not load back from its file form: {}",
                scenario.name,
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    }
    let scenario_path = dir.join(SCENARIO_FILE);
    crate::report::write_atomic(&scenario_path, text.as_bytes()).map_err(io_at(&scenario_path))?;
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        complete: false,
        pbm_hil_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: scenario.name.clone(),
        scenario_hash: hex(fnv1a64(text.as_bytes())),
        seed: scenario.seed,
        firmware_spec: cfg.firmware_spec.clone(),
        firmware_hash: cfg.firmware_hash.map(hex),
        plant_hash: hex(plant_hash(scenario)),
        devices: Vec::new(),
        record_rate_ms: cfg.rate_ms,
        samples: 0,
        trace_hash: None,
        trace_samples: None,
        passed: None,
        firmware_failure: None,
        verdicts: Vec::new(),
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    write_manifest(&manifest_path, &manifest)?;

    let samples_path = dir.join(SAMPLES_FILE);
    let mut samples =
        SampleWriter::create(&samples_path, cfg.rate_ms).map_err(io_at(&samples_path))?;
    let mut sinks: Vec<(Rc<RefCell<DeviceSink>>, DutIdentity)> = Vec::new();
    let mut open_error: Option<io::Error> = None;
    let result = {
        let mut recording_factory = |kind| -> Result<Box<dyn Dut>, DutError> {
            let inner = factory(kind)?;
            let path = dir.join(frames_file(sinks.len()));
            let writer = match FramesWriter::create(&path) {
                Ok(w) => Some(w),
                Err(e) => {
                    open_error.get_or_insert(io_at(&path)(e));
                    None
                }
            };
            let sink = Rc::new(RefCell::new(DeviceSink {
                writer,
                error: None,
            }));
            sinks.push((Rc::clone(&sink), inner.identity()));
            Ok(Box::new(Recording { inner, sink }))
        };
        let mut tee = Tee(vec![reporter, &mut samples]);
        crate::bench::run(scenario, &mut recording_factory, &mut tee)
    };
    if let Some(e) = open_error {
        return Err(e);
    }
    for (index, (sink, identity)) in sinks.into_iter().enumerate() {
        let path = dir.join(frames_file(index));
        let mut sink = Rc::try_unwrap(sink)
            .map_err(|_| ())
            .expect("the bench dropped its DUT")
            .into_inner();
        if let Some(e) = sink.error.take() {
            return Err(io_at(&path)(e));
        }
        let (records, bytes) = sink
            .writer
            .take()
            .expect("opened")
            .finish()
            .map_err(io_at(&path))?;
        manifest.devices.push(DeviceManifest {
            id: scenario
                .devices
                .get(index)
                .map_or_else(String::new, |d| d.id.clone()),
            frames_file: frames_file(index),
            records,
            bytes,
            firmware_name: identity.name,
            firmware_version: identity.version,
            firmware_build: identity.build,
        });
    }
    manifest.samples = samples.finish().map_err(io_at(&samples_path))?;
    match &result {
        Ok(r) => {
            manifest.trace_hash = Some(hex(r.trace_hash));
            manifest.trace_samples = Some(r.samples);
            manifest.passed = Some(r.passed());
            manifest.verdicts = recorded_verdicts(r);
        }
        Err(e) => manifest.firmware_failure = Some(e.to_string()),
    }
    manifest.complete = true;
    write_manifest(&manifest_path, &manifest)?;
    Ok((result, manifest))
}

/// A run's verdicts as the manifest stores them.
pub fn recorded_verdicts(r: &RunResult) -> Vec<RecordedVerdict> {
    r.verdicts
        .iter()
        .map(|v| RecordedVerdict {
            property: v.name.to_string(),
            status: status_name(v.status).to_string(),
            violations: v.violation_count,
        })
        .collect()
}

fn write_manifest(path: &Path, m: &Manifest) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(m).expect("manifests serialise");
    json.push(b'\n');
    crate::report::write_atomic(path, &json).map_err(io_at(path))
}

/// A bundle folder opened for replay: the manifest checked, the scenario loaded and its hash
/// verified, every frames and samples file read through once (so a corrupt bundle is refused
/// before anything runs).
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The recorded scenario (named as recorded).
    pub scenario: Scenario,
}

impl Bundle {
    /// Open and check a bundle folder.
    pub fn open(dir: &Path) -> Result<Bundle, BundleError> {
        let path = dir.join(MANIFEST_FILE);
        let invalid = |message: String| BundleError::Invalid {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|source| BundleError::Io {
            path: path.clone(),
            source,
        })?;
        // The version first, from an untyped read: a bundle of another format may have other
        // fields, and must be refused for its version, not for a field it lacks.
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("not a JSON manifest: {e}")))?;
        let found = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| invalid("no `format_version`: not a pbm-hil bundle manifest".into()))?;
        if found != u64::from(FORMAT_VERSION) {
            return Err(BundleError::Version { path, found });
        }
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| invalid(format!("malformed manifest: {e}")))?;
        if !manifest.complete {
            return Err(BundleError::Incomplete { path });
        }
        let spath = dir.join(SCENARIO_FILE);
        let text = std::fs::read(&spath).map_err(|source| BundleError::Io {
            path: spath.clone(),
            source,
        })?;
        if hex(fnv1a64(&text)) != manifest.scenario_hash {
            return Err(BundleError::Invalid {
                path: spath,
                message: format!(
                    "content hash {} differs from the manifest's {}: the scenario was edited \
                     after recording (pass an edited scenario with --scenario instead)",
                    hex(fnv1a64(&text)),
                    manifest.scenario_hash
                ),
            });
        }
        let mut scenario =
            crate::format::load_bytes(&spath.display().to_string(), &text).map_err(|errors| {
                BundleError::Invalid {
                    path: spath.clone(),
                    message: errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            })?;
        scenario.name = manifest.scenario.clone();
        for d in &manifest.devices {
            let mut r = FramesReader::open(&dir.join(&d.frames_file))?;
            while r.next_record()?.is_some() {}
        }
        let mut s = SampleReader::open(&dir.join(SAMPLES_FILE))?;
        while s.next_sample()?.is_some() {}
        Ok(Bundle {
            dir: dir.to_path_buf(),
            manifest,
            scenario,
        })
    }

    /// Reader of device `index`'s frames.
    pub fn frames(&self, index: usize) -> Result<FramesReader, BundleError> {
        let name = self
            .manifest
            .devices
            .get(index)
            .map_or_else(|| frames_file(index), |d| d.frames_file.clone());
        FramesReader::open(&self.dir.join(name))
    }

    /// Reader of the samples.
    pub fn samples(&self) -> Result<SampleReader, BundleError> {
        SampleReader::open(&self.dir.join(SAMPLES_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // Fowler, Noll, Vo: the FNV-1a 64 test vectors for "", "a" and "foobar".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn zigzag_round_trips_at_the_extremes() {
        let far = i64::from(u32::MAX);
        for d in [0, 1, -1, 63, -64, far, -far] {
            assert_eq!(unzigzag(zigzag(d)), d, "{d}");
        }
    }

    /// Frames with every record kind and lanes at their extremes come back exactly.
    #[test]
    fn frames_round_trip_through_a_file() {
        let mut input = InputFrame {
            now_ms: u32::MAX,
            buttons: 0xff,
            program: 3,
            skin_contact: true,
            fan_ok: true,
            distance_mm: u16::MAX,
            ..InputFrame::default()
        };
        input.adc.contact_ntc = [hw_max(), 0];
        input.adc.string_current = [1, 2, 3, u16::MAX];
        let mut data = [0u8; NVM_WRITE_MAX];
        data[..3].copy_from_slice(&[1, 2, 3]);
        let output = OutputFrame {
            duty_permille: [1000, 0],
            current_ma: [u16::MAX, 7],
            hw_enable: true,
            indicator: Indicator::Fault,
            nvm_write: Some(NvmWrite {
                offset: 200,
                len: 3,
                data,
            }),
            next_wake_ms: u32::MAX,
            state: 7,
            detail: 0xff,
            dose_estimate_mj_cm2: u32::MAX,
            fault_code: 0xbeef,
        };
        let later = InputFrame { now_ms: 0, ..input };
        let records = vec![
            FrameRecord::Boot(Box::new([0xA5; NVM_SIZE])),
            FrameRecord::Step { input, output },
            FrameRecord::Step {
                input: later,
                output: OutputFrame::default(),
            },
            FrameRecord::PowerOff,
            FrameRecord::Failure {
                input: InputFrame::default(),
                message: "timed out".into(),
            },
        ];
        let path =
            std::env::temp_dir().join(format!("pbm-hil-record-unit-{}.frames", std::process::id()));
        let mut w = FramesWriter::create(&path).expect("creates");
        for r in &records {
            w.write(r).expect("writes");
        }
        let (count, bytes) = w.finish().expect("finishes");
        assert_eq!(count, records.len() as u64);
        assert_eq!(bytes, std::fs::metadata(&path).expect("exists").len());
        let mut r = FramesReader::open(&path).expect("opens");
        let mut back = Vec::new();
        while let Some(rec) = r.next_record().expect("reads") {
            back.push(rec);
        }
        let _ = std::fs::remove_file(&path);
        assert_eq!(back, records);
    }

    fn hw_max() -> u16 {
        firmware::boundary::hw::ADC_MAX
    }
}
