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
            Err(e) => return Err(manifest_error(&path, ManifestError::Read(e))),
        };
        Self::parse(&text).map_err(|reason| manifest_error(&path, reason))
    }

    pub(crate) fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let json: serde_json::Value = serde_json::from_str(text).map_err(ManifestError::Json)?;
        let object = json.as_object().ok_or(ManifestError::NotAnObject)?;
        let mut entries = HashMap::new();
        for (name, spec) in object {
            let spec = spec
                .as_str()
                .ok_or_else(|| ManifestError::NotAString { name: name.clone() })?;
            let target = parse_spec(spec).map_err(|BadSpec(spec)| ManifestError::BadSpec {
                name: name.clone(),
                spec,
            })?;
            entries.insert(name.clone(), target);
        }
        Ok(Manifest { entries })
    }

    /// What `function` names: the manifest's entry, or the module of the same name. The
    /// error is the text Lambda's `Runtime.HandlerNotFound` carries here.
    pub(crate) fn target(&self, function: &str) -> Result<Target, NotAFunctionName> {
        if let Some(target) = self.entries.get(function) {
            return Ok(target.clone());
        }
        if !is_function_name(function) {
            return Err(NotAFunctionName {
                function: function.to_owned(),
                // Lambda's names are ASCII: say which character is not, so `ü` is not taken
                // for a letter the message allows.
                character: function
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')),
            });
        }
        Ok(Target {
            module: function.to_owned(),
            attribute: None,
        })
    }
}

/// A function name that is no module name and that the manifest does not map.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{function}' is not a Lambda function name ({}), and {MANIFEST} does not map it to a module", why(*.character))]
pub struct NotAFunctionName {
    pub function: String,
    /// The first character Lambda does not allow (`None`: the name is empty).
    pub character: Option<char>,
}

fn why(character: Option<char>) -> String {
    match character {
        Some(c) => format!("'{c}' is not an ASCII letter, digit, '-' or '_'"),
        None => "it is empty".to_owned(),
    }
}

/// What is wrong with a `functions.json`.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("expected an object mapping function names to \"module.function\"")]
    NotAnObject,
    #[error("\"{name}\": expected a string \"module.function\" or \"module:function\"")]
    NotAString { name: String },
    #[error("\"{name}\": '{spec}' is not \"module.function\" or \"module:function\"")]
    BadSpec { name: String, spec: String },
}

fn manifest_error(path: &Path, source: ManifestError) -> PythonError {
    PythonError::Manifest {
        path: PathBuf::from(path),
        source,
    }
}

/// A manifest entry that names no callable.
#[derive(Debug, PartialEq, Eq)]
struct BadSpec(String);

fn parse_spec(spec: &str) -> Result<Target, BadSpec> {
    let bad = || BadSpec(spec.to_owned());
    let (module, attribute) = spec
        .split_once(':')
        .or_else(|| spec.rsplit_once('.'))
        .ok_or_else(bad)?;
    let dotted_names = |s: &str| !s.is_empty() && s.split('.').all(is_identifier);
    if !dotted_names(module) || !is_identifier(attribute) {
        return Err(bad());
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
        let e = m.target("../etc").expect_err("not a name");
        assert_eq!(e.character, Some('.'));
        assert!(e.to_string().contains("'.' is not an ASCII letter"), "{e}");
    }

    #[test]
    fn manifest_errors_say_which_entry() {
        let e = Manifest::parse(r#"{"resize": 3}"#).expect_err("3 is no spec");
        assert!(matches!(&e, ManifestError::NotAString { name } if name == "resize"));
        assert!(e.to_string().contains("\"resize\""), "{e}");
        let e = Manifest::parse(r#"{"resize": "ops"}"#).expect_err("no function named");
        assert!(
            matches!(&e, ManifestError::BadSpec { name, spec } if name == "resize" && spec == "ops")
        );
        assert!(matches!(
            Manifest::parse("[]"),
            Err(ManifestError::NotAnObject)
        ));
        assert!(matches!(Manifest::parse("{"), Err(ManifestError::Json(_))));
    }
}
