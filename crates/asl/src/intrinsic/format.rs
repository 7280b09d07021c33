//! `States.Format`, the guide's "intrinsic for generic operation".
//!
//! The template is a string in which `{}` is a placeholder and `\{`, `\}`, `\\` stand for
//! `{`, `}`, `\`. A literal template keeps those escapes through parsing (see
//! [`Arg::Literal`](super::Arg::Literal)); a template read from a path is read the same way. A
//! `{` or `}` that is neither escaped nor part of `{}` is an error, as Step Functions reports
//! ("matching '}' not found for '{'"). Each value is rendered as Step Functions (a Java service)
//! renders it: a string without quotes, a number, boolean or null as its JSON text, an array as
//! `[1, 2]` and an object as `{Arg1=1, Arg2=[]}` (Java's list and map text), strings inside
//! them unquoted too. The ASL specification says "The Value MUST NOT be a JSON array or
//! object", but AWS accepts them (recorded: `{"Arg1": 1, "Arg2": []}` renders as
//! `{Arg1=1, Arg2=[]}`, `$$.StateMachine` as `{Id=arn:aws:states:..., Name=...}`).

use serde_json::Value as Json;

use super::{Invalid, json_of, string_arg};
use crate::value::{Kind, Value};

/// A template that cannot be used: the reason, worded as Step Functions words it.
pub(super) struct TemplateError(pub String);

enum Piece {
    Text(String),
    Placeholder,
}

fn pieces(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&e @ ('{' | '}' | '\\' | '\'')) => {
                    text.push(e);
                    chars.next();
                }
                // Only a template read from a path can get here (the parser rejects open
                // escapes in literals): keep the backslash as written.
                _ => text.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push(Piece::Text(std::mem::take(&mut text)));
                out.push(Piece::Placeholder);
            }
            '{' => return Err(TemplateError("matching '}' not found for '{'".into())),
            '}' => return Err(TemplateError("matching '{' not found for '}'".into())),
            c => text.push(c),
        }
    }
    out.push(Piece::Text(text));
    Ok(out)
}

/// How many `{}` a template has.
pub(super) fn placeholders(template: &str) -> Result<usize, TemplateError> {
    Ok(pieces(template)?
        .iter()
        .filter(|p| matches!(p, Piece::Placeholder))
        .count())
}

pub(super) fn format(args: Vec<Value>) -> Result<Value, Invalid> {
    let mut args = args.into_iter();
    let template = args
        .next()
        .ok_or_else(|| Invalid::new("expected at least 1 argument"))?;
    let template = string_arg(&template, "the template (first argument)")?;
    let pieces = pieces(&template).map_err(|e| Invalid(format!("invalid template: {}", e.0)))?;
    let values: Vec<Value> = args.collect();
    let wanted = pieces
        .iter()
        .filter(|p| matches!(p, Piece::Placeholder))
        .count();
    if wanted != values.len() {
        return Err(Invalid(format!(
            "number of arguments do not match the occurrences of {{}}: the template has {wanted}, \
             {} {} it",
            values.len(),
            if values.len() == 1 {
                "argument follows"
            } else {
                "arguments follow"
            }
        )));
    }
    let mut out = String::with_capacity(template.len());
    let mut values = values.iter().enumerate();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(&text),
            Piece::Placeholder => {
                if let Some((i, value)) = values.next() {
                    out.push_str(&render(value, i + 2)?);
                }
            }
        }
    }
    Ok(Value::Json(Json::String(out)))
}

/// The text of a value in a formatted string; `position` counts arguments from 1 (the
/// template).
fn render(value: &Value, position: usize) -> Result<String, Invalid> {
    if let Some(scalar) = value.scalar() {
        return Ok(java_text(&scalar));
    }
    if value.kind() == Kind::Opaque {
        return Err(Invalid::kind(
            &format!("argument {position}"),
            "a JSON value",
            value,
        ));
    }
    let json = json_of(value, &format!("argument {position}"))?;
    Ok(java_text(&json))
}

/// A JSON value as Java's `toString` of the equivalent list or map prints it.
fn java_text(json: &Json) -> String {
    let mut out = String::new();
    write_java(json, &mut out);
    out
}

fn write_java(json: &Json, out: &mut String) {
    match json {
        Json::String(s) => out.push_str(s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(item, out);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                write_java(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Opaque, cause, eval, eval_value};

    #[test]
    fn guide_example_with_a_literal_template() {
        let input = json!({"name": "Arnav", "template": "Hello, my name is {}."});
        assert_eq!(
            eval(
                "States.Format('Hello, my name is {}.', $.name)",
                input.clone()
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            eval("States.Format($.template, $.name)", input).unwrap(),
            json!("Hello, my name is Arnav.")
        );
    }

    #[test]
    fn specification_example_mixes_paths_and_numbers() {
        let input = json!({"name": "Foo", "zebra": "stripe"});
        assert_eq!(
            eval(
                "States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
                input
            )
            .unwrap(),
            json!("Your name is Foo, we are in the year 2020")
        );
    }

    #[test]
    fn scalars_render_as_json_text_and_strings_raw() {
        let input = json!({"s": "x", "i": -1, "f": 1.1, "t": true, "n": null, "e": ""});
        assert_eq!(
            eval(
                "States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.i, $.f, $.t, $.n, $.e, false)",
                input
            )
            .unwrap(),
            json!("x|-1|1.1|true|null||false")
        );
    }

    #[test]
    fn no_placeholders_returns_the_template() {
        assert_eq!(
            eval("States.Format('no placeholders')", json!({})).unwrap(),
            json!("no placeholders")
        );
    }

    #[test]
    fn escaped_braces_and_quotes_are_literal() {
        let input = json!({"name": "Arnav"});
        assert_eq!(
            eval(
                r"States.Format('escaped \{\} and {}', $.name)",
                input.clone()
            )
            .unwrap(),
            json!("escaped {} and Arnav")
        );
        assert_eq!(
            eval(r"States.Format('it\'s {}\\{}', $.name, 1)", input).unwrap(),
            json!(r"it's Arnav\1")
        );
    }

    #[test]
    fn a_path_template_uses_the_same_escapes() {
        let input = json!({"t": r"a \{ {} \n", "v": "x"});
        assert_eq!(
            eval("States.Format($.t, $.v)", input).unwrap(),
            json!(r"a { x \n")
        );
    }

    #[test]
    fn nested_calls_provide_values() {
        assert_eq!(
            eval(
                "States.Format('arn:{}:{}', $.svc, States.JsonToString($.obj))",
                json!({"svc": "lambda", "obj": {"k": 1}})
            )
            .unwrap(),
            json!(r#"arn:lambda:{"k":1}"#)
        );
    }

    #[test]
    fn objects_and_arrays_render_as_java_prints_them() {
        // Recorded on AWS: {"Arg1": 1, "Arg2": []} -> {Arg1=1, Arg2=[]}.
        assert_eq!(
            eval(
                "States.Format('{} {}', $.a, $.o)",
                json!({"a": 1, "o": {"Arg1": 1, "Arg2": []}})
            )
            .unwrap(),
            json!("1 {Arg1=1, Arg2=[]}")
        );
        assert_eq!(
            eval(
                "States.Format('{}', $.l)",
                json!({"l": [1, "two", null, true, 1.5, {"k": "v"}, [[]]]})
            )
            .unwrap(),
            json!("[1, two, null, true, 1.5, {k=v}, [[]]]")
        );
        assert_eq!(
            eval("States.Format('{}{}', $.e, $.m)", json!({"e": {}, "m": []})).unwrap(),
            json!("{}[]")
        );
    }

    #[test]
    fn runtime_objects_cannot_be_formatted() {
        let input = crate::value::Value::Object(
            [("h".to_string(), Opaque::value("handle"))]
                .into_iter()
                .collect(),
        );
        let err = eval_value("States.Format('{}', $.h)", input).unwrap_err();
        assert!(
            err.cause
                .ends_with("argument 2 must be a JSON value, got an opaque object"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn a_path_template_must_match_the_argument_count() {
        let input = json!({"t": "{} and {}", "a": 1});
        assert!(cause("States.Format($.t, $.a)", input).ends_with(
            "Invalid arguments in States.Format: number of arguments do not match the \
             occurrences of {}: the template has 2, 1 argument follows it"
        ));
    }

    #[test]
    fn a_path_template_with_a_stray_brace_fails() {
        assert!(
            cause("States.Format($.t)", json!({"t": "Hello {"}))
                .ends_with("Invalid arguments in States.Format: invalid template: matching '}' not found for '{'")
        );
        assert!(
            cause("States.Format($.t)", json!({"t": "{{}}"}))
                .ends_with("invalid template: matching '}' not found for '{'")
        );
        assert!(
            cause("States.Format($.t)", json!({"t": "}"}))
                .ends_with("invalid template: matching '{' not found for '}'")
        );
    }

    #[test]
    fn the_template_must_be_a_string() {
        assert!(
            cause("States.Format($.t, $.a)", json!({"t": 123, "a": "x"})).ends_with(
                "Invalid arguments in States.Format: the template (first argument) must be a \
                 string, got a number"
            )
        );
    }
}
