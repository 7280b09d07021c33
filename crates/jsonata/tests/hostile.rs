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
