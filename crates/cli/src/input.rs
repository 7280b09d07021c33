//! The `--input` argument: a file, inline JSON or stdin.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

/// Reads the execution input named by `--input` (default `{}`).
pub fn read(arg: Option<&str>) -> Result<Json> {
    let Some(arg) = arg else {
        return Ok(Json::Object(Default::default()));
    };
    if arg == "-" {
        return serde_json::from_reader(std::io::BufReader::with_capacity(
            1 << 16,
            std::io::stdin().lock(),
        ))
        .context("the input in stdin is not valid JSON");
    }
    let path = Path::new(arg);
    if path.is_dir() {
        bail!("--input '{arg}' is a directory: give a JSON file, inline JSON or '-' for stdin")
    }
    if path.is_file() {
        // Parsed as it is read: a large input is held as its JSON tree only, not as text too.
        let file = std::fs::File::open(path)
            .with_context(|| format!("reading input file {}", path.display()))?;
        return serde_json::from_reader(std::io::BufReader::with_capacity(1 << 16, file))
            .with_context(|| format!("the input in {} is not valid JSON", path.display()));
    }
    match serde_json::from_str(arg) {
        Ok(json) => Ok(json),
        Err(e) => {
            let looks_like_path = !arg.trim_start().starts_with(['{', '[', '"']);
            if looks_like_path {
                bail!("--input '{arg}' is neither an existing file nor valid JSON ({e})")
            }
            bail!("--input is not valid JSON: {e}")
        }
    }
}
