//! Reading typed fields out of JSON objects, reporting each wrong one.

use serde_json::{Map, Value as Json};

use super::{Loader, child, index};
use crate::intrinsic;
use crate::model::{NumberOrPath, StringOrPath};
use crate::path::Path;
use crate::template::Template;

/// The largest number of seconds (and retry attempts) Step Functions accepts.
pub(super) const MAX_SECONDS: u64 = 99_999_999;

/// A JSON object of the definition, where it is, and which state it belongs to.
pub(super) struct Obj<'a> {
    pub map: &'a Map<String, Json>,
    pub ptr: String,
    pub state: Option<String>,
}

impl<'a> Obj<'a> {
    pub fn at(&self, key: &str) -> String {
        child(&self.ptr, key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Json> {
        self.map.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The object at `ptr`, belonging to the same state.
    pub fn nested(&self, map: &'a Map<String, Json>, ptr: String) -> Obj<'a> {
        Obj {
            map,
            ptr,
            state: self.state.clone(),
        }
    }
}

/// What kind of path a field takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PathKind {
    /// Any path, definite or not, on the input (`$`) or the context (`$$`): `InputPath`,
    /// `OutputPath`, the value of a `.$` template field.
    Any,
    /// A reference path: definite, on the input only (`ResultPath`).
    Reference,
    /// A definite path naming one value, on the input or the context: `SecondsPath`,
    /// `TimeoutSecondsPath`, `ItemsPath`, `ErrorPath`, ...
    Value,
}

/// Parses `src` as a path of `kind`, or says why it is not one.
pub(super) fn parse_path(src: &str, kind: PathKind) -> Result<Path, String> {
    match kind {
        PathKind::Any => Path::parse(src).map_err(|e| e.to_string()),
        PathKind::Reference => Path::parse_reference(src).map_err(|e| e.to_string()),
        PathKind::Value => {
            let path = Path::parse(src).map_err(|e| e.to_string())?;
            if path.is_definite() {
                Ok(path)
            } else {
                Err(format!(
                    "invalid path '{src}': it must name a single value (no wildcards, filters, slices or '..')"
                ))
            }
        }
    }
}

impl Loader {
    pub(super) fn err(&mut self, o: &Obj<'_>, key: &str, message: impl Into<String>) {
        self.report(o.at(key), o.state(), message);
    }

    pub(super) fn err_here(&mut self, o: &Obj<'_>, message: impl Into<String>) {
        self.report(o.ptr.clone(), o.state(), message);
    }

    /// An optional string field.
    pub(super) fn opt_str<'a>(&mut self, o: &Obj<'a>, key: &str) -> Option<&'a str> {
        match o.get(key)? {
            Json::String(s) => Some(s),
            other => {
                self.err(
                    o,
                    key,
                    format!("{key} must be a string, not {}", kind(other)),
                );
                None
            }
        }
    }

    /// A required string field.
    pub(super) fn req_str<'a>(&mut self, o: &Obj<'a>, key: &str, owner: &str) -> Option<&'a str> {
        if !o.has(key) {
            self.err_here(o, format!("{owner} needs a {key} field"));
            return None;
        }
        self.opt_str(o, key)
    }

    /// An optional integer field in `min..=max`.
    pub(super) fn opt_uint(&mut self, o: &Obj<'_>, key: &str, min: u64, max: u64) -> Option<u64> {
        let value = o.get(key)?;
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let wanted = match min {
                    0 => "a non-negative integer",
                    1 => "a positive integer",
                    _ => "an integer",
                };
                let range = if max == u64::MAX {
                    String::new()
                } else {
                    format!(" (at most {max})")
                };
                self.err(
                    o,
                    key,
                    format!("{key} must be {wanted}{range}, not {}", show(value)),
                );
                None
            }
        }
    }

    /// An optional path field (`None` when absent or invalid; JSON `null` is invalid).
    pub(super) fn opt_path(&mut self, o: &Obj<'_>, key: &str, path_kind: PathKind) -> Option<Path> {
        let value = o.get(key)?;
        let Json::String(src) = value else {
            self.err(
                o,
                key,
                format!("{key} must be a path string, not {}", kind(value)),
            );
            return None;
        };
        match parse_path(src, path_kind) {
            Ok(p) => Some(p),
            Err(reason) => {
                self.err(o, key, format!("{key}: {reason}"));
                None
            }
        }
    }

    /// `InputPath`, `OutputPath`, `ResultPath`: absent means `$`, `null` means `None`.
    /// Invalid values are reported (and `$` returned: the model is not built then).
    pub(super) fn io_path(&mut self, o: &Obj<'_>, key: &str, path_kind: PathKind) -> Option<Path> {
        match o.get(key) {
            None => root(),
            Some(Json::Null) => None,
            Some(_) => self.opt_path(o, key, path_kind).or_else(root),
        }
    }

    /// A number given literally (`key`) or by a path (`key` + `Path`), never both.
    pub(super) fn number_or_path(
        &mut self,
        o: &Obj<'_>,
        key: &str,
        min: u64,
        max: u64,
    ) -> Option<NumberOrPath> {
        let path_key = format!("{key}Path");
        if o.has(key) && o.has(&path_key) {
            self.err(
                o,
                &path_key,
                format!("only one of {key} and {path_key} may be given"),
            );
        }
        if let Some(n) = self.opt_uint(o, key, min, max) {
            return Some(NumberOrPath::Literal(n));
        }
        self.opt_path(o, &path_key, PathKind::Value)
            .map(NumberOrPath::Path)
    }

    /// `Error`/`ErrorPath` or `Cause`/`CausePath` of a Fail state: a string, or a path or an
    /// intrinsic function call that yields one.
    pub(super) fn string_or_path(&mut self, o: &Obj<'_>, key: &str) -> Option<StringOrPath> {
        let path_key = format!("{key}Path");
        if o.has(key) && o.has(&path_key) {
            self.err(
                o,
                &path_key,
                format!("only one of {key} and {path_key} may be given"),
            );
        }
        if let Some(s) = self.opt_str(o, key) {
            return Some(StringOrPath::Literal(s.to_string()));
        }
        let value = o.get(&path_key)?;
        let Json::String(src) = value else {
            self.err(
                o,
                &path_key,
                format!(
                    "{path_key} must be a path or an intrinsic function call, not {}",
                    kind(value)
                ),
            );
            return None;
        };
        if !src.starts_with('$') && intrinsic::looks_like_intrinsic(src) {
            return match intrinsic::parse(src) {
                Ok(call) => Some(StringOrPath::Intrinsic(call)),
                Err(e) => {
                    self.err(o, &path_key, format!("{path_key}: {e}"));
                    None
                }
            };
        }
        match parse_path(src, PathKind::Value) {
            Ok(p) => Some(StringOrPath::Path(p)),
            Err(reason) => {
                self.err(
                    o,
                    &path_key,
                    format!("{path_key} must be a path or an intrinsic function call: {reason}"),
                );
                None
            }
        }
    }

    /// A payload template (`Parameters`, `ResultSelector`, `ItemSelector`).
    pub(super) fn opt_template(&mut self, o: &Obj<'_>, key: &str) -> Option<Template> {
        let value = o.get(key)?;
        self.template(value, &o.at(key), o.state())
    }

    /// Builds a payload template; every part without a `.$` field stays literal JSON.
    pub(super) fn template(
        &mut self,
        json: &Json,
        ptr: &str,
        state: Option<&str>,
    ) -> Option<Template> {
        if !has_dynamic_field(json) {
            return Some(Template::Literal(json.clone()));
        }
        match json {
            Json::Array(items) => {
                let mut out = Some(Vec::with_capacity(items.len()));
                for (i, item) in items.iter().enumerate() {
                    let t = self.template(item, &index(ptr, i), state);
                    push_all(&mut out, t);
                }
                out.map(Template::Array)
            }
            Json::Object(map) => {
                let mut out = Some(Vec::with_capacity(map.len()));
                for (key, value) in map {
                    let at = child(ptr, key);
                    let t = match key.strip_suffix(".$") {
                        Some(name) => {
                            if map.contains_key(name) {
                                self.report(
                                    at.clone(),
                                    state,
                                    format!(
                                        "field '{name}' is given twice, as '{name}' and as '{key}'"
                                    ),
                                );
                            }
                            self.dynamic_field(key, value, &at, state)
                                .map(|t| (name.to_string(), t))
                        }
                        None => self.template(value, &at, state).map(|t| (key.clone(), t)),
                    };
                    push_all(&mut out, t);
                }
                out.map(Template::Object)
            }
            // Scalars have no fields; `has_dynamic_field` returned false for them.
            other => Some(Template::Literal(other.clone())),
        }
    }

    /// The value of a `key.$` field: a path, a context path or an intrinsic function call.
    fn dynamic_field(
        &mut self,
        key: &str,
        value: &Json,
        ptr: &str,
        state: Option<&str>,
    ) -> Option<Template> {
        let Json::String(src) = value else {
            self.report(
                ptr.to_string(),
                state,
                format!(
                    "the value of '{key}' must be a string holding a path ($...), a context path ($$...) or an intrinsic function call (States...), not {}",
                    kind(value)
                ),
            );
            return None;
        };
        if let Some(variable) = crate::query::parse_variable_ref(src) {
            return match variable {
                Ok(v) => Some(Template::Variable(v)),
                Err(reason) => {
                    self.report(ptr.to_string(), state, format!("'{key}': {reason}"));
                    None
                }
            };
        }
        if src.starts_with('$') {
            return match parse_path(src, PathKind::Any) {
                Ok(p) => Some(Template::Path(p)),
                Err(reason) => {
                    self.report(ptr.to_string(), state, format!("'{key}': {reason}"));
                    None
                }
            };
        }
        if intrinsic::looks_like_intrinsic(src) {
            return match intrinsic::parse(src) {
                Ok(call) => Some(Template::Intrinsic(call)),
                Err(e) => {
                    self.report(ptr.to_string(), state, format!("'{key}': {e}"));
                    None
                }
            };
        }
        self.report(
            ptr.to_string(),
            state,
            format!(
                "the value of '{key}' must be a path ($...), a context path ($$...) or an intrinsic function call (States...), not '{src}'"
            ),
        );
        None
    }

    /// Checks that only `allowed` keys appear in an object that is not a state (a retrier,
    /// `ProcessorConfig`, a branch).
    pub(super) fn only_fields(&mut self, o: &Obj<'_>, what: &str, allowed: &[&str]) {
        for key in o.map.keys() {
            if !allowed.contains(&key.as_str()) {
                let message = match key.as_str() {
                    "Assign" => "workflow variables (Assign) are not supported yet".to_string(),
                    "Output" | "Arguments" | "Condition" | "Items" => {
                        format!("JSONata is not supported yet ('{key}' is a JSONata field)")
                    }
                    _ => format!(
                        "unknown field '{key}' in {what} (allowed: {})",
                        allowed.join(", ")
                    ),
                };
                self.err(o, key, message);
            }
        }
    }
}

/// `$`: the default of `InputPath`, `OutputPath`, `ResultPath` and `ItemsPath`.
pub(super) fn root() -> Option<Path> {
    Path::parse("$").ok()
}

/// Adds `item` to `out`, or drops the whole collection once one item failed.
fn push_all<T>(out: &mut Option<Vec<T>>, item: Option<T>) {
    match (out.as_mut(), item) {
        (Some(v), Some(item)) => v.push(item),
        _ => *out = None,
    }
}

fn has_dynamic_field(json: &Json) -> bool {
    match json {
        Json::Object(map) => map
            .iter()
            .any(|(k, v)| k.ends_with(".$") || has_dynamic_field(v)),
        Json::Array(items) => items.iter().any(has_dynamic_field),
        _ => false,
    }
}

/// The JSON type of a value, for messages.
pub(super) fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A short rendering of a value for messages.
pub(super) fn show(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(60).collect();
        format!("{cut}...")
    } else {
        text
    }
}
