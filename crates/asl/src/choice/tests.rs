//! Unit tests of choice rules: parsing diagnostics and every operator's semantics.

use super::eval::*;
use super::parse::*;
use crate::error::StatesError;
use crate::path::Scope;
use crate::value::{Kind, Value, json_kind};
use std::any::Any;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::value::{Foreign, ForeignError};

const PTR: &str = "/States/Check/Choices/0";

fn parse(rule: Json) -> Result<ChoiceRule, Vec<(String, String)>> {
    let mut problems = Vec::new();
    match parse_rule(&rule, PTR, true, &mut problems) {
        Some(parsed) if problems.is_empty() => Ok(parsed),
        _ => Err(problems),
    }
}

fn problems_of(rule: Json) -> Vec<(String, String)> {
    match parse(rule) {
        Ok(parsed) => panic!("expected problems, parsed {parsed:?}"),
        Err(problems) => problems,
    }
}

fn eval_in(rule: Json, input: Json, context: Json) -> Result<bool, StatesError> {
    let parsed = parse(rule).unwrap_or_else(|p| panic!("rule does not parse: {p:?}"));
    let input = Value::Json(input);
    let context = Value::Json(context);
    parsed.evaluate(Scope {
        input: &input,
        context: &context,
    })
}

fn eval(rule: Json, input: Json) -> Result<bool, StatesError> {
    eval_in(rule, input, json!({}))
}

/// Evaluates `{"Variable": "$.v", <op>: operand}` against `{"v": value}`.
fn test(op: &str, operand: Json, value: Json) -> bool {
    let mut rule = json!({"Variable": "$.v", "Next": "X"});
    rule[op] = operand;
    eval(rule, json!({ "v": value })).expect("evaluation succeeds")
}

fn assert_invalid_path(result: Result<bool, StatesError>, path: &str) {
    let err = result.expect_err("expected a runtime error");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(
        err.cause,
        format!(
            "Invalid path '{path}': The choice state's condition path references an invalid value."
        )
    );
}

// --- String comparisons -----------------------------------------------------------------

#[test]
fn string_equals() {
    assert!(test("StringEquals", json!("abc"), json!("abc")));
    assert!(!test("StringEquals", json!("abc"), json!("abd")));
    assert!(
        !test("StringEquals", json!("abc"), json!("ABC")),
        "no case folding"
    );
    assert!(test("StringEquals", json!(""), json!("")));
}

#[test]
fn string_equals_is_type_strict() {
    assert!(!test("StringEquals", json!("1"), json!(1)));
    assert!(!test("StringEquals", json!("true"), json!(true)));
    assert!(!test("StringEquals", json!("null"), json!(null)));
    assert!(!test("StringEquals", json!("[]"), json!([])));
    assert!(!test("StringEquals", json!("{}"), json!({})));
}

#[test]
fn string_ordering_operators() {
    assert!(test("StringLessThan", json!("b"), json!("a")));
    assert!(!test("StringLessThan", json!("a"), json!("a")));
    assert!(!test("StringLessThan", json!("a"), json!("b")));
    assert!(
        test("StringLessThan", json!("ab"), json!("a")),
        "prefix sorts first"
    );
    assert!(
        test("StringLessThan", json!("a"), json!("B")),
        "'B' (66) < 'a' (97)"
    );
    assert!(
        !test("StringLessThan", json!("B"), json!("a")),
        "no case folding"
    );

    assert!(test("StringGreaterThan", json!("a"), json!("b")));
    assert!(!test("StringGreaterThan", json!("b"), json!("b")));
    assert!(!test("StringGreaterThan", json!("c"), json!("b")));

    assert!(test("StringLessThanEquals", json!("b"), json!("b")));
    assert!(test("StringLessThanEquals", json!("b"), json!("a")));
    assert!(!test("StringLessThanEquals", json!("b"), json!("c")));

    assert!(test("StringGreaterThanEquals", json!("b"), json!("b")));
    assert!(test("StringGreaterThanEquals", json!("b"), json!("c")));
    assert!(!test("StringGreaterThanEquals", json!("b"), json!("a")));

    assert!(!test("StringGreaterThan", json!(""), json!(5)));
    assert!(!test("StringLessThanEquals", json!("z"), json!(null)));
}

#[test]
fn string_order_is_java_compare_to_over_utf16_units() {
    // U+1F600 is the surrogate pair D83D DE00; U+FF21 is one unit. Java sorts the pair
    // first (0xD83D < 0xFF21) although its code point is larger.
    assert!(test(
        "StringLessThan",
        json!("\u{FF21}"),
        json!("\u{1F600}")
    ));
    assert!(!test(
        "StringGreaterThan",
        json!("\u{FF21}"),
        json!("\u{1F600}")
    ));
    // Below U+E000 both orders agree.
    assert!(test(
        "StringLessThan",
        json!("\u{1F600}"),
        json!("\u{00E9}")
    ));
}

// --- StringMatches ----------------------------------------------------------------------

#[test]
fn string_matches_wildcards() {
    assert!(test("StringMatches", json!("foo*.log"), json!("foo23.log")));
    assert!(test("StringMatches", json!("*.log"), json!("zebra.log")));
    assert!(test(
        "StringMatches",
        json!("foo*.*"),
        json!("foobar.zebra")
    ));
    assert!(test(
        "StringMatches",
        json!("logs-*-*-done"),
        json!("logs-2025-04-done")
    ));
    assert!(!test(
        "StringMatches",
        json!("foo*.log"),
        json!("foo23.txt")
    ));
    assert!(
        !test("StringMatches", json!("*.log"), json!("zebra.log.gz")),
        "whole string"
    );
    assert!(
        !test("StringMatches", json!("a*"), json!("ba")),
        "anchored at the start"
    );
}

#[test]
fn string_matches_edge_cases() {
    assert!(test("StringMatches", json!(""), json!("")));
    assert!(!test("StringMatches", json!(""), json!("a")));
    assert!(test("StringMatches", json!("*"), json!("")));
    assert!(test("StringMatches", json!("*"), json!("anything at all")));
    assert!(test("StringMatches", json!("**"), json!("")));
    assert!(test("StringMatches", json!("a**b"), json!("ab")));
    assert!(test("StringMatches", json!("*a*a*"), json!("banana")));
    assert!(!test("StringMatches", json!("*a*a*a*a*"), json!("banana")));
    assert!(
        test("StringMatches", json!("*ab"), json!("aab")),
        "backtracks"
    );
    assert!(
        test("StringMatches", json!("?"), json!("?")),
        "'?' is not special"
    );
    assert!(!test("StringMatches", json!("?"), json!("x")));
    assert!(
        test("StringMatches", json!("[a]"), json!("[a]")),
        "no character classes"
    );
    assert!(
        test("StringMatches", json!("é*ñ"), json!("é😀ñ")),
        "characters, not bytes"
    );
}

#[test]
fn string_matches_escapes() {
    // In JSON source these are "file\\*name.txt" and "a\\\\b".
    assert!(test(
        "StringMatches",
        json!("file\\*name.txt"),
        json!("file*name.txt")
    ));
    assert!(!test(
        "StringMatches",
        json!("file\\*name.txt"),
        json!("file-name.txt")
    ));
    assert!(test("StringMatches", json!("a\\\\b"), json!("a\\b")));
    assert!(!test("StringMatches", json!("a\\\\b"), json!("a\\\\b")));
    // An escaped backslash followed by a real wildcard.
    assert!(test(
        "StringMatches",
        json!("dir\\\\*"),
        json!("dir\\sub\\file")
    ));
    assert!(test("StringMatches", json!("\\**\\*"), json!("*middle*")));
    assert!(!test("StringMatches", json!("\\**\\*"), json!("middle*")));
}

#[test]
fn string_matches_open_escape_is_a_runtime_error() {
    for pattern in ["trailing\\", "a\\b"] {
        let err = eval(
            json!({"Variable": "$.v", "StringMatches": pattern, "Next": "X"}),
            json!({"v": "whatever"}),
        )
        .expect_err("open escape");
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("StringMatches"), "{}", err.cause);
        assert!(err.cause.contains(pattern), "{}", err.cause);
    }
}

#[test]
fn string_matches_is_type_strict() {
    assert!(!test("StringMatches", json!("123"), json!(123)));
    assert!(!test("StringMatches", json!("*"), json!(null)));
    assert!(!test("StringMatches", json!("*"), json!(["a"])));
}

// --- Numeric comparisons ----------------------------------------------------------------

#[test]
fn numeric_equals_compares_as_f64() {
    assert!(test("NumericEquals", json!(1), json!(1)));
    assert!(test("NumericEquals", json!(1), json!(1.0)));
    assert!(test("NumericEquals", json!(1.0), json!(1)));
    assert!(test("NumericEquals", json!(-0.0), json!(0)));
    assert!(test("NumericEquals", json!(2.5), json!(2.5)));
    assert!(!test("NumericEquals", json!(1), json!(2)));
    assert!(!test("NumericEquals", json!(0.1), json!(0.10000001)));
    // Beyond 2^53 integers collapse, as the developer guide warns.
    assert!(test(
        "NumericEquals",
        json!(9_007_199_254_740_993_u64),
        json!(9_007_199_254_740_992_u64)
    ));
}

#[test]
fn numeric_is_type_strict() {
    assert!(!test("NumericEquals", json!(1), json!("1")));
    assert!(!test("NumericEquals", json!(1), json!(true)));
    assert!(!test("NumericEquals", json!(0), json!(null)));
    assert!(!test("NumericLessThan", json!(10), json!("5")));
    assert!(!test("NumericGreaterThanEquals", json!(0), json!([1])));
}

#[test]
fn numeric_ordering_operators() {
    assert!(test("NumericLessThan", json!(10), json!(9.99)));
    assert!(!test("NumericLessThan", json!(10), json!(10.0)));
    assert!(!test("NumericLessThan", json!(10), json!(11)));
    assert!(test("NumericLessThan", json!(0), json!(-1)));

    assert!(test("NumericGreaterThan", json!(10), json!(10.5)));
    assert!(!test("NumericGreaterThan", json!(10), json!(10)));
    assert!(!test("NumericGreaterThan", json!(-1), json!(-2)));

    assert!(test("NumericLessThanEquals", json!(10), json!(10.0)));
    assert!(test("NumericLessThanEquals", json!(10), json!(-3)));
    assert!(!test("NumericLessThanEquals", json!(10), json!(10.000001)));

    assert!(test("NumericGreaterThanEquals", json!(20), json!(20)));
    assert!(test("NumericGreaterThanEquals", json!(20), json!(1e3)));
    assert!(!test("NumericGreaterThanEquals", json!(20), json!(19.9)));
}

// --- BooleanEquals ----------------------------------------------------------------------

#[test]
fn boolean_equals() {
    assert!(test("BooleanEquals", json!(true), json!(true)));
    assert!(test("BooleanEquals", json!(false), json!(false)));
    assert!(!test("BooleanEquals", json!(true), json!(false)));
    assert!(!test("BooleanEquals", json!(true), json!("true")));
    assert!(!test("BooleanEquals", json!(false), json!(0)));
    assert!(!test("BooleanEquals", json!(false), json!(null)));
}

// --- Timestamps -------------------------------------------------------------------------

#[test]
fn timestamp_equals_compares_instants() {
    let t = "2016-03-14T01:59:00Z";
    assert!(test("TimestampEquals", json!(t), json!(t)));
    assert!(test(
        "TimestampEquals",
        json!(t),
        json!("2016-03-14T03:59:00+02:00")
    ));
    assert!(test(
        "TimestampEquals",
        json!(t),
        json!("2016-03-13T20:29:00-05:30")
    ));
    assert!(test(
        "TimestampEquals",
        json!(t),
        json!("2016-03-14T01:59:00.000Z")
    ));
    assert!(!test(
        "TimestampEquals",
        json!(t),
        json!("2016-03-14T01:59:00.001Z")
    ));
    assert!(!test(
        "TimestampEquals",
        json!(t),
        json!("2016-03-14T01:59:00+01:00")
    ));
}

#[test]
fn timestamp_fractional_seconds() {
    assert!(test(
        "TimestampEquals",
        json!("2020-01-01T00:00:00.5Z"),
        json!("2020-01-01T00:00:00.500000000Z")
    ));
    assert!(test(
        "TimestampLessThan",
        json!("2020-01-01T00:00:00.123456790Z"),
        json!("2020-01-01T00:00:00.123456789Z")
    ));
    assert!(test(
        "TimestampGreaterThan",
        json!("2020-01-01T00:00:00Z"),
        json!("2020-01-01T00:00:00.000001Z")
    ));
}

#[test]
fn timestamp_ordering_operators() {
    let noon = json!("2024-06-01T12:00:00Z");
    assert!(test(
        "TimestampLessThan",
        noon.clone(),
        json!("2024-06-01T11:59:59Z")
    ));
    assert!(!test(
        "TimestampLessThan",
        noon.clone(),
        json!("2024-06-01T12:00:00Z")
    ));
    // 13:00 at +02:00 is 11:00 UTC: earlier despite the larger wall clock.
    assert!(test(
        "TimestampLessThan",
        noon.clone(),
        json!("2024-06-01T13:00:00+02:00")
    ));

    assert!(test(
        "TimestampGreaterThan",
        noon.clone(),
        json!("2024-06-01T12:00:01Z")
    ));
    assert!(!test(
        "TimestampGreaterThan",
        noon.clone(),
        json!("2024-06-01T14:00:00+02:00")
    ));
    assert!(test(
        "TimestampGreaterThan",
        noon.clone(),
        json!("2024-06-01T10:00:00-03:00")
    ));

    assert!(test(
        "TimestampLessThanEquals",
        noon.clone(),
        json!("2024-06-01T14:00:00+02:00")
    ));
    assert!(!test(
        "TimestampLessThanEquals",
        noon.clone(),
        json!("2024-06-01T12:00:00.1Z")
    ));

    assert!(test(
        "TimestampGreaterThanEquals",
        noon.clone(),
        json!("2024-06-01T12:00:00Z")
    ));
    assert!(!test(
        "TimestampGreaterThanEquals",
        noon,
        json!("2024-05-31T23:59:59Z")
    ));
}

#[test]
fn timestamp_comparisons_need_a_timestamp_variable() {
    let t = json!("2016-03-14T01:59:00Z");
    assert!(!test(
        "TimestampEquals",
        t.clone(),
        json!("not a timestamp")
    ));
    assert!(!test("TimestampEquals", t.clone(), json!("2016-03-14")));
    assert!(!test(
        "TimestampEquals",
        t.clone(),
        json!("2016-03-14t01:59:00z")
    ));
    assert!(!test(
        "TimestampEquals",
        t.clone(),
        json!("2016-03-14 01:59:00Z")
    ));
    assert!(!test("TimestampEquals", t.clone(), json!(1457920740)));
    assert!(!test("TimestampLessThan", t.clone(), json!(null)));
    assert!(!test(
        "TimestampGreaterThan",
        t,
        json!({"iso": "2016-03-14T01:59:00Z"})
    ));
}

#[test]
fn timestamp_format_is_strict_rfc3339() {
    for good in [
        "2016-03-14T01:59:00Z",
        "2016-03-14T01:59:00.1Z",
        "2016-03-14T01:59:00.123456789012Z",
        "2016-03-14T01:59:00+00:00",
        "2016-03-14T01:59:00-08:00",
        "2016-12-31T23:59:60Z",
        "2024-02-29T00:00:00Z",
    ] {
        assert!(parse_timestamp(good).is_some(), "{good}");
    }
    for bad in [
        "",
        "2016-03-14",
        "2016-03-14T01:59Z",
        "2016-03-14T01:59:00",
        "2016-03-14t01:59:00Z",
        "2016-03-14T01:59:00z",
        "2016-03-14 01:59:00Z",
        "2016-03-14T01:59:00.Z",
        "2016-03-14T01:59:00+0100",
        "2016-03-14T01:59:00+01",
        "2016-03-14T01:59:00Z ",
        "2016-13-14T01:59:00Z",
        "2023-02-29T00:00:00Z",
        "2016-03-14T24:00:00Z",
        "2016-03-14T01:59:00+24:00",
        "2025-01-01T00%3A00%3A00Z",
        "+2016-03-14T01:59:00Z",
    ] {
        assert!(parse_timestamp(bad).is_none(), "{bad}");
    }
}

// --- Type tests -------------------------------------------------------------------------

#[test]
fn is_null() {
    assert!(test("IsNull", json!(true), json!(null)));
    assert!(!test("IsNull", json!(true), json!(0)));
    assert!(!test("IsNull", json!(true), json!("null")));
    assert!(test("IsNull", json!(false), json!("x")));
    assert!(!test("IsNull", json!(false), json!(null)));
}

#[test]
fn is_numeric() {
    assert!(test("IsNumeric", json!(true), json!(3)));
    assert!(test("IsNumeric", json!(true), json!(-3.5)));
    assert!(!test("IsNumeric", json!(true), json!("3")));
    assert!(test("IsNumeric", json!(false), json!("3")));
    assert!(!test("IsNumeric", json!(false), json!(0)));
}

#[test]
fn is_string() {
    assert!(test("IsString", json!(true), json!("")));
    assert!(test("IsString", json!(true), json!("2016-03-14T01:59:00Z")));
    assert!(!test("IsString", json!(true), json!(1)));
    assert!(!test("IsString", json!(true), json!(["a"])));
    assert!(test("IsString", json!(false), json!(null)));
    assert!(!test("IsString", json!(false), json!("a")));
}

#[test]
fn is_boolean() {
    assert!(test("IsBoolean", json!(true), json!(false)));
    assert!(!test("IsBoolean", json!(true), json!("false")));
    assert!(!test("IsBoolean", json!(true), json!(0)));
    assert!(test("IsBoolean", json!(false), json!({})));
    assert!(!test("IsBoolean", json!(false), json!(true)));
}

#[test]
fn is_timestamp() {
    assert!(test(
        "IsTimestamp",
        json!(true),
        json!("2016-03-14T01:59:00Z")
    ));
    assert!(test(
        "IsTimestamp",
        json!(true),
        json!("2016-03-14T01:59:00.25-07:00")
    ));
    assert!(!test("IsTimestamp", json!(true), json!("2016-03-14")));
    assert!(!test(
        "IsTimestamp",
        json!(true),
        json!("2025-01-01T00%3A00%3A00Z")
    ));
    assert!(!test("IsTimestamp", json!(true), json!(1735689600)));
    assert!(!test("IsTimestamp", json!(true), json!(null)));
    assert!(test("IsTimestamp", json!(false), json!("not-a-timestamp")));
    assert!(!test(
        "IsTimestamp",
        json!(false),
        json!("2016-03-14T01:59:00Z")
    ));
}

#[test]
fn type_tests_on_a_missing_path_are_runtime_errors() {
    for op in [
        "IsNull",
        "IsNumeric",
        "IsString",
        "IsBoolean",
        "IsTimestamp",
    ] {
        let mut rule = json!({"Variable": "$.missing", "Next": "X"});
        rule[op] = json!(false);
        assert_invalid_path(eval(rule, json!({"v": 1})), "$.missing");
    }
}

// --- IsPresent --------------------------------------------------------------------------

#[test]
fn is_present() {
    let input = json!({"a": {"b": null}, "list": [1, 2], "empty": []});
    let present = |path: &str, flag: bool| {
        eval(
            json!({"Variable": path, "IsPresent": flag, "Next": "X"}),
            input.clone(),
        )
        .expect("IsPresent never fails on a missing path")
    };
    assert!(present("$.a", true));
    assert!(present("$.a.b", true), "a null value is present");
    assert!(present("$.list[1]", true));
    assert!(!present("$.list[2]", true));
    assert!(!present("$.missing", true));
    assert!(present("$.missing", false));
    assert!(present("$.a.b.c", false), "below a null is missing");
    assert!(!present("$.a", false));
    assert!(present("$.list[*]", true));
    assert!(
        present("$.empty[*]", false),
        "an indefinite path matching nothing"
    );
}

#[test]
fn is_present_reads_the_context_for_double_dollar_paths() {
    let rule = |path: &str| json!({"Variable": path, "IsPresent": true, "Next": "X"});
    let ctx = json!({"Execution": {"Id": "arn:x"}});
    assert_eq!(
        eval_in(rule("$$.Execution.Id"), json!({}), ctx.clone()),
        Ok(true)
    );
    assert_eq!(
        eval_in(rule("$$.Execution.Name"), json!({}), ctx.clone()),
        Ok(false)
    );
    assert_eq!(eval_in(rule("$.Execution.Id"), json!({}), ctx), Ok(false));
}

// --- Missing paths ----------------------------------------------------------------------

#[test]
fn every_comparison_on_a_missing_variable_is_a_runtime_error() {
    let operands = [
        ("StringEquals", json!("a")),
        ("StringLessThan", json!("a")),
        ("StringGreaterThan", json!("a")),
        ("StringLessThanEquals", json!("a")),
        ("StringGreaterThanEquals", json!("a")),
        ("StringMatches", json!("a*")),
        ("NumericEquals", json!(1)),
        ("NumericLessThan", json!(1)),
        ("NumericGreaterThan", json!(1)),
        ("NumericLessThanEquals", json!(1)),
        ("NumericGreaterThanEquals", json!(1)),
        ("BooleanEquals", json!(true)),
        ("TimestampEquals", json!("2016-03-14T01:59:00Z")),
        ("TimestampLessThan", json!("2016-03-14T01:59:00Z")),
        ("TimestampGreaterThan", json!("2016-03-14T01:59:00Z")),
        ("TimestampLessThanEquals", json!("2016-03-14T01:59:00Z")),
        ("TimestampGreaterThanEquals", json!("2016-03-14T01:59:00Z")),
        ("StringEqualsPath", json!("$.v")),
        ("NumericEqualsPath", json!("$.v")),
    ];
    for (op, operand) in operands {
        let mut rule = json!({"Variable": "$.a.missing", "Next": "X"});
        rule[op] = operand;
        assert_invalid_path(eval(rule, json!({"a": {}, "v": 1})), "$.a.missing");
    }
}

#[test]
fn missing_paths_below_scalars_and_out_of_range_indices_are_errors() {
    let rule = |path: &str| json!({"Variable": path, "NumericEquals": 1, "Next": "X"});
    let input = json!({"n": 1, "list": [1]});
    assert_invalid_path(eval(rule("$.n.deeper"), input.clone()), "$.n.deeper");
    assert_invalid_path(eval(rule("$.list[3]"), input.clone()), "$.list[3]");
    assert_invalid_path(eval(rule("$.list[*].x"), input.clone()), "$.list[*].x");
    assert_invalid_path(
        eval_in(rule("$$.Map.Item.Value"), input, json!({})),
        "$$.Map.Item.Value",
    );
}

#[test]
fn a_null_value_is_present_and_only_fails_the_comparison() {
    assert_eq!(
        eval(
            json!({"Variable": "$.v", "StringEquals": "x", "Next": "X"}),
            json!({"v": null})
        ),
        Ok(false)
    );
}

// --- Path operands ----------------------------------------------------------------------

#[test]
fn path_operands_compare_two_values_of_the_input() {
    let input = json!({
        "rating": 7, "threshold": 5, "same": 7.0,
        "name": "bob", "other": "alice",
        "flag": true, "yes": true,
        "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T01:00:00+01:00",
    });
    let check = |op: &str, var: &str, path: &str| {
        let mut rule = json!({"Variable": var, "Next": "X"});
        rule[op] = json!(path);
        eval(rule, input.clone()).expect("both paths resolve")
    };
    assert!(check("NumericGreaterThanPath", "$.rating", "$.threshold"));
    assert!(!check("NumericLessThanPath", "$.rating", "$.threshold"));
    assert!(check("NumericEqualsPath", "$.rating", "$.same"));
    assert!(check("NumericLessThanEqualsPath", "$.rating", "$.same"));
    assert!(check(
        "NumericGreaterThanEqualsPath",
        "$.threshold",
        "$.threshold"
    ));
    assert!(check("StringGreaterThanPath", "$.name", "$.other"));
    assert!(check("StringLessThanPath", "$.other", "$.name"));
    assert!(check("StringEqualsPath", "$.name", "$.name"));
    assert!(check("StringLessThanEqualsPath", "$.other", "$.name"));
    assert!(!check("StringGreaterThanEqualsPath", "$.other", "$.name"));
    assert!(check("BooleanEqualsPath", "$.flag", "$.yes"));
    assert!(check("TimestampEqualsPath", "$.start", "$.end"));
    assert!(!check("TimestampLessThanPath", "$.start", "$.end"));
    assert!(check("TimestampGreaterThanEqualsPath", "$.end", "$.start"));
    assert!(check("TimestampLessThanEqualsPath", "$.start", "$.end"));
    assert!(!check("TimestampGreaterThanPath", "$.end", "$.start"));
}

#[test]
fn path_operands_of_the_wrong_type_make_the_comparison_false() {
    let input =
        json!({"n": 8, "s": "8", "obj": {"value": 8}, "t": "2024-01-01T00:00:00Z", "x": "soon"});
    let check = |op: &str, var: &str, path: &str| {
        let mut rule = json!({"Variable": var, "Next": "X"});
        rule[op] = json!(path);
        eval(rule, input.clone()).expect("both paths resolve")
    };
    assert!(!check("NumericEqualsPath", "$.n", "$.s"));
    assert!(!check("NumericLessThanEqualsPath", "$.n", "$.obj"));
    assert!(!check("StringEqualsPath", "$.s", "$.n"));
    assert!(!check("TimestampEqualsPath", "$.t", "$.x"));
    assert!(!check("TimestampLessThanEqualsPath", "$.x", "$.t"));
}

#[test]
fn a_missing_path_operand_is_a_runtime_error() {
    let rule = json!({"Variable": "$.left", "NumericLessThanEqualsPath": "$.right", "Next": "X"});
    assert_invalid_path(eval(rule, json!({"left": 8})), "$.right");
}

#[test]
fn path_operands_may_read_the_context() {
    let rule = json!({"Variable": "$.id", "StringEqualsPath": "$$.Execution.Id", "Next": "X"});
    let ctx = json!({"Execution": {"Id": "exec-1"}});
    assert_eq!(
        eval_in(rule.clone(), json!({"id": "exec-1"}), ctx.clone()),
        Ok(true)
    );
    assert_eq!(eval_in(rule, json!({"id": "exec-2"}), ctx), Ok(false));
}

// --- Boolean expressions ----------------------------------------------------------------

#[test]
fn and_or_not() {
    let twenties = json!({"And": [
            {"Variable": "$.value", "IsPresent": true},
            {"Variable": "$.value", "IsNumeric": true},
            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
            {"Variable": "$.value", "NumericLessThan": 30}
        ], "Next": "ValueInTwenties"});
    assert_eq!(eval(twenties.clone(), json!({"value": 22})), Ok(true));
    assert_eq!(eval(twenties.clone(), json!({"value": 30})), Ok(false));
    assert_eq!(eval(twenties.clone(), json!({"value": "22"})), Ok(false));
    assert_eq!(
        eval(twenties, json!({})),
        Ok(false),
        "IsPresent guards the rest"
    );

    let public =
        json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"});
    assert_eq!(eval(public.clone(), json!({"type": "Private"})), Ok(false));
    assert_eq!(eval(public, json!({"type": "Public"})), Ok(true));

    let known = json!({"Or": [
            {"Variable": "$.v", "StringMatches": "A"},
            {"Variable": "$.v", "StringMatches": "B"}
        ], "Next": "Known"});
    assert_eq!(eval(known.clone(), json!({"v": "B"})), Ok(true));
    assert_eq!(eval(known, json!({"v": "C"})), Ok(false));
}

#[test]
fn nested_boolean_expressions() {
    // (a > 1 and not (b == "x" or c)) or d is null
    let rule = json!({"Or": [
            {"And": [
                {"Variable": "$.a", "NumericGreaterThan": 1},
                {"Not": {"Or": [
                    {"Variable": "$.b", "StringEquals": "x"},
                    {"Variable": "$.c", "BooleanEquals": true}
                ]}}
            ]},
            {"Variable": "$.d", "IsNull": true}
        ], "Next": "X"});
    let cases = [
        (json!({"a": 2, "b": "y", "c": false, "d": 0}), true),
        (json!({"a": 2, "b": "x", "c": false, "d": 0}), false),
        (json!({"a": 2, "b": "y", "c": true, "d": 0}), false),
        (json!({"a": 1, "b": "y", "c": false, "d": 0}), false),
        (json!({"a": 1, "b": "y", "c": false, "d": null}), true),
    ];
    for (input, expected) in cases {
        assert_eq!(eval(rule.clone(), input.clone()), Ok(expected), "{input}");
    }
    let double_negation =
        json!({"Not": {"Not": {"Variable": "$.v", "IsString": true}}, "Next": "X"});
    assert_eq!(eval(double_negation, json!({"v": "s"})), Ok(true));
}

#[test]
fn and_and_or_short_circuit() {
    let and = json!({"And": [
            {"Variable": "$.v", "NumericEquals": 0},
            {"Variable": "$.missing", "NumericEquals": 0}
        ], "Next": "X"});
    assert_eq!(eval(and.clone(), json!({"v": 1})), Ok(false));
    assert_invalid_path(eval(and, json!({"v": 0})), "$.missing");

    let or = json!({"Or": [
            {"Variable": "$.v", "NumericEquals": 1},
            {"Variable": "$.missing", "NumericEquals": 0}
        ], "Next": "X"});
    assert_eq!(eval(or.clone(), json!({"v": 1})), Ok(true));
    assert_invalid_path(eval(or, json!({"v": 0})), "$.missing");
}

#[test]
fn not_propagates_errors_instead_of_negating_them() {
    let rule = json!({"Not": {"Variable": "$.missing", "StringEquals": "x"}, "Next": "X"});
    assert_invalid_path(eval(rule, json!({})), "$.missing");
}

// --- Runtime objects --------------------------------------------------------------------

/// A runtime object wrapping JSON; containers stay handles, scalars come back as JSON.
#[derive(Debug)]
struct Handle(Json);

fn wrap(json: Json) -> Value {
    match json {
        Json::Object(_) | Json::Array(_) => Value::foreign(Arc::new(Handle(json))),
        scalar => Value::Json(scalar),
    }
}

impl Foreign for Handle {
    fn kind(&self) -> Kind {
        json_kind(&self.0)
    }
    fn get(&self, key: &str) -> Option<Value> {
        self.0.as_object()?.get(key).cloned().map(wrap)
    }
    fn index(&self, index: usize) -> Option<Value> {
        self.0.as_array()?.get(index).cloned().map(wrap)
    }
    fn len(&self) -> Option<usize> {
        self.0
            .as_array()
            .map(Vec::len)
            .or(self.0.as_object().map(|m| m.len()))
    }
    fn keys(&self) -> Vec<String> {
        self.0
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
    fn to_json(&self) -> Result<Json, ForeignError> {
        Ok(self.0.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Bytes, a tensor: no JSON form.
#[derive(Debug)]
struct Opaque;

impl Foreign for Opaque {
    fn kind(&self) -> Kind {
        Kind::Opaque
    }
    fn get(&self, _: &str) -> Option<Value> {
        None
    }
    fn index(&self, _: usize) -> Option<Value> {
        None
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn keys(&self) -> Vec<String> {
        Vec::new()
    }
    fn to_json(&self) -> Result<Json, ForeignError> {
        Err(ForeignError::NotJson("opaque".into()))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[test]
fn rules_read_through_runtime_objects() {
    let mut fields = indexmap::IndexMap::new();
    fields.insert(
        "result".to_string(),
        wrap(json!({"score": 0.9, "label": "cat", "tags": ["a"]})),
    );
    fields.insert("blob".to_string(), Value::foreign(Arc::new(Opaque)));
    let input = Value::Object(fields);
    let context = Value::null();
    let scope = Scope {
        input: &input,
        context: &context,
    };
    let run = |rule: Json| parse(rule).expect("parses").evaluate(scope);

    assert_eq!(
        run(json!({"Variable": "$.result.score", "NumericGreaterThan": 0.5, "Next": "X"})),
        Ok(true)
    );
    assert_eq!(
        run(json!({"Variable": "$.result.label", "StringMatches": "c*", "Next": "X"})),
        Ok(true)
    );
    assert_eq!(
        run(json!({"Variable": "$.result.tags[0]", "StringEquals": "a", "Next": "X"})),
        Ok(true)
    );
    assert_eq!(
        run(json!({"Variable": "$.result", "IsString": false, "Next": "X"})),
        Ok(true)
    );
    assert_eq!(
        run(json!({"Variable": "$.result.nope", "IsPresent": false, "Next": "X"})),
        Ok(true)
    );
    assert_invalid_path(
        run(json!({"Variable": "$.result.nope", "IsNull": true, "Next": "X"})),
        "$.result.nope",
    );

    // An opaque object is present but is no string, number, boolean, null or timestamp.
    assert_eq!(
        run(json!({"Variable": "$.blob", "IsPresent": true, "Next": "X"})),
        Ok(true)
    );
    for op in [
        "IsNull",
        "IsString",
        "IsNumeric",
        "IsBoolean",
        "IsTimestamp",
    ] {
        let mut rule = json!({"Variable": "$.blob", "Next": "X"});
        rule[op] = json!(true);
        assert_eq!(run(rule), Ok(false), "{op}");
    }
    assert_eq!(
        run(json!({"Variable": "$.blob", "StringEquals": "x", "Next": "X"})),
        Ok(false)
    );
}

// --- Parsing ----------------------------------------------------------------------------

#[test]
fn parses_every_operator_and_path_form() {
    for op in Operator::ALL {
        let operand = match op.literal_type() {
            Expect::String => json!("a"),
            Expect::Number => json!(1),
            Expect::Boolean => json!(true),
            Expect::Timestamp => json!("2016-03-14T01:59:00Z"),
        };
        let mut rule = json!({"Variable": "$.v", "Next": "X"});
        rule[op.name()] = operand.clone();
        match parse(rule) {
            Ok(ChoiceRule::Test(t)) => {
                assert_eq!(t.operator, op);
                assert!(matches!(t.operand, Operand::Literal(ref j) if *j == operand));
                assert_eq!(t.variable.as_str(), "$.v");
            }
            other => panic!("{op:?}: {other:?}"),
        }
        let mut rule = json!({"Variable": "$.v", "Next": "X"});
        rule[op.field(true)] = json!("$$.Execution.Input.v");
        let parsed = parse(rule);
        if op.has_path_form() {
            assert!(
                matches!(parsed, Ok(ChoiceRule::Test(DataTest { operator, operand: Operand::Path(_), .. })) if operator == op),
                "{op:?}"
            );
        } else {
            let problems = parsed.expect_err("no Path form");
            assert_eq!(problems, vec![(
                    format!("{PTR}/{}Path", op.name()),
                    format!("unknown field '{}Path'", op.name())
                ), (PTR.to_string(), "missing comparison operator: a choice rule with 'Variable' needs exactly one, such as 'StringEquals', 'NumericLessThan' or 'IsPresent'".to_string())]);
        }
    }
}

#[test]
fn operator_names_round_trip() {
    for op in Operator::ALL {
        assert_eq!(Operator::from_field(op.name()), Some((op, false)));
        assert_eq!(
            Operator::from_field(&op.field(true)),
            op.has_path_form().then_some((op, true))
        );
    }
    assert_eq!(Operator::from_field("Path"), None);
    assert_eq!(Operator::from_field("StringEqualsPathPath"), None);
    assert_eq!(
        Operator::ALL.iter().filter(|op| op.has_path_form()).count(),
        16
    );
}

#[test]
fn top_level_next_is_ignored_and_comment_allowed() {
    assert!(
        parse(json!({"Variable": "$.v", "IsNull": true, "Next": "X", "Comment": "rule 1"})).is_ok()
    );
    assert!(parse(json!({"Not": {"Variable": "$.v", "IsNull": true, "Comment": "inner"}, "Next": "X", "Comment": "c"})).is_ok());
}

#[test]
fn next_inside_a_nested_rule_is_reported() {
    let problems = problems_of(json!({"And": [
            {"Variable": "$.a", "IsNull": true},
            {"Variable": "$.b", "IsNull": true, "Next": "Y"}
        ], "Next": "X"}));
    assert_eq!(
        problems,
        vec![(
            format!("{PTR}/And/1/Next"),
            "'Next' is only allowed in a top-level choice rule, not inside 'And', 'Or' or 'Not'"
                .to_string()
        )]
    );
    let problems =
        problems_of(json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "Y"}, "Next": "X"}));
    assert_eq!(problems[0].0, format!("{PTR}/Not/Next"));
}

#[test]
fn missing_variable_and_missing_operator() {
    assert_eq!(problems_of(json!({"StringEquals": "a", "Next": "X"})), vec![(
            PTR.to_string(),
            "missing 'Variable': a choice rule needs 'Variable' and one comparison operator, or one of 'And', 'Or', 'Not'".to_string()
        )]);
    assert_eq!(problems_of(json!({"Variable": "$.a", "Next": "X"})), vec![(
            PTR.to_string(),
            "missing comparison operator: a choice rule with 'Variable' needs exactly one, such as 'StringEquals', 'NumericLessThan' or 'IsPresent'".to_string()
        )]);
    let problems = problems_of(json!({"Next": "X"}));
    assert_eq!(problems.len(), 2);
    assert!(problems.iter().all(|(p, _)| p == PTR));
}

#[test]
fn more_than_one_operator() {
    assert_eq!(problems_of(json!({"Variable": "$.a", "StringEquals": "a", "NumericEqualsPath": "$.b", "IsNull": false, "Next": "X"})), vec![
            (format!("{PTR}/NumericEqualsPath"), "a choice rule takes exactly one comparison operator; 'NumericEqualsPath' comes on top of 'StringEquals'".to_string()),
            (format!("{PTR}/IsNull"), "a choice rule takes exactly one comparison operator; 'IsNull' comes on top of 'StringEquals'".to_string()),
        ]);
}

#[test]
fn unknown_fields_are_named() {
    assert_eq!(
        problems_of(
            json!({"Variable": "$.a", "StringEquals": "a", "Foo": 1, "stringequals": "b", "Next": "X"})
        ),
        vec![
            (format!("{PTR}/Foo"), "unknown field 'Foo'".to_string()),
            (
                format!("{PTR}/stringequals"),
                "unknown field 'stringequals' (did you mean 'StringEquals'?)".to_string()
            ),
        ]
    );
    // JSONata's Condition is not a JSONPath choice rule field.
    assert_eq!(
        problems_of(json!({"Condition": "{% true %}", "Next": "X"}))[0],
        (
            format!("{PTR}/Condition"),
            "unknown field 'Condition'".to_string()
        )
    );
}

#[test]
fn pointers_are_escaped_per_rfc_6901() {
    let mut problems = Vec::new();
    let rule = json!({"Variable": "$.a", "IsNull": true, "a/b~c": 1});
    assert!(parse_rule(&rule, "/States/x~1y/Choices/0", true, &mut problems).is_none());
    assert_eq!(
        problems,
        vec![(
            "/States/x~1y/Choices/0/a~1b~0c".to_string(),
            "unknown field 'a/b~c'".to_string()
        )]
    );
}

#[test]
fn operand_types_are_checked() {
    let cases = [
        (
            "StringEquals",
            json!(1),
            "'StringEquals' needs a string, found number",
        ),
        (
            "StringMatches",
            json!(null),
            "'StringMatches' needs a string, found null",
        ),
        (
            "StringLessThan",
            json!(["a"]),
            "'StringLessThan' needs a string, found array",
        ),
        (
            "NumericEquals",
            json!("1"),
            "'NumericEquals' needs a number, found string",
        ),
        (
            "NumericGreaterThan",
            json!(true),
            "'NumericGreaterThan' needs a number, found boolean",
        ),
        (
            "BooleanEquals",
            json!("true"),
            "'BooleanEquals' needs a boolean (true or false), found string",
        ),
        (
            "IsPresent",
            json!("yes"),
            "'IsPresent' needs a boolean (true or false), found string",
        ),
        (
            "IsNull",
            json!(1),
            "'IsNull' needs a boolean (true or false), found number",
        ),
        (
            "IsTimestamp",
            json!({}),
            "'IsTimestamp' needs a boolean (true or false), found object",
        ),
        (
            "TimestampEquals",
            json!(1457920740),
            "'TimestampEquals' needs an RFC 3339 timestamp string such as \"2016-03-14T01:59:00Z\", found number",
        ),
        (
            "TimestampLessThan",
            json!("2016-03-14"),
            "'TimestampLessThan' needs an RFC 3339 timestamp string such as \"2016-03-14T01:59:00Z\" (uppercase 'T' and 'Z'), found \"2016-03-14\"",
        ),
        (
            "TimestampGreaterThan",
            json!("2016-03-14t01:59:00z"),
            "'TimestampGreaterThan' needs an RFC 3339 timestamp string such as \"2016-03-14T01:59:00Z\" (uppercase 'T' and 'Z'), found \"2016-03-14t01:59:00z\"",
        ),
        (
            "StringEqualsPath",
            json!(3),
            "'StringEqualsPath' needs a path string, found number",
        ),
        (
            "NumericLessThanPath",
            json!("value"),
            "invalid path 'value': a path must begin with '$'",
        ),
    ];
    for (op, operand, message) in cases {
        let mut rule = json!({"Variable": "$.v", "Next": "X"});
        rule[op] = operand;
        assert_eq!(
            problems_of(rule),
            vec![(format!("{PTR}/{op}"), message.to_string())],
            "{op}"
        );
    }
}

#[test]
fn variable_must_be_a_valid_path() {
    assert_eq!(
        problems_of(json!({"Variable": "value", "IsNull": true})),
        vec![(
            format!("{PTR}/Variable"),
            "invalid path 'value': a path must begin with '$'".to_string()
        )]
    );
    assert_eq!(
        problems_of(json!({"Variable": 5, "IsNull": true})),
        vec![(
            format!("{PTR}/Variable"),
            "'Variable' must be a path string, found number".to_string()
        )]
    );
    let problems = problems_of(json!({"Variable": "$.a[?(@.x >", "IsNull": true}));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, format!("{PTR}/Variable"));
    assert!(
        problems[0]
            .1
            .starts_with("invalid path '$.a[?(@.x >': not a JSONPath expression"),
        "{}",
        problems[0].1
    );
    assert!(parse(json!({"Variable": "$$.Execution.Input.x", "IsNull": true})).is_ok());
    assert!(parse(json!({"Variable": "$.items[*].id", "IsPresent": true})).is_ok());
}

#[test]
fn empty_and_or_and_malformed_combinators() {
    assert_eq!(
        problems_of(json!({"And": [], "Next": "X"})),
        vec![(
            format!("{PTR}/And"),
            "'And' must be a non-empty array of choice rules".to_string()
        )]
    );
    assert_eq!(
        problems_of(json!({"Or": [], "Next": "X"})),
        vec![(
            format!("{PTR}/Or"),
            "'Or' must be a non-empty array of choice rules".to_string()
        )]
    );
    assert_eq!(
        problems_of(json!({"Or": {"Variable": "$.a", "IsNull": true}, "Next": "X"})),
        vec![(
            format!("{PTR}/Or"),
            "'Or' must be a non-empty array of choice rules, found object".to_string()
        )]
    );
    assert_eq!(
        problems_of(json!({"Not": [{"Variable": "$.a", "IsNull": true}], "Next": "X"})),
        vec![(
            format!("{PTR}/Not"),
            "'Not' takes a single choice rule (an object), not an array".to_string()
        )]
    );
    assert_eq!(
        problems_of(json!({"And": ["$.a"], "Next": "X"})),
        vec![(
            format!("{PTR}/And/0"),
            "a choice rule must be an object, found string".to_string()
        )]
    );
    assert_eq!(problems_of(json!({"Not": {}, "Next": "X"})).len(), 2);
}

#[test]
fn combinators_do_not_mix_with_each_other_or_with_data_tests() {
    assert_eq!(problems_of(json!({
            "And": [{"Variable": "$.a", "IsNull": true}],
            "Or": [{"Variable": "$.a", "IsNull": true}],
            "Variable": "$.b",
            "StringEquals": "x",
            "Next": "X"
        })), vec![
            (format!("{PTR}/Or"), "a choice rule takes exactly one of 'And', 'Or' and 'Not'; 'Or' comes on top of 'And'".to_string()),
            (format!("{PTR}/Variable"), "'Variable' does not belong in a boolean expression ('And')".to_string()),
            (format!("{PTR}/StringEquals"), "comparison operator 'StringEquals' does not belong in a boolean expression ('And')".to_string()),
        ]);
}

#[test]
fn every_problem_is_reported_with_its_pointer() {
    let rule = json!({
        "Or": [
            {"Variable": "$.a", "NumericEquals": "1"},
            {"And": [
                {"Variable": "b", "IsNull": true},
                {"Variable": "$.c", "TimestampEquals": "yesterday", "Next": "Y"}
            ]},
            {"Not": {"Variable": "$.d"}},
            {"Variable": "$.e", "BooleanEquals": false}
        ],
        "Comment": 5,
        "Next": "X"
    });
    let problems = problems_of(rule);
    let pointers: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        pointers,
        vec![
            format!("{PTR}/Comment"),
            format!("{PTR}/Or/0/NumericEquals"),
            format!("{PTR}/Or/1/And/0/Variable"),
            format!("{PTR}/Or/1/And/1/Next"),
            format!("{PTR}/Or/1/And/1/TimestampEquals"),
            format!("{PTR}/Or/2/Not"),
        ]
    );
    assert_eq!(problems[0].1, "'Comment' must be a string, found number");
}

#[test]
fn a_rule_must_be_an_object() {
    assert_eq!(
        problems_of(json!("$.a")),
        vec![(
            PTR.to_string(),
            "a choice rule must be an object, found string".to_string()
        )]
    );
}

#[test]
fn a_rule_with_problems_is_not_returned() {
    let mut problems = vec![("/earlier".to_string(), "kept".to_string())];
    let rule = json!({"Variable": "$.a", "NumericEquals": "x"});
    assert!(parse_rule(&rule, PTR, true, &mut problems).is_none());
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].1, "kept");
    // A clean rule parses even when the caller's list already holds problems.
    let rule = json!({"Variable": "$.a", "NumericEquals": 1});
    assert!(parse_rule(&rule, PTR, true, &mut problems).is_some());
    assert_eq!(problems.len(), 2);
}

#[test]
fn hand_built_tests_with_the_wrong_operand_fail_cleanly() {
    let test = ChoiceRule::Test(DataTest {
        variable: Path::parse("$.v").expect("valid"),
        variable_name: None,
        operator: Operator::IsNull,
        operand: Operand::Literal(json!("yes")),
    });
    let input = Value::Json(json!({"v": null}));
    let err = test
        .evaluate(Scope {
            input: &input,
            context: &input,
        })
        .expect_err("malformed");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(
        err.cause,
        "malformed choice rule: 'IsNull' needs a boolean literal operand"
    );
}
