//! Expressions a user could write to crash or stall a server: each must end in a value or a
//! JSONata error, on a thread with a small stack like a server's worker threads.

use jsonata::{Bindings, Expression, evaluate};
use serde_json::{Value, json};

/// Runs `f` on a thread with a 256 KiB stack, failing the test if it panics or overflows.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn test thread")
        .join()
        .expect("evaluation thread panicked")
}

#[test]
fn deeply_nested_source_does_not_overflow_the_stack() {
    for (open, close) in [
        ("(", ")"),
        ("[", "]"),
        ("{'a':", "}"),
        ("-", ""),
        ("$not(", ")"),
    ] {
        let depth = 20_000;
        let source = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let outcome = on_small_stack(move || {
            Expression::compile(&source).and_then(|e| e.evaluate(None, &Bindings::new()))
        });
        // Either answer is fine; reaching here without a crash is the point.
        if let Err(e) = outcome {
            assert!(!e.code.is_empty(), "{open}: {e}");
        }
    }
}

#[test]
fn deeply_nested_results_convert_without_overflow() {
    let source = "($f := function($n) { $n = 0 ? {} : {'a': $f($n - 1)} }; $f(3000))";
    let outcome = on_small_stack(move || evaluate(source, None, &Bindings::new()));
    let mut value = outcome.expect("nested arrays evaluate").expect("defined");
    let mut depth = 0;
    while let Some(inner) = value.as_object_mut().and_then(|o| o.remove("a")) {
        value = inner;
        depth += 1;
    }
    assert_eq!(depth, 3000);
    // serde_json drops nested values recursively: the pops above kept each drop shallow.
}

#[test]
fn deep_input_is_read_without_overflow() {
    const EXPR: &str = "$count(**)";
    let mut input = json!(1);
    for _ in 0..5_000 {
        // Moved, not copied: `json!` would clone (recursively) and overflow here.
        let mut wrapper = serde_json::Map::new();
        wrapper.insert("a".to_owned(), input);
        input = Value::Object(wrapper);
    }
    let outcome = on_small_stack(move || {
        let found = evaluate(EXPR, Some(&input), &Bindings::new());
        // serde_json drops nested values recursively: leave this one to a big stack.
        std::mem::forget(input);
        found
    });
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[test]
fn huge_ranges_are_refused() {
    let e = evaluate("[1..100000000]", None, &Bindings::new()).unwrap_err();
    assert_eq!(e.code, "D2014");
}

/// Evaluates `source` on `input`, failing the test on an internal error (a contained panic).
fn answer(source: &str, input: Option<Value>) -> Result<Option<Value>, (String, String)> {
    let source = source.to_owned();
    on_small_stack(move || evaluate(&source, input.as_ref(), &Bindings::new())).map_err(|e| {
        assert_ne!(e.code, jsonata::INTERNAL_ERROR, "internal error: {e}");
        (e.code.clone(), e.message.clone())
    })
}

fn code_of(source: &str) -> String {
    match answer(source, None) {
        Err((code, _)) => code,
        Ok(v) => panic!("{source}: expected an error, got {v:?}"),
    }
}

fn value_of(source: &str) -> Value {
    match answer(source, None) {
        Ok(Some(v)) => v,
        other => panic!("{source}: expected a value, got {other:?}"),
    }
}

/// Each of these made jsonata-core 2.2.13's date-time builtins panic (see
/// `backend/datetime.rs`); each now gets JSONata's answer or a coded error.
#[test]
fn date_time_arguments_the_backend_panicked_on_get_answers() {
    // Non-ASCII digits in an ISO 8601 timestamp: jsonata-js's pattern reads ASCII digits.
    assert_eq!(code_of("$toMillis('٢٠١٨')"), "D3110");
    assert_eq!(code_of("$toMillis('2018-01-01T00:00:00.٢٣٤Z')"), "D3110");
    // A component that is not ASCII behaves like any other unknown component.
    assert_eq!(
        value_of("$fromMillis(0, '[뚙P]')"),
        value_of("$fromMillis(0, '[qP]')")
    );
    let (code, message) = answer("$fromMillis(0, '[뚙]')", None).unwrap_err();
    assert_eq!(code, "D3132");
    assert!(message.contains('뚙'), "{message}");
    assert_eq!(
        code_of("$toMillis('2018', '[Y]-[뚙N]')"),
        code_of("$toMillis('2018', '[Y]-[qN]')")
    );
    // A marker that starts with its only comma: jsonata-js's presentation ",".
    assert_eq!(
        value_of("$fromMillis(0, '[,]')"),
        value_of("$fromMillis(0, '[q,,]')")
    );
    // Digits of another family in a picture that parses: the timestamp's ASCII digits are
    // no digits of that family.
    assert_eq!(code_of("$toMillis('2018', '[Y١١١١]')"), "D3136");
    assert_eq!(answer("$toMillis('x', '[Y١١١١]')", None), Ok(None));
    assert_eq!(value_of("$fromMillis(0, '[Y١١١١]')"), json!("١٩٧٠"));
    // A day of the year too large for the date arithmetic is an invalid date.
    assert_eq!(
        code_of("$toMillis('2018-999999999999999', '[Y]-[d]')"),
        "D3136"
    );
    assert_eq!(
        answer("$toMillis('x-999999999999999', '[Y]-[d]')", None),
        Ok(None)
    );
    assert_eq!(
        code_of("$toMillis('201899-9999999999999', '[Y]-[d]')"),
        "D3136"
    );
    // An 11-digit day still reaches the backend (an invalid date there, not a panic).
    assert_eq!(code_of("$toMillis('2018-99999999999', '[Y]-[d]')"), "D3136");
    assert_eq!(
        value_of("$toMillis('2018-32', '[Y]-[d]')"),
        json!(1_517_443_200_000_u64)
    );
    // Year truncation and widths: refused past their bounds, by name.
    let (code, message) = answer("$fromMillis(0, '[Y,*-64]')", None).unwrap_err();
    assert_eq!(code, "U1002");
    assert!(message.contains("[Y,*-64]"), "{message}");
    assert!(message.contains("at most 18"), "{message}");
    assert_eq!(code_of("$fromMillis(0, '[Y,99999999999999]')"), "U1002");
    assert_eq!(code_of("$fromMillis(0, '[M,2000]')"), "U1002");
    assert_eq!(
        value_of("$fromMillis(0, '[Y,*-18]')"),
        json!(format!("{}1970", "0".repeat(14)))
    );
    assert_eq!(code_of("$fromMillis(0, '[Y,*-19]')"), "U1002");
    // `$parseInteger`: a regular separator other than `,` in a non-ASCII digit family (the
    // builtin maps it as a digit and underflowed), and an ordinal suffix dropped by bytes.
    assert_eq!(value_of("$parseInteger('١$٢', '###$١')"), json!(1));
    assert_eq!(value_of("$parseInteger('١٢$', '###$١')"), json!(12));
    let _ = answer("$parseInteger('１２th', '0;o')", None);
    assert_eq!(value_of("$parseInteger('12th', '0;o')"), json!(12));
    // Fractional seconds have no names.
    assert_eq!(code_of("$fromMillis(0, '[fN]')"), "D3133");
}

/// The guards take the context item where the builtins' signatures do, pass piped values
/// through, and step aside for a binding of the same name.
#[test]
fn guarded_date_time_builtins_keep_their_calling_conventions() {
    let input = json!({"t": 1000, "s": "2018", "n": "١٢٣٤ "});
    let with = |source: &str| answer(source, Some(input.clone())).unwrap();
    assert_eq!(
        with("t.$fromMillis()"),
        Some(json!("1970-01-01T00:00:01.000Z"))
    );
    assert_eq!(with("t.$fromMillis('[Y]')"), Some(json!("1970")));
    assert_eq!(with("s.$toMillis()"), Some(json!(1_514_764_800_000_u64)));
    assert_eq!(with("t ~> $fromMillis('[Y]')"), Some(json!("1970")));
    assert_eq!(
        // A builtin held as a value.
        with("($f := $fromMillis; $f(0, '[Y]'))"),
        Some(json!("1970"))
    );
    assert_eq!(
        with("($f := $fromMillis(?, '[Y]'); $f(0))"),
        Some(json!("1970"))
    );
    assert_eq!(with("n.$parseInteger('###١')"), Some(json!(1234)));
    assert_eq!(
        with("($fromMillis := function($x) { $x + 1 }; $fromMillis(1))"),
        Some(json!(2))
    );
    assert_eq!(
        with("$toMillis('13:45', '[H]:[m]') ~> $fromMillis() ~> $type()"),
        Some(json!("string"))
    );
    assert_eq!(
        code_of("$map(['[뚙]'], function($p) { $fromMillis(0, $p) })"),
        "D3132"
    );
    assert_eq!(code_of("($f := $fromMillis; $f(0, '[뚙]'))"), "D3132");
    // `$each` passes the value, the key (here the picture) and the object (the timezone,
    // which must be a string, as in jsonata-js).
    assert_eq!(code_of("$each({'[뚙]': 0}, $fromMillis)"), "T0410");
}

/// jsonata-core 2.2.13 sliced a lambda's signature inside a character and panicked while
/// parsing (found by the fuzz campaign of 2026-12-05).
#[test]
fn signatures_the_backend_would_slice_inside_a_character_are_syntax_errors() {
    let (code, message) = answer("function($num)<(ns)é:n>{1}", None).unwrap_err();
    assert_eq!(code, "S0201");
    assert!(message.contains("'é'"), "{message}");
    // Through plain JSONata's `$eval`, the error `$eval` gives text that does not parse.
    let source = "$eval(\"function($x)<é:n>{1}\")";
    let outcome = on_small_stack(move || {
        jsonata::Expression::compile_with(source, jsonata::Dialect::Standard)
            .and_then(|e| e.evaluate(None, &Bindings::new()))
    });
    let error = outcome.unwrap_err();
    assert_eq!(error.code, "D3120", "{error}");
    // `$eval` still sees the caller's variables.
    let source = "($x := 2; $eval('$x * 3'))";
    let outcome = on_small_stack(move || {
        jsonata::Expression::compile_with(source, jsonata::Dialect::Standard)
            .and_then(|e| e.evaluate(None, &Bindings::new()))
    });
    assert_eq!(outcome.unwrap(), Some(json!(6)));
    assert_eq!(value_of("function($x)<n:n>{$x + 1}(1)"), json!(2));
    // A text that fails elsewhere: locating its error parses its prefixes, one of which
    // ends inside that signature (the fuzz finding itself).
    assert!(code_of("λ($num)<(ns)é:.t\u{0}").starts_with('S'));
}
