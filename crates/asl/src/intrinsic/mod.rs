//! Intrinsic functions (`States.Format`, `States.Array`, ...): parsing and evaluation.
//!
//! A call is parsed once, when the definition loads ([`parse`]): unknown names, wrong argument
//! counts and malformed literals are definition errors there, with the character offset of the
//! problem. Evaluation ([`IntrinsicCall::evaluate`]) resolves the arguments (literals, paths,
//! nested calls, innermost first), checks their types as Step Functions does, and runs the
//! function. Every runtime failure is a `States.IntrinsicFailure` whose cause is worded like the
//! one Step Functions reports: `There was an error while evaluating the intrinsic function:
//! <call>. Invalid arguments in <name>: <why>`.
//!
//! The functions live in submodules grouped as the AWS developer guide groups them ("Intrinsic
//! functions for JSONPath states"): arrays, encoding and hashing, JSON, math, strings, and the
//! generic `States.Format`.

mod array;
mod encoding;
mod format;
mod json;
mod math;
mod parser;
mod string;

use serde_json::Value as Json;

use crate::error::StatesError;
use crate::path::{Path, PathError, Root, Scope};
use crate::value::{Kind, Value};

/// A parsed intrinsic call such as `States.Format('{} {}', $.a, States.UUID())`.
#[derive(Clone, Debug)]
pub struct IntrinsicCall {
    /// The function's full name, e.g. `States.Format`.
    pub name: String,
    pub args: Vec<Arg>,
    /// The expression as written (for a nested call, just that call).
    pub raw: String,
}

#[derive(Clone, Debug)]
pub enum Arg {
    /// A string, number, boolean or null literal.
    ///
    /// String literals hold their value with the intrinsic escapes (`\'`, `\{`, `\}`, `\\`)
    /// resolved, except the template of `States.Format`, which keeps `\{`, `\}` and `\\` so
    /// that an escaped brace stays distinguishable from a `{}` placeholder.
    Literal(Json),
    /// `$...` or `$$...`.
    Path(Path),
    Call(IntrinsicCall),
}

/// An intrinsic expression that does not parse, or names an unknown function, or has the
/// wrong number of arguments.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid intrinsic function call '{expression}': {reason}")]
pub struct IntrinsicSyntaxError {
    pub expression: String,
    /// Character offset of the problem in `expression`.
    pub offset: usize,
    pub reason: String,
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn looks_like_intrinsic(src: &str) -> bool {
    src.trim_start().starts_with("States.")
}

/// Parses an intrinsic call.
pub fn parse(src: &str) -> Result<IntrinsicCall, IntrinsicSyntaxError> {
    parser::parse(src)
}

/// Calls nested deeper than this are a definition error. The AWS guide: "You can nest up to 10
/// intrinsic functions within a field"; the limit also bounds the parser's recursion.
pub const MAX_NESTING: usize = 10;

/// Every intrinsic function Step Functions defines for JSONPath states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    pub const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    /// The function with this exact (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Least and greatest number of arguments (`None`: no upper bound).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Format => (1, None),
            Function::Array => (0, None),
            Function::Uuid => (0, Some(0)),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => (1, Some(1)),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => (2, Some(2)),
            Function::MathRandom => (2, Some(3)),
            Function::ArrayRange | Function::JsonMerge => (3, Some(3)),
        }
    }

    fn apply(self, args: Vec<Value>) -> Result<Value, Invalid> {
        match self {
            Function::Format => format::format(args),
            Function::StringToJson => {
                let [text] = exact(args)?;
                json::string_to_json(&text)
            }
            Function::JsonToString => {
                let [value] = exact(args)?;
                json::json_to_string(&value)
            }
            Function::Array => Ok(Value::from_elements(args)),
            Function::ArrayPartition => {
                let [array, size] = exact(args)?;
                array::partition(array, &size)
            }
            Function::ArrayContains => {
                let [array, value] = exact(args)?;
                array::contains(array, &value)
            }
            Function::ArrayRange => {
                let [start, end, step] = exact(args)?;
                array::range(&start, &end, &step)
            }
            Function::ArrayGetItem => {
                let [array, index] = exact(args)?;
                array::get_item(array, &index)
            }
            Function::ArrayLength => {
                let [array] = exact(args)?;
                array::length(&array)
            }
            Function::ArrayUnique => {
                let [array] = exact(args)?;
                array::unique(array)
            }
            Function::Base64Encode => {
                let [data] = exact(args)?;
                encoding::base64_encode(&data)
            }
            Function::Base64Decode => {
                let [data] = exact(args)?;
                encoding::base64_decode(&data)
            }
            Function::Hash => {
                let [data, algorithm] = exact(args)?;
                encoding::hash(&data, &algorithm)
            }
            Function::JsonMerge => {
                let [first, second, deep] = exact(args)?;
                json::json_merge(first, second, &deep)
            }
            Function::MathRandom => {
                let mut args = args.into_iter();
                match (args.next(), args.next(), args.next(), args.next()) {
                    (Some(start), Some(end), seed, None) => {
                        math::math_random(&start, &end, seed.as_ref())
                    }
                    _ => Err(Invalid::new("expected 2 or 3 arguments")),
                }
            }
            Function::MathAdd => {
                let [a, b] = exact(args)?;
                math::math_add(&a, &b)
            }
            Function::StringSplit => {
                let [text, delimiters] = exact(args)?;
                string::string_split(&text, &delimiters)
            }
            Function::Uuid => {
                let [] = exact(args)?;
                Ok(string::uuid())
            }
        }
    }
}

impl IntrinsicCall {
    /// The function this call names (`None` only for a hand-built call with a bad name).
    pub fn function(&self) -> Option<Function> {
        Function::from_name(&self.name)
    }

    /// Evaluates the call; failures are `States.IntrinsicFailure`.
    pub fn evaluate(&self, scope: Scope<'_>) -> Result<Value, StatesError> {
        let function = self
            .function()
            .ok_or_else(|| self.failure(&format!("Unknown function {}", self.name)))?;
        let args = self
            .args
            .iter()
            .map(|arg| self.resolve(arg, scope))
            .collect::<Result<Vec<_>, _>>()?;
        function.apply(args).map_err(|invalid| {
            self.failure(&format!(
                "Invalid arguments in {}: {}",
                self.name, invalid.0
            ))
        })
    }

    fn resolve(&self, arg: &Arg, scope: Scope<'_>) -> Result<Value, StatesError> {
        match arg {
            Arg::Literal(json) => Ok(Value::Json(json.clone())),
            Arg::Call(call) => call.evaluate(scope),
            Arg::Path(path) => path.resolve(scope).map_err(|e| match e {
                PathError::NoMatch { .. } => {
                    let doc = match path.root() {
                        Root::Input => scope.input,
                        Root::Context => scope.context,
                    };
                    self.failure(&format!(
                        "The JsonPath argument for the field '{}' could not be found in the input '{}'",
                        path,
                        crate::path::describe(doc)
                    ))
                }
                PathError::Foreign { .. } => self.failure(&e.to_string()),
            }),
        }
    }

    fn failure(&self, detail: &str) -> StatesError {
        StatesError::intrinsic(format!(
            "There was an error while evaluating the intrinsic function: {}. {}",
            self.raw.trim(),
            detail
        ))
    }
}

/// Why a function rejected its arguments; the evaluator prefixes the call and function name.
#[derive(Debug)]
struct Invalid(String);

impl Invalid {
    fn new(detail: impl Into<String>) -> Invalid {
        Invalid(detail.into())
    }

    /// `what` has the wrong JSON type.
    fn kind(what: &str, expected: &str, got: &Value) -> Invalid {
        Invalid(format!("{what} must be {expected}, got {}", kind_name(got)))
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value.kind() {
        Kind::Array => "an array",
        Kind::Object => "an object",
        Kind::String => "a string",
        Kind::Number => "a number",
        Kind::Bool => "a boolean",
        Kind::Null => "null",
        Kind::Opaque => "an opaque object",
    }
}

/// The arguments as a fixed-size array (a hand-built call may have the wrong count).
fn exact<const N: usize>(args: Vec<Value>) -> Result<[Value; N], Invalid> {
    let got = args.len();
    let noun = if N == 1 { "argument" } else { "arguments" };
    args.try_into()
        .map_err(|_| Invalid(format!("expected {N} {noun}, got {got}")))
}

fn string_arg(value: &Value, what: &str) -> Result<String, Invalid> {
    match value.scalar() {
        Some(Json::String(s)) => Ok(s),
        _ => Err(Invalid::kind(what, "a string", value)),
    }
}

fn number_arg(value: &Value, what: &str) -> Result<serde_json::Number, Invalid> {
    match value.scalar() {
        Some(Json::Number(n)) => Ok(n),
        _ => Err(Invalid::kind(what, "a number", value)),
    }
}

/// A number argument as an integer. Step Functions rounds a non-integer to the nearest integer
/// ("If you specify a non-integer value ..., Step Functions will round it off to the nearest
/// integer"), halves upward as Java's `Math.round` does.
fn integer_arg(value: &Value, what: &str) -> Result<i64, Invalid> {
    let n = number_arg(value, what)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let rounded = n.as_f64().map(math::java_round).unwrap_or(f64::INFINITY);
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    if rounded >= i64::MIN as f64 && rounded < i64::MAX as f64 {
        Ok(rounded as i64)
    } else {
        Err(Invalid(format!("{what} is out of range: {n}")))
    }
}

/// The elements of an array argument.
fn array_arg(value: Value, what: &str) -> Result<Vec<Value>, Invalid> {
    if value.kind() != Kind::Array {
        return Err(Invalid::kind(what, "an array", &value));
    }
    value
        .into_elements()
        .ok_or_else(|| Invalid(format!("{what} could not be read")))
}

/// A value as JSON, for functions that must compare or serialize it.
fn json_of(value: &Value, what: &str) -> Result<Json, Invalid> {
    value
        .to_json()
        .map_err(|e| Invalid(format!("{what} could not be converted to JSON: {e}")))
}

/// A string's length as Step Functions (a Java service) measures it: UTF-16 code units.
fn java_length(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod testing {
    //! Helpers shared by the submodules' tests.

    use std::any::Any;
    use std::sync::Arc;

    use serde_json::{Value as Json, json};

    use crate::error::StatesError;
    use crate::path::Scope;
    use crate::value::{Foreign, ForeignError, Kind, Value};

    /// Parses and evaluates `expr` against `input` (the context object is
    /// `{"Execution": {"Name": "run-1"}}`).
    pub fn eval(expr: &str, input: Json) -> Result<Json, StatesError> {
        eval_value(expr, Value::Json(input)).map(|v| v.to_json().expect("plain JSON result"))
    }

    pub fn eval_value(expr: &str, input: Value) -> Result<Value, StatesError> {
        let call = super::parse(expr).expect("expression parses");
        let context = Value::Json(json!({"Execution": {"Name": "run-1"}}));
        call.evaluate(Scope {
            input: &input,
            context: &context,
        })
    }

    /// The cause of the `States.IntrinsicFailure` that evaluating `expr` raises.
    pub fn cause(expr: &str, input: Json) -> String {
        let err = eval(expr, input).expect_err("evaluation fails");
        assert_eq!(err.error, "States.IntrinsicFailure");
        err.cause
    }

    /// A runtime object that refuses to become JSON, to prove a value was passed through.
    #[derive(Debug)]
    pub struct Opaque(pub &'static str);

    impl Opaque {
        pub fn value(tag: &'static str) -> Value {
            Value::foreign(Arc::new(Opaque(tag)))
        }

        pub fn tag(value: &Value) -> Option<&'static str> {
            match value {
                Value::Foreign(f) => f.as_any().downcast_ref::<Opaque>().map(|o| o.0),
                _ => None,
            }
        }
    }

    impl Foreign for Opaque {
        fn kind(&self) -> Kind {
            Kind::Opaque
        }
        fn get(&self, _key: &str) -> Option<Value> {
            None
        }
        fn index(&self, _index: usize) -> Option<Value> {
            None
        }
        fn len(&self) -> Option<usize> {
            None
        }
        fn keys(&self) -> Vec<String> {
            Vec::new()
        }
        fn to_json(&self) -> Result<Json, ForeignError> {
            Err(ForeignError::NotJson(format!("{} is not JSON", self.0)))
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::{cause, eval};
    use super::*;

    #[test]
    fn every_function_name_round_trips() {
        for f in Function::ALL {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
        assert_eq!(Function::from_name("States.format"), None);
        assert_eq!(Function::from_name("States.Uuid"), None);
    }

    #[test]
    fn looks_like_intrinsic_checks_the_prefix() {
        assert!(looks_like_intrinsic("  States.UUID()"));
        assert!(!looks_like_intrinsic("$.States"));
    }

    #[test]
    fn a_missing_path_names_the_path_and_the_input() {
        assert_eq!(
            cause("States.Hash($.missing, 'SHA-256')", json!({})),
            "There was an error while evaluating the intrinsic function: \
             States.Hash($.missing, 'SHA-256'). The JsonPath argument for the field \
             '$.missing' could not be found in the input '{}'"
        );
    }

    #[test]
    fn a_missing_context_path_names_the_context() {
        let c = cause("States.Format('{}', $$.Execution.Nope)", json!({}));
        assert!(
            c.ends_with(
                "The JsonPath argument for the field '$$.Execution.Nope' could not be found \
                 in the input '{\"Execution\":{\"Name\":\"run-1\"}}'"
            ),
            "{c}"
        );
    }

    #[test]
    fn a_nested_failure_names_the_innermost_call() {
        assert_eq!(
            cause("States.Array(1, States.ArrayLength('x'))", json!({})),
            "There was an error while evaluating the intrinsic function: \
             States.ArrayLength('x'). Invalid arguments in States.ArrayLength: \
             the argument must be an array, got a string"
        );
    }

    #[test]
    fn context_paths_read_the_context_object() {
        assert_eq!(
            eval("States.Format('run {}', $$.Execution.Name)", json!({})).unwrap(),
            json!("run run-1")
        );
    }

    /// "myArn.$" from the AWS guide's introduction: nine nested functions.
    const GUIDE_NESTED: &str = "States.Format('{}.{}.{}', \
        States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(\
        $.ImageRecipe.Arn, '/'), 2), '.'), 0), \
        States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(\
        $.ImageRecipe.Arn, '/'), 2), '.'), 1))";

    #[test]
    fn the_guide_nested_example_has_one_placeholder_too_many() {
        // Three `{}` but two arguments: the rule the guide states ("There must be as many
        // remaining arguments ... as there are occurrences of {}") rejects its own example.
        let err = parse(GUIDE_NESTED).unwrap_err();
        assert_eq!(err.offset, 14);
        assert!(
            err.reason.contains("3 occurrences of {} but 2 arguments"),
            "{err}"
        );
    }

    #[test]
    fn the_guide_nested_example_evaluates_with_two_placeholders() {
        let expr = GUIDE_NESTED.replacen("'{}.{}.{}'", "'{}.{}'", 1);
        let input = json!({"ImageRecipe": {
            "Arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/my-recipe/2.1.0"
        }});
        assert_eq!(eval(&expr, input).unwrap(), json!("2.1"));
    }

    #[test]
    fn a_hand_built_call_with_the_wrong_count_fails_cleanly() {
        let call = IntrinsicCall {
            name: "States.ArrayLength".into(),
            args: vec![],
            raw: "States.ArrayLength()".into(),
        };
        let null = Value::null();
        let err = call
            .evaluate(Scope {
                input: &null,
                context: &null,
            })
            .unwrap_err();
        assert_eq!(
            err.cause,
            "There was an error while evaluating the intrinsic function: States.ArrayLength(). \
             Invalid arguments in States.ArrayLength: expected 1 argument, got 0"
        );
    }

    #[test]
    fn integer_arguments_round_half_up_like_java() {
        let int = |j: Json| integer_arg(&Value::Json(j), "n");
        assert_eq!(int(json!(2.5)).unwrap(), 3);
        assert_eq!(int(json!(-2.5)).unwrap(), -2);
        assert_eq!(int(json!(-1.51)).unwrap(), -2);
        assert_eq!(int(json!(1.49)).unwrap(), 1);
        assert_eq!(int(json!(-7)).unwrap(), -7);
        assert!(int(json!(1e300)).is_err());
        assert!(int(json!(u64::MAX)).is_err());
        assert!(int(json!("1")).is_err());
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(java_length("abc"), 3);
        assert_eq!(java_length("🚀"), 2);
    }
}
