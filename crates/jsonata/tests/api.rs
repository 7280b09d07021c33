//! The crate's public API and AWS's functions, as the ASL engine uses them.

use std::time::Duration;

use jsonata::{Bindings, Dialect, Error, Expression, Limits, evaluate};
use serde_json::{Value, json};

fn eval(source: &str, input: Value) -> Result<Option<Value>, Error> {
    evaluate(source, Some(&input), &Bindings::new())
}

fn value(source: &str) -> Value {
    match eval(source, json!({})) {
        Ok(Some(v)) => v,
        other => panic!("{source}: {other:?}"),
    }
}

fn code(source: &str) -> String {
    match eval(source, json!({})) {
        Err(e) => e.code,
        other => panic!("{source}: expected an error, got {other:?}"),
    }
}

/// Every one of `sources` fails with error `expected`.
fn all_fail_with(expected: &str, sources: &[&str]) {
    for source in sources {
        assert_eq!(code(source), expected, "{source}");
    }
}

#[test]
fn paths_variables_and_undefined() {
    let input = json!({"title": "Doctor", "n": [1, 2, 3]});
    let mut bindings = Bindings::new();
    bindings.insert("customerName", json!("María"));
    bindings.insert("$states", json!({"input": input.clone()}));
    let e = Expression::compile("$states.input.title & ' ' & $customerName").unwrap();
    assert_eq!(
        e.evaluate(None, &bindings).unwrap(),
        Some(json!("Doctor María"))
    );
    assert_eq!(e.source(), "$states.input.title & ' ' & $customerName");
    assert_eq!(
        evaluate("$sum(n) / 2", Some(&input), &bindings).unwrap(),
        Some(json!(3))
    );
    assert_eq!(evaluate("missing", Some(&input), &bindings).unwrap(), None);
    assert_eq!(evaluate("$", None, &bindings).unwrap(), None);
}

#[test]
fn integral_results_are_json_integers() {
    assert_eq!(serde_json::to_string(&value("6 / 2")).unwrap(), "3");
    assert_eq!(
        serde_json::to_string(&value("[1.5, 2]")).unwrap(),
        "[1.5,2]"
    );
}

#[test]
fn functions_in_results_follow_json_stringify() {
    assert_eq!(value("{'a': 1, 'f': function($x) {$x}}"), json!({"a": 1}));
    assert_eq!(value("[1, $sum]"), json!([1, null]));
    assert_eq!(eval("function($x) {$x}", json!({})).unwrap(), None);
}

#[test]
fn syntax_errors_carry_jsonata_codes() {
    let e = Expression::compile("a.(b").unwrap_err();
    assert!(e.is_syntax(), "{e}");
    assert_eq!(e.code, "S0203");
    assert_eq!(Expression::compile("/* open").unwrap_err().code, "S0106");
    // JSONata's position: just past the token where parsing failed, in characters.
    let e = Expression::compile("$states.input.a + + ; 2").unwrap_err();
    assert_eq!((e.code.as_str(), e.position), ("S0211", Some(19)), "{e}");
    let e = Expression::compile("{'é': 1 2}").unwrap_err();
    assert_eq!(e.position, Some(9), "{e}");
    assert_eq!(Expression::compile("2(blah)").unwrap_err().code, "T1006");
}

#[test]
fn evaluation_errors_carry_jsonata_codes() {
    assert_eq!(code("'a' + 1"), "T2001");
    // jsonata-js's wording, values as JSON.
    let e = eval("'a' + 1", json!({})).unwrap_err();
    assert_eq!(
        e.message,
        "The left side of the \"+\" operator must evaluate to a number"
    );
    let e = eval("$error('boom')", json!({})).unwrap_err();
    assert_eq!((e.code.as_str(), e.message.as_str()), ("D3137", "boom"));
}

#[test]
fn native_functions_are_called_with_undefined_as_none() {
    let mut bindings = Bindings::new();
    bindings.insert_function("describe", |args: &[Option<Value>]| {
        Ok(Some(json!(
            args.iter().map(|a| a.is_some()).collect::<Vec<_>>()
        )))
    });
    assert_eq!(
        evaluate("$describe(1, nothing)", Some(&json!({})), &bindings).unwrap(),
        Some(json!([true, false]))
    );
}

#[test]
fn runaway_recursion_is_an_error_not_a_crash() {
    let source = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))";
    let e = eval(source, json!({})).unwrap_err();
    assert_eq!(e.code, "U1001", "{e}");
    let mut bindings = Bindings::new();
    bindings.set_limits(Limits {
        max_depth: Some(100),
        ..Limits::default()
    });
    let e = evaluate(
        "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(500))",
        None,
        &bindings,
    )
    .unwrap_err();
    assert_eq!(e.code, "U1001");
}

#[test]
fn endless_loops_stop_at_the_timeout() {
    let mut bindings = Bindings::new();
    bindings.set_limits(Limits {
        timeout: Some(Duration::from_millis(50)),
        ..Limits::default()
    });
    let source = "($f := function($n) { $f($n + 1) }; $f(0))";
    let e = evaluate(source, None, &bindings).unwrap_err();
    assert_eq!(e.code, "U1001", "{e}");
}

#[test]
fn sequences_are_bounded_in_length() {
    let mut bindings = Bindings::new();
    bindings.set_limits(Limits {
        max_sequence_length: Some(1000),
        ..Limits::default()
    });
    let e = evaluate("[1..100].([1..100])", None, &bindings).unwrap_err();
    assert_eq!(e.code, "D2015", "{e}");
    assert_eq!(
        evaluate("$count([1..30].([1..30]))", None, &bindings).unwrap(),
        Some(json!(900))
    );
}

#[test]
fn now_and_millis_are_fixed_within_one_evaluation() {
    assert_eq!(value("$count($distinct([1..2000].$millis()))"), json!(1));
    assert_eq!(value("$count($distinct([1..2000].$now()))"), json!(1));
    assert_eq!(value("$now() = $fromMillis($millis())"), json!(true));
}

#[test]
fn now_takes_a_picture_and_a_timezone() {
    assert_eq!(
        value(
            "$now('[Y0001]-[M01]-[D01]', '+0130') = $fromMillis($millis(), '[Y0001]-[M01]-[D01]', '+0130')"
        ),
        json!(true)
    );
    let year = value("$number($now('[Y0001]'))").as_f64().unwrap();
    assert!(year >= 2024.0, "{year}");
}

#[test]
fn partition_chunks_and_rounds_down() {
    assert_eq!(
        value("$partition([1, 2, 3, 4, 5], 2)"),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(
        value("$partition([1, 2, 3, 4, 5], 2.6)"),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(value("$partition([1, 2, 3])"), json!([[1, 2, 3]]));
    assert_eq!(value("$partition([], 3)"), json!([]));
    all_fail_with(
        jsonata::aws::INVALID_CHUNK_SIZE,
        &[
            "$partition([1], 0)",
            "$partition([1], -1)",
            "$partition([1], 0.5)",
        ],
    );
    all_fail_with(
        "T0410",
        &[
            "$partition([1], '2')",
            "$partition([1], null)",
            "$partition('x', 2)",
            "$partition([1], 2, 3)",
        ],
    );
}

#[test]
fn aws_function_errors_are_worded_like_jsonata_signature_errors() {
    let e = eval("$partition([1], 'x')", json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "T0410: Argument 2 of function \"partition\" does not match function signature"
    );
}

#[test]
fn range_is_inclusive_and_rounds_down() {
    assert_eq!(value("$range(0, 10, 2)"), json!([0, 2, 4, 6, 8, 10]));
    assert_eq!(value("$range(1.4, 5.6, 2.2)"), json!([1, 3, 5]));
    assert_eq!(value("$range(5, 1, -2)"), json!([5, 3, 1]));
    assert_eq!(value("$range(5, 1, 1)"), json!([]));
    assert_eq!(value("$count($range(1, 1001, 1))"), json!(1001));
    assert_eq!(code("$range(1, 10, 0)"), jsonata::aws::INVALID_RANGE);
    assert_eq!(code("$range(1, 10, 0.49)"), jsonata::aws::INVALID_RANGE);
    assert_eq!(code("$range(1, 1e12, 1)"), jsonata::aws::INVALID_RANGE);
    all_fail_with(
        "T0410",
        &[
            "$range('a', 5, 1)",
            "$range(1, 5, null)",
            "$range(1, 5)",
            "$range(1, 5, 1, 99)",
        ],
    );
}

#[test]
fn hash_gives_lower_case_hex_digests() {
    assert_eq!(
        value("$hash('hello', 'SHA-256')"),
        json!("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    assert_eq!(
        eval("$hash(s, 'SHA-256')", json!({"s": "✓"})).unwrap(),
        Some(json!(
            "1dabba21cdad44541f6b15796f8d22978fc7ea10c46aeceeeeb66c23b3ac7604"
        ))
    );
    assert_eq!(
        value("$hash('hello', 'MD5')"),
        json!("5d41402abc4b2a76b9719d911017c592")
    );
    assert_eq!(
        value("$hash('hello', 'SHA-1')"),
        json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
    );
    assert_eq!(
        value("$string($length($hash('hello', 'SHA-384')))"),
        json!("96")
    );
    assert_eq!(
        value("$string($length($hash('hello', 'SHA-512')))"),
        json!("128")
    );
    assert_eq!(
        value("'hello' ~> $hash('SHA-256')"),
        value("$hash('hello', 'SHA-256')")
    );
    assert_eq!(
        code("$hash('hello', 'sha-256')"),
        jsonata::aws::UNKNOWN_HASH_ALGORITHM
    );
    assert_eq!(
        code("$hash('data', 'UNSUPPORTED')"),
        jsonata::aws::UNKNOWN_HASH_ALGORITHM
    );
    all_fail_with(
        "T0410",
        &[
            "$hash(123, 'SHA-256')",
            "$hash()",
            "$hash('a', 'SHA-256', 'x')",
        ],
    );
}

#[test]
fn random_is_in_the_unit_interval_and_seeded_like_java() {
    let n = value("$random()").as_f64().unwrap();
    assert!((0.0..1.0).contains(&n), "{n}");
    assert_eq!(value("$random(77) = $random(77)"), json!(true));
    // `new java.util.Random(42).nextDouble()` in Java.
    assert_eq!(value("$random(42)"), json!(0.7275636800328681));
    all_fail_with(
        "T0410",
        &[
            "$random('seed')",
            "$random(null)",
            "$random({'a': 1})",
            "$random(77, 88)",
        ],
    );
}

#[test]
fn uuid_is_version_4() {
    let id = value("$uuid()");
    let id = id.as_str().unwrap();
    let parsed = uuid_parts(id);
    assert_eq!(
        parsed.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{id}"
    );
    assert!(parsed[2].starts_with('4'), "{id}");
    assert!(
        matches!(parsed[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
        "{id}"
    );
    assert_ne!(value("$uuid()"), value("$uuid()"));
    all_fail_with("T0410", &["$uuid('x')", "$uuid(null)", "$uuid(1, 2)"]);
}

fn uuid_parts(id: &str) -> Vec<&str> {
    assert!(
        id.chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    id.split('-').collect()
}

#[test]
fn parse_reads_json_text() {
    assert_eq!(
        eval(
            "$parse(json)",
            json!({"json": "{\"answer\":42,\"items\":[1,2]}"})
        )
        .unwrap(),
        Some(json!({"answer": 42, "items": [1, 2]}))
    );
    assert_eq!(
        eval("$parse(json)", json!({"json": " {\"a\":1} "})).unwrap(),
        Some(json!({"a": 1}))
    );
    assert_eq!(code("$parse('{bad json}')"), jsonata::aws::INVALID_JSON);
    assert_eq!(code("$parse('')"), jsonata::aws::INVALID_JSON);
    all_fail_with(
        "T0410",
        &[
            "$parse(123)",
            "$parse(null)",
            "$parse({'a': 1})",
            "$parse()",
            "$parse('1', 1)",
        ],
    );
}

#[test]
fn eval_exists_only_in_plain_jsonata() {
    assert_eq!(code("$eval('1 + 2')"), "T1006");
    let standard = |source: &str| {
        Expression::compile_with(source, Dialect::Standard)
            .and_then(|e| e.evaluate(None, &Bindings::new()))
    };
    assert_eq!(standard("$eval('1 + 2')").unwrap(), Some(json!(3)));
    assert_eq!(standard("$uuid()").unwrap_err().code, "T1006");
}

#[test]
fn operators_newer_than_aws_jsonata_are_syntax_errors() {
    // Step Functions runs JSONata 2.0.6; `??` and `?:` came in 2.1.
    let e = Expression::compile("$states.input.a ?? 'none'").unwrap_err();
    assert_eq!((e.code.as_str(), e.position), ("S0211", Some(18)), "{e}");
    assert_eq!(
        e.message,
        "The symbol \"?\" cannot be used as a unary operator"
    );
    let e = Expression::compile("'??' & x ?: 1").unwrap_err();
    assert_eq!((e.code.as_str(), e.position), ("S0211", Some(11)), "{e}");
    assert_eq!(
        e.message,
        "The symbol \":\" cannot be used as a unary operator"
    );
    // In strings, comments and regular expressions they are just characters.
    assert_eq!(
        value("'a ?? b' & /* ?: */ $string($match('x', /(?:x)/).match)"),
        json!("a ?? bx")
    );
    let standard = Expression::compile_with("nothing ?? 2", Dialect::Standard).unwrap();
    assert_eq!(
        standard.evaluate(None, &Bindings::new()).unwrap(),
        Some(json!(2))
    );
}
