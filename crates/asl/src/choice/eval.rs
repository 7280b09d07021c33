//! Evaluating choice rules against a state's input.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value as Json;

use crate::error::StatesError;
use crate::path::{Path, PathError, Root, Scope};
use crate::value::{Kind, Value};

use super::*;

impl ChoiceRule {
    /// Evaluates the rule against the (effective) input, with no workflow variables.
    pub fn evaluate(&self, scope: Scope<'_>) -> Result<bool, StatesError> {
        self.evaluate_with(scope, &serde_json::Map::new())
    }

    /// Evaluates the rule; a `Variable` of `$name` reads `variables`.
    pub fn evaluate_with(
        &self,
        scope: Scope<'_>,
        variables: &serde_json::Map<String, Json>,
    ) -> Result<bool, StatesError> {
        match self {
            ChoiceRule::And(rules) => {
                for rule in rules {
                    if !rule.evaluate_with(scope, variables)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ChoiceRule::Or(rules) => {
                for rule in rules {
                    if rule.evaluate_with(scope, variables)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            ChoiceRule::Not(rule) => Ok(!rule.evaluate_with(scope, variables)?),
            ChoiceRule::Test(test) => test.evaluate_with(scope, variables),
        }
    }
}

impl DataTest {
    /// Evaluates the test against the (effective) input, with no workflow variables.
    pub fn evaluate(&self, scope: Scope<'_>) -> Result<bool, StatesError> {
        self.evaluate_with(scope, &serde_json::Map::new())
    }

    /// Evaluates the test; a `Variable` of `$name` reads `variables`.
    pub fn evaluate_with(
        &self,
        scope: Scope<'_>,
        variables: &serde_json::Map<String, Json>,
    ) -> Result<bool, StatesError> {
        let held;
        let subject = match &self.variable_name {
            None => scope,
            Some(name) => match variables.get(name) {
                Some(v) => {
                    held = Value::Json(v.clone());
                    Scope {
                        input: &held,
                        context: scope.context,
                    }
                }
                None if self.operator == Operator::IsPresent => return Ok(!self.flag()?),
                None => {
                    return Err(StatesError::runtime(format!(
                        "Invalid path '${name}': no state has assigned the variable '{name}'"
                    )));
                }
            },
        };
        if self.operator == Operator::IsPresent {
            let doc = match self.variable.root() {
                Root::Input => subject.input,
                Root::Context => subject.context,
            };
            let present = self.variable.exists(doc).map_err(path_failure)?;
            return Ok(present == self.flag()?);
        }
        let value = resolve(&self.variable, subject)?;
        if let Some((expect, relation)) = self.operator.comparison() {
            let operand: Option<Cow<'_, Json>> = match &self.operand {
                Operand::Literal(json) => Some(Cow::Borrowed(json)),
                Operand::Path(path) => resolve(path, scope)?.scalar().map(Cow::Owned),
            };
            let (Some(left), Some(right)) = (value.scalar(), operand) else {
                return Ok(false);
            };
            return Ok(order(expect, &left, &right).is_some_and(|o| relation.holds(o)));
        }
        let result = match self.operator {
            Operator::StringMatches => {
                let pattern = Pattern::compile(self.literal_str()?)?;
                matches!(value.scalar(), Some(Json::String(s)) if pattern.matches(&s))
            }
            Operator::IsNull => (value.kind() == Kind::Null) == self.flag()?,
            Operator::IsNumeric => (value.kind() == Kind::Number) == self.flag()?,
            Operator::IsString => (value.kind() == Kind::String) == self.flag()?,
            Operator::IsBoolean => (value.kind() == Kind::Bool) == self.flag()?,
            Operator::IsTimestamp => {
                let is_timestamp = value.kind() == Kind::String
                    && matches!(value.scalar(), Some(Json::String(s)) if parse_timestamp(&s).is_some());
                is_timestamp == self.flag()?
            }
            other => {
                return Err(StatesError::runtime(format!(
                    "choice operator '{}' has no evaluation",
                    other.name()
                )));
            }
        };
        Ok(result)
    }

    /// The `true`/`false` operand of an `Is*` test.
    fn flag(&self) -> Result<bool, StatesError> {
        match &self.operand {
            Operand::Literal(Json::Bool(b)) => Ok(*b),
            _ => Err(self.malformed("a boolean")),
        }
    }

    /// The pattern of a `StringMatches` test.
    fn literal_str(&self) -> Result<&str, StatesError> {
        match &self.operand {
            Operand::Literal(Json::String(s)) => Ok(s),
            _ => Err(self.malformed("a string")),
        }
    }

    /// A test built by hand (not by [`parse_rule`]) with an operand its operator cannot take.
    fn malformed(&self, needed: &str) -> StatesError {
        StatesError::runtime(format!(
            "malformed choice rule: '{}' needs {needed} literal operand",
            self.operator.name()
        ))
    }
}

/// Resolves a `Variable` or `...Path` operand; naming nothing is a `States.Runtime` error.
/// An indefinite path (`$.items[*].id`) that selects no element names nothing too, as
/// `IsPresent` (through [`Path::exists`]) sees it.
pub(super) fn resolve(path: &Path, scope: Scope<'_>) -> Result<Value, StatesError> {
    match path.resolve(scope) {
        Ok(value) if !path.is_definite() && value.is_empty() => Err(invalid_path(path)),
        Ok(value) => Ok(value),
        Err(e) => Err(path_failure(e)),
    }
}

pub(super) fn path_failure(error: PathError) -> StatesError {
    match error {
        PathError::NoMatch { path, .. } => invalid_path_named(&path),
        other => StatesError::runtime(other.to_string()),
    }
}

pub(super) fn invalid_path(path: &Path) -> StatesError {
    invalid_path_named(path.as_str())
}

/// Step Functions' cause for a choice path that names nothing.
pub(super) fn invalid_path_named(path: &str) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

/// Orders two scalars of the type `expect`; `None` when either is of another type.
pub(super) fn order(expect: Expect, left: &Json, right: &Json) -> Option<Ordering> {
    match (expect, left, right) {
        (Expect::String, Json::String(a), Json::String(b)) => Some(java_string_order(a, b)),
        (Expect::Number, Json::Number(a), Json::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Expect::Boolean, Json::Bool(a), Json::Bool(b)) => Some(a.cmp(b)),
        (Expect::Timestamp, Json::String(a), Json::String(b)) => {
            Some(parse_timestamp(a)?.cmp(&parse_timestamp(b)?))
        }
        _ => None,
    }
}

/// Java's `String.compareTo`, which the developer guide names for string comparisons:
/// lexicographic over UTF-16 code units. It differs from code-point order only between
/// characters above U+FFFF (surrogate pairs, 0xD800..) and characters in U+E000..U+FFFF.
pub(super) fn java_string_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Parses a timestamp as the specification defines it: RFC 3339 with an uppercase `T`
/// between date and time and an uppercase `Z` when there is no numeric offset
/// (`2016-03-14T01:59:00Z`, `2016-03-14T01:59:00.123+02:00`). Seconds are required;
/// fractional seconds may have any number of digits (chrono keeps nanoseconds).
pub fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    // chrono alone would also take a lowercase 't'/'z' or a space separator.
    let shape = digits(0, 4)
        && at(4, b'-')
        && digits(5, 7)
        && at(7, b'-')
        && digits(8, 10)
        && at(10, b'T')
        && digits(11, 13)
        && at(13, b':')
        && digits(14, 16)
        && at(16, b':')
        && digits(17, 19);
    if !shape {
        return None;
    }
    let mut i = 19;
    if at(i, b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let zone = match b.get(i) {
        Some(b'Z') => b.len() == i + 1,
        Some(b'+' | b'-') => {
            b.len() == i + 6 && digits(i + 1, i + 3) && at(i + 3, b':') && digits(i + 4, i + 6)
        }
        _ => false,
    };
    if !zone {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// A `StringMatches` pattern: `*` matches any run of characters (including none), `\*` is a
/// literal `*` and `\\` a literal `\`; nothing else is special. The whole string must match.
#[derive(Debug)]
pub(super) struct Pattern(Vec<Token>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Char(char),
    Star,
}

impl Pattern {
    /// The specification: "If an open escape backslash \ is found in the StringMatches
    /// string, the interpreter will throw a runtime error." A backslash followed by anything
    /// but `*` or `\`, or by nothing, is such an open escape.
    fn compile(src: &str) -> Result<Pattern, StatesError> {
        let mut tokens = Vec::with_capacity(src.len());
        let mut chars = src.chars();
        while let Some(c) = chars.next() {
            let token = match c {
                '*' => Token::Star,
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => Token::Char(escaped),
                    _ => {
                        return Err(StatesError::runtime(format!(
                            "Invalid StringMatches pattern '{src}': a '\\' must be followed by '*' or '\\'"
                        )));
                    }
                },
                other => Token::Char(other),
            };
            // `**` matches what `*` matches; collapsing keeps the matcher linear in stars.
            if !(token == Token::Star && tokens.last() == Some(&Token::Star)) {
                tokens.push(token);
            }
        }
        Ok(Pattern(tokens))
    }

    /// Greedy wildcard matching with backtracking to the last star: O(text * pattern) at
    /// worst, no recursion.
    fn matches(&self, text: &str) -> bool {
        let tokens = &self.0;
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut s) = (0, 0);
        // Where to resume after a mismatch: the token after the last star, and the text
        // position that star has consumed up to.
        let mut resume: Option<(usize, usize)> = None;
        while s < text.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    resume = Some((t + 1, s));
                    t += 1;
                }
                Some(Token::Char(c)) if *c == text[s] => {
                    t += 1;
                    s += 1;
                }
                _ => match resume {
                    Some((after_star, consumed)) => {
                        t = after_star;
                        s = consumed + 1;
                        resume = Some((after_star, consumed + 1));
                    }
                    None => return false,
                },
            }
        }
        tokens[t..].iter().all(|token| *token == Token::Star)
    }
}
