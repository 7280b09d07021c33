//! Which functions are sensitive (`faastlane.json` beside `workflow.json`) and which
//! isolation an execution gets (`--isolation`).
//!
//! ```json
//! {"isolation": {"sensitive": ["detect_phi", "mask", "deidentify"]}}
//! ```
//!
//! A sidecar file rather than a field of the definition: Step Functions rejects unknown
//! fields in a definition, and the same `workflow.json` must stay deployable there.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

/// The sidecar's file name, in the workflow's directory.
pub const SETTINGS_FILE: &str = "faastlane.json";

/// faastlane's own settings of a workflow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub isolation: IsolationSettings,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationSettings {
    /// The functions (as Tasks name them: `detect_phi`, not the ARN) that see sensitive
    /// data. `None`: every function.
    pub sensitive: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Settings {
    /// The settings in `dir`'s `faastlane.json`; the defaults when there is none. Every
    /// sensitive function must be one a Task of the workflow calls (`functions`).
    pub fn read(dir: &Path, functions: &[String]) -> Result<Settings, SettingsError> {
        let path = dir.join(SETTINGS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Settings::parse(&text, functions).map_err(|message| SettingsError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// [`Settings::read`] on a file's text.
    pub(crate) fn parse(text: &str, functions: &[String]) -> Result<Settings, String> {
        let settings: Settings = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (i, name) in settings.isolation.sensitive.iter().flatten().enumerate() {
            if !functions.contains(name) {
                return Err(format!(
                    "/isolation/sensitive/{i}: no Task calls a function named '{name}' (the workflow's functions: {})",
                    functions.join(", ")
                ));
            }
        }
        Ok(settings)
    }

    /// The functions to isolate: the marked ones, or all of `functions`.
    pub fn sensitive(&self, functions: &[String]) -> BTreeSet<String> {
        match &self.isolation.sensitive {
            Some(marked) => marked.iter().cloned().collect(),
            None => functions.iter().cloned().collect(),
        }
    }
}

/// What `--isolation` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Functions share the process's memory (the default).
    None,
    /// A protection-key domain per sensitive function; fails without PKU.
    Mpk,
    /// Each sensitive function in a forked worker process.
    Process,
    /// Mpk where it works, else process.
    Auto,
}

/// The isolation an execution gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// `None`, `Mpk` or `Process`, never `Auto`.
    pub mode: Mode,
    /// For `auto`: the one line saying what was chosen and why.
    pub notice: Option<String>,
}

/// Why `--isolation mpk` cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error(
        "--isolation mpk needs Intel memory protection keys, and {0}; use --isolation process (or auto)"
    )]
    NoProtectionKeys(mpk::Support),
    #[error(
        "--isolation mpk does not cover this runtime's functions (their heap is not in protection domains); use --isolation process (or auto)"
    )]
    RuntimeNotCovered,
}

/// Resolves `requested` on this machine. `mpk_covers_runtime`: whether the function runtime
/// keeps its functions' memory in domains (native functions do, and Python's through
/// `python_runtime::domains`; a runtime whose heap is not routed to domains would be
/// protected by nothing).
pub fn choose(
    requested: Mode,
    support: &mpk::Support,
    mpk_covers_runtime: bool,
) -> Result<Choice, ChoiceError> {
    let available = matches!(support, mpk::Support::Available);
    match requested {
        Mode::None | Mode::Process => Ok(Choice {
            mode: requested,
            notice: None,
        }),
        Mode::Mpk if !available => Err(ChoiceError::NoProtectionKeys(support.clone())),
        Mode::Mpk if !mpk_covers_runtime => Err(ChoiceError::RuntimeNotCovered),
        Mode::Mpk => Ok(Choice {
            mode: Mode::Mpk,
            notice: None,
        }),
        Mode::Auto if available && mpk_covers_runtime => Ok(Choice {
            mode: Mode::Mpk,
            notice: Some("isolation: mpk (this CPU has protection keys)".to_string()),
        }),
        Mode::Auto => Ok(Choice {
            mode: Mode::Process,
            notice: Some(if available {
                "isolation: process (protection keys do not cover this runtime's functions)"
                    .to_string()
            } else {
                format!("isolation: process ({support})")
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["detect_phi", "mask", "analytics"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn no_marking_isolates_every_function() {
        let s = Settings::parse("{}", &names()).expect("valid");
        assert_eq!(s.sensitive(&names()).len(), 3);
        let s =
            Settings::parse(r#"{"isolation": {"sensitive": ["mask"]}}"#, &names()).expect("valid");
        assert_eq!(s.sensitive(&names()), BTreeSet::from(["mask".to_string()]));
    }

    #[test]
    fn an_unknown_function_or_field_is_named() {
        let e = Settings::parse(
            r#"{"isolation": {"sensitive": ["mask", "nope"]}}"#,
            &names(),
        )
        .expect_err("unknown function");
        assert!(
            e.starts_with("/isolation/sensitive/1: no Task calls a function named 'nope'"),
            "{e}"
        );
        let e = Settings::parse(r#"{"isolation": {"sensitve": []}}"#, &names())
            .expect_err("unknown field");
        assert!(e.contains("unknown field `sensitve`"), "{e}");
    }

    #[test]
    fn auto_falls_back_to_processes_and_says_why() {
        let c = choose(Mode::Auto, &mpk::Support::NoCpuPku, true).expect("auto");
        assert_eq!(c.mode, Mode::Process);
        assert_eq!(
            c.notice.as_deref(),
            Some("isolation: process (this CPU has no protection keys (no PKU in CPUID))")
        );
        let c = choose(Mode::Auto, &mpk::Support::Available, true).expect("auto");
        assert_eq!(c.mode, Mode::Mpk);
        let c = choose(Mode::Auto, &mpk::Support::Available, false).expect("auto");
        assert_eq!(c.mode, Mode::Process);
    }

    #[test]
    fn mpk_without_keys_fails_before_running() {
        let e = choose(Mode::Mpk, &mpk::Support::NoCpuPku, true)
            .expect_err("no pku")
            .to_string();
        assert!(e.starts_with("--isolation mpk needs Intel memory protection keys, and this CPU has no protection keys"), "{e}");
        assert!(choose(Mode::Mpk, &mpk::Support::Available, false).is_err());
        assert_eq!(
            choose(Mode::Process, &mpk::Support::NoCpuPku, false).map(|c| c.mode),
            Ok(Mode::Process)
        );
    }
}
