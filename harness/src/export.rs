//! Trace exports at full rate: CSV with units in the headers, and VCD for GTKWave or Surfer.
//!
//! Both are reporters that stream every sample as it comes (through a `BufWriter`) into a
//! temporary file per device, renamed into place at [`CsvWriter::finish`] /
//! [`VcdWriter::finish`]: a week of 10 ms samples (~1e6 per device) never sits in memory, and an
//! interrupted run leaves no half-written export under the final name. One file per device,
//! because the bench runs the devices of a scenario one after another, each on its own clock
//! from day 0, and a VCD's time must not go backwards.
//!
//! The signals are those at the firmware boundary (the ADC codes, digital inputs and drive
//! outputs the firmware sees and sets), plus the plant truth the properties judge (temperatures,
//! irradiance, fluence, CEM43) as real-valued signals: in the VCD as full `f64`s, in the CSV at
//! the fixed resolutions of [`PLANT_DECIMALS`] (the bytes of a week's trace cost as much as
//! formatting them, and shortest round-trip floats spend half a row on roundoff digits).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use firmware::boundary::OutputFrame;
use vcd::{IdCode, TimescaleUnit, Value, VarType};

use crate::charts::slug;
use crate::events::{Event, Reporter, Sample};
use crate::report::temp_path;

/// Bytes buffered before each write to an export file. A week's CSV trace is ~150 MB: at
/// `BufWriter`'s default 8 KiB that was ~20 k `write` calls, at 256 KiB it is ~600.
const EXPORT_BUFFER_BYTES: usize = 256 * 1024;

/// One export file being written under its temporary name.
struct Stream {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
}

impl Stream {
    fn create(path: PathBuf) -> io::Result<Stream> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = temp_path(&path);
        let out = BufWriter::with_capacity(EXPORT_BUFFER_BYTES, File::create(&tmp)?);
        Ok(Stream { path, tmp, out })
    }

    fn commit(self) -> io::Result<PathBuf> {
        let Stream { path, tmp, out } = self;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Per-device files under `dir` named `STEM-DEVICE.EXT`, with the first error kept for `finish`
/// (a reporter cannot fail the run; the export reports its failure when it is finished).
struct PerDevice<T> {
    dir: PathBuf,
    stem: String,
    ext: &'static str,
    open: Option<(Stream, T)>,
    written: Vec<PathBuf>,
    error: Option<io::Error>,
}

impl<T> PerDevice<T> {
    fn new(dir: &Path, stem: &str, ext: &'static str) -> Self {
        PerDevice {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            ext,
            open: None,
            written: Vec::new(),
            error: None,
        }
    }

    fn close(&mut self) {
        if let Some((stream, _)) = self.open.take() {
            match stream.commit() {
                Ok(p) => self.written.push(p),
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
    }

    /// Close the current device's file and open the next one with `header`.
    fn start(&mut self, id: &str, header: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>) {
        self.close();
        if self.error.is_some() {
            return;
        }
        let path = self
            .dir
            .join(format!("{}-{}.{}", self.stem, slug(id), self.ext));
        match Stream::create(path).and_then(|mut s| header(&mut s.out).map(|t| (s, t))) {
            Ok(open) => self.open = Some(open),
            Err(e) => self.error = Some(e),
        }
    }

    fn write(&mut self, f: impl FnOnce(&mut BufWriter<File>, &mut T) -> io::Result<()>) {
        if let Some((stream, state)) = self.open.as_mut()
            && let Err(e) = f(&mut stream.out, state)
        {
            self.error = Some(e);
            if let Some((s, _)) = self.open.take() {
                s.discard();
            }
        }
    }

    fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        self.close();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(std::mem::take(&mut self.written)),
        }
    }
}

impl<T> Drop for PerDevice<T> {
    fn drop(&mut self) {
        if let Some((s, _)) = self.open.take() {
            s.discard();
        }
    }
}

/// CSV columns, with units in the names (`_ms`, `_c`, `_mw_cm2`, `_counts`, `_permille` ...).
pub const CSV_HEADER: &str = "t_ms,powered,skin_hot_c,skin_mean_c,junction0_c,junction1_c,board_c,\
irradiance0_mw_cm2,irradiance1_mw_cm2,fluence_j_cm2,cem43_min,\
in_now_ms,in_contact_ntc0_counts,in_contact_ntc1_counts,in_board_ntc_counts,\
in_string_current0_counts,in_string_current1_counts,in_string_current2_counts,in_string_current3_counts,\
in_string_voltage0_counts,in_string_voltage1_counts,in_string_voltage2_counts,in_string_voltage3_counts,\
in_supply_counts,in_buttons,in_program,in_skin_contact,in_eye_shield,in_fan_ok,in_distance_mm,\
out_duty0_permille,out_duty1_permille,out_current0_ma,out_current1_ma,out_hw_enable,out_indicator,\
out_state,out_detail,out_dose_estimate_mj_cm2,out_fault_code,out_next_wake_ms,\
out_nvm_write_offset,out_nvm_write_len";

/// Decimal places written for each plant column, in [`Sample::plant_values`] order.
///
/// Fixed resolutions far finer than anything the trace is read for, which drop the roundoff
/// digits a shortest round-trip float carries (`21.000000000000195`): those were more than half
/// of a row's bytes, and the bytes written cost as much as the formatting.
/// - Temperatures (`skin_hot_c`, `skin_mean_c`, `junction*_c`, `board_c`): 6 places, 1 µK. The
///   skin limits are whole kelvins (domain.md §5.5 \[D\]: a 41 °C ceiling), and CEM43's rate
///   grows ×2 per kelvin above 43 °C and ×4 below (§5.5 \[V2\] Sapareto & Dewey 1984), so 1 µK
///   moves it by at most 1.4 ppm.
/// - Irradiance (`irradiance*_mw_cm2`): 6 places, 1 nW/cm², under a millionth of the ~8 mW/cm²
///   the runner week's wrap delivers.
/// - Fluence (`fluence_j_cm2`): 6 places, 1 µJ/cm²: one 10 ms tick at 8 mW/cm² adds 80 of them;
///   the firmware's own estimate is in whole mJ/cm² (`out_dose_estimate_mj_cm2`).
/// - Thermal dose (`cem43_min`): 9 places, 1e-9 CEM43 min, a billionth of the 1 CEM43
///   per-session stop (domain.md §5.5 \[D\], below the \[V\] van Rhoon 2013 threshold of 2). At
///   37 °C a 10 ms tick adds ~4e-8 (0.25^6 min/min), so the column still moves tick by tick
///   where the dose starts to count.
pub const PLANT_DECIMALS: [usize; PLANT_COLUMNS] = [6, 6, 6, 6, 6, 6, 6, 6, 9];

/// Most decimal places [`push_fixed`] writes: 10^9 times its 2^33 integer-path limit stays
/// below 2^63, so the scaled value fits a `u64`.
pub const FIXED_MAX_DECIMALS: usize = 9;

/// Magnitudes below 2^33 (~8.6e9) take the integer path of [`push_fixed`] (see
/// [`FIXED_MAX_DECIMALS`]); nothing physical in a trace comes near it.
const FIXED_INTEGER_LIMIT: f64 = 8_589_934_592.0;

/// Appends `x` rounded to `decimals` places (at most [`FIXED_MAX_DECIMALS`]), trailing zeros of
/// the fraction and a bare point dropped: the text of `format!("{x:.decimals$}")` so trimmed
/// (the exact decimal value of the binary `x`, ties to even), except that a value rounding to
/// zero is `0`, never `-0`. Beyond ±2^33 (no physical trace value; a model fault worth seeing
/// whole) it is `ryu`'s shortest round-trip form (`1e300`), and not finite `NaN`, `inf`, `-inf`
/// as `Display` writes them: every text parses as a float, and none is longer than
/// [`FIXED_MAX_CHARS`].
///
/// Exact without `fmt`: `x` = m·2^-s (m < 2^53), so x·10^d = (m·10^d)·2^-s with m·10^d < 2^83
/// in a `u128`, and the shifted-out bits decide the rounding. The integer and fraction parts
/// are then written two digits at a time.
pub fn push_fixed(out: &mut Vec<u8>, x: f64, decimals: usize) {
    out.extend_from_slice(fixed_text(x, decimals).text());
}

/// 10^d for each number of decimal places [`push_fixed`] takes.
const POWERS_OF_TEN: [u64; FIXED_MAX_DECIMALS + 1] = {
    let mut p = [1; FIXED_MAX_DECIMALS + 1];
    let mut d = 1;
    while d <= FIXED_MAX_DECIMALS {
        p[d] = p[d - 1] * 10;
        d += 1;
    }
    p
};

/// [`push_fixed`]'s text, in a [`Text`] a CSV row copies at its fixed width.
fn fixed_text(x: f64, decimals: usize) -> Text<PLANT_FIELD_BYTES> {
    assert!(decimals <= FIXED_MAX_DECIMALS, "{decimals} decimal places");
    let mut text = Text::new();
    if !x.is_finite() || x.abs() >= FIXED_INTEGER_LIMIT {
        let mut shortest = ryu::Buffer::new();
        let other = if x.is_finite() {
            shortest.format_finite(x)
        } else if x.is_nan() {
            "NaN"
        } else if x > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        text.bytes[..other.len()].copy_from_slice(other.as_bytes());
        text.len = other.len();
        return text;
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as u32;
    let fraction = bits & ((1 << 52) - 1);
    // Subnormals have no implicit bit and the exponent of the smallest normal.
    let (mantissa, shift) = if biased == 0 {
        (fraction, 1074)
    } else {
        (fraction | 1 << 52, 1075 - biased)
    };
    // |x| < 2^33 puts the binary point at least 19 bits into the mantissa: shift >= 19.
    let scale = POWERS_OF_TEN[decimals];
    let exact = u128::from(mantissa) * u128::from(scale);
    let scaled = if shift > 83 {
        // exact < 2^83 <= half of 2^shift: below half a unit, and not a tie.
        0
    } else {
        let kept = (exact >> shift) as u64;
        let rest = exact & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        kept + u64::from(rest > half || (rest == half && kept & 1 == 1))
    };
    if scaled != 0 && bits >> 63 == 1 {
        text.byte(b'-');
    }
    text.uint_digits(scaled / scale);
    let (mut places, mut frac) = (decimals, scaled % scale);
    while places > 0 && frac % 10 == 0 {
        frac /= 10;
        places -= 1;
    }
    if places > 0 {
        text.byte(b'.').digits(frac, places);
    }
    text
}

/// Longest text [`push_fixed`] writes: `ryu`'s 24 (`-1.2345678901234567e-300`) beats the
/// integer path's sign, 10 digits, point and 9 decimals (21).
pub const FIXED_MAX_CHARS: usize = 24;

/// Plant-truth columns of a row ([`Sample::plant_values`]).
const PLANT_COLUMNS: usize = 9;

/// Longest integer field with its separator: a `u64`'s 20 digits and a comma.
const INT_FIELD_BYTES: usize = 21;

/// Room for one plant field and its comma, as copied whole into a row.
const PLANT_FIELD_BYTES: usize = 32;
const _: () = assert!(FIXED_MAX_CHARS < PLANT_FIELD_BYTES);

/// Bytes [`Text::uint`] stores for a `u32` field, whatever its length: its digits (10 at most)
/// assembled in a `u128`, stored whole.
const UINT_STORE_BYTES: usize = 16;

/// Room for the output columns to the end of the line, each at its type's widest with its
/// separator: four `u16` (duty and current per channel), the enable, three `u8` (indicator,
/// state, detail), the `u32` dose estimate, the `u16` fault, the `u32` wake time, the NVM
/// write's `u16` offset and `u8` length; and the last field's copy width past its end. Kept
/// tight: a row copies all of it.
const OUTPUT_BYTES: usize = 4 * 6 + 2 + 3 * 4 + 11 + 6 + 11 + 6 + 4 + UINT_STORE_BYTES;

/// Room for a whole row, every field at its longest and each plant field at its copy width:
/// `t_ms`, `powered`, the plant, the input lanes, the outputs.
const ROW_BYTES: usize = 2 * INT_FIELD_BYTES
    + PLANT_COLUMNS * PLANT_FIELD_BYTES
    + crate::record::INPUT_LANES.len() * INT_FIELD_BYTES
    + OUTPUT_BYTES;

/// Two ASCII digits for each of 0..100, for writing integers two digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// CSV text being assembled in a fixed array, field by field, with no `fmt` machinery and no
/// call to `memcpy` per field: integers are written digit pairs in place, and a cached field is
/// copied at its full fixed width (a few vector moves), the bytes past its end overwritten by
/// the next field. A week's trace is ~0.7 M rows of ~45 fields; per-field copies of a few
/// bytes through `memcpy` were a third of the writer's time. The capacity `N` holds every
/// field at its longest, so the slicing never fails.
#[derive(Clone, Copy)]
struct Text<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    fn new() -> Self {
        Text {
            bytes: [0; N],
            len: 0,
        }
    }

    fn text(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn byte(&mut self, b: u8) -> &mut Self {
        self.bytes[self.len] = b;
        self.len += 1;
        self
    }

    /// The last `width` decimal digits of `x`, leading zeros included.
    fn digits(&mut self, mut x: u64, width: usize) -> &mut Self {
        let field = &mut self.bytes[self.len..self.len + width];
        let mut at = width;
        while at >= 2 {
            let pair = (x % 100) as usize * 2;
            x /= 100;
            at -= 2;
            field[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if at == 1 {
            field[0] = b'0' + (x % 10) as u8;
        }
        self.len += width;
        self
    }

    /// `x` in decimal: its digits assembled two at a time in a register (the first digit in
    /// the lowest byte) and stored with one 16-byte write ([`UINT_STORE_BYTES`]), the bytes past
    /// its end overwritten by the next field. Written digit pairs into a scratch array and copied
    /// on, the copy's wide loads read the pairs' narrow stores back before they reached the
    /// cache: a store-forwarding stall on every integer field, 60 % of the writer's samples.
    /// Inlined into each of a row's ~35 call sites: the call itself was ~11 % of the writer's
    /// instructions (callgrind).
    #[inline(always)]
    fn uint_digits(&mut self, x: u64) -> &mut Self {
        let Ok(mut x) = u32::try_from(x) else {
            // Past 2^32 (a `t_ms` after 49 days): rare, so counted first.
            return self.digits(x, x.ilog10() as usize + 1);
        };
        let pair = |p: u32| {
            let at = p as usize * 2;
            u128::from(u16::from_le_bytes([DIGIT_PAIRS[at], DIGIT_PAIRS[at + 1]]))
        };
        // From the last pair to the first, each shifted in below the ones before it.
        let (mut text, mut bytes) = (0u128, 0);
        while x >= 100 {
            text = text << 16 | pair(x % 100);
            bytes += 2;
            x /= 100;
        }
        if x >= 10 {
            text = text << 16 | pair(x);
            bytes += 2;
        } else {
            text = text << 8 | u128::from(b'0' + x as u8);
            bytes += 1;
        }
        self.bytes[self.len..self.len + UINT_STORE_BYTES].copy_from_slice(&text.to_le_bytes());
        self.len += bytes;
        self
    }

    /// `x` in decimal and a comma.
    #[inline]
    fn uint(&mut self, x: impl Into<u64>) -> &mut Self {
        self.uint_digits(x.into()).byte(b',')
    }

    /// A comma: an empty field.
    fn empty(&mut self) -> &mut Self {
        self.byte(b',')
    }

    /// `other`'s text, copied at its full width `M`.
    fn append<const M: usize>(&mut self, other: &Text<M>) {
        self.bytes[self.len..self.len + M].copy_from_slice(&other.bytes);
        self.len += other.len;
    }

    /// The last separator becomes the end of the line.
    fn end_line(&mut self) {
        self.bytes[self.len - 1] = b'\n';
    }
}

/// What of the last row can be re-used as formatted: between thermal updates most plant
/// columns repeat from row to row (temperatures move once per thermal period, irradiance with
/// the drive), and the output columns change with the firmware's state and dose estimate only.
struct CsvState {
    row: Box<Text<ROW_BYTES>>,
    /// Bits of each plant value last formatted, and its text with the comma.
    plant: [(Option<u64>, Text<PLANT_FIELD_BYTES>); PLANT_COLUMNS],
    /// The output frame last formatted, and its columns' text to the end of the line.
    output: Option<(OutputFrame, Box<Text<OUTPUT_BYTES>>)>,
}

impl CsvState {
    fn new() -> CsvState {
        CsvState {
            row: Box::new(Text::new()),
            plant: [(None, Text::new()); PLANT_COLUMNS],
            output: None,
        }
    }
}

/// The output columns of a row, to its end of line.
fn output_columns(o: &OutputFrame, text: &mut Text<OUTPUT_BYTES>) {
    text.len = 0;
    text.uint(o.duty_permille[0])
        .uint(o.duty_permille[1])
        .uint(o.current_ma[0])
        .uint(o.current_ma[1])
        .uint(o.hw_enable)
        .uint(o.indicator as u8)
        .uint(o.state)
        .uint(o.detail)
        .uint(o.dose_estimate_mj_cm2)
        .uint(o.fault_code)
        .uint(o.next_wake_ms);
    match &o.nvm_write {
        Some(nv) => text.uint(nv.offset).uint(nv.len),
        None => text.empty().empty(),
    };
    text.end_line();
}

fn csv_row(w: &mut impl Write, st: &mut CsvState, s: &Sample) -> io::Result<()> {
    let CsvState { row, plant, output } = st;
    row.len = 0;
    row.uint(s.t_ms).uint(s.powered);
    for ((x, (bits, text)), decimals) in s
        .plant_values()
        .into_iter()
        .zip(plant.iter_mut())
        .zip(PLANT_DECIMALS)
    {
        if *bits != Some(x.to_bits()) {
            *bits = Some(x.to_bits());
            *text = fixed_text(x, decimals);
            text.byte(b',');
        }
        row.append(text);
    }
    // The input columns are the recorded frames' input lanes, in the same order.
    for v in crate::record::input_lanes(&s.input) {
        row.uint(v);
    }
    match output {
        Some((o, text)) if *o == s.output => row.append(&**text),
        _ => {
            let (o, text) = output.get_or_insert_with(|| (s.output, Box::new(Text::new())));
            *o = s.output;
            output_columns(o, text);
            row.append(&**text);
        }
    }
    w.write_all(row.text())
}

/// Streams every sample to `DIR/STEM-DEVICE.csv`, one row per bench instant.
pub struct CsvWriter {
    files: PerDevice<CsvState>,
}

impl CsvWriter {
    /// A writer into `dir`; files are named `STEM-DEVICE.csv`.
    pub fn new(dir: &Path, stem: &str) -> CsvWriter {
        CsvWriter {
            files: PerDevice::new(dir, stem, "csv"),
        }
    }

    /// Flush and rename every file into place; returns their paths, or the first error.
    pub fn finish(self) -> io::Result<Vec<PathBuf>> {
        self.files.finish()
    }
}

impl Reporter for CsvWriter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::DeviceStart { id, .. } => self.files.start(id, |w| {
                writeln!(w, "{CSV_HEADER}")?;
                Ok(CsvState::new())
            }),
            Event::Sample(s) => self.files.write(|w, st| csv_row(w, st, s)),
            _ => {}
        }
    }
}

/// Reads an integer signal from a sample.
type IntGetter = fn(&Sample) -> u64;
/// Reads a real signal from a sample.
type RealGetter = fn(&Sample) -> f64;
/// An integer boundary signal: name, width in bits, getter.
type IntSignal = (&'static str, u32, IntGetter);
/// A real-valued plant signal: name, getter.
type RealSignal = (&'static str, RealGetter);

/// Firmware inputs: raw ADC codes (12 bits) and digital inputs.
const INPUTS: &[IntSignal] = &[
    ("now_ms", 32, |s| u64::from(s.input.now_ms)),
    ("contact_ntc0", 12, |s| {
        u64::from(s.input.adc.contact_ntc[0])
    }),
    ("contact_ntc1", 12, |s| {
        u64::from(s.input.adc.contact_ntc[1])
    }),
    ("board_ntc", 12, |s| u64::from(s.input.adc.board_ntc)),
    ("string_current0", 12, |s| {
        u64::from(s.input.adc.string_current[0])
    }),
    ("string_current1", 12, |s| {
        u64::from(s.input.adc.string_current[1])
    }),
    ("string_current2", 12, |s| {
        u64::from(s.input.adc.string_current[2])
    }),
    ("string_current3", 12, |s| {
        u64::from(s.input.adc.string_current[3])
    }),
    ("string_voltage0", 12, |s| {
        u64::from(s.input.adc.string_voltage[0])
    }),
    ("string_voltage1", 12, |s| {
        u64::from(s.input.adc.string_voltage[1])
    }),
    ("string_voltage2", 12, |s| {
        u64::from(s.input.adc.string_voltage[2])
    }),
    ("string_voltage3", 12, |s| {
        u64::from(s.input.adc.string_voltage[3])
    }),
    ("supply", 12, |s| u64::from(s.input.adc.supply)),
    ("buttons", 3, |s| u64::from(s.input.buttons)),
    ("program", 8, |s| u64::from(s.input.program)),
    ("skin_contact", 1, |s| u64::from(s.input.skin_contact)),
    ("eye_shield", 1, |s| u64::from(s.input.eye_shield)),
    ("fan_ok", 1, |s| u64::from(s.input.fan_ok)),
    ("distance_mm", 16, |s| u64::from(s.input.distance_mm)),
    ("powered", 1, |s| u64::from(s.powered)),
];

/// Firmware outputs: drive, enables, indicator, state, dose estimate, NVM write strobe.
const OUTPUTS: &[IntSignal] = &[
    ("duty0_permille", 10, |s| {
        u64::from(s.output.duty_permille[0])
    }),
    ("duty1_permille", 10, |s| {
        u64::from(s.output.duty_permille[1])
    }),
    ("current0_ma", 16, |s| u64::from(s.output.current_ma[0])),
    ("current1_ma", 16, |s| u64::from(s.output.current_ma[1])),
    ("hw_enable", 1, |s| u64::from(s.output.hw_enable)),
    ("indicator", 3, |s| s.output.indicator as u64),
    ("state", 3, |s| u64::from(s.output.state)),
    ("detail", 8, |s| u64::from(s.output.detail)),
    ("dose_estimate_mj_cm2", 32, |s| {
        u64::from(s.output.dose_estimate_mj_cm2)
    }),
    ("fault_code", 16, |s| u64::from(s.output.fault_code)),
    ("next_wake_ms", 32, |s| u64::from(s.output.next_wake_ms)),
    ("nvm_write", 1, |s| u64::from(s.output.nvm_write.is_some())),
];

/// Plant truth, real-valued, units in the names.
const PLANT: &[RealSignal] = &[
    ("skin_hot_c", |s| s.skin_hot_c),
    ("skin_mean_c", |s| s.skin_mean_c),
    ("junction0_c", |s| s.junction_c[0]),
    ("junction1_c", |s| s.junction_c[1]),
    ("board_c", |s| s.board_c),
    ("irradiance0_mw_cm2", |s| s.irradiance_mw_cm2[0]),
    ("irradiance1_mw_cm2", |s| s.irradiance_mw_cm2[1]),
    ("fluence_j_cm2", |s| s.fluence_j_cm2),
    ("cem43_min", |s| s.cem43),
];

/// One device's VCD: the id codes, the last values written and the last timestamp.
struct VcdState {
    /// Id, width, getter, last value written.
    ints: Vec<(IdCode, u32, IntGetter, Option<u64>)>,
    /// Id, getter, bits of the last value written.
    reals: Vec<(IdCode, RealGetter, Option<u64>)>,
    last_t: Option<u64>,
}

fn vcd_header(w: &mut BufWriter<File>, id: &str) -> io::Result<VcdState> {
    let mut v = vcd::Writer::new(w);
    v.comment("pbm-hil firmware boundary and plant truth; one file per device")?;
    v.timescale(1, TimescaleUnit::MS)?;
    v.add_module(&slug(id).replace('-', "_"))?;
    let mut ints = Vec::new();
    for (scope, signals) in [("inputs", INPUTS), ("outputs", OUTPUTS)] {
        v.add_module(scope)?;
        for &(name, width, get) in signals {
            ints.push((v.add_wire(width, name)?, width, get, None));
        }
        v.upscope()?;
    }
    v.add_module("plant")?;
    let mut reals = Vec::new();
    for &(name, get) in PLANT {
        reals.push((v.add_var(VarType::Real, 64, name, None)?, get, None));
    }
    v.upscope()?;
    v.upscope()?;
    v.enddefinitions()?;
    Ok(VcdState {
        ints,
        reals,
        last_t: None,
    })
}

fn vcd_sample(w: &mut BufWriter<File>, st: &mut VcdState, s: &Sample) -> io::Result<()> {
    let mut v = vcd::Writer::new(w);
    let mut stamped = st.last_t == Some(s.t_ms);
    let mut stamp = |v: &mut vcd::Writer<&mut BufWriter<File>>| -> io::Result<()> {
        if !stamped {
            stamped = true;
            v.timestamp(s.t_ms)?;
        }
        Ok(())
    };
    for (id, width, get, last) in st.ints.iter_mut() {
        let x = get(s);
        if *last != Some(x) {
            stamp(&mut v)?;
            if *width == 1 {
                v.change_scalar(*id, if x == 0 { Value::V0 } else { Value::V1 })?;
            } else {
                v.change_vector(
                    *id,
                    (0..*width).rev().map(|b| {
                        if (x >> b) & 1 == 1 {
                            Value::V1
                        } else {
                            Value::V0
                        }
                    }),
                )?;
            }
            *last = Some(x);
        }
    }
    for (id, get, last) in st.reals.iter_mut() {
        let x = get(s);
        if *last != Some(x.to_bits()) {
            stamp(&mut v)?;
            v.change_real(*id, x)?;
            *last = Some(x.to_bits());
        }
    }
    st.last_t = Some(s.t_ms);
    Ok(())
}

/// Streams the boundary signals and plant truth to `DIR/STEM-DEVICE.vcd` (1 ms timescale,
/// value changes only).
pub struct VcdWriter {
    files: PerDevice<VcdState>,
}

impl VcdWriter {
    /// A writer into `dir`; files are named `STEM-DEVICE.vcd`.
    pub fn new(dir: &Path, stem: &str) -> VcdWriter {
        VcdWriter {
            files: PerDevice::new(dir, stem, "vcd"),
        }
    }

    /// Flush and rename every file into place; returns their paths, or the first error.
    pub fn finish(self) -> io::Result<Vec<PathBuf>> {
        self.files.finish()
    }
}

impl Reporter for VcdWriter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::DeviceStart { id, .. } => self.files.start(id, |w| vcd_header(w, id)),
            Event::Sample(s) => self.files.write(|w, st| vcd_sample(w, st, s)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::boundary::{InputFrame, OutputFrame};

    fn sample(t_ms: u64, duty: u16, skin_c: f64) -> Sample {
        Sample {
            t_ms,
            device: 0,
            skin_hot_c: skin_c,
            skin_mean_c: skin_c - 0.5,
            junction_c: [30.0, 31.0],
            board_c: 28.0,
            irradiance_mw_cm2: [f64::from(duty) / 100.0, 0.0],
            fluence_j_cm2: 0.25,
            cem43: 0.0,
            input: InputFrame {
                now_ms: t_ms as u32,
                ..InputFrame::default()
            },
            output: OutputFrame {
                duty_permille: [duty, 0],
                hw_enable: duty > 0,
                state: 2,
                ..OutputFrame::default()
            },
            powered: true,
        }
    }

    /// The start of the one device ("wrap") the tests' samples belong to.
    fn start_device(r: &mut dyn Reporter) {
        r.event(&Event::DeviceStart {
            device: 0,
            id: "wrap".into(),
        });
    }

    fn feed(r: &mut dyn Reporter) {
        start_device(r);
        for (k, duty) in [0u16, 0, 500, 500, 1000].into_iter().enumerate() {
            r.event(&Event::Sample(sample(k as u64 * 10, duty, 33.0 + k as f64)));
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pbm-hil-export-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn csv_has_a_unit_named_header_and_one_row_per_sample() {
        let dir = scratch("csv");
        let mut w = CsvWriter::new(&dir, "trace");
        feed(&mut w);
        let files = w.finish().expect("written");
        assert_eq!(files, vec![dir.join("trace-wrap.csv")]);
        let text = std::fs::read_to_string(&files[0]).expect("csv");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        let header: Vec<&str> = lines[0].split(',').collect();
        let row: Vec<&str> = lines[3].split(',').collect();
        assert_eq!(header.len(), row.len(), "every row has every column");
        let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
        assert_eq!(row[col("t_ms")], "20");
        assert_eq!(row[col("out_duty0_permille")], "500");
        assert_eq!(row[col("skin_hot_c")], "35");
        assert_eq!(row[col("skin_mean_c")], "34.5");
        assert_eq!(row[col("irradiance0_mw_cm2")], "5");
        assert_eq!(row[col("fluence_j_cm2")], "0.25");
        assert_eq!(row[col("out_hw_enable")], "1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn csv_plant_columns_follow_every_change_and_repeat() {
        let dir = scratch("csv-repeat");
        let mut w = CsvWriter::new(&dir, "trace");
        start_device(&mut w);
        // Each skin value with its hottest and mean text: 1 µK, the rounding of the mean's
        // 7th decimal (…5639 up), roundoff digits dropped, a repeat after a change.
        let skins = [
            (35.0, "35", "34.5"),
            (35.0, "35", "34.5"),
            (35.123_456_789_012_3, "35.123457", "34.623457"),
            (35.0, "35", "34.5"),
            (35.0 + 3.0 * f64::EPSILON * 32.0, "35", "34.5"),
            (-36.499_999_5, "-36.5", "-37"),
        ];
        for (k, (skin, ..)) in skins.iter().enumerate() {
            w.event(&Event::Sample(sample(10 * k as u64, 100 * k as u16, *skin)));
        }
        let files = w.finish().expect("written");
        let text = std::fs::read_to_string(&files[0]).expect("csv");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), skins.len() + 1);
        let header: Vec<&str> = lines[0].split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
        for (k, (line, (_, hot, mean))) in lines[1..].iter().zip(skins).enumerate() {
            let row: Vec<&str> = line.split(',').collect();
            assert_eq!(row[col("skin_hot_c")], hot, "{line}");
            assert_eq!(row[col("skin_mean_c")], mean, "{line}");
            assert_eq!(
                row[col("out_duty0_permille")],
                (100 * k).to_string(),
                "{line}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A row as `format!` would write it: the reference for the in-place writer and its caches.
    fn reference_row(s: &Sample) -> String {
        let mut fields = vec![s.t_ms.to_string(), u8::from(s.powered).to_string()];
        for (x, d) in s.plant_values().into_iter().zip(PLANT_DECIMALS) {
            fields.push(reference_fixed(x, d));
        }
        let lanes = crate::record::input_lanes(&s.input);
        fields.extend(lanes.iter().map(u32::to_string));
        let o = &s.output;
        fields.extend(
            [
                o.duty_permille[0].into(),
                o.duty_permille[1].into(),
                o.current_ma[0].into(),
                o.current_ma[1].into(),
                u32::from(o.hw_enable),
                o.indicator as u32,
                o.state.into(),
                o.detail.into(),
                o.dose_estimate_mj_cm2,
                o.fault_code.into(),
                o.next_wake_ms,
            ]
            .map(|v: u32| v.to_string()),
        );
        match &o.nvm_write {
            Some(nv) => fields.extend([nv.offset.to_string(), nv.len.to_string()]),
            None => fields.extend([String::new(), String::new()]),
        }
        fields.join(",")
    }

    #[test]
    fn csv_rows_read_as_formatted_field_by_field() {
        let dir = scratch("csv-fields");
        let mut w = CsvWriter::new(&dir, "trace");
        start_device(&mut w);
        let mut samples = Vec::new();
        // Every digit count of every integer column, widest values, an NVM write and none, and
        // output frames that change, repeat and change back.
        for k in 0..24u32 {
            let mut s = sample(
                u64::from(k) * 10,
                (k * 47 % 1001) as u16,
                30.0 + f64::from(k) / 7.0,
            );
            let wide = 10u64
                .pow(k % 20)
                .saturating_mul(9)
                .saturating_add(u64::from(k));
            s.t_ms = if k == 23 { u64::MAX } else { wide };
            s.powered = k % 3 != 0;
            let n32 = (wide % (u64::from(u32::MAX) + 1)) as u32;
            s.input.now_ms = if k == 22 { u32::MAX } else { n32 };
            s.input.adc.contact_ntc = [(k * 181 % 4096) as u16, 4095];
            s.input.adc.supply = (k * 13) as u16;
            s.input.distance_mm = if k == 21 { u16::MAX } else { k as u16 };
            s.input.skin_contact = k % 2 == 0;
            s.output.dose_estimate_mj_cm2 = if k == 20 { u32::MAX } else { n32 / 8 };
            s.output.next_wake_ms = if k < 12 { 10 } else { 60_000 };
            s.output.fault_code = if k == 19 { u16::MAX } else { 0 };
            s.output.nvm_write = (k % 5 == 1).then_some(firmware::boundary::NvmWrite {
                offset: 64 * k as u16,
                len: 16,
                data: [0; firmware::boundary::NVM_WRITE_MAX],
            });
            s.cem43 = f64::from(k) * 1.234_567_890_123e-8;
            s.irradiance_mw_cm2 = [f64::from(k % 4) * 7.725_667_219_868_473, -0.0];
            samples.push(s);
        }
        for s in &samples {
            w.event(&Event::Sample(*s));
        }
        let files = w.finish().expect("written");
        let text = std::fs::read_to_string(&files[0]).expect("csv");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), samples.len() + 1);
        for (line, s) in lines[1..].iter().zip(&samples) {
            assert_eq!(*line, reference_row(s));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `format!("{x:.decimals$}")`, the fraction's trailing zeros and a bare point dropped, `-0`
    /// written `0`: what [`push_fixed`] promises below 2^33.
    fn reference_fixed(x: f64, decimals: usize) -> String {
        let full = format!("{x:.decimals$}");
        let trimmed = if decimals > 0 {
            full.trim_end_matches('0').trim_end_matches('.')
        } else {
            &full
        };
        if trimmed == "-0" { "0" } else { trimmed }.to_string()
    }

    fn fixed(x: f64, decimals: usize) -> String {
        let mut out = Vec::new();
        push_fixed(&mut out, x, decimals);
        String::from_utf8(out).expect("ascii")
    }

    /// [`push_fixed`]'s contract for any `x`: the rounded `fmt` text below 2^33, else a text
    /// that reads back as `x` (or NaN); never longer than [`FIXED_MAX_CHARS`].
    fn check_fixed(x: f64, decimals: usize) -> Result<(), proptest::test_runner::TestCaseError> {
        let text = fixed(x, decimals);
        proptest::prop_assert!(text.len() <= FIXED_MAX_CHARS, "{text}");
        if x.abs() < FIXED_INTEGER_LIMIT {
            proptest::prop_assert_eq!(text, reference_fixed(x, decimals));
        } else if x.is_nan() {
            proptest::prop_assert_eq!(text, "NaN");
        } else {
            proptest::prop_assert_eq!(text.parse::<f64>(), Ok(x));
        }
        Ok(())
    }

    #[test]
    fn fixed_point_text_at_the_edges() {
        let cases: &[(f64, usize, &str)] = &[
            (0.0, 6, "0"),
            (-0.0, 6, "0"),
            (-4e-7, 6, "0"),
            // 5e-7 is a hair below its decimal, so 0; just above it rounds away.
            (-5e-7, 6, "0"),
            (-5.000_001e-7, 6, "-0.000001"),
            (33.237_018_948_417_98, 6, "33.237019"),
            (21.000_000_000_000_195, 6, "21"),
            (1.129_208_624_592_103_8e-6, 9, "0.000001129"),
            (1.129_208_624_592_103_8e-6, 6, "0.000001"),
            // Exact binary ties (2^-7, 3·2^-7): to even, as `fmt` does.
            (0.007_812_5, 6, "0.007812"),
            (0.023_437_5, 6, "0.023438"),
            (-0.007_812_5, 6, "-0.007812"),
            (2.5, 0, "2"),
            (3.5, 0, "4"),
            (0.5, 0, "0"),
            (-1.0, 6, "-1"),
            (123_456.000_000_5, 6, "123456.000001"),
            (f64::MIN_POSITIVE / 4.0, 9, "0"),
            (8_589_934_591.999_999, 9, "8589934591.999999046"),
            // From 2^33 on: shortest round-trip.
            (8_589_934_592.0, 9, "8589934592.0"),
            (1e12, 6, "1000000000000.0"),
            (-1.234_567_890_123e15, 3, "-1234567890123000.0"),
            (1e300, 6, "1e300"),
            (-f64::MAX, 6, "-1.7976931348623157e308"),
            (f64::NAN, 6, "NaN"),
            (f64::INFINITY, 6, "inf"),
            (f64::NEG_INFINITY, 9, "-inf"),
        ];
        for &(x, decimals, text) in cases {
            assert_eq!(fixed(x, decimals), text, "{x:e} to {decimals} places");
            check_fixed(x, decimals).expect("the contract");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 4096,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Any bit pattern: every magnitude, subnormals, NaN and the infinities.
        #[test]
        fn fixed_point_keeps_its_contract_for_any_f64(bits in proptest::prelude::any::<u64>(), d in 0..=FIXED_MAX_DECIMALS) {
            check_fixed(f64::from_bits(bits), d)?;
        }

        /// The trace's range, where the integer path runs.
        #[test]
        fn fixed_point_matches_fmt_in_range(x in -1e4f64..1e4, d in 0..=FIXED_MAX_DECIMALS) {
            proptest::prop_assert_eq!(fixed(x, d), reference_fixed(x, d));
        }

        /// Rounding edges: dyadic values k/2^j (exact ties past j decimals' worth of bits) and
        /// the neighbours of the decimal half-way points n.5/10^d.
        #[test]
        fn fixed_point_matches_fmt_at_rounding_edges(
            k in -(1i64 << 40)..(1i64 << 40),
            j in 0i32..48,
            d in 0..=FIXED_MAX_DECIMALS,
        ) {
            check_fixed(k as f64 * 2f64.powi(-j), d)?;
            let halfway = (k as f64 + 0.5) / 10f64.powi(d as i32);
            for x in [halfway.next_down(), halfway, halfway.next_up()] {
                check_fixed(x, d)?;
            }
        }
    }

    #[test]
    fn vcd_reads_back_with_the_values_written() {
        let dir = scratch("vcd");
        let mut w = VcdWriter::new(&dir, "trace");
        feed(&mut w);
        let files = w.finish().expect("written");
        let f = std::io::BufReader::new(File::open(&files[0]).expect("vcd"));
        let mut p = vcd::Parser::new(f);
        let header = p.parse_header().expect("header");
        let duty = header
            .find_var(&["wrap", "outputs", "duty0_permille"])
            .expect("duty")
            .code;
        let skin = header
            .find_var(&["wrap", "plant", "skin_hot_c"])
            .expect("skin")
            .code;
        let (mut t, mut duty_changes, mut skin_changes) = (0, Vec::new(), Vec::new());
        for cmd in p {
            match cmd.expect("command") {
                vcd::Command::Timestamp(x) => t = x,
                vcd::Command::ChangeVector(id, v) if id == duty => {
                    let x = v
                        .iter()
                        .fold(0u64, |a, b| a * 2 + u64::from(b == Value::V1));
                    duty_changes.push((t, x));
                }
                vcd::Command::ChangeReal(id, x) if id == skin => skin_changes.push((t, x)),
                _ => {}
            }
        }
        // Value changes only: duty 0 at t 0, 500 at 20, 1000 at 40.
        assert_eq!(duty_changes, vec![(0, 0), (20, 500), (40, 1000)]);
        assert_eq!(skin_changes.len(), 5);
        assert_eq!(skin_changes[4], (40, 37.0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unfinished_export_leaves_no_file_behind() {
        let dir = scratch("drop");
        let mut w = CsvWriter::new(&dir, "trace");
        feed(&mut w);
        drop(w);
        let left: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
