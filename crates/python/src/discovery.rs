//! Which Python callable a function name stands for.
//!
//! By default function `NAME` is module `NAME.py` (or package `NAME/__init__.py`) in the
//! workflow directory, and the callable is its `handler(event, context)` (Lambda) or, when it
//! has none, its `main(args)` (OpenWhisk). An optional `functions.json` in the workflow
//! directory maps names to other callables:
//!
//! ```json
//! { "resize": "image_ops.resize_handler", "classify": "model.infer:predict" }
//! ```
//!
//! `module.function` splits at the last dot; `module:function` at the colon.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::PythonError;

/// The manifest's file name.
pub const MANIFEST: &str = "functions.json";

/// A module and, when the manifest names one, the callable in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) module: String,
    pub(crate) attribute: Option<String>,
}

/// The parsed `functions.json` (empty when there is none).
#[derive(Clone, Debug, Default)]
pub(crate) struct Manifest {
    entries: HashMap<String, Target>,
}

impl Manifest {
    pub(crate) fn load(dir: &Path) -> Result<Manifest, PythonError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(manifest_error(&path, format!("cannot read: {e}"))),
        };
        Self::parse(&text).map_err(|reason| manifest_error(&path, reason))
    }

    pub(crate) fn parse(text: &str) -> Result<Manifest, String> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let object = json
            .as_object()
            .ok_or("expected an object mapping function names to \"module.function\"")?;
        let mut entries = HashMap::new();
        for (name, spec) in object {
            let spec = spec.as_str().ok_or_else(|| {
                format!("\"{name}\": expected a string \"module.function\" or \"module:function\"")
            })?;
            let target = parse_spec(spec).map_err(|reason| format!("\"{name}\": {reason}"))?;
            entries.insert(name.clone(), target);
        }
        Ok(Manifest { entries })
    }

    /// What `function` names: the manifest's entry, or the module of the same name.
    pub(crate) fn target(&self, function: &str) -> Result<Target, String> {
        if let Some(target) = self.entries.get(function) {
            return Ok(target.clone());
        }
        if !is_function_name(function) {
            // Lambda's names are ASCII: say which character is not, so `ü` is not taken
            // for a letter the message allows.
            let why = match function
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                Some(c) => format!("'{c}' is not an ASCII letter, digit, '-' or '_'"),
                None => "it is empty".to_owned(),
            };
            return Err(format!(
                "'{function}' is not a Lambda function name ({why}), and {MANIFEST} does not map it to a module"
            ));
        }
        Ok(Target {
            module: function.to_owned(),
            attribute: None,
        })
    }
}

fn manifest_error(path: &Path, reason: String) -> PythonError {
    PythonError::Manifest {
        path: PathBuf::from(path),
        reason,
    }
}

fn parse_spec(spec: &str) -> Result<Target, String> {
    let (module, attribute) = spec
        .split_once(':')
        .or_else(|| spec.rsplit_once('.'))
        .ok_or_else(|| format!("'{spec}' is not \"module.function\" or \"module:function\""))?;
    let dotted_names = |s: &str| !s.is_empty() && s.split('.').all(is_identifier);
    if !dotted_names(module) || !is_identifier(attribute) {
        return Err(format!(
            "'{spec}' is not \"module.function\" or \"module:function\""
        ));
    }
    Ok(Target {
        module: module.to_owned(),
        attribute: Some(attribute.to_owned()),
    })
}

/// A Lambda function name: letters, digits, hyphens and underscores.
fn is_function_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(module: &str, attribute: &str) -> Target {
        Target {
            module: module.into(),
            attribute: Some(attribute.into()),
        }
    }

    #[test]
    fn specs_split_at_the_colon_or_the_last_dot() {
        assert_eq!(parse_spec("ops.resize"), Ok(target("ops", "resize")));
        assert_eq!(
            parse_spec("pkg.ops.resize"),
            Ok(target("pkg.ops", "resize"))
        );
        assert_eq!(
            parse_spec("pkg.ops:resize"),
            Ok(target("pkg.ops", "resize"))
        );
        for bad in ["resize", "ops.", ".resize", "a..b.c", "ops:re-size", "ops:"] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_entries_win_over_modules_of_the_same_name() {
        let m = Manifest::parse(r#"{"resize": "ops.resize_handler"}"#).expect("valid manifest");
        assert_eq!(m.target("resize"), Ok(target("ops", "resize_handler")));
        assert_eq!(
            m.target("classify"),
            Ok(Target {
                module: "classify".into(),
                attribute: None
            })
        );
        assert!(m.target("../etc").is_err());
    }

    #[test]
    fn manifest_errors_say_which_entry() {
        let e = Manifest::parse(r#"{"resize": 3}"#).expect_err("3 is no spec");
        assert!(e.contains("\"resize\""), "{e}");
        assert!(Manifest::parse("[]").is_err());
        assert!(Manifest::parse("{").is_err());
    }
}
