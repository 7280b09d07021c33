//! The intrinsic call grammar:
//!
//! ```text
//! call     = name ws? "(" ws? [ arg ( ws? "," ws? arg )* ] ws? ")"
//! name     = "States." identifier
//! arg      = string | number | "true" | "false" | "null" | path | call
//! string   = "'" ( char | "\'" | "\{" | "\}" | "\\" )* "'"
//! number   = JSON number (integer or decimal, optionally negative)
//! path     = "$" ... up to the first "," ")" or blank outside brackets, parentheses and quotes
//! ```
//!
//! Offsets are counted in characters. A backslash before any other character is an error: the
//! AWS guide says an "open escape backslash" makes the invocation fail.

use serde_json::Value as Json;

use super::format::{self, TemplateError};
use super::{Arg, Function, IntrinsicCall, IntrinsicSyntaxError, MAX_NESTING};
use crate::path::Path;

pub(super) fn parse(src: &str) -> Result<IntrinsicCall, IntrinsicSyntaxError> {
    let mut parser = Parser {
        src,
        chars: src.chars().collect(),
        pos: 0,
    };
    parser.skip_blanks();
    let start = parser.pos;
    if !parser.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(parser.error(
            start,
            "expected an intrinsic function call such as States.Format(...)",
        ));
    }
    let name = parser.identifier();
    let mut call = parser.call(name, start, 1)?;
    parser.skip_blanks();
    if parser.pos < parser.chars.len() {
        return Err(parser.error(
            parser.pos,
            "unexpected text after the end of the function call",
        ));
    }
    call.raw = src.to_string();
    Ok(call)
}

struct Parser<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, offset: usize, reason: impl Into<String>) -> IntrinsicSyntaxError {
        IntrinsicSyntaxError {
            expression: self.src.to_string(),
            offset,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }

    /// `Name(.Name)*`, letters, digits and `_`.
    fn identifier(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.pos += 1;
        }
        self.text(start, self.pos)
    }

    /// The rest of a call whose name (starting at `start`) has been read.
    fn call(
        &mut self,
        name: String,
        start: usize,
        depth: usize,
    ) -> Result<IntrinsicCall, IntrinsicSyntaxError> {
        let Some(function) = Function::from_name(&name) else {
            return Err(self.error(start, format!("unknown intrinsic function '{name}'")));
        };
        if depth > MAX_NESTING {
            return Err(self.error(
                start,
                format!("intrinsic functions can be nested at most {MAX_NESTING} deep"),
            ));
        }
        self.skip_blanks();
        if self.peek() != Some('(') {
            return Err(self.error(self.pos, format!("expected '(' after {name}")));
        }
        self.pos += 1;
        self.skip_blanks();

        let mut args = Vec::new();
        let mut offsets = Vec::new();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_blanks();
                offsets.push(self.pos);
                let template = function == Function::Format && args.is_empty();
                args.push(self.arg(depth, template)?);
                self.skip_blanks();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(
                            self.error(self.pos, format!("expected ',' or ')', found '{c}'"))
                        );
                    }
                    None => {
                        return Err(self.error(self.pos, format!("missing ')' to close {name}")));
                    }
                }
            }
        }

        check_arity(function, args.len()).map_err(|reason| self.error(start, reason))?;
        if function == Function::Format
            && let Some(Arg::Literal(Json::String(template))) = args.first()
        {
            check_template(template, args.len() - 1)
                .map_err(|reason| self.error(offsets.first().copied().unwrap_or(start), reason))?;
        }
        Ok(IntrinsicCall {
            name,
            args,
            raw: self.text(start, self.pos),
        })
    }

    fn arg(&mut self, depth: usize, template: bool) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        match self.peek() {
            Some('\'') => self.string(template).map(|s| Arg::Literal(Json::String(s))),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number().map(Arg::Literal),
            Some(c) if c.is_ascii_alphabetic() => {
                let word = self.identifier();
                let before_blanks = self.pos;
                self.skip_blanks();
                if self.peek() == Some('(') {
                    return self.call(word, start, depth + 1).map(Arg::Call);
                }
                self.pos = before_blanks;
                match word.as_str() {
                    "true" => Ok(Arg::Literal(Json::Bool(true))),
                    "false" => Ok(Arg::Literal(Json::Bool(false))),
                    "null" => Ok(Arg::Literal(Json::Null)),
                    _ => Err(self.error(
                        start,
                        format!(
                            "unexpected '{word}': string literals are written in single quotes"
                        ),
                    )),
                }
            }
            found => Err(self.error(
                start,
                format!(
                    "expected an argument (a 'string', number, true, false, null, path or \
                     function call), found {}",
                    found.map_or("the end of the expression".to_string(), |c| format!(
                        "'{c}'"
                    ))
                ),
            )),
        }
    }

    /// A single-quoted string; `template` keeps `\{`, `\}` and `\\` for `States.Format`.
    fn string(&mut self, template: bool) -> Result<String, IntrinsicSyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(start, "unterminated string literal")),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    let escaped = self.chars.get(self.pos + 1).copied();
                    match escaped {
                        Some('\'') => out.push('\''),
                        Some(c @ ('{' | '}' | '\\')) => {
                            if template {
                                out.push('\\');
                            }
                            out.push(c);
                        }
                        _ => {
                            return Err(self.error(
                                self.pos,
                                "open escape backslash: only \\', \\{, \\} and \\\\ are escapes",
                            ));
                        }
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Json, IntrinsicSyntaxError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        {
            self.pos += 1;
        }
        let text = self.text(start, self.pos);
        match serde_json::from_str::<Json>(&text) {
            Ok(n @ Json::Number(_)) => Ok(n),
            _ => Err(self.error(start, format!("invalid number '{text}'"))),
        }
    }

    /// A path runs to the first `,`, `)` or blank that is not inside brackets, parentheses or
    /// quotes, so `$['a,b']` and `$.a[?(@.b == 1)]` stay whole.
    fn path(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                if c == '\\' {
                    self.pos += 1;
                } else if c == q {
                    quote = None;
                }
            } else {
                match c {
                    '[' | '(' => depth += 1,
                    ']' => depth = depth.saturating_sub(1),
                    ')' if depth == 0 => break,
                    ')' => depth -= 1,
                    '\'' | '"' if depth > 0 => quote = Some(c),
                    ',' if depth == 0 => break,
                    c if c.is_whitespace() && depth == 0 => break,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.chars.len());
        let text = self.text(start, self.pos);
        Path::parse(&text)
            .map(Arg::Path)
            .map_err(|e| self.error(start, e.to_string()))
    }
}

fn check_arity(function: Function, got: usize) -> Result<(), String> {
    let (min, max) = function.arity();
    if got >= min && max.is_none_or(|max| got <= max) {
        return Ok(());
    }
    let expected = match max {
        None => format!("at least {min}"),
        Some(max) if max == min => min.to_string(),
        Some(max) => format!("{min} or {max}"),
    };
    let noun = if expected.ends_with(" 1") || expected == "1" {
        "argument"
    } else {
        "arguments"
    };
    Err(format!(
        "{} takes {expected} {noun}, got {got}",
        function.name()
    ))
}

/// A literal `States.Format` template can be checked before the state machine runs.
fn check_template(template: &str, values: usize) -> Result<(), String> {
    let placeholders = format::placeholders(template).map_err(|e: TemplateError| e.0)?;
    if placeholders == values {
        Ok(())
    } else {
        let follow = if values == 1 {
            "argument follows"
        } else {
            "arguments follow"
        };
        Err(format!(
            "the template has {placeholders} occurrences of {{}} but {values} {follow} it"
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(src: &str) -> (usize, String) {
        let e = parse(src).unwrap_err();
        assert_eq!(e.expression, src);
        (e.offset, e.reason)
    }

    fn path_text(arg: &Arg) -> &str {
        match arg {
            Arg::Path(p) => p.as_str(),
            other => panic!("not a path: {other:?}"),
        }
    }

    fn literal(arg: &Arg) -> &Json {
        match arg {
            Arg::Literal(j) => j,
            other => panic!("not a literal: {other:?}"),
        }
    }

    #[test]
    fn literals_of_every_kind() {
        let call = parse("States.Array('a b', 1, -2, 2.5, -0.25, 1e3, true, false, null)").unwrap();
        assert_eq!(call.name, "States.Array");
        let values: Vec<Json> = call.args.iter().map(|a| literal(a).clone()).collect();
        assert_eq!(
            values,
            vec![
                json!("a b"),
                json!(1),
                json!(-2),
                json!(2.5),
                json!(-0.25),
                json!(1000.0),
                json!(true),
                json!(false),
                json!(null)
            ]
        );
        assert!(values[1].is_i64() && values[3].is_f64());
    }

    #[test]
    fn string_escapes_resolve() {
        let call = parse(r"States.Array('it\'s', '\{\}', 'back\\slash', 'a,b)')").unwrap();
        let values: Vec<&Json> = call.args.iter().map(literal).collect();
        assert_eq!(
            values,
            vec![
                &json!("it's"),
                &json!("{}"),
                &json!("back\\slash"),
                &json!("a,b)")
            ]
        );
    }

    #[test]
    fn a_format_template_keeps_brace_escapes() {
        let call = parse(r"States.Format('\{\} {} it\'s \\', 1)").unwrap();
        assert_eq!(literal(&call.args[0]), &json!(r"\{\} {} it's \\"));
    }

    #[test]
    fn an_open_escape_backslash_is_an_error() {
        assert_eq!(
            err(r"States.Array('a\nb')"),
            (
                15,
                "open escape backslash: only \\', \\{, \\} and \\\\ are escapes".to_string()
            )
        );
    }

    #[test]
    fn paths_end_at_top_level_commas_and_parentheses() {
        let call = parse(
            "States.Array($.a[0], $['x,y'], $.b[?(@.c == 'p,q)')].d, $$.Execution.Id, $, $.e )",
        )
        .unwrap();
        let paths: Vec<&str> = call.args.iter().map(path_text).collect();
        assert_eq!(
            paths,
            vec![
                "$.a[0]",
                "$['x,y']",
                "$.b[?(@.c == 'p,q)')].d",
                "$$.Execution.Id",
                "$",
                "$.e"
            ]
        );
    }

    #[test]
    fn nested_calls_keep_their_own_text() {
        let call = parse("States.Format('{}', States.Array( $.a , 2 ))").unwrap();
        let Arg::Call(inner) = &call.args[1] else {
            panic!("not a call: {:?}", call.args[1]);
        };
        assert_eq!(inner.name, "States.Array");
        assert_eq!(inner.raw, "States.Array( $.a , 2 )");
        assert_eq!(path_text(&inner.args[0]), "$.a");
        assert_eq!(call.raw, "States.Format('{}', States.Array( $.a , 2 ))");
    }

    #[test]
    fn blanks_are_allowed_between_tokens() {
        let call = parse("  States.MathAdd (  1 ,\n\t2 )  ").unwrap();
        assert_eq!(call.args.len(), 2);
        assert_eq!(parse("States.UUID( )").unwrap().args.len(), 0);
    }

    #[test]
    fn unknown_functions_are_rejected_where_they_are_named() {
        assert_eq!(
            err("States.Nope(1)"),
            (0, "unknown intrinsic function 'States.Nope'".to_string())
        );
        assert_eq!(
            err("States.Array(1, States.uuid())"),
            (16, "unknown intrinsic function 'States.uuid'".to_string())
        );
        assert_eq!(
            err("Foo.Bar()"),
            (0, "unknown intrinsic function 'Foo.Bar'".to_string())
        );
    }

    #[test]
    fn argument_counts_are_checked() {
        assert_eq!(
            err("States.ArrayRange(1, 5)"),
            (0, "States.ArrayRange takes 3 arguments, got 2".to_string())
        );
        assert_eq!(
            err("States.Array(States.ArrayLength())"),
            (13, "States.ArrayLength takes 1 argument, got 0".to_string())
        );
        assert_eq!(
            err("States.MathRandom(1)"),
            (
                0,
                "States.MathRandom takes 2 or 3 arguments, got 1".to_string()
            )
        );
        assert_eq!(
            err("States.Format()"),
            (
                0,
                "States.Format takes at least 1 argument, got 0".to_string()
            )
        );
        assert_eq!(
            err("States.UUID(1)"),
            (0, "States.UUID takes 0 arguments, got 1".to_string())
        );
        assert!(parse("States.MathRandom(1, 2, 3)").is_ok());
        assert!(parse("States.Array()").is_ok());
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        assert_eq!(
            err("States.UUID() x"),
            (
                14,
                "unexpected text after the end of the function call".to_string()
            )
        );
        assert_eq!(
            err("States.UUID())"),
            (
                13,
                "unexpected text after the end of the function call".to_string()
            )
        );
    }

    #[test]
    fn malformed_argument_lists_are_rejected() {
        assert_eq!(
            err("States.ArrayGetItem($.a, )").0,
            25,
            "an empty argument after a comma"
        );
        assert_eq!(
            err("States.Array(1 2)"),
            (15, "expected ',' or ')', found '2'".to_string())
        );
        assert_eq!(
            err("States.Array(1, 2"),
            (17, "missing ')' to close States.Array".to_string())
        );
        assert_eq!(
            err("States.Array('abc)"),
            (13, "unterminated string literal".to_string())
        );
        assert_eq!(
            err("States.UUID"),
            (11, "expected '(' after States.UUID".to_string())
        );
        assert_eq!(
            err("States.Array(foo)"),
            (
                13,
                "unexpected 'foo': string literals are written in single quotes".to_string()
            )
        );
        assert_eq!(err("States.Array(\"a\")").0, 13);
    }

    #[test]
    fn bad_numbers_are_rejected() {
        assert_eq!(
            err("States.Array(1.2.3)"),
            (13, "invalid number '1.2.3'".to_string())
        );
        assert_eq!(
            err("States.Array(12ab)"),
            (13, "invalid number '12ab'".to_string())
        );
        assert_eq!(
            err("States.Array(-)"),
            (13, "invalid number '-'".to_string())
        );
        assert_eq!(
            err("States.Array(01)"),
            (13, "invalid number '01'".to_string())
        );
    }

    #[test]
    fn bad_paths_are_rejected_at_their_offset() {
        let (offset, reason) = err("States.Array(1, $.a[?(@.b ==])");
        assert_eq!(offset, 16);
        assert!(
            reason.starts_with("invalid path '$.a[?(@.b ==])'"),
            "{reason}"
        );
    }

    #[test]
    fn the_expression_must_be_a_call() {
        assert_eq!(
            err("$.a"),
            (
                0,
                "expected an intrinsic function call such as States.Format(...)".to_string()
            )
        );
        assert_eq!(err("").0, 0);
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        assert_eq!(err("States.Array('é', x)").0, 18);
    }

    #[test]
    fn nesting_is_limited_to_ten_calls() {
        let nest = |n: usize| {
            let mut s = "1".to_string();
            for _ in 0..n {
                s = format!("States.Array({s})");
            }
            s
        };
        assert!(parse(&nest(10)).is_ok());
        let eleven = nest(11);
        let (offset, reason) = err(&eleven);
        assert_eq!(offset, 10 * "States.Array(".len());
        assert_eq!(reason, "intrinsic functions can be nested at most 10 deep");
    }

    #[test]
    fn a_literal_format_template_is_checked_statically() {
        assert_eq!(
            err("States.Format('{} {}', $.a)"),
            (
                14,
                "the template has 2 occurrences of {} but 1 argument follows it".to_string()
            )
        );
        assert_eq!(
            err("States.Format('Hello {', $.a)"),
            (14, "matching '}' not found for '{'".to_string())
        );
        assert_eq!(
            err("States.Format('}')"),
            (14, "matching '{' not found for '}'".to_string())
        );
        assert!(parse(r"States.Format('\{\}')").is_ok());
        // A template from a path is checked when the state runs.
        assert!(parse("States.Format($.template)").is_ok());
    }

    /// Pieces of intrinsic syntax, so generated expressions get past the first character.
    const TOKENS: &[&str] = &[
        "States.Format(",
        "States.Array(",
        "States.ArrayRange(",
        "States.ArrayGetItem(",
        "States.MathRandom(",
        "States.Hash(",
        "States.JsonMerge(",
        "States.Base64Decode(",
        "States.StringSplit(",
        "States.UUID(",
        "States.Nope(",
        "(",
        ")",
        ",",
        " ",
        "'",
        "\\",
        "{",
        "}",
        "{}",
        "$",
        "$$",
        ".a",
        "[0]",
        "['x,y']",
        "[?(@.b > 1)]",
        "1",
        "-2.5",
        "1e400",
        "true",
        "null",
        "'SHA-1'",
        "'a'",
        "é",
        "🚀",
    ];

    proptest::proptest! {
        #[test]
        fn parsing_and_evaluating_never_panic(
            pieces in proptest::collection::vec(proptest::sample::select(TOKENS), 0..24)
        ) {
            let src: String = pieces.concat();
            match parse(&src) {
                Ok(call) => {
                    let input = crate::value::Value::Json(json!({"a": [1, 2], "b": "x"}));
                    let context = crate::value::Value::Json(json!({}));
                    let _ = call.evaluate(crate::path::Scope { input: &input, context: &context });
                }
                Err(e) => proptest::prop_assert!(e.offset <= src.chars().count()),
            }
        }
    }

    #[test]
    fn keywords_followed_by_parentheses_are_calls() {
        assert_eq!(
            err("States.Array(true())"),
            (13, "unknown intrinsic function 'true'".to_string())
        );
    }
}
