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
//! irradiance, fluence, CEM43) as real-valued signals.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use vcd::{IdCode, TimescaleUnit, Value, VarType};

use crate::charts::slug;
use crate::events::{Event, Reporter, Sample};
use crate::report::temp_path;

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
        let out = BufWriter::new(File::create(&tmp)?);
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

/// One CSV row written field by field: integers through `itoa`, floats through `ryu` (shortest
/// round-trip form), no `fmt` machinery per field. A week's trace is ~1.5 M rows, and formatting
/// them with `write!` cost four times the simulation itself.
/// A CSV row being assembled in memory (one write per row to the file).
struct Row<'b> {
    buf: &'b mut Vec<u8>,
    ints: itoa::Buffer,
}

impl Row<'_> {
    fn int(&mut self, x: impl itoa::Integer) -> &mut Self {
        self.buf.extend_from_slice(self.ints.format(x).as_bytes());
        self.buf.push(b',');
        self
    }
}

/// The plant columns of the last row, as formatted: between thermal updates most of them repeat
/// from row to row (temperatures move once per thermal period, irradiance with the drive), and
/// formatting a float is most of a row's cost.
struct CsvState {
    row: Vec<u8>,
    last: [(Option<u64>, String); PLANT_COLUMNS],
}

/// Plant-truth columns of a row ([`Sample::plant_values`]).
const PLANT_COLUMNS: usize = 9;

impl CsvState {
    fn new() -> CsvState {
        CsvState {
            row: Vec::with_capacity(256),
            last: core::array::from_fn(|_| (None, String::new())),
        }
    }
}

fn csv_row(w: &mut impl Write, st: &mut CsvState, s: &Sample) -> io::Result<()> {
    let i = &s.input;
    let o = &s.output;
    let b = u8::from;
    let CsvState { row, last } = st;
    row.clear();
    let mut r = Row {
        buf: row,
        ints: itoa::Buffer::new(),
    };
    r.int(s.t_ms).int(b(s.powered));
    let mut floats = ryu::Buffer::new();
    for (x, (bits, text)) in s.plant_values().into_iter().zip(last.iter_mut()) {
        if *bits != Some(x.to_bits()) {
            *bits = Some(x.to_bits());
            text.clear();
            if x.is_finite() {
                text.push_str(floats.format_finite(x));
            } else {
                text.push_str(&x.to_string());
            }
        }
        r.buf.extend_from_slice(text.as_bytes());
        r.buf.push(b',');
    }
    // The input columns are the recorded frames' input lanes, in the same order.
    for v in crate::record::input_lanes(i) {
        r.int(v);
    }
    r.int(o.duty_permille[0])
        .int(o.duty_permille[1])
        .int(o.current_ma[0])
        .int(o.current_ma[1])
        .int(b(o.hw_enable))
        .int(o.indicator as u8)
        .int(o.state)
        .int(o.detail)
        .int(o.dose_estimate_mj_cm2)
        .int(o.fault_code)
        .int(o.next_wake_ms);
    match &o.nvm_write {
        Some(nv) => {
            r.int(nv.offset);
            r.buf.extend_from_slice(r.ints.format(nv.len).as_bytes());
            r.buf.push(b'\n');
        }
        None => r.buf.extend_from_slice(b",\n"),
    }
    w.write_all(row)
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

    fn feed(r: &mut dyn Reporter) {
        r.event(&Event::DeviceStart {
            device: 0,
            id: "wrap".into(),
        });
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
        assert_eq!(row[col("skin_hot_c")].parse::<f64>(), Ok(35.0));
        assert_eq!(row[col("out_hw_enable")], "1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn csv_plant_columns_follow_every_change_and_repeat() {
        let dir = scratch("csv-repeat");
        let mut w = CsvWriter::new(&dir, "trace");
        w.event(&Event::DeviceStart {
            device: 0,
            id: "wrap".into(),
        });
        let skins = [35.0, 35.0, 35.123_456_789_012_3, 35.0, 35.0, 36.5];
        for (k, skin) in skins.iter().enumerate() {
            w.event(&Event::Sample(sample(10 * k as u64, 100 * k as u16, *skin)));
        }
        let files = w.finish().expect("written");
        let text = std::fs::read_to_string(&files[0]).expect("csv");
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
        for (line, skin) in lines[1..].iter().zip(skins) {
            let row: Vec<&str> = line.split(',').collect();
            assert_eq!(row[col("skin_hot_c")].parse::<f64>(), Ok(skin), "{line}");
            assert_eq!(
                row[col("skin_mean_c")].parse::<f64>(),
                Ok(skin - 0.5),
                "{line}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
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
