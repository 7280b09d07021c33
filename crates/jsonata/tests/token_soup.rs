//! Expressions assembled from random JSONata tokens: every one must compile and evaluate to a
//! value or a JSONata error, never to a contained panic of the evaluator.

use std::time::Duration;

use jsonata::{Bindings, Dialect, Expression, INTERNAL_ERROR, Limits};
use proptest::prelude::*;
use serde_json::json;

const TOKENS: &[&str] = &[
    "a",
    "b",
    "$",
    "$$",
    ".",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    "1",
    "0",
    "-1",
    "2.5",
    "'x'",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "=",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "in",
    "?",
    "??",
    "?:",
    ";",
    ":=",
    "$x",
    "function($v){",
    "~>",
    "|",
    "@",
    "#",
    "^(",
    "**",
    "..",
    "/a+/",
    "$string(",
    "$substring(",
    "$split(",
    "$match(",
    "$replace(",
    "$formatNumber(",
    "$formatInteger(",
    "$fromMillis(",
    "$toMillis(",
    "$pad(",
    "$sort(",
    "$reduce(",
    "$map(",
    "$sift(",
    "$each(",
    "$keys(",
    "$lookup(",
    "$spread(",
    "$merge(",
    "$number(",
    "$round(",
    "$power(",
    "$exists(",
    "$type(",
    "$zip(",
    "$distinct(",
    "$single(",
    "$filter(",
    "$partition(",
    "$range(",
    "$hash(",
    "$parse(",
    "$random(",
    "$uuid(",
    "$now(",
    "$eval(",
    "'#,##0.00'",
    "'[Y]-[M01]'",
    "1e308",
    "null",
    "true",
    "false",
    "$base64decode(",
    "$decodeUrl(",
    "$formatBase(",
    "$parseInteger(",
    "`a b`",
    "[0]",
    "[-1]",
    "[1..3]",
    "{'k': 1}",
    "[[1,2],[3]]",
    "$error(",
    "$assert(",
    "$count(",
    "$append(",
    "$join(",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn random_token_sequences_never_reach_an_internal_error(
        picks in proptest::collection::vec(0..TOKENS.len(), 1..14),
        closers in 0usize..4,
    ) {
        let mut source: String = picks.iter().map(|&i| format!("{} ", TOKENS[i])).collect();
        source.push_str(&")".repeat(closers));
        let input = json!({"a": [1, {"b": "x", "c": [1, 2, 3]}, "s"], "b": {"a": 2, "d": null}});
        let mut bindings = Bindings::new();
        bindings.set_limits(Limits {
            timeout: Some(Duration::from_millis(200)),
            max_sequence_length: Some(100_000),
            ..Limits::default()
        });
        for dialect in [Dialect::StepFunctions, Dialect::Standard] {
            let outcome = Expression::compile_with(&source, dialect)
                .and_then(|e| e.evaluate(Some(&input), &bindings));
            if let Err(e) = outcome {
                prop_assert_ne!(e.code.as_str(), INTERNAL_ERROR, "{}: {}", source, e);
            }
        }
    }
}
