//! The firmware wire protocol, version 1: frames, their binary and text encodings, and a
//! streaming decoder, for both ends of the link (`docs/protocol.md` is the specification).
//!
//! A firmware outside the harness process (a host-compiled program on stdin/stdout or TCP, or a
//! board on a UART) is driven in lockstep: the harness sends one request frame, the firmware
//! answers with exactly one reply frame carrying the same sequence number. The frames carry the
//! [`firmware::boundary`] structs unchanged, in fixed little-endian layouts, so a transport run
//! gives the same trace as an in-process run bit for bit.
//!
//! Everything here is pure: functions over byte slices, no IO, no allocation. Encoding writes into
//! a caller's buffer of [`MAX_FRAME_LEN`] (binary) or [`MAX_LINE_LEN`] (text) bytes; decoding
//! borrows strings and the NVM image from the bytes it was given. The same code serves the
//! harness side and a firmware side (the `pbm-fw-reference` binary, the fuzz target), so the two
//! ends cannot drift apart.

use firmware::DeviceClass;
use firmware::boundary::{
    AdcFrame, Indicator, InputFrame, MAX_CHANNELS, MAX_CONTACT_NTCS, MAX_STRINGS, NVM_SIZE,
    NVM_WRITE_MAX, NvmWrite, OutputFrame,
};

/// Protocol version this code speaks; carried in `HELLO` and `IDENTIFY`.
pub const PROTOCOL_VERSION: u8 = 1;
/// First byte of every binary frame.
pub const SYNC: u8 = 0xA5;
/// Header bytes: sync, type, sequence number, payload length (u16 LE).
pub const HEADER_LEN: usize = 5;
/// CRC bytes after the payload.
pub const CRC_LEN: usize = 2;
/// Largest payload: the `BOOT` frame's NVM image.
pub const MAX_PAYLOAD: usize = NVM_SIZE;
/// Largest binary frame, bytes.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_PAYLOAD + CRC_LEN;
/// Longest text line including its `\n` (a `boot` line with 512 hex digits is the longest).
pub const MAX_LINE_LEN: usize = 1024;
/// Longest firmware name, bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;
/// Longest firmware version string, bytes of UTF-8.
pub const MAX_VERSION_LEN: usize = 32;
/// Longest build identity, bytes of UTF-8.
pub const MAX_BUILD_LEN: usize = 64;
/// Longest error message, bytes of UTF-8.
pub const MAX_MESSAGE_LEN: usize = 200;
/// `STEP` payload length, bytes.
pub const STEP_LEN: usize = 33;
/// `OUTPUT` payload length without an NVM write, bytes.
pub const OUTPUT_BASE_LEN: usize = 22;
/// Extra `OUTPUT` bytes before the data when an NVM write is present (offset u16, len u8).
pub const NVM_WRITE_HEADER_LEN: usize = 3;

/// Frame type codes. Replies are the request's code with bit 7 set; `ERROR` may travel either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// Harness → firmware: protocol version and device class.
    Hello = 0x01,
    /// Harness → firmware: power on with this NVM image.
    Boot = 0x02,
    /// Harness → firmware: one step of inputs.
    Step = 0x03,
    /// Harness → firmware: power off (the firmware loses its RAM).
    PowerOff = 0x04,
    /// Harness → firmware: end of the session; the firmware may exit.
    Shutdown = 0x05,
    /// Either way: something went wrong; a code and a message.
    Error = 0x7F,
    /// Firmware → harness: answer to `HELLO`, the firmware names itself.
    Identify = 0x81,
    /// Firmware → harness: answer to `BOOT`.
    Booted = 0x82,
    /// Firmware → harness: answer to `STEP`, the outputs.
    Output = 0x83,
    /// Firmware → harness: answer to `POWER_OFF`.
    PoweredOff = 0x84,
    /// Firmware → harness: answer to `SHUTDOWN`.
    Bye = 0x85,
}

impl FrameType {
    /// Every type, in code order.
    pub const ALL: [FrameType; 11] = [
        FrameType::Hello,
        FrameType::Boot,
        FrameType::Step,
        FrameType::PowerOff,
        FrameType::Shutdown,
        FrameType::Error,
        FrameType::Identify,
        FrameType::Booted,
        FrameType::Output,
        FrameType::PoweredOff,
        FrameType::Bye,
    ];

    /// Decode a type code.
    pub fn from_u8(code: u8) -> Option<FrameType> {
        FrameType::ALL.into_iter().find(|t| *t as u8 == code)
    }

    /// The reply a request of this type expects (`None` for replies and `ERROR`).
    pub fn reply(self) -> Option<FrameType> {
        match self {
            FrameType::Hello => Some(FrameType::Identify),
            FrameType::Boot => Some(FrameType::Booted),
            FrameType::Step => Some(FrameType::Output),
            FrameType::PowerOff => Some(FrameType::PoweredOff),
            FrameType::Shutdown => Some(FrameType::Bye),
            _ => None,
        }
    }

    /// The keyword of this type in text mode.
    pub fn keyword(self) -> &'static str {
        match self {
            FrameType::Hello => "hello",
            FrameType::Boot => "boot",
            FrameType::Step => "step",
            FrameType::PowerOff => "power_off",
            FrameType::Shutdown => "shutdown",
            FrameType::Error => "error",
            FrameType::Identify => "identify",
            FrameType::Booted => "booted",
            FrameType::Output => "output",
            FrameType::PoweredOff => "powered_off",
            FrameType::Bye => "bye",
        }
    }

    fn from_keyword(word: &[u8]) -> Option<FrameType> {
        FrameType::ALL
            .into_iter()
            .find(|t| t.keyword().as_bytes() == word)
    }
}

/// Error codes carried by an `ERROR` frame (`docs/protocol.md`, "Error frames").
pub mod error_code {
    /// A frame failed its CRC or could not be decoded.
    pub const MALFORMED: u8 = 1;
    /// A frame arrived that the receiver did not expect now (e.g. `STEP` before `BOOT`).
    pub const UNEXPECTED: u8 = 2;
    /// The firmware does not speak the harness's protocol version.
    pub const VERSION: u8 = 3;
    /// The firmware does not implement the requested device class.
    pub const CLASS: u8 = 4;
    /// Anything else inside the firmware.
    pub const INTERNAL: u8 = 5;
}

/// Who the firmware says it is, borrowed from an `IDENTIFY` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identify<'a> {
    /// Protocol version the firmware speaks.
    pub protocol_version: u8,
    /// Device class it was asked for (echoed).
    pub class: DeviceClass,
    /// Firmware name, 1..=[`MAX_NAME_LEN`] bytes.
    pub name: &'a str,
    /// Version string, 0..=[`MAX_VERSION_LEN`] bytes.
    pub version: &'a str,
    /// Build identity (commit hash, image checksum), 0..=[`MAX_BUILD_LEN`] bytes.
    pub build: &'a str,
}

/// One protocol frame, without its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Harness → firmware: start of a session.
    Hello {
        /// Protocol version the harness speaks.
        protocol_version: u8,
        /// Device class the firmware is to behave as.
        class: DeviceClass,
    },
    /// Harness → firmware: power on with this NVM image.
    Boot {
        /// The chip's NVM contents at boot.
        nvm: &'a [u8; NVM_SIZE],
    },
    /// Harness → firmware: one step.
    Step(InputFrame),
    /// Harness → firmware: power off.
    PowerOff,
    /// Harness → firmware: end of session.
    Shutdown,
    /// Either way: an error report.
    Error {
        /// One of [`error_code`].
        code: u8,
        /// Human-readable detail, 0..=[`MAX_MESSAGE_LEN`] bytes.
        message: &'a str,
    },
    /// Firmware → harness: answer to `Hello`.
    Identify(Identify<'a>),
    /// Firmware → harness: answer to `Boot`.
    Booted,
    /// Firmware → harness: answer to `Step`.
    Output(OutputFrame),
    /// Firmware → harness: answer to `PowerOff`.
    PoweredOff,
    /// Firmware → harness: answer to `Shutdown`.
    Bye,
}

impl Frame<'_> {
    /// This frame's type.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Frame::Hello { .. } => FrameType::Hello,
            Frame::Boot { .. } => FrameType::Boot,
            Frame::Step(_) => FrameType::Step,
            Frame::PowerOff => FrameType::PowerOff,
            Frame::Shutdown => FrameType::Shutdown,
            Frame::Error { .. } => FrameType::Error,
            Frame::Identify(_) => FrameType::Identify,
            Frame::Booted => FrameType::Booted,
            Frame::Output(_) => FrameType::Output,
            Frame::PoweredOff => FrameType::PoweredOff,
            Frame::Bye => FrameType::Bye,
        }
    }
}

/// Which encoding a link uses: chosen by the first byte the harness sends (`docs/protocol.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wire {
    /// Compact binary frames with a CRC (the default).
    #[default]
    Binary,
    /// One `key=value` line per frame, for debugging by hand.
    Text,
}

/// What was wrong with a frame, and what was expected instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Binary: a byte where the sync byte 0xA5 must be.
    Sync {
        /// The byte found.
        found: u8,
    },
    /// An unknown frame type code.
    Type {
        /// The code found.
        found: u8,
    },
    /// A payload length the frame type does not allow.
    Length {
        /// The frame's type.
        frame: FrameType,
        /// Length found, bytes.
        found: usize,
        /// What the type allows, e.g. "33".
        expected: &'static str,
    },
    /// The CRC does not match.
    Crc {
        /// CRC computed over the received bytes.
        computed: u16,
        /// CRC the frame carried.
        received: u16,
    },
    /// A field holds a value outside its range.
    Field {
        /// Field name as in `docs/protocol.md`.
        field: &'static str,
        /// Value found.
        found: u32,
        /// Allowed range, e.g. "0..=6".
        expected: &'static str,
    },
    /// A string field is not UTF-8.
    Utf8 {
        /// Field name.
        field: &'static str,
    },
    /// Text mode: the line does not follow the grammar here.
    Text {
        /// What was expected at this position.
        expected: &'static str,
    },
    /// Text mode: a line longer than [`MAX_LINE_LEN`].
    LineTooLong,
}

/// A decoding failure: where in the stream (or line), and what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Binary: offset of the offending byte in the stream since the decoder was made (or, from
    /// [`decode_payload`], in the payload). Text: column in the line (0-based).
    pub offset: u64,
    /// The offending byte, when one byte is to blame.
    pub byte: Option<u8>,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "at byte {}", self.offset)?;
        if let Some(b) = self.byte {
            write!(f, " (0x{b:02x})")?;
        }
        write!(f, ": ")?;
        match self.kind {
            ErrorKind::Sync { found } => {
                write!(f, "expected sync byte 0xa5, found 0x{found:02x}")
            }
            ErrorKind::Type { found } => write!(f, "unknown frame type 0x{found:02x}"),
            ErrorKind::Length {
                frame,
                found,
                expected,
            } => write!(
                f,
                "{} payload of {found} bytes, expected {expected}",
                frame.keyword()
            ),
            ErrorKind::Crc { computed, received } => write!(
                f,
                "CRC mismatch: frame carries 0x{received:04x}, bytes give 0x{computed:04x}"
            ),
            ErrorKind::Field {
                field,
                found,
                expected,
            } => write!(f, "field {field} = {found}, expected {expected}"),
            ErrorKind::Utf8 { field } => write!(f, "field {field} is not UTF-8"),
            ErrorKind::Text { expected } => write!(f, "expected `{}`", expected.trim_start()),
            ErrorKind::LineTooLong => {
                write!(f, "line longer than {MAX_LINE_LEN} bytes without a newline")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// An encoding failure: a string too long for its field (the only thing the types allow wrong).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field {field} is {len} bytes, at most {max} allowed")]
pub struct EncodeError {
    /// Field name.
    pub field: &'static str,
    /// Its length, bytes.
    pub len: usize,
    /// The limit, bytes.
    pub max: usize,
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR;
/// check value `crc16(b"123456789") == 0x29B1` (Greg Cook's CRC catalogue, "CRC-16/IBM-3740",
/// the catalogue's name for this CRC).
pub fn crc16(bytes: &[u8]) -> u16 {
    crc16_update(0xFFFF, bytes)
}

/// Continue a CRC-16/CCITT-FALSE over more bytes (bitwise: 20 lines of C, no table needed).
pub fn crc16_update(mut crc: u16, bytes: &[u8]) -> u16 {
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

/// A little-endian writer over a fixed buffer; the caller sized it for the largest payload.
struct Put<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Put<'_> {
    fn u8(&mut self, v: u8) {
        self.buf[self.at] = v;
        self.at += 1;
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn string(&mut self, field: &'static str, s: &str, max: usize) -> Result<(), EncodeError> {
        if s.len() > max {
            return Err(EncodeError {
                field,
                len: s.len(),
                max,
            });
        }
        self.u8(s.len() as u8);
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// Write a frame's payload into `buf` (at least [`MAX_PAYLOAD`] bytes); returns its length.
pub fn encode_payload(frame: &Frame<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let mut p = Put { buf, at: 0 };
    match frame {
        Frame::Hello {
            protocol_version,
            class,
        } => {
            p.u8(*protocol_version);
            p.u8(class.as_u8());
        }
        Frame::Boot { nvm } => p.bytes(&nvm[..]),
        Frame::Step(i) => {
            p.u32(i.now_ms);
            for v in i.adc.contact_ntc {
                p.u16(v);
            }
            p.u16(i.adc.board_ntc);
            for v in i.adc.string_current {
                p.u16(v);
            }
            for v in i.adc.string_voltage {
                p.u16(v);
            }
            p.u16(i.adc.supply);
            p.u8(i.buttons);
            p.u8(i.program);
            p.u8(u8::from(i.skin_contact) | u8::from(i.eye_shield) << 1 | u8::from(i.fan_ok) << 2);
            p.u16(i.distance_mm);
        }
        Frame::Output(o) => {
            for v in o.duty_permille {
                p.u16(v);
            }
            for v in o.current_ma {
                p.u16(v);
            }
            p.u8(u8::from(o.hw_enable) | u8::from(o.nvm_write.is_some()) << 1);
            p.u8(o.indicator as u8);
            p.u32(o.next_wake_ms);
            p.u8(o.state);
            p.u8(o.detail);
            p.u32(o.dose_estimate_mj_cm2);
            p.u16(o.fault_code);
            if let Some(w) = &o.nvm_write {
                p.u16(w.offset);
                let data = w.bytes();
                p.u8(data.len() as u8);
                p.bytes(data);
            }
        }
        Frame::Identify(id) => {
            p.u8(id.protocol_version);
            p.u8(id.class.as_u8());
            if id.name.is_empty() {
                return Err(EncodeError {
                    field: "name",
                    len: 0,
                    max: MAX_NAME_LEN,
                });
            }
            p.string("name", id.name, MAX_NAME_LEN)?;
            p.string("version", id.version, MAX_VERSION_LEN)?;
            p.string("build", id.build, MAX_BUILD_LEN)?;
        }
        Frame::Error { code, message } => {
            if message.len() > MAX_MESSAGE_LEN {
                return Err(EncodeError {
                    field: "message",
                    len: message.len(),
                    max: MAX_MESSAGE_LEN,
                });
            }
            p.u8(*code);
            p.bytes(message.as_bytes());
        }
        Frame::PowerOff | Frame::Shutdown | Frame::Booted | Frame::PoweredOff | Frame::Bye => {}
    }
    Ok(p.at)
}

/// A little-endian reader over a payload whose length was already checked.
struct Get<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Get<'a> {
    fn u8(&mut self) -> u8 {
        let v = self.buf[self.at];
        self.at += 1;
        v
    }
    fn u16(&mut self) -> u16 {
        let v = u16::from_le_bytes([self.buf[self.at], self.buf[self.at + 1]]);
        self.at += 2;
        v
    }
    fn u32(&mut self) -> u32 {
        let b = &self.buf[self.at..self.at + 4];
        self.at += 4;
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn err(&self, at: usize, kind: ErrorKind) -> DecodeError {
        DecodeError {
            offset: at as u64,
            byte: self.buf.get(at).copied(),
            kind,
        }
    }
    fn string(&mut self, frame: FrameType, field: &'static str) -> Result<&'a str, DecodeError> {
        let len_at = self.at;
        let Some(&len) = self.buf.get(len_at) else {
            return Err(self.err(
                len_at,
                ErrorKind::Length {
                    frame,
                    found: self.buf.len(),
                    expected: "room for name, version and build with their length bytes",
                },
            ));
        };
        let (len, max) = (usize::from(len), string_max(field));
        if len > max {
            return Err(self.err(
                len_at,
                ErrorKind::Field {
                    field,
                    found: len as u32,
                    expected: string_range(field),
                },
            ));
        }
        let end = len_at + 1 + len;
        let Some(bytes) = self.buf.get(len_at + 1..end) else {
            return Err(self.err(
                len_at,
                ErrorKind::Length {
                    frame,
                    found: self.buf.len(),
                    expected: "room for the string its length byte announces",
                },
            ));
        };
        self.at = end;
        core::str::from_utf8(bytes).map_err(|_| self.err(len_at + 1, ErrorKind::Utf8 { field }))
    }
}

fn string_max(field: &str) -> usize {
    match field {
        "name" => MAX_NAME_LEN,
        "version" => MAX_VERSION_LEN,
        _ => MAX_BUILD_LEN,
    }
}

fn string_range(field: &str) -> &'static str {
    match field {
        "name" => "1..=64",
        "version" => "0..=32",
        _ => "0..=64",
    }
}

fn fixed_len(frame: FrameType) -> Option<(usize, &'static str)> {
    match frame {
        FrameType::Hello => Some((2, "2")),
        FrameType::Boot => Some((NVM_SIZE, "256")),
        FrameType::Step => Some((STEP_LEN, "33")),
        FrameType::PowerOff
        | FrameType::Shutdown
        | FrameType::Booted
        | FrameType::PoweredOff
        | FrameType::Bye => Some((0, "0")),
        FrameType::Output | FrameType::Identify | FrameType::Error => None,
    }
}

/// Decode a payload of a known type. Offsets in errors are within the payload.
pub fn decode_payload(frame: FrameType, payload: &[u8]) -> Result<Frame<'_>, DecodeError> {
    let mut g = Get {
        buf: payload,
        at: 0,
    };
    let length = |expected: &'static str| DecodeError {
        offset: 0,
        byte: None,
        kind: ErrorKind::Length {
            frame,
            found: payload.len(),
            expected,
        },
    };
    if let Some((n, expected)) = fixed_len(frame)
        && payload.len() != n
    {
        return Err(length(expected));
    }
    Ok(match frame {
        FrameType::Hello => {
            let protocol_version = g.u8();
            let code = g.u8();
            let class = DeviceClass::from_u8(code).ok_or_else(|| {
                g.err(
                    1,
                    ErrorKind::Field {
                        field: "class",
                        found: u32::from(code),
                        expected: "0..=5",
                    },
                )
            })?;
            Frame::Hello {
                protocol_version,
                class,
            }
        }
        FrameType::Boot => Frame::Boot {
            nvm: payload.try_into().map_err(|_| length("256"))?,
        },
        FrameType::Step => {
            let now_ms = g.u32();
            let mut adc = AdcFrame::default();
            for v in adc.contact_ntc.iter_mut() {
                *v = g.u16();
            }
            adc.board_ntc = g.u16();
            for v in adc.string_current.iter_mut() {
                *v = g.u16();
            }
            for v in adc.string_voltage.iter_mut() {
                *v = g.u16();
            }
            adc.supply = g.u16();
            let buttons = g.u8();
            let program = g.u8();
            let flags_at = g.at;
            let flags = g.u8();
            if flags & !0b111 != 0 {
                return Err(g.err(
                    flags_at,
                    ErrorKind::Field {
                        field: "inputs",
                        found: u32::from(flags),
                        expected: "bits 3..7 clear",
                    },
                ));
            }
            Frame::Step(InputFrame {
                now_ms,
                adc,
                buttons,
                program,
                skin_contact: flags & 1 != 0,
                eye_shield: flags & 2 != 0,
                fan_ok: flags & 4 != 0,
                distance_mm: g.u16(),
            })
        }
        FrameType::Output => {
            if payload.len() < OUTPUT_BASE_LEN {
                return Err(length("22, or 25 + n with an NVM write of n bytes"));
            }
            let mut o = OutputFrame::default();
            for v in o.duty_permille.iter_mut() {
                *v = g.u16();
            }
            for v in o.current_ma.iter_mut() {
                *v = g.u16();
            }
            let flags_at = g.at;
            let flags = g.u8();
            if flags & !0b11 != 0 {
                return Err(g.err(
                    flags_at,
                    ErrorKind::Field {
                        field: "outputs",
                        found: u32::from(flags),
                        expected: "bits 2..7 clear",
                    },
                ));
            }
            o.hw_enable = flags & 1 != 0;
            let ind = g.u8();
            o.indicator = indicator(ind).ok_or_else(|| {
                g.err(
                    flags_at + 1,
                    ErrorKind::Field {
                        field: "indicator",
                        found: u32::from(ind),
                        expected: "0..=6",
                    },
                )
            })?;
            o.next_wake_ms = g.u32();
            o.state = g.u8();
            o.detail = g.u8();
            o.dose_estimate_mj_cm2 = g.u32();
            o.fault_code = g.u16();
            if flags & 2 != 0 {
                if payload.len() < OUTPUT_BASE_LEN + NVM_WRITE_HEADER_LEN {
                    return Err(length("25 + n with an NVM write of n bytes"));
                }
                let offset = g.u16();
                let len_at = g.at;
                let len = g.u8();
                if usize::from(len) > NVM_WRITE_MAX {
                    return Err(g.err(
                        len_at,
                        ErrorKind::Field {
                            field: "nvm_len",
                            found: u32::from(len),
                            expected: "0..=64",
                        },
                    ));
                }
                if payload.len() != OUTPUT_BASE_LEN + NVM_WRITE_HEADER_LEN + usize::from(len) {
                    return Err(length("25 + nvm_len"));
                }
                let mut data = [0u8; NVM_WRITE_MAX];
                data[..usize::from(len)].copy_from_slice(&payload[g.at..]);
                o.nvm_write = Some(NvmWrite { offset, len, data });
            } else if payload.len() != OUTPUT_BASE_LEN {
                return Err(length("22 without an NVM write"));
            }
            Frame::Output(o)
        }
        FrameType::Identify => {
            if payload.len() < 2 {
                return Err(length("at least 5"));
            }
            let protocol_version = g.u8();
            let code = g.u8();
            let class = DeviceClass::from_u8(code).ok_or_else(|| {
                g.err(
                    1,
                    ErrorKind::Field {
                        field: "class",
                        found: u32::from(code),
                        expected: "0..=5",
                    },
                )
            })?;
            let name = g.string(frame, "name")?;
            if name.is_empty() {
                return Err(g.err(
                    2,
                    ErrorKind::Field {
                        field: "name",
                        found: 0,
                        expected: "1..=64",
                    },
                ));
            }
            let version = g.string(frame, "version")?;
            let build = g.string(frame, "build")?;
            if g.at != payload.len() {
                return Err(length("the three strings and nothing after them"));
            }
            Frame::Identify(Identify {
                protocol_version,
                class,
                name,
                version,
                build,
            })
        }
        FrameType::Error => {
            if payload.is_empty() || payload.len() > 1 + MAX_MESSAGE_LEN {
                return Err(length("1..=201"));
            }
            let code = g.u8();
            let message = core::str::from_utf8(&payload[1..])
                .map_err(|_| g.err(1, ErrorKind::Utf8 { field: "message" }))?;
            Frame::Error { code, message }
        }
        FrameType::PowerOff => Frame::PowerOff,
        FrameType::Shutdown => Frame::Shutdown,
        FrameType::Booted => Frame::Booted,
        FrameType::PoweredOff => Frame::PoweredOff,
        FrameType::Bye => Frame::Bye,
    })
}

fn indicator(code: u8) -> Option<Indicator> {
    Some(match code {
        0 => Indicator::Off,
        1 => Indicator::Ready,
        2 => Indicator::Treating,
        3 => Indicator::Paused,
        4 => Indicator::Warning,
        5 => Indicator::Refused,
        6 => Indicator::Fault,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Binary frames
// ---------------------------------------------------------------------------------------------

/// Encode one binary frame into `out` (at least [`MAX_FRAME_LEN`] bytes); returns its length.
pub fn encode(frame: &Frame<'_>, seq: u8, out: &mut [u8]) -> Result<usize, EncodeError> {
    let len = encode_payload(frame, &mut out[HEADER_LEN..HEADER_LEN + MAX_PAYLOAD])?;
    out[0] = SYNC;
    out[1] = frame.frame_type() as u8;
    out[2] = seq;
    out[3..5].copy_from_slice(&(len as u16).to_le_bytes());
    let end = HEADER_LEN + len;
    let crc = crc16(&out[1..end]);
    out[end..end + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(end + CRC_LEN)
}

/// A complete frame out of a [`Decoder`]: its sequence number and the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// Sequence number from the header (text: the `seq=` key).
    pub seq: u8,
    /// The decoded frame.
    pub frame: Frame<'a>,
}

/// Where the binary decoder is inside a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Sync,
    Header,
    Body,
}

/// A streaming decoder: feed it bytes as they arrive, get frames or a precise error.
///
/// After an error the decoder starts over, looking for the next frame; the harness treats any
/// error as fatal, a firmware may answer it with an `ERROR` frame and carry on.
#[derive(Clone, Debug)]
pub struct Decoder {
    wire: Wire,
    buf: [u8; MAX_LINE_LEN],
    len: usize,
    stage: Stage,
    /// Bytes consumed since the decoder was made.
    consumed: u64,
    /// Stream offset of the current frame's first byte.
    frame_start: u64,
    scratch: [u8; MAX_PAYLOAD],
    /// A frame is complete in `buf`/`scratch` and must be handed out before more bytes are taken.
    ready: bool,
    /// Text: the line being skipped after a too-long error.
    skipping: bool,
}

impl Decoder {
    /// A decoder for one encoding.
    pub fn new(wire: Wire) -> Decoder {
        Decoder {
            wire,
            buf: [0; MAX_LINE_LEN],
            len: 0,
            stage: Stage::Sync,
            consumed: 0,
            frame_start: 0,
            scratch: [0; MAX_PAYLOAD],
            ready: false,
            skipping: false,
        }
    }

    /// The encoding this decoder reads.
    pub fn wire(&self) -> Wire {
        self.wire
    }

    /// Bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// True when the decoder is between frames (nothing partial buffered).
    pub fn idle(&self) -> bool {
        (self.len == 0 || self.ready) && !self.skipping
    }

    /// Take bytes from `input` up to the end of the next frame.
    ///
    /// Returns how many bytes were consumed and what came of them: `Ok(Some(frame))` when a frame
    /// completed (the rest of `input` is untouched: call again with `&input[n..]`), `Ok(None)`
    /// when all of `input` was taken and a frame is still incomplete, or the first error.
    pub fn feed<'s>(
        &'s mut self,
        input: &[u8],
    ) -> (usize, Result<Option<Received<'s>>, DecodeError>) {
        if self.ready {
            self.ready = false;
            self.len = 0;
            self.stage = Stage::Sync;
        }
        let mut used = 0;
        while used < input.len() {
            let byte = input[used];
            used += 1;
            self.consumed += 1;
            let step = match self.wire {
                Wire::Binary => self.binary_byte(byte),
                Wire::Text => self.text_byte(byte),
            };
            match step {
                Err(e) => {
                    self.len = 0;
                    self.stage = Stage::Sync;
                    return (used, Err(e));
                }
                Ok(false) => {}
                Ok(true) => {
                    self.ready = true;
                    return (used, self.take());
                }
            }
        }
        (used, Ok(None))
    }

    fn at(&self) -> u64 {
        self.consumed - 1
    }

    fn binary_byte(&mut self, byte: u8) -> Result<bool, DecodeError> {
        match self.stage {
            Stage::Sync => {
                if byte != SYNC {
                    return Err(DecodeError {
                        offset: self.at(),
                        byte: Some(byte),
                        kind: ErrorKind::Sync { found: byte },
                    });
                }
                self.frame_start = self.at();
                self.buf[0] = byte;
                self.len = 1;
                self.stage = Stage::Header;
                Ok(false)
            }
            Stage::Header => {
                self.buf[self.len] = byte;
                self.len += 1;
                if self.len == 2 && FrameType::from_u8(byte).is_none() {
                    return Err(DecodeError {
                        offset: self.at(),
                        byte: Some(byte),
                        kind: ErrorKind::Type { found: byte },
                    });
                }
                if self.len == HEADER_LEN {
                    let n = usize::from(u16::from_le_bytes([self.buf[3], self.buf[4]]));
                    let frame = FrameType::from_u8(self.buf[1]).expect("checked at byte 1");
                    let fits = match fixed_len(frame) {
                        Some((want, _)) => n == want,
                        None => match frame {
                            FrameType::Output => (OUTPUT_BASE_LEN
                                ..=OUTPUT_BASE_LEN + NVM_WRITE_HEADER_LEN + NVM_WRITE_MAX)
                                .contains(&n),
                            FrameType::Identify => {
                                (5..=5 + MAX_NAME_LEN + MAX_VERSION_LEN + MAX_BUILD_LEN)
                                    .contains(&n)
                            }
                            _ => (1..=1 + MAX_MESSAGE_LEN).contains(&n),
                        },
                    };
                    if !fits {
                        return Err(DecodeError {
                            offset: self.at() - 1,
                            byte: Some(self.buf[3]),
                            kind: ErrorKind::Length {
                                frame,
                                found: n,
                                expected: allowed_len(frame),
                            },
                        });
                    }
                    self.stage = Stage::Body;
                }
                Ok(false)
            }
            Stage::Body => {
                self.buf[self.len] = byte;
                self.len += 1;
                let n = usize::from(u16::from_le_bytes([self.buf[3], self.buf[4]]));
                if self.len < HEADER_LEN + n + CRC_LEN {
                    return Ok(false);
                }
                let end = HEADER_LEN + n;
                let computed = crc16(&self.buf[1..end]);
                let received = u16::from_le_bytes([self.buf[end], self.buf[end + 1]]);
                if computed != received {
                    return Err(DecodeError {
                        offset: self.frame_start + end as u64,
                        byte: Some(self.buf[end]),
                        kind: ErrorKind::Crc { computed, received },
                    });
                }
                // Validate the payload now so errors carry stream offsets.
                let frame = FrameType::from_u8(self.buf[1]).expect("checked at byte 1");
                decode_payload(frame, &self.buf[HEADER_LEN..end]).map_err(|e| DecodeError {
                    offset: self.frame_start + HEADER_LEN as u64 + e.offset,
                    ..e
                })?;
                Ok(true)
            }
        }
    }

    fn text_byte(&mut self, byte: u8) -> Result<bool, DecodeError> {
        if self.skipping {
            if byte == b'\n' {
                self.skipping = false;
            }
            return Ok(false);
        }
        if byte == b'\n' {
            let mut line = &self.buf[..self.len];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                return Ok(false);
            }
            let line_len = line.len();
            let (buf, scratch) = (&self.buf, &mut self.scratch);
            parse_text(&buf[..line_len], scratch)?;
            return Ok(true);
        }
        if self.len == MAX_LINE_LEN - 1 {
            self.skipping = true;
            return Err(DecodeError {
                offset: self.len as u64,
                byte: Some(byte),
                kind: ErrorKind::LineTooLong,
            });
        }
        self.buf[self.len] = byte;
        self.len += 1;
        Ok(false)
    }

    /// The frame completed by the last byte fed (already validated).
    fn take(&mut self) -> Result<Option<Received<'_>>, DecodeError> {
        match self.wire {
            Wire::Binary => {
                let n = usize::from(u16::from_le_bytes([self.buf[3], self.buf[4]]));
                let frame = FrameType::from_u8(self.buf[1]).expect("checked");
                let seq = self.buf[2];
                decode_payload(frame, &self.buf[HEADER_LEN..HEADER_LEN + n])
                    .map(|frame| Some(Received { seq, frame }))
            }
            Wire::Text => {
                let mut line = &self.buf[..self.len];
                if let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                parse_text(line, &mut self.scratch).map(Some)
            }
        }
    }
}

fn allowed_len(frame: FrameType) -> &'static str {
    match fixed_len(frame) {
        Some((_, s)) => s,
        None => match frame {
            FrameType::Output => "22..=89",
            FrameType::Identify => "5..=165",
            _ => "1..=201",
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Text frames
// ---------------------------------------------------------------------------------------------

/// A writer of text into a fixed buffer; the caller sized it for [`MAX_LINE_LEN`].
struct Line<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Line<'_> {
    fn raw(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn key(&mut self, k: &str) {
        self.raw(b" ");
        self.raw(k.as_bytes());
        self.raw(b"=");
    }
    fn num(&mut self, mut v: u32) {
        let mut digits = [0u8; 10];
        let mut n = 0;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            self.raw(&[digits[i]]);
        }
    }
    fn field(&mut self, k: &str, v: u32) {
        self.key(k);
        self.num(v);
    }
    fn list(&mut self, k: &str, vs: &[u16]) {
        self.key(k);
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.num(u32::from(*v));
        }
    }
    fn hex(&mut self, k: &str, bytes: &[u8]) {
        self.key(k);
        for b in bytes {
            self.raw(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    fn text(&mut self, k: &str, s: &str) {
        self.key(k);
        for &b in s.as_bytes() {
            if (0x21..=0x7E).contains(&b) && b != b'%' && b != b'=' {
                self.raw(&[b]);
            } else {
                self.raw(&[
                    b'%',
                    HEX_UPPER[usize::from(b >> 4)],
                    HEX_UPPER[usize::from(b & 15)],
                ]);
            }
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Encode one frame as a text line (with its `\n`) into `out` (at least [`MAX_LINE_LEN`]
/// bytes); returns its length.
pub fn encode_text(frame: &Frame<'_>, seq: u8, out: &mut [u8]) -> Result<usize, EncodeError> {
    // Check string lengths with the binary encoder's rules so both encodings accept the same set.
    encode_payload(frame, &mut [0u8; MAX_PAYLOAD])?;
    let mut l = Line { buf: out, at: 0 };
    l.raw(frame.frame_type().keyword().as_bytes());
    l.field("seq", u32::from(seq));
    match frame {
        Frame::Hello {
            protocol_version,
            class,
        } => {
            l.field("version", u32::from(*protocol_version));
            l.field("class", u32::from(class.as_u8()));
        }
        Frame::Boot { nvm } => l.hex("nvm", &nvm[..]),
        Frame::Step(i) => {
            l.field("now_ms", i.now_ms);
            l.list("contact_ntc", &i.adc.contact_ntc);
            l.field("board_ntc", u32::from(i.adc.board_ntc));
            l.list("string_current", &i.adc.string_current);
            l.list("string_voltage", &i.adc.string_voltage);
            l.field("supply", u32::from(i.adc.supply));
            l.field("buttons", u32::from(i.buttons));
            l.field("program", u32::from(i.program));
            l.field("skin_contact", u32::from(i.skin_contact));
            l.field("eye_shield", u32::from(i.eye_shield));
            l.field("fan_ok", u32::from(i.fan_ok));
            l.field("distance_mm", u32::from(i.distance_mm));
        }
        Frame::Output(o) => {
            l.list("duty_permille", &o.duty_permille);
            l.list("current_ma", &o.current_ma);
            l.field("hw_enable", u32::from(o.hw_enable));
            l.field("indicator", o.indicator as u32);
            l.field("next_wake_ms", o.next_wake_ms);
            l.field("state", u32::from(o.state));
            l.field("detail", u32::from(o.detail));
            l.field("dose_estimate_mj_cm2", o.dose_estimate_mj_cm2);
            l.field("fault_code", u32::from(o.fault_code));
            if let Some(w) = &o.nvm_write {
                l.field("nvm_offset", u32::from(w.offset));
                l.hex("nvm_data", w.bytes());
            }
        }
        Frame::Identify(id) => {
            l.field("version", u32::from(id.protocol_version));
            l.field("class", u32::from(id.class.as_u8()));
            l.text("name", id.name);
            l.text("fw_version", id.version);
            l.text("build", id.build);
        }
        Frame::Error { code, message } => {
            l.field("code", u32::from(*code));
            l.text("message", message);
        }
        Frame::PowerOff | Frame::Shutdown | Frame::Booted | Frame::PoweredOff | Frame::Bye => {}
    }
    l.raw(b"\n");
    Ok(l.at)
}

/// A reader of one text line: `keyword key=value key=value ...`, keys in the documented order.
struct Fields<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn err(&self, at: usize, expected: &'static str) -> DecodeError {
        DecodeError {
            offset: at as u64,
            byte: self.line.get(at).copied(),
            kind: ErrorKind::Text { expected },
        }
    }

    /// The value of the next key, which must be `key`.
    fn value(
        &mut self,
        key: &'static str,
        expected: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let line = self.line;
        if line.get(self.at) != Some(&b' ') {
            return Err(self.err(self.at, expected));
        }
        let start = self.at + 1;
        let k = key.as_bytes();
        if line.get(start..start + k.len()) != Some(k) || line.get(start + k.len()) != Some(&b'=') {
            return Err(self.err(start, expected));
        }
        let v = start + k.len() + 1;
        let end = line[v..]
            .iter()
            .position(|&b| b == b' ')
            .map_or(line.len(), |p| v + p);
        self.at = end;
        Ok(&line[v..end])
    }

    fn num(
        &mut self,
        key: &'static str,
        max: u32,
        expected: &'static str,
    ) -> Result<u32, DecodeError> {
        let v_at = self.at;
        let v = self.value(key, expected)?;
        let start = v_at + key.len() + 2;
        parse_num(v, max).ok_or_else(|| self.err(start, expected))
    }

    fn list<const N: usize>(
        &mut self,
        key: &'static str,
        expected: &'static str,
    ) -> Result<[u16; N], DecodeError> {
        let v_at = self.at;
        let v = self.value(key, expected)?;
        let start = v_at + key.len() + 2;
        let mut out = [0u16; N];
        let mut parts = v.split(|&b| b == b',');
        for slot in out.iter_mut() {
            let p = parts.next().ok_or_else(|| self.err(start, expected))?;
            *slot =
                parse_num(p, u32::from(u16::MAX)).ok_or_else(|| self.err(start, expected))? as u16;
        }
        if parts.next().is_some() {
            return Err(self.err(start, expected));
        }
        Ok(out)
    }

    /// Hex bytes into `out`; returns how many.
    fn hex(
        &mut self,
        key: &'static str,
        out: &mut [u8],
        expected: &'static str,
    ) -> Result<usize, DecodeError> {
        let v_at = self.at;
        let v = self.value(key, expected)?;
        let start = v_at + key.len() + 2;
        if v.len() % 2 != 0 || v.len() / 2 > out.len() {
            return Err(self.err(start, expected));
        }
        for (i, pair) in v.chunks(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or_else(|| self.err(start + 2 * i, expected))?;
            let lo = hex_digit(pair[1]).ok_or_else(|| self.err(start + 2 * i + 1, expected))?;
            out[i] = hi << 4 | lo;
        }
        Ok(v.len() / 2)
    }

    /// A percent-encoded string into `out`; returns how many bytes.
    fn text(
        &mut self,
        key: &'static str,
        out: &mut [u8],
        expected: &'static str,
    ) -> Result<usize, DecodeError> {
        let v_at = self.at;
        let v = self.value(key, expected)?;
        let start = v_at + key.len() + 2;
        let (mut i, mut n) = (0, 0);
        while i < v.len() {
            if n == out.len() {
                return Err(self.err(start + i, expected));
            }
            if v[i] == b'%' {
                let (Some(hi), Some(lo)) = (
                    v.get(i + 1).copied().and_then(hex_digit),
                    v.get(i + 2).copied().and_then(hex_digit),
                ) else {
                    return Err(self.err(start + i, "two hex digits after %"));
                };
                out[n] = hi << 4 | lo;
                i += 3;
            } else {
                out[n] = v[i];
                i += 1;
            }
            n += 1;
        }
        Ok(n)
    }

    fn end(&self, expected: &'static str) -> Result<(), DecodeError> {
        if self.at == self.line.len() {
            Ok(())
        } else {
            Err(self.err(self.at, expected))
        }
    }

    fn at_end(&self) -> bool {
        self.at == self.line.len()
    }
}

fn parse_num(v: &[u8], max: u32) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v
        .iter()
        .try_fold(0u64, |acc, &d| Some(acc * 10 + u64::from(d - b'0')))?;
    u32::try_from(n).ok().filter(|n| *n <= max)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode one text line (without its `\n`); strings and the NVM image land in `scratch`.
///
/// The line is converted to the binary payload in `scratch` and decoded by [`decode_payload`],
/// so both encodings accept exactly the same frames.
pub fn parse_text<'s>(
    line: &[u8],
    scratch: &'s mut [u8; MAX_PAYLOAD],
) -> Result<Received<'s>, DecodeError> {
    let word_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let frame = FrameType::from_keyword(&line[..word_end]).ok_or(DecodeError {
        offset: 0,
        byte: line.first().copied(),
        kind: ErrorKind::Text {
            expected: "a frame keyword (hello, boot, step, power_off, shutdown, error, identify, booted, output, powered_off, bye)",
        },
    })?;
    let mut f = Fields { line, at: word_end };
    let seq = f.num("seq", 255, " seq=0..255")? as u8;
    let mut p = Put {
        buf: &mut scratch[..],
        at: 0,
    };
    match frame {
        FrameType::Hello => {
            p.u8(f.num("version", 255, " version=0..255")? as u8);
            p.u8(f.num("class", 255, " class=0..5")? as u8);
        }
        FrameType::Boot => {
            let mut nvm = [0u8; NVM_SIZE];
            let n = f.hex("nvm", &mut nvm, " nvm=512 hex digits")?;
            if n != NVM_SIZE {
                return Err(f.err(word_end, " nvm=512 hex digits"));
            }
            p.bytes(&nvm);
        }
        FrameType::Step => {
            const U16: u32 = u16::MAX as u32;
            p.u32(f.num("now_ms", u32::MAX, " now_ms=0..4294967295")?);
            for v in f.list::<MAX_CONTACT_NTCS>("contact_ntc", " contact_ntc=A,B")? {
                p.u16(v);
            }
            p.u16(f.num("board_ntc", U16, " board_ntc=0..65535")? as u16);
            for v in f.list::<MAX_STRINGS>("string_current", " string_current=A,B,C,D")? {
                p.u16(v);
            }
            for v in f.list::<MAX_STRINGS>("string_voltage", " string_voltage=A,B,C,D")? {
                p.u16(v);
            }
            p.u16(f.num("supply", U16, " supply=0..65535")? as u16);
            p.u8(f.num("buttons", 255, " buttons=0..255")? as u8);
            p.u8(f.num("program", 255, " program=0..255")? as u8);
            let skin = f.num("skin_contact", 1, " skin_contact=0|1")? as u8;
            let eye = f.num("eye_shield", 1, " eye_shield=0|1")? as u8;
            let fan = f.num("fan_ok", 1, " fan_ok=0|1")? as u8;
            p.u8(skin | eye << 1 | fan << 2);
            p.u16(f.num("distance_mm", U16, " distance_mm=0..65535")? as u16);
        }
        FrameType::Output => {
            const U16: u32 = u16::MAX as u32;
            for v in f.list::<MAX_CHANNELS>("duty_permille", " duty_permille=A,B")? {
                p.u16(v);
            }
            for v in f.list::<MAX_CHANNELS>("current_ma", " current_ma=A,B")? {
                p.u16(v);
            }
            let hw = f.num("hw_enable", 1, " hw_enable=0|1")? as u8;
            let ind = f.num("indicator", 255, " indicator=0..6")? as u8;
            let wake = f.num("next_wake_ms", u32::MAX, " next_wake_ms=0..4294967295")?;
            let state = f.num("state", 255, " state=0..255")? as u8;
            let detail = f.num("detail", 255, " detail=0..255")? as u8;
            let dose = f.num(
                "dose_estimate_mj_cm2",
                u32::MAX,
                " dose_estimate_mj_cm2=0..4294967295",
            )?;
            let fault = f.num("fault_code", U16, " fault_code=0..65535")? as u16;
            let nvm = !f.at_end();
            p.u8(hw | u8::from(nvm) << 1);
            p.u8(ind);
            p.u32(wake);
            p.u8(state);
            p.u8(detail);
            p.u32(dose);
            p.u16(fault);
            if nvm {
                p.u16(f.num(
                    "nvm_offset",
                    U16,
                    " nvm_offset=0..65535 or the end of the line",
                )? as u16);
                let mut data = [0u8; NVM_WRITE_MAX];
                let n = f.hex("nvm_data", &mut data, " nvm_data=0..64 bytes of hex")?;
                p.u8(n as u8);
                p.bytes(&data[..n]);
            }
        }
        FrameType::Identify => {
            p.u8(f.num("version", 255, " version=0..255")? as u8);
            p.u8(f.num("class", 255, " class=0..5")? as u8);
            for (key, max, expected) in [
                ("name", MAX_NAME_LEN, " name=1..64 bytes, percent-encoded"),
                (
                    "fw_version",
                    MAX_VERSION_LEN,
                    " fw_version=0..32 bytes, percent-encoded",
                ),
                (
                    "build",
                    MAX_BUILD_LEN,
                    " build=0..64 bytes, percent-encoded",
                ),
            ] {
                let mut s = [0u8; MAX_NAME_LEN];
                let n = f.text(key, &mut s[..max], expected)?;
                p.u8(n as u8);
                p.bytes(&s[..n]);
            }
        }
        FrameType::Error => {
            p.u8(f.num("code", 255, " code=0..255")? as u8);
            let mut s = [0u8; MAX_MESSAGE_LEN];
            let n = f.text("message", &mut s, " message=0..200 bytes, percent-encoded")?;
            p.bytes(&s[..n]);
        }
        FrameType::PowerOff
        | FrameType::Shutdown
        | FrameType::Booted
        | FrameType::PoweredOff
        | FrameType::Bye => {}
    }
    f.end("the end of the line")?;
    let n = p.at;
    let frame = decode_payload(frame, &scratch[..n]).map_err(|e| DecodeError {
        // Payload offsets mean nothing in a line: point at the keyword.
        offset: 0,
        byte: line.first().copied(),
        ..e
    })?;
    Ok(Received { seq, frame })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc_check_value_is_the_catalogue_one() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    fn input() -> impl Strategy<Value = InputFrame> {
        (
            any::<u32>(),
            any::<[u16; MAX_CONTACT_NTCS]>(),
            any::<u16>(),
            any::<[u16; MAX_STRINGS]>(),
            any::<[u16; MAX_STRINGS]>(),
            any::<u16>(),
            any::<(u8, u8, bool, bool, bool, u16)>(),
        )
            .prop_map(|(now_ms, contact_ntc, board_ntc, sc, sv, supply, rest)| {
                let (buttons, program, skin_contact, eye_shield, fan_ok, distance_mm) = rest;
                InputFrame {
                    now_ms,
                    adc: AdcFrame {
                        contact_ntc,
                        board_ntc,
                        string_current: sc,
                        string_voltage: sv,
                        supply,
                    },
                    buttons,
                    program,
                    skin_contact,
                    eye_shield,
                    fan_ok,
                    distance_mm,
                }
            })
    }

    fn output() -> impl Strategy<Value = OutputFrame> {
        let nvm = proptest::option::of(
            (
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..=NVM_WRITE_MAX),
            )
                .prop_map(|(offset, bytes)| {
                    let mut data = [0u8; NVM_WRITE_MAX];
                    data[..bytes.len()].copy_from_slice(&bytes);
                    NvmWrite {
                        offset,
                        len: bytes.len() as u8,
                        data,
                    }
                }),
        );
        (
            any::<[u16; MAX_CHANNELS]>(),
            any::<[u16; MAX_CHANNELS]>(),
            any::<bool>(),
            0u8..=6,
            nvm,
            any::<(u32, u8, u8, u32, u16)>(),
        )
            .prop_map(|(duty, current, hw_enable, ind, nvm_write, rest)| {
                let (next_wake_ms, state, detail, dose, fault_code) = rest;
                OutputFrame {
                    duty_permille: duty,
                    current_ma: current,
                    hw_enable,
                    indicator: indicator(ind).expect("in range"),
                    nvm_write,
                    next_wake_ms,
                    state,
                    detail,
                    dose_estimate_mj_cm2: dose,
                    fault_code,
                }
            })
    }

    fn class() -> impl Strategy<Value = DeviceClass> {
        (0u8..6).prop_map(|c| DeviceClass::from_u8(c).expect("in range"))
    }

    /// Owned inputs of a frame, so the strategy can hold borrowed strings' storage.
    #[derive(Clone, Debug)]
    enum Owned {
        Hello(u8, DeviceClass),
        Boot(Box<[u8; NVM_SIZE]>),
        Step(InputFrame),
        Output(OutputFrame),
        Identify(u8, DeviceClass, String, String, String),
        Error(u8, String),
        Empty(FrameType),
    }

    impl Owned {
        fn frame(&self) -> Frame<'_> {
            match self {
                Owned::Hello(v, c) => Frame::Hello {
                    protocol_version: *v,
                    class: *c,
                },
                Owned::Boot(nvm) => Frame::Boot { nvm },
                Owned::Step(i) => Frame::Step(*i),
                Owned::Output(o) => Frame::Output(*o),
                Owned::Identify(v, c, name, version, build) => Frame::Identify(Identify {
                    protocol_version: *v,
                    class: *c,
                    name,
                    version,
                    build,
                }),
                Owned::Error(code, message) => Frame::Error {
                    code: *code,
                    message,
                },
                Owned::Empty(FrameType::PowerOff) => Frame::PowerOff,
                Owned::Empty(FrameType::Shutdown) => Frame::Shutdown,
                Owned::Empty(FrameType::Booted) => Frame::Booted,
                Owned::Empty(FrameType::PoweredOff) => Frame::PoweredOff,
                Owned::Empty(_) => Frame::Bye,
            }
        }
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        // Any Unicode, cut to the byte limit at a character boundary.
        any::<String>().prop_map(move |s| {
            let mut end = s.len().min(max);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_string()
        })
    }

    fn frame() -> impl Strategy<Value = Owned> {
        prop_oneof![
            (any::<u8>(), class()).prop_map(|(v, c)| Owned::Hello(v, c)),
            proptest::collection::vec(any::<u8>(), NVM_SIZE)
                .prop_map(|v| { Owned::Boot(Box::new(v.try_into().expect("NVM_SIZE bytes"))) }),
            input().prop_map(Owned::Step),
            output().prop_map(Owned::Output),
            (
                any::<u8>(),
                class(),
                text(MAX_NAME_LEN).prop_filter("a name is not empty", |s| !s.is_empty()),
                text(MAX_VERSION_LEN),
                text(MAX_BUILD_LEN)
            )
                .prop_map(|(v, c, n, ver, b)| Owned::Identify(v, c, n, ver, b)),
            (any::<u8>(), text(MAX_MESSAGE_LEN)).prop_map(|(c, m)| Owned::Error(c, m)),
            prop_oneof![
                Just(FrameType::PowerOff),
                Just(FrameType::Shutdown),
                Just(FrameType::Booted),
                Just(FrameType::PoweredOff),
                Just(FrameType::Bye)
            ]
            .prop_map(Owned::Empty),
        ]
    }

    /// Feed `bytes` in chunks of `chunk` and collect (seq, frame type) of every frame; the first
    /// error ends it.
    fn decode_all(
        wire: Wire,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Vec<(u8, FrameType)>, DecodeError> {
        let mut d = Decoder::new(wire);
        let mut out = Vec::new();
        for mut piece in bytes.chunks(chunk.max(1)) {
            while !piece.is_empty() {
                let (n, r) = d.feed(piece);
                piece = &piece[n..];
                if let Some(rx) = r? {
                    out.push((rx.seq, rx.frame.frame_type()));
                }
            }
        }
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn binary_frames_round_trip(f in frame(), seq in any::<u8>(), chunk in 1usize..40) {
            let frame = f.frame();
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = encode(&frame, seq, &mut buf).expect("fits");
            let mut d = Decoder::new(Wire::Binary);
            let mut rest = &buf[..n];
            let mut got = None;
            while !rest.is_empty() {
                let take = rest.len().min(chunk);
                let (used, r) = d.feed(&rest[..take]);
                rest = &rest[used..];
                if let Some(rx) = r.expect("valid frame") {
                    prop_assert!(rest.is_empty(), "frame ended early");
                    got = Some((rx.seq, format!("{:?}", rx.frame), rx.frame == frame));
                }
            }
            let (s, dbg, same) = got.expect("a frame came out");
            prop_assert_eq!(s, seq);
            prop_assert!(same, "{} != {:?}", dbg, frame);
        }

        #[test]
        fn text_frames_round_trip(f in frame(), seq in any::<u8>()) {
            let frame = f.frame();
            let mut buf = [0u8; MAX_LINE_LEN];
            let n = encode_text(&frame, seq, &mut buf).expect("fits");
            prop_assert!(n <= MAX_LINE_LEN);
            prop_assert_eq!(buf[n - 1], b'\n');
            prop_assert!(buf[..n - 1].iter().all(|b| (0x20..0x7F).contains(b)), "printable ASCII");
            let mut d = Decoder::new(Wire::Text);
            let (used, r) = d.feed(&buf[..n]);
            prop_assert_eq!(used, n);
            let rx = r.expect("valid line").expect("a frame");
            prop_assert_eq!(rx.seq, seq);
            prop_assert_eq!(rx.frame, frame);
        }

        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            chunk in 1usize..64,
        ) {
            for wire in [Wire::Binary, Wire::Text] {
                // Every error is reported; decoding carries on after it.
                let mut d = Decoder::new(wire);
                for mut piece in bytes.chunks(chunk) {
                    while !piece.is_empty() {
                        let (n, r) = d.feed(piece);
                        prop_assert!(n >= 1 && n <= piece.len());
                        piece = &piece[n..];
                        if let Err(e) = r {
                            prop_assert!(e.offset < d.consumed().max(MAX_LINE_LEN as u64));
                            prop_assert!(!e.to_string().is_empty());
                        }
                    }
                }
                prop_assert_eq!(d.consumed(), bytes.len() as u64);
            }
        }

        #[test]
        fn a_flipped_bit_is_caught(f in frame(), seq in any::<u8>(), at in any::<usize>(), bit in 0u8..8) {
            let frame = f.frame();
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = encode(&frame, seq, &mut buf).expect("fits");
            let at = at % n;
            buf[at] ^= 1 << bit;
            // CRC-16 detects every single-bit error; a flipped length may instead leave the
            // frame incomplete, which the transport's timeout reports.
            let r = decode_all(Wire::Binary, &buf[..n], n);
            prop_assert!(r.as_ref().map_or(true, Vec::is_empty), "{:?}", r);
        }
    }

    fn check_error(wire: Wire, bytes: &[u8], offset: u64, kind: ErrorKind) {
        let err = decode_all(wire, bytes, bytes.len()).expect_err("must fail");
        assert_eq!((err.offset, err.kind), (offset, kind), "{err}");
    }

    #[test]
    fn errors_name_the_byte_and_what_was_expected() {
        let mut ok = [0u8; MAX_FRAME_LEN];
        let n = encode(&Frame::Bye, 9, &mut ok).expect("fits");
        assert_eq!(&ok[..n], &[0xA5, 0x85, 0x09, 0x00, 0x00, 0x2C, 0x7B]);
        check_error(Wire::Binary, b"x", 0, ErrorKind::Sync { found: b'x' });
        check_error(
            Wire::Binary,
            &[0xA5, 0x42],
            1,
            ErrorKind::Type { found: 0x42 },
        );
        check_error(
            Wire::Binary,
            &[0xA5, 0x03, 0, 2, 0],
            3,
            ErrorKind::Length {
                frame: FrameType::Step,
                found: 2,
                expected: "33",
            },
        );
        let mut bad = ok;
        bad[n - 1] ^= 0xFF;
        check_error(
            Wire::Binary,
            &bad[..n],
            5,
            ErrorKind::Crc {
                computed: 0x7B2C,
                received: 0x7B2C ^ 0xFF00,
            },
        );
        // An OUTPUT with indicator 7: the field and the range, at the payload byte.
        let mut out = [0u8; MAX_FRAME_LEN];
        let n = encode(&Frame::Output(OutputFrame::default()), 1, &mut out).expect("fits");
        out[HEADER_LEN + 9] = 7;
        let crc = crc16(&out[1..n - 2]).to_le_bytes();
        out[n - 2..n].copy_from_slice(&crc);
        check_error(
            Wire::Binary,
            &out[..n],
            HEADER_LEN as u64 + 9,
            ErrorKind::Field {
                field: "indicator",
                found: 7,
                expected: "0..=6",
            },
        );
        // Text: the column and what should be there.
        check_error(
            Wire::Text,
            b"output seq=1 duty_permille=0\n",
            27,
            ErrorKind::Text {
                expected: " duty_permille=A,B",
            },
        );
        check_error(
            Wire::Text,
            b"hello seq=0 version=1 class=9\n",
            0,
            ErrorKind::Field {
                field: "class",
                found: 9,
                expected: "0..=5",
            },
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex"))
            .collect()
    }

    fn check_example(frame: &Frame<'_>, seq: u8, bytes: &str, line: &str) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let n = encode(frame, seq, &mut buf).expect("fits");
        assert_eq!(buf[..n], hex(bytes)[..], "{frame:?}");
        let mut t = [0u8; MAX_LINE_LEN];
        let n = encode_text(frame, seq, &mut t).expect("fits");
        assert_eq!(std::str::from_utf8(&t[..n]), Ok(line), "{frame:?}");
    }

    /// The worked example of `docs/protocol.md`, byte for byte.
    #[test]
    fn the_documented_example_is_what_the_codec_writes() {
        let wrap = DeviceClass::Wrap;
        check_example(
            &Frame::Hello {
                protocol_version: 1,
                class: wrap,
            },
            0,
            "A5 01 00 02 00 01 00 E9 95",
            "hello seq=0 version=1 class=0\n",
        );
        check_example(
            &Frame::Identify(Identify {
                protocol_version: 1,
                class: wrap,
                name: "acme-wrap",
                version: "2.3.1",
                build: "9f3c2e1",
            }),
            0,
            "A5 81 00 1A 00 01 00 09 61 63 6D 65 2D 77 72 61 70 05 32 2E 33 2E 31 07 39 66 33 63 32 65 31 99 80",
            "identify seq=0 version=1 class=0 name=acme-wrap fw_version=2.3.1 build=9f3c2e1\n",
        );
        check_example(&Frame::Booted, 1, "A5 82 01 00 00 A0 83", "booted seq=1\n");
        let step = InputFrame {
            now_ms: 120_000,
            adc: AdcFrame {
                contact_ntc: [2048, 2050],
                board_ntc: 1900,
                string_current: [1024, 1020, 0, 0],
                string_voltage: [2600, 2610, 0, 0],
                supply: 1638,
            },
            buttons: 1,
            program: 2,
            skin_contact: true,
            eye_shield: false,
            fan_ok: true,
            distance_mm: 0,
        };
        check_example(
            &Frame::Step(step),
            2,
            "A5 03 02 21 00 C0 D4 01 00 00 08 02 08 6C 07 00 04 FC 03 00 00 00 00 28 0A 32 0A 00 00 00 00 66 06 01 02 05 00 00 E1 69",
            "step seq=2 now_ms=120000 contact_ntc=2048,2050 board_ntc=1900 string_current=1024,1020,0,0 string_voltage=2600,2610,0,0 supply=1638 buttons=1 program=2 skin_contact=1 eye_shield=0 fan_ok=1 distance_mm=0\n",
        );
        let mut data = [0u8; NVM_WRITE_MAX];
        data[..4].copy_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
        let out = OutputFrame {
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
        check_example(
            &Frame::Output(out),
            2,
            "A5 83 02 1D 00 20 03 00 00 5E 01 00 00 03 02 0A 00 00 00 02 03 DC 05 00 00 00 00 40 00 04 DE AD BE EF 68 54",
            "output seq=2 duty_permille=800,0 current_ma=350,0 hw_enable=1 indicator=2 next_wake_ms=10 state=2 detail=3 dose_estimate_mj_cm2=1500 fault_code=0 nvm_offset=64 nvm_data=deadbeef\n",
        );
        check_example(
            &Frame::Output(OutputFrame {
                nvm_write: None,
                ..out
            }),
            3,
            "A5 83 03 16 00 20 03 00 00 5E 01 00 00 01 02 0A 00 00 00 02 03 DC 05 00 00 00 00 A4 39",
            "output seq=3 duty_permille=800,0 current_ma=350,0 hw_enable=1 indicator=2 next_wake_ms=10 state=2 detail=3 dose_estimate_mj_cm2=1500 fault_code=0\n",
        );
        check_example(
            &Frame::PowerOff,
            4,
            "A5 04 04 00 00 F1 92",
            "power_off seq=4\n",
        );
        check_example(
            &Frame::PoweredOff,
            4,
            "A5 84 04 00 00 C9 4F",
            "powered_off seq=4\n",
        );
        check_example(
            &Frame::Shutdown,
            5,
            "A5 05 05 00 00 75 D3",
            "shutdown seq=5\n",
        );
        check_example(&Frame::Bye, 5, "A5 85 05 00 00 4D 0E", "bye seq=5\n");
        check_example(
            &Frame::Error {
                code: error_code::UNEXPECTED,
                message: "step before boot",
            },
            7,
            "A5 7F 07 11 00 02 73 74 65 70 20 62 65 66 6F 72 65 20 62 6F 6F 74 92 95",
            "error seq=7 code=2 message=step%20before%20boot\n",
        );
        let erased = [0xFFu8; NVM_SIZE];
        let mut buf = [0u8; MAX_FRAME_LEN];
        let n = encode(&Frame::Boot { nvm: &erased }, 1, &mut buf).expect("fits");
        assert_eq!(n, MAX_FRAME_LEN);
        assert_eq!(
            (&buf[..5], &buf[n - 2..n]),
            (&hex("A5 02 01 00 01")[..], &hex("3C 1A")[..])
        );
    }

    #[test]
    fn frames_follow_each_other_and_errors_resynchronise() {
        let mut buf = [0u8; 3 * MAX_FRAME_LEN];
        let mut n = encode(&Frame::Booted, 1, &mut buf).expect("fits");
        buf[n] = 0x00; // garbage between frames
        n += 1;
        n += encode(&Frame::PoweredOff, 2, &mut buf[n..]).expect("fits");
        let mut d = Decoder::new(Wire::Binary);
        let mut rest = &buf[..n];
        let mut seen = Vec::new();
        while !rest.is_empty() {
            let (used, r) = d.feed(rest);
            rest = &rest[used..];
            seen.push(r.map(|f| f.map(|rx| (rx.seq, rx.frame.frame_type()))));
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(d.idle(), "a complete frame leaves the decoder idle");
        assert!(
            d.feed(&[SYNC, 0x82]).1.is_ok() && !d.idle(),
            "half a frame is not idle"
        );
        assert_eq!(seen[0], Ok(Some((1, FrameType::Booted))));
        assert!(matches!(seen[1], Err(DecodeError { offset: 7, .. })));
        assert_eq!(seen[2], Ok(Some((2, FrameType::PoweredOff))));
    }
}
