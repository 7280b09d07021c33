//! Finding and loading a workflow: a directory with `workflow.json`, or a definition file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use asl::StateMachine;

use crate::definition::Substitutions;

/// A definition read from disk.
pub struct Loaded {
    /// The directory the workflow's functions live in.
    pub dir: PathBuf,
    /// The directory the user ran faastlane from (the runtime may change directory).
    pub invoked_from: PathBuf,
    /// The name its ARNs carry: the directory's (or file's) name.
    pub name: String,
    /// The definition file, as the user named it (messages show it so).
    pub definition_path: PathBuf,
    pub text: String,
}

impl Loaded {
    /// Reads the definition at `path` (a directory: its definition file, see
    /// [`platform::definition::NAMES`]), YAML converted to JSON, placeholders filled.
    pub fn read(path: &Path, substitutions: &Substitutions) -> Result<Loaded> {
        let definition_path = if path.is_dir() {
            crate::definition::find_in(path)?
        } else if path.is_file() {
            path.to_path_buf()
        } else {
            return Err(anyhow!("{}: no such file or directory", path.display()));
        };
        let text = std::fs::read_to_string(&definition_path)
            .with_context(|| format!("reading {}", definition_path.display()))?;
        let text = substitutions.apply(&text)?;
        let text = crate::definition::to_json_text(&definition_path, &text)?;
        let name = workflow_name(if path.is_dir() {
            path
        } else {
            &definition_path
        });
        let dir = definition_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        let invoked_from = std::env::current_dir().context("reading the current directory")?;
        Ok(Loaded {
            dir,
            invoked_from,
            name,
            definition_path,
            text,
        })
    }

    /// A path the user gave, anchored where the user ran faastlane.
    pub fn resolve_user_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.invoked_from.join(path)
        }
    }

    /// Parses and validates the definition, formatting every problem.
    pub fn machine(&self) -> Result<StateMachine, String> {
        asl::load_str(&self.text).map_err(|diags| {
            let mut out = format!(
                "{} is not a valid state machine:\n",
                self.definition_path.display()
            );
            for d in &diags {
                out.push_str(&format!("  - {d}\n"));
            }
            out.push_str(&format!("{} problem(s)", diags.len()));
            out
        })
    }
}

/// A state machine name usable in an ARN.
fn workflow_name(path: &Path) -> String {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let stem = if canonical.is_dir() {
        canonical
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
    } else {
        // `flow.asl.yaml` is named `flow`, like `flow.json`.
        canonical.file_name().map(|s| {
            let name = s.to_string_lossy();
            name.split('.').next().unwrap_or(&name).to_owned()
        })
    };
    let stem = stem.unwrap_or_default();
    platform::definition::arn_name(&stem, "workflow")
}
