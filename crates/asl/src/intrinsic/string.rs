//! The guide's "intrinsic for String operation" (`States.StringSplit`) and "intrinsic for
//! unique identifier generation" (`States.UUID`).

use serde_json::Value as Json;

use super::{Invalid, string_arg};
use crate::value::Value;

/// Splits at every character of `delimiters` (the guide splits `"This.is+a,test=string"` with
/// `".+,="`) and drops empty pieces: Step Functions returns `[]` for `",,,,"` split at `","`
/// and `[" ", " "]` for `", , ,"`.
pub(super) fn string_split(text: &Value, delimiters: &Value) -> Result<Value, Invalid> {
    let text = string_arg(text, "the first argument")?;
    let delimiters = string_arg(delimiters, "the delimiter")?;
    let pieces = text
        .split(|c| delimiters.contains(c))
        .filter(|piece| !piece.is_empty())
        .map(|piece| Json::String(piece.to_string()))
        .collect();
    Ok(Value::Json(Json::Array(pieces)))
}

/// A version 4 (random) UUID in the usual lower-case hyphenated form.
pub(super) fn uuid() -> Value {
    Value::Json(Json::String(uuid::Uuid::new_v4().to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{cause, eval};

    #[test]
    fn split_guide_example_with_one_delimiter() {
        assert_eq!(
            eval(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","})
            )
            .unwrap(),
            json!(["1", "2", "3", "4", "5"])
        );
    }

    #[test]
    fn split_guide_example_with_several_delimiters() {
        assert_eq!(
            eval(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
    }

    #[test]
    fn split_drops_empty_pieces() {
        let split = |text: &str, delimiters: &str| {
            eval(
                "States.StringSplit($.t, $.d)",
                json!({"t": text, "d": delimiters}),
            )
            .unwrap()
        };
        assert_eq!(split(" ", ","), json!([" "]));
        assert_eq!(split(" , ", ","), json!([" ", " "]));
        assert_eq!(split(", , ,", ","), json!([" ", " "]));
        assert_eq!(split(",,,,", ","), json!([]));
        assert_eq!(split("", ","), json!([]));
        assert_eq!(
            split("split on T and \nnew line", "T\n"),
            json!(["split on ", " and ", "new line"])
        );
        assert_eq!(split("no delimiters", ""), json!(["no delimiters"]));
        assert_eq!(split("a✓b", "✓"), json!(["a", "b"]));
    }

    #[test]
    fn split_argument_checks() {
        assert!(cause("States.StringSplit(1, ',')", json!({})).ends_with(
            "Invalid arguments in States.StringSplit: the first argument must be a string, \
                 got a number"
        ));
        assert!(
            cause("States.StringSplit('a,b', $.d)", json!({"d": [","]}))
                .ends_with("the delimiter must be a string, got an array")
        );
    }

    #[test]
    fn uuid_is_a_fresh_version_4_uuid() {
        let a = eval("States.UUID()", json!({})).unwrap();
        let b = eval("States.UUID()", json!({})).unwrap();
        assert_ne!(a, b);
        let text = a.as_str().unwrap();
        let parsed = uuid::Uuid::parse_str(text).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.len(), 36);
    }
}
