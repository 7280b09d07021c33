//! The `--input` argument: a file, inline JSON or stdin.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

/// Reads the execution input named by `--input` (default `{}`).
pub fn read(arg: Option<&str>) -> Result<Json> {
    let Some(arg) = arg else {
        return Ok(Json::Object(Default::default()));
    };
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the input from stdin")?;
        return parse(&text, "stdin");
    }
    let path = Path::new(arg);
    if path.is_dir() {
        bail!("--input '{arg}' is a directory: give a JSON file, inline JSON or '-' for stdin")
    }
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading input file {}", path.display()))?;
        return parse(&text, &path.display().to_string());
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

fn parse(text: &str, origin: &str) -> Result<Json> {
    serde_json::from_str(text).with_context(|| format!("the input in {origin} is not valid JSON"))
}
