//! Finding a workflow directory's definition: JSON or YAML, under the names faastlane and SAM
//! use. Shared by the CLI and the platform runtimes.

use std::path::{Path, PathBuf};

/// The names a workflow directory's definition may have, in the order they are looked for.
pub const NAMES: [&str; 6] = [
    "workflow.json",
    "workflow.yaml",
    "workflow.yml",
    "statemachine.asl.json",
    "statemachine.asl.yaml",
    "statemachine.asl.yml",
];

/// Why a directory's definition cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("{} is a directory without a definition (looked for {})", .dir.display(), NAMES.join(", "))]
    Missing { dir: PathBuf },
    #[error("{} has more than one definition ({first} and {second}): keep one", .dir.display())]
    Several {
        dir: PathBuf,
        first: String,
        second: String,
    },
    #[error("reading {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid YAML: {reason}", .path.display())]
    Yaml { path: PathBuf, reason: String },
}

/// The definition file of directory `dir`: exactly one of [`NAMES`].
pub fn find_in(dir: &Path) -> Result<PathBuf, DefinitionError> {
    let found: Vec<PathBuf> = NAMES
        .iter()
        .map(|name| dir.join(name))
        .filter(|p| p.is_file())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(DefinitionError::Missing {
            dir: dir.to_path_buf(),
        }),
        [first, second, ..] => Err(DefinitionError::Several {
            dir: dir.to_path_buf(),
            first: file_name(first),
            second: file_name(second),
        }),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `path` holds YAML (by its extension).
fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The definition's JSON text: `text` itself for a JSON file, converted for a YAML one.
pub fn to_json_text(path: &Path, text: &str) -> Result<String, DefinitionError> {
    if !is_yaml(path) {
        return Ok(text.to_owned());
    }
    let yaml = |reason: String| DefinitionError::Yaml {
        path: path.to_path_buf(),
        reason,
    };
    let value: serde_json::Value = serde_norway::from_str(text).map_err(|e| yaml(e.to_string()))?;
    serde_json::to_string_pretty(&value).map_err(|e| yaml(e.to_string()))
}

/// A state machine name usable in an ARN: `raw` with every character other than ASCII
/// letters, digits, `-` and `_` replaced by `-`; `fallback` when nothing is left.
pub fn arn_name(raw: &str, fallback: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        fallback.to_owned()
    } else {
        name
    }
}

/// Reads `dir`'s definition as JSON text (no placeholders filled).
pub fn read_in(dir: &Path) -> Result<(PathBuf, String), DefinitionError> {
    let path = find_in(dir)?;
    let text = std::fs::read_to_string(&path).map_err(|source| DefinitionError::Read {
        path: path.clone(),
        source,
    })?;
    let text = to_json_text(&path, &text)?;
    Ok((path, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_becomes_the_same_json() {
        let yaml = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n";
        let json = to_json_text(Path::new("w.yaml"), yaml).expect("yaml");
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}})
        );
    }

    #[test]
    fn a_directory_without_a_definition_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = find_in(dir.path()).expect_err("missing");
        assert!(e.to_string().contains("without a definition"), "{e}");
    }
}
