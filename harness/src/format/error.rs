//! Errors in scenario files: where (file, line, column) and what (found, expected).
//!
//! Every problem a scenario file can have is reported as one [`FormatError`], so a file with
//! several defects gets several errors in one pass and the user fixes them all at once. Positions
//! are computed from byte spans into the text (the spans `toml` keeps for every value), so the
//! same error always renders the same way: the malformed corpus compares rendered errors exactly.

use std::fmt;
use std::ops::Range;

/// What class of problem a [`FormatError`] is (for callers that branch, e.g. tests and the CLI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read, or is not UTF-8.
    Io,
    /// Not valid TOML.
    Syntax,
    /// Valid TOML of the wrong shape: unknown key, wrong type, missing key, wrong `format`.
    Shape,
    /// A value outside its allowed range, or a malformed time.
    Range,
    /// A name that is not known: device id, zone, program, label, property, kind.
    Reference,
    /// Entries that contradict each other: duplicates, overlaps, keys that do not apply.
    Conflict,
    /// Something the device class does not have (a zone, a sensor, a string, a fan).
    Unsupported,
}

/// One problem in one scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// The file as the user named it (or the name passed to `load_str`).
    pub file: String,
    /// 1-based line; 0 when the error concerns the whole file (it could not be read).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub column: usize,
    /// Class of problem.
    pub kind: ErrorKind,
    /// What was found and what was expected, as a lowercase fragment.
    pub message: String,
}

impl FormatError {
    /// An error at a byte span of `text` (the start of the span is the reported position).
    pub fn at(
        file: &str,
        text: &str,
        span: Range<usize>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> FormatError {
        let (line, column) = line_column(text, span.start);
        FormatError {
            file: file.to_string(),
            line,
            column,
            kind,
            message: message.into(),
        }
    }

    /// An error about the whole file (no position).
    pub fn whole_file(file: &str, kind: ErrorKind, message: impl Into<String>) -> FormatError {
        FormatError {
            file: file.to_string(),
            line: 0,
            column: 0,
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for FormatError {}

/// 1-based line and character column of byte `offset` in `text` (clamped to the text, and to a
/// character boundary, so a span from a mutated file can never panic).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_not_bytes() {
        let text = "a = 1\nb = \"°C\" x\n";
        let x = text.find('x').expect("x is in the text");
        assert_eq!(line_column(text, x), (2, 10));
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.len() + 5), (3, 1));
        // Inside the two-byte '°': clamped back to its first byte.
        let deg = text.find('°').expect("° is in the text");
        assert_eq!(line_column(text, deg + 1), line_column(text, deg));
    }

    #[test]
    fn display_shows_position_unless_whole_file() {
        let e = FormatError::at("x.toml", "a\nbc", 3..4, ErrorKind::Range, "bad");
        assert_eq!(e.to_string(), "x.toml:2:2: bad");
        let w = FormatError::whole_file("x.toml", ErrorKind::Io, "cannot read");
        assert_eq!(w.to_string(), "x.toml: cannot read");
    }
}
