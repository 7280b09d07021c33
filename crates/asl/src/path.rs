//! Paths (`$.a.b[0]`, `$..x`, `$$.Execution.Id`) as Step Functions evaluates them.
//!
//! Step Functions evaluates JSONPath with Jayway's semantics: a *definite* path (fields and
//! single indices only) yields the value it names and is an error when it names nothing; an
//! *indefinite* path (wildcards, slices, unions, filters, deep scan) yields the array of every
//! match, possibly empty. Definite paths are navigated here directly, field by field, so they
//! work on runtime objects without converting them to JSON. Indefinite paths are handed to
//! `serde_json_path` (RFC 9535) after rewriting Jayway-only spellings such as `.my-field`.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value as Json;

use crate::value::{ForeignError, Kind, Value};

/// Which document a path reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the context object.
    Context,
}

/// One step of a definite path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    /// An array index; negative counts from the end (`[-1]` is the last element).
    Index(i64),
}

#[derive(Clone)]
enum Query {
    Definite(Vec<Segment>),
    Indefinite(Box<serde_json_path::JsonPath>),
}

/// A parsed path.
#[derive(Clone)]
pub struct Path {
    raw: String,
    root: Root,
    query: Query,
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({})", self.raw)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

/// A path that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid path '{path}': {reason}")]
pub struct PathSyntaxError {
    pub path: String,
    pub reason: String,
}

/// A path that parses but cannot be applied to a document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A definite path names nothing in the document.
    #[error("Invalid path '{path}' : No results for path: {normalized}")]
    NoMatch { path: String, normalized: String },
    /// A runtime object had to be converted to JSON and could not be.
    #[error("Invalid path '{path}' : {source}")]
    Foreign { path: String, source: ForeignError },
}

/// A reference path (`ResultPath`) could not be applied to a document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    /// A step of the path meets a value it cannot step into (a field of a number).
    #[error("Unable to apply ReferencePath {path} to input {input}")]
    Unapplicable { path: String, input: String },
    /// A field before the last one is missing: as Jayway's `set`, which Step Functions uses,
    /// only the last field is created (`normalized` is the path up to the missing field).
    #[error("Missing property in path {normalized}")]
    MissingProperty { normalized: String },
}

/// The two documents a path can read.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
}

impl Path {
    /// Parses a path; `$$`-paths read the context object.
    pub fn parse(src: &str) -> Result<Path, PathSyntaxError> {
        let err = |reason: &str| PathSyntaxError {
            path: src.to_string(),
            reason: reason.to_string(),
        };
        let (root, rest) = if let Some(rest) = src.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = src.strip_prefix('$') {
            (Root::Input, rest)
        } else {
            return Err(err("a path must begin with '$'"));
        };
        let query = match parse_definite(rest) {
            Ok(segments) => Query::Definite(segments),
            Err(Indefinite) => {
                check_nesting(rest).map_err(|reason| err(&reason))?;
                let rewritten = format!("${}", rewrite_for_rfc(rest));
                // Where the parser stopped, in the user's text (when the rewrite kept it).
                let offset = (rewritten[1..] == *rest).then(|| src.len() - rest.len() - 1);
                let compiled = parse_rfc(&rewritten).map_err(|e| match e {
                    RfcError::Syntax(e) => {
                        err(&jsonpath_problem(src, offset.map(|o| o + e.position())))
                    }
                    RfcError::Panicked => err("not a JSONPath expression the parser can read"),
                })?;
                Query::Indefinite(Box::new(compiled))
            }
        };
        Ok(Path {
            raw: src.to_string(),
            root,
            query,
        })
    }

    /// Parses a reference path: a definite path on the input, as `ResultPath` requires.
    pub fn parse_reference(src: &str) -> Result<Path, PathSyntaxError> {
        let path = Path::parse(src)?;
        if path.root == Root::Context {
            return Err(PathSyntaxError {
                path: src.to_string(),
                reason: "a reference path cannot read the context object ($$)".to_string(),
            });
        }
        if !path.is_definite() {
            return Err(PathSyntaxError {
                path: src.to_string(),
                reason: "a reference path may only name fields and single array indices (no wildcards, filters, slices or '..')".to_string(),
            });
        }
        Ok(path)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn root(&self) -> Root {
        self.root
    }

    /// A definite path names at most one value.
    pub fn is_definite(&self) -> bool {
        matches!(self.query, Query::Definite(_))
    }

    /// The steps of a definite path (`None` for an indefinite one).
    pub fn segments(&self) -> Option<&[Segment]> {
        match &self.query {
            Query::Definite(s) => Some(s),
            Query::Indefinite(_) => None,
        }
    }

    /// Whether this is the bare root (`$` or `$$`).
    pub fn is_root(&self) -> bool {
        matches!(&self.query, Query::Definite(s) if s.is_empty())
    }

    /// Evaluates the path against the document its root names.
    pub fn resolve(&self, scope: Scope<'_>) -> Result<Value, PathError> {
        match self.root {
            Root::Input => self.select(scope.input),
            Root::Context => self.select(scope.context),
        }
    }

    /// Evaluates the path against `doc`, ignoring which root it names.
    pub fn select(&self, doc: &Value) -> Result<Value, PathError> {
        match &self.query {
            Query::Definite(segments) => {
                select_definite(doc, segments).ok_or_else(|| self.no_match())
            }
            Query::Indefinite(query) => self.select_indefinite(doc, query),
        }
    }

    /// Like [`Path::select`] but consumes the document, so nothing is cloned.
    pub fn select_owned(&self, doc: Value) -> Result<Value, PathError> {
        match &self.query {
            Query::Definite(segments) => {
                let mut cur = doc;
                for seg in segments {
                    cur = match seg {
                        Segment::Field(k) => cur.take(k),
                        Segment::Index(i) => {
                            let idx = resolve_index(*i, cur.len());
                            idx.and_then(|i| cur.take_index(i))
                        }
                    }
                    .ok_or_else(|| self.no_match())?;
                }
                Ok(cur)
            }
            Query::Indefinite(query) => self.select_indefinite(&doc, query),
        }
    }

    /// Whether a definite path names something in `doc` (for `IsPresent`).
    pub fn exists(&self, doc: &Value) -> Result<bool, PathError> {
        match self.select(doc) {
            Ok(v) => Ok(self.is_definite() || !v.is_empty()),
            Err(PathError::NoMatch { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Returns `target` with `value` placed where this reference path points, creating
    /// intermediate objects as needed (as `ResultPath` does).
    pub fn insert(&self, target: Value, value: Value) -> Result<Value, InsertError> {
        let segments = self.segments().unwrap_or(&[]);
        let parents = segments.len().saturating_sub(1);
        if let Some(missing) = first_missing(&target, &segments[..parents], 0) {
            return Err(InsertError::MissingProperty {
                normalized: normalize(&segments[..=missing]),
            });
        }
        insert_at(target, segments, value).map_err(|target| InsertError::Unapplicable {
            path: self.raw.clone(),
            input: describe(&target),
        })
    }

    fn select_indefinite(
        &self,
        doc: &Value,
        query: &serde_json_path::JsonPath,
    ) -> Result<Value, PathError> {
        let json: Cow<'_, Json> = match doc.as_json() {
            Some(j) => Cow::Borrowed(j),
            None => Cow::Owned(doc.to_json().map_err(|source| PathError::Foreign {
                path: self.raw.clone(),
                source,
            })?),
        };
        let matches: Vec<Json> = query.query(&json).all().into_iter().cloned().collect();
        Ok(Value::Json(Json::Array(matches)))
    }

    fn no_match(&self) -> PathError {
        PathError::NoMatch {
            path: self.raw.clone(),
            normalized: self.normalized(),
        }
    }

    /// The bracket form Step Functions prints in its error messages: `$['a']['b'][0]`.
    pub fn normalized(&self) -> String {
        match &self.query {
            Query::Definite(segments) => normalize(segments),
            Query::Indefinite(_) => self.raw.trim_start_matches('$').to_string(),
        }
    }
}

fn normalize(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for seg in segments {
        match seg {
            Segment::Field(k) => {
                out.push_str("['");
                out.push_str(k);
                out.push_str("']");
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The position in `parents` of the first field an object lacks, walking without copying;
/// `None` when every field is there or a step is not a field of an object (which
/// [`insert_at`] reports its own way). `depth` is the position of `parents[0]`.
fn first_missing(target: &Value, parents: &[Segment], depth: usize) -> Option<usize> {
    let (Segment::Field(key), rest) = parents.split_first()? else {
        return None;
    };
    match target {
        Value::Json(json) => first_missing_json(json, parents, depth),
        Value::Object(fields) => match fields.get(key) {
            Some(child) => first_missing(child, rest, depth + 1),
            None => Some(depth),
        },
        Value::Foreign(f) if f.kind() == Kind::Object => match f.get(key) {
            Some(child) => first_missing(&child, rest, depth + 1),
            None => Some(depth),
        },
        _ => None,
    }
}

fn first_missing_json(target: &Json, parents: &[Segment], depth: usize) -> Option<usize> {
    let (Segment::Field(key), rest) = parents.split_first()? else {
        return None;
    };
    match target {
        Json::Object(fields) => match fields.get(key) {
            Some(child) => first_missing_json(child, rest, depth + 1),
            None => Some(depth),
        },
        _ => None,
    }
}

/// Marker: the path uses a feature only the full JSONPath engine handles.
struct Indefinite;

/// How deeply brackets and parentheses may nest in an indefinite path.
///
/// `serde_json_path`'s parser backtracks: its time doubles with each nested filter
/// (`[?(@.p[?(@.p...`), so 30 levels take about an hour. Real filters nest 2-4 deep
/// (`$.a[?(@.b[?(@.c == 1)])]` is 4); at 8 the worst inputs we found parse in well under a
/// millisecond, so a definition's load time stays about linear in its size.
pub const MAX_PATH_NESTING: usize = 8;

/// How many filters (`?`) an indefinite path may have, wherever they are.
///
/// [`MAX_PATH_NESTING`] counts brackets outside quotes, as a path is read; but where the
/// parser sees a quote is not always where a reader would (`$.a'b[?(@.p[?(@.p...`: the `'` in
/// a dot-name starts no string for it), and the fuzzer found nested filters behind such a quote
/// that took 86 s to parse. Nested brackets and parentheses alone cost nothing; nested
/// filters double the time each, so every `?` in the text counts, quoted or not: at most 8,
/// the parser's worst case stays a small constant times the path's length.
pub const MAX_PATH_FILTERS: usize = 8;

/// How many `(`, `[` and `!` an indefinite path may have, wherever they are.
///
/// The parser recurses once per nested parenthesis, bracket or negation; behind a stray
/// quote (see [`MAX_PATH_FILTERS`]) the nesting count does not see them, and the fuzzer found
/// a Choice Variable of ~4,000 `(` that overflowed the stack: a segfault, which no
/// `catch_unwind` contains, of whatever process loads the definition (`faastlane serve`
/// included). Counted quoted or not, 64 bounds the parser's depth far below any stack.
pub const MAX_PATH_OPENERS: usize = 64;

/// Why [`parse_rfc`] refused a path.
enum RfcError {
    Syntax(serde_json_path::ParseError),
    /// The parser panicked: a defect of the parser (one found by fuzzing is refused before it
    /// gets there, see [`check_nesting`]); a definition a client sent must never take a server
    /// down with it.
    Panicked,
}

/// `serde_json_path`'s parser, with a panic turned into an error.
fn parse_rfc(text: &str) -> Result<serde_json_path::JsonPath, RfcError> {
    std::panic::catch_unwind(|| serde_json_path::JsonPath::parse(text))
        .map_err(|_| RfcError::Panicked)?
        .map_err(RfcError::Syntax)
}

/// Refuses, before the backtracking parser sees it, a path whose brackets and parentheses
/// (outside quoted names and strings) nest deeper than [`MAX_PATH_NESTING`], that has more
/// than [`MAX_PATH_OPENERS`] of them (and `!`) in all or more than [`MAX_PATH_FILTERS`]
/// filters, or that ends inside a `\u` escape.
fn check_nesting(src: &str) -> Result<(), String> {
    // serde_json_path 0.7.2 panics ("we do not use streaming parsers") when the text ends
    // inside a `\u` escape (`\u`, `\uD`: found by the fuzzer, once inside a quote that an
    // unquoted `'` in an earlier dot-name made look closed): refuse any text that ends inside
    // one, wherever it is. Such a text is an unterminated string anyway.
    let digits = src.len() - src.trim_end_matches(|c: char| c.is_ascii_hexdigit()).len();
    if digits < 4
        && let Some(head) = src[..src.len() - digits].strip_suffix("\\u")
    {
        let backslashes = head.len() - head.trim_end_matches('\\').len();
        if backslashes % 2 == 0 {
            return Err("the path ends inside a \\u escape (it needs four hex digits)".to_string());
        }
    }
    let mut depth = 0usize;
    let mut quote = None;
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => {
                depth += 1;
                if depth > MAX_PATH_NESTING {
                    return Err(format!(
                        "brackets and parentheses nest more than {MAX_PATH_NESTING} deep"
                    ));
                }
            }
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    if src.chars().filter(|c| matches!(c, '(' | '[' | '!')).count() > MAX_PATH_OPENERS {
        return Err(format!(
            "more than {MAX_PATH_OPENERS} '(', '[' and '!' in all; the parser recurses on each"
        ));
    }
    if src.matches('?').count() > MAX_PATH_FILTERS {
        return Err(format!(
            "more than {MAX_PATH_FILTERS} filters ('?'); filters nested this deep take the parser exponential time"
        ));
    }
    Ok(())
}

/// Parses `.a.b['c d'][0][-1]` into segments, or says the path needs the full engine.
fn parse_definite(src: &str) -> Result<Vec<Segment>, Indefinite> {
    let chars: Vec<char> = src.chars().collect();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                // `..` (deep scan), `.*` and function calls need the full engine.
                if name.is_empty() || name == "*" || name.ends_with(')') {
                    return Err(Indefinite);
                }
                segments.push(Segment::Field(name));
            }
            '[' => {
                i += 1;
                match chars.get(i) {
                    Some(&q @ ('\'' | '"')) => {
                        i += 1;
                        let mut name = String::new();
                        loop {
                            match chars.get(i) {
                                None => return Err(Indefinite),
                                Some('\\') => {
                                    let escaped = *chars.get(i + 1).ok_or(Indefinite)?;
                                    name.push(escaped);
                                    i += 2;
                                }
                                Some(&c) if c == q => {
                                    i += 1;
                                    break;
                                }
                                Some(&c) => {
                                    name.push(c);
                                    i += 1;
                                }
                            }
                        }
                        if chars.get(i) != Some(&']') {
                            return Err(Indefinite);
                        }
                        i += 1;
                        segments.push(Segment::Field(name));
                    }
                    _ => {
                        let start = i;
                        while i < chars.len() && chars[i] != ']' {
                            i += 1;
                        }
                        if i >= chars.len() {
                            return Err(Indefinite);
                        }
                        let text: String = chars[start..i].iter().collect();
                        let index: i64 = text.trim().parse().map_err(|_| Indefinite)?;
                        i += 1;
                        segments.push(Segment::Index(index));
                    }
                }
            }
            _ => return Err(Indefinite),
        }
    }
    Ok(segments)
}

/// Rewrites dot-names that RFC 9535 shorthand rejects (`.my-field`, `.1st`) into bracket
/// form, outside brackets and filter expressions.
fn rewrite_for_rfc(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 8);
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '[' => {
                depth += 1;
                out.push(c);
                i += 1;
            }
            ']' => {
                depth = depth.saturating_sub(1);
                out.push(c);
                i += 1;
            }
            '.' if depth == 0 => {
                let deep = chars.get(i + 1) == Some(&'.');
                let start = if deep { i + 2 } else { i + 1 };
                let mut end = start;
                while end < chars.len() && !matches!(chars[end], '.' | '[') {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                out.push_str(if deep { ".." } else { "." });
                if name.is_empty() || name == "*" || is_rfc_shorthand(&name) {
                    out.push_str(&name);
                } else {
                    if deep {
                        out.pop();
                        out.pop();
                        out.push_str("..");
                    } else {
                        out.pop();
                    }
                    out.push_str("['");
                    out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
                    out.push_str("']");
                }
                i = end;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Appends `.key` to a JSONPath, or `['key']` when `key` is not a plain identifier (how
/// error messages name the part of a value at fault).
pub fn push_key(path: &mut String, key: &str) {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str("['");
        for c in key.chars() {
            if c == '\'' || c == '\\' {
                path.push('\\');
            }
            path.push(c);
        }
        path.push_str("']");
    }
}

fn is_rfc_shorthand(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || !c.is_ascii() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii())
}

fn resolve_index(index: i64, len: Option<usize>) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok()
    } else {
        let len = i64::try_from(len?).ok()?;
        usize::try_from(len + index).ok()
    }
}

fn select_definite(doc: &Value, segments: &[Segment]) -> Option<Value> {
    let mut cur: Cow<'_, Value> = Cow::Borrowed(doc);
    for (n, seg) in segments.iter().enumerate() {
        if let Value::Json(json) = cur.as_ref() {
            // Plain JSON: walk by reference and clone only what the path names.
            return select_json(json, &segments[n..]).cloned().map(Value::Json);
        }
        cur = match (cur, seg) {
            (Cow::Borrowed(Value::Object(m)), Segment::Field(k)) => Cow::Borrowed(m.get(k)?),
            (Cow::Borrowed(Value::Array(a)), Segment::Index(i)) => {
                Cow::Borrowed(a.get(resolve_index(*i, Some(a.len()))?)?)
            }
            (other, Segment::Field(k)) => Cow::Owned(other.get(k)?),
            (other, Segment::Index(i)) => {
                let idx = resolve_index(*i, other.len())?;
                Cow::Owned(other.index(idx)?)
            }
        };
    }
    Some(cur.into_owned())
}

fn select_json<'a>(json: &'a Json, segments: &[Segment]) -> Option<&'a Json> {
    let mut cur = json;
    for seg in segments {
        cur = match (cur, seg) {
            (Json::Object(m), Segment::Field(k)) => m.get(k)?,
            (Json::Array(a), Segment::Index(i)) => a.get(resolve_index(*i, Some(a.len()))?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Places `value` at `segments` inside `target`; on failure hands `target` back for the message.
fn insert_at(target: Value, segments: &[Segment], value: Value) -> Result<Value, Value> {
    let Some((first, rest)) = segments.split_first() else {
        return Ok(value);
    };
    match (target, first) {
        (Value::Json(Json::Object(mut map)), Segment::Field(k)) if value_is_json(&value) => {
            // Plain JSON into plain JSON: mutate in place.
            let existed = map.contains_key(k);
            let child = if rest.is_empty() {
                Json::Null
            } else {
                map.get_mut(k)
                    .map(std::mem::take)
                    .unwrap_or(Json::Object(Default::default()))
            };
            match insert_at(Value::Json(child), rest, value) {
                Ok(Value::Json(j)) => {
                    map.insert(k.clone(), j);
                    Ok(Value::Json(Json::Object(map)))
                }
                Ok(other) => {
                    let mut fields: indexmap::IndexMap<String, Value> =
                        map.into_iter().map(|(k, v)| (k, Value::Json(v))).collect();
                    fields.insert(k.clone(), other);
                    Ok(Value::Object(fields))
                }
                Err(child) => {
                    if existed && let Value::Json(j) = child {
                        map.insert(k.clone(), j);
                    }
                    Err(Value::Json(Json::Object(map)))
                }
            }
        }
        (target, Segment::Field(k)) if target.kind() == Kind::Object => {
            let mut fields = target.into_fields().ok_or_else(Value::null)?;
            let existed = fields.contains_key(k);
            let child = if rest.is_empty() {
                Value::null()
            } else {
                fields
                    .get_mut(k)
                    .map(std::mem::take)
                    .unwrap_or_else(Value::empty_object)
            };
            match insert_at(child, rest, value) {
                Ok(v) => {
                    fields.insert(k.clone(), v);
                    Ok(Value::from_fields(fields))
                }
                Err(child) => {
                    if existed {
                        fields.insert(k.clone(), child);
                    }
                    Err(Value::from_fields(fields))
                }
            }
        }
        (target, Segment::Index(i)) if target.kind() == Kind::Array => {
            let len = target.len();
            let mut elements = target.into_elements().ok_or_else(Value::null)?;
            let Some(idx) = resolve_index(*i, len).filter(|&idx| idx < elements.len()) else {
                return Err(Value::from_elements(elements));
            };
            let child = std::mem::take(&mut elements[idx]);
            match insert_at(child, rest, value) {
                Ok(v) => {
                    elements[idx] = v;
                    Ok(Value::from_elements(elements))
                }
                Err(child) => {
                    elements[idx] = child;
                    Err(Value::from_elements(elements))
                }
            }
        }
        (target, _) => Err(target),
    }
}

fn value_is_json(v: &Value) -> bool {
    matches!(v, Value::Json(_))
}

/// A short rendering of a value for error messages.
pub fn describe(value: &Value) -> String {
    let text = match value.to_json() {
        Ok(j) => j.to_string(),
        Err(_) => format!("<{}>", value.kind().name()),
    };
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// What is wrong with `src`, a path the JSONPath parser rejected at byte `at` of it (when
/// known), in the terms of the ASL documentation rather than the parser's.
fn jsonpath_problem(src: &str, at: Option<usize>) -> String {
    const FORMS: &str = "a field (.name or ['name']), an index ([0]), a slice ([1:3]), \
                         a wildcard (.* or [*]), a descent (..name) or a filter ([?(@.price < 10)])";
    match at.map(|at| (at, src.get(at..).and_then(|s| s.chars().next()))) {
        Some((_, None)) => format!(
            "not a JSONPath expression: it ends before the expression is complete (an unclosed \
             '[', '(' or quote?); each step is {FORMS}"
        ),
        Some((at, Some(c))) => {
            let character = src[..at].chars().count() + 1;
            let rest = &src[at..];
            if c == '[' && !rest.contains(']') {
                format!(
                    "not a JSONPath expression: the '[' at character {character} is never closed; \
                     each step is {FORMS}"
                )
            } else {
                format!(
                    "not a JSONPath expression: the step at character {character} ('{rest}') is \
                     not one JSONPath knows; each step is {FORMS}"
                )
            }
        }
        None => format!("not a JSONPath expression; each step is {FORMS}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bad_jsonpath_is_described_in_asl_terms() {
        let e = Path::parse("$.a[").expect_err("unclosed");
        assert!(
            e.reason.contains("the '[' at character 4 is never closed"),
            "{}",
            e.reason
        );
        assert!(!e.reason.contains("parser"), "{}", e.reason);
        let e = Path::parse("$..a[?(@.b >").expect_err("unfinished filter");
        assert!(!e.reason.contains("parser"), "{}", e.reason);
        assert!(
            e.reason.contains("a filter ([?(@.price < 10)])"),
            "{}",
            e.reason
        );
        let e = Path::parse("$$.a[?(@.x ~ 1)]").expect_err("bad operator");
        assert!(
            e.reason.contains("at character 7 ('(@.x ~ 1)]')"),
            "{}",
            e.reason
        );
        assert!(!e.reason.contains("parser"), "{}", e.reason);
    }

    /// Found by `fuzz/fuzz_targets/path.rs`: serde_json_path panicked on a `\\u` escape
    /// that ends the text, so a client's definition could take a server down.
    #[test]
    fn a_unicode_escape_cut_short_is_an_error_not_a_panic() {
        for text in [
            r"$['a\u",
            r"$['a\uD800\u",
            r#"$.a[?(@ == "x\u"#,
            r"$[?(@.a == 'x\u",
            // A `'` in a dot-name before the bracket (found by the fuzzer).
            r"$.li'es.$['a\u",
            // One hex digit (found by the campaign of 2026-12-04: `\uD` panicked too).
            r"$['\uD",
            r"$['\uD800\ud",
            r"$['a\u12",
        ] {
            let e = Path::parse(text).expect_err(text);
            assert!(
                e.reason.contains("ends inside a \\u escape"),
                "{text}: {}",
                e.reason
            );
        }
        // A complete escape still parses.
        Path::parse(r"$['a\u0041']").expect("a complete escape");
    }

    fn v(j: Json) -> Value {
        Value::Json(j)
    }

    #[test]
    fn keys_are_named_plainly_or_quoted() {
        let mut path = String::from("$");
        for key in ["a_1", "a b", "it's", "1x", r"back\slash"] {
            push_key(&mut path, key);
        }
        assert_eq!(path, r"$.a_1['a b']['it\'s']['1x']['back\\slash']");
    }

    #[test]
    fn definite_paths_select_one_value() {
        let doc = v(json!({"a": {"b": [10, 20, 30]}, "my-field": 1, "x y": 2}));
        let sel = |p: &str| {
            Path::parse(p)
                .unwrap()
                .select(&doc)
                .unwrap()
                .to_json()
                .unwrap()
        };
        assert_eq!(sel("$"), doc.to_json().unwrap());
        assert_eq!(sel("$.a.b[1]"), json!(20));
        assert_eq!(sel("$.a.b[-1]"), json!(30));
        assert_eq!(sel("$['a']['b'][0]"), json!(10));
        assert_eq!(sel("$.my-field"), json!(1));
        assert_eq!(sel("$['x y']"), json!(2));
    }

    #[test]
    fn definite_path_matching_nothing_is_an_error_naming_the_path() {
        let doc = v(json!({"a": 1}));
        let err = Path::parse("$.b.c").unwrap().select(&doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid path '$.b.c' : No results for path: $['b']['c']"
        );
    }

    #[test]
    fn indefinite_paths_return_arrays() {
        let doc = v(json!({"items": [{"p": 1, "n": "a"}, {"p": 5, "n": "b"}], "my-list": [1, 2]}));
        let sel = |p: &str| {
            Path::parse(p)
                .unwrap()
                .select(&doc)
                .unwrap()
                .to_json()
                .unwrap()
        };
        assert_eq!(sel("$.items[*].n"), json!(["a", "b"]));
        assert_eq!(sel("$.items[?(@.p > 2)].n"), json!(["b"]));
        assert_eq!(sel("$..n"), json!(["a", "b"]));
        assert_eq!(sel("$.items[0:1].p"), json!([1]));
        assert_eq!(sel("$.my-list[*]"), json!([1, 2]));
        assert_eq!(sel("$.nothing[*]"), json!([]));
    }

    #[test]
    fn context_paths_read_the_context() {
        let input = v(json!({}));
        let ctx = v(json!({"Execution": {"Id": "x"}}));
        let p = Path::parse("$$.Execution.Id").unwrap();
        assert_eq!(p.root(), Root::Context);
        let got = p
            .resolve(Scope {
                input: &input,
                context: &ctx,
            })
            .unwrap();
        assert_eq!(got.to_json().unwrap(), json!("x"));
    }

    #[test]
    fn reference_paths_reject_wildcards_and_context() {
        assert!(Path::parse_reference("$.a[*]").is_err());
        assert!(Path::parse_reference("$..a").is_err());
        assert!(Path::parse_reference("$$.Execution").is_err());
        assert!(Path::parse_reference("$.a.b[0]").is_ok());
        assert!(Path::parse("a.b").is_err());
    }

    #[test]
    fn insert_creates_only_the_last_field_and_keeps_order() {
        let p = Path::parse_reference("$.x.y").unwrap();
        let out = p.insert(v(json!({"a": 1, "x": {}})), v(json!(5))).unwrap();
        assert_eq!(out.to_json().unwrap(), json!({"a": 1, "x": {"y": 5}}));
        let err = p.insert(v(json!({"a": 1})), v(json!(5))).unwrap_err();
        assert_eq!(err.to_string(), "Missing property in path $['x']");
        let p = Path::parse_reference("$.a['b c'].d.e").unwrap();
        let err = p
            .insert(v(json!({"a": {"b c": {}}})), v(json!(5)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Missing property in path $['a']['b c']['d']"
        );
        let p = Path::parse_reference("$.a").unwrap();
        let out = p.insert(v(json!({"a": 1, "b": 2})), v(json!(9))).unwrap();
        assert_eq!(
            serde_json::to_string(&out.to_json().unwrap()).unwrap(),
            r#"{"a":9,"b":2}"#
        );
    }

    #[test]
    fn insert_into_a_non_object_fails() {
        let p = Path::parse_reference("$.x").unwrap();
        let err = p.insert(v(json!("str")), v(json!(1))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to apply ReferencePath $.x to input \"str\""
        );
        let p = Path::parse_reference("$.a.b").unwrap();
        assert!(p.insert(v(json!({"a": 3})), v(json!(1))).is_err());
    }

    #[test]
    fn nesting_beyond_the_bound_is_refused_before_parsing() {
        let deep = |levels: usize| format!("$.a{}", "[?(@.p".repeat(levels));
        let err = Path::parse(&deep(5)).unwrap_err();
        assert_eq!(
            err.reason, "brackets and parentheses nest more than 8 deep",
            "{err}"
        );
        // Brackets inside quoted names and strings do not count towards the nesting (only
        // towards MAX_PATH_OPENERS, the total).
        let quoted = format!(
            "$.a[?(@['{}'] == \"{}\")]",
            "[(".repeat(10),
            "([".repeat(10)
        );
        assert!(Path::parse(&quoted).is_ok());
        let real = "$.a[?(@.b[?(@.c == 1)])]";
        assert!(Path::parse(real).is_ok());
    }

    /// Found by the fuzz campaign of 2026-12-04 (a Choice rule's Variable and an intrinsic's
    /// path argument, 86 s and 75 s): nested filters behind a `'` in a dot-name, which the
    /// nesting count took for the start of a quoted string and the parser does not. This
    /// test hangs (and CI's time limit fails it) if that path reaches the parser again.
    #[test]
    fn nested_filters_behind_a_stray_quote_are_refused_before_parsing() {
        let hidden = format!("$.a'b{}", "[?(@.JJJJJJJJJJJJJJJJJJJ".repeat(20));
        let err = Path::parse(&hidden).unwrap_err();
        assert!(err.reason.starts_with("more than 8 filters"), "{err}");
        // Parentheses behind a stray quote: the parser's recursion, bounded before it starts.
        let deep = format!("$.a'b[?{}@.x", "(".repeat(4_000));
        let err = Path::parse(&deep).unwrap_err();
        assert!(err.reason.starts_with("more than 64 '('"), "{err}");
        // Eight filters in a row are a path like any other.
        let eight = format!("$.a{}", "[?(@.b == 1)]".repeat(8));
        assert!(Path::parse(&eight).is_ok(), "{eight}");
    }

    #[test]
    fn insert_at_root_replaces() {
        let p = Path::parse_reference("$").unwrap();
        let out = p.insert(v(json!({"a": 1})), v(json!([1]))).unwrap();
        assert_eq!(out.to_json().unwrap(), json!([1]));
    }
}
