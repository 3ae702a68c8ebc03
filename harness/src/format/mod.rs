//! Scenario files: strict, versioned TOML → validated [`Scenario`] values, and their JSON Schema.
//!
//! A scenario file is data a test engineer writes by hand, so every mistake must come back as a
//! position and a sentence (`scenarios/x.toml:12:9: unknown zone "left-shin"; expected one of
//! left-calf, ...`), all mistakes of a file at once, and no scenario runs while any file is
//! invalid. The work is split the way ripgrep splits its arguments: [`raw`] mirrors the file
//! (serde, unknown keys denied, one entry at a time so errors accumulate), [`validate`] turns it
//! into the bench's [`Scenario`] in one place, and [`schema`] describes the same tables to
//! editors (taplo reads the `#:schema ./schema.json` line). The format is documented for users
//! in `scenarios/README.md`.

pub mod error;
pub mod raw;
pub mod schema;
pub mod validate;
pub mod write;

use std::path::{Path, PathBuf};

pub use error::{ErrorKind, FormatError};
pub use write::to_toml;

use crate::scenario::Scenario;

/// Parse and validate one scenario from text. `name` is the file name shown in errors; the
/// scenario is named after its stem (`scenarios/runner-week.toml` → `runner-week`).
pub fn load_str(name: &str, text: &str) -> Result<Scenario, Vec<FormatError>> {
    let file = raw::parse(name, text)?;
    validate::validate(name, text, &scenario_name(name), &file)
}

/// Like [`load_str`], from bytes that may not be UTF-8 (the error points at the first bad byte).
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Scenario, Vec<FormatError>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => load_str(name, text),
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let (line, column) = error::line_column(good, good.len());
            Err(vec![FormatError {
                file: name.to_string(),
                line,
                column,
                kind: ErrorKind::Io,
                message: "invalid UTF-8; expected a UTF-8 text file".to_string(),
            }])
        }
    }
}

/// Load scenario files and folders of them (each folder's `*.toml`, sorted by name, not
/// recursive). Every file is validated; if any is invalid, all errors of all files are returned
/// and no scenario is.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<FormatError>> {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for path in expand(paths, &mut errors) {
        let name = path.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => match load_bytes(&name, &bytes) {
                Ok(s) => scenarios.push(s),
                Err(e) => errors.extend(e),
            },
            Err(e) => errors.push(FormatError::whole_file(
                &name,
                ErrorKind::Io,
                format!("cannot read: {e}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// Files named directly, and the sorted `*.toml` files of folders.
fn expand(paths: &[PathBuf], errors: &mut Vec<FormatError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let name = path.display().to_string();
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(FormatError::whole_file(
                    &name,
                    ErrorKind::Io,
                    format!("cannot read folder: {e}"),
                ));
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            errors.push(FormatError::whole_file(
                &name,
                ErrorKind::Io,
                "folder holds no *.toml scenario file",
            ));
        }
        out.extend(files);
    }
    out
}

fn scenario_name(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned())
}
