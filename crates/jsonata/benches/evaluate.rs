//! Cost of evaluating a compiled JSONata expression, the work a JSONata state does per field.
//!
//! Run: `cargo bench -p faastlane-jsonata --bench evaluate` (a plain timing loop: prints the
//! median of several batches per expression, in microseconds per evaluation).

use std::hint::black_box;
use std::time::Instant;

use jsonata::{Bindings, Expression};
use serde_json::json;

const BATCHES: usize = 15;
const PER_BATCH: usize = 2_000;

fn main() {
    let input = json!({
        "order": {
            "id": "o-17",
            "customer": {"name": "María", "tier": "gold"},
            "items": [
                {"sku": "a", "price": 12.5, "qty": 2},
                {"sku": "b", "price": 3.0, "qty": 10},
                {"sku": "c", "price": 99.99, "qty": 1}
            ]
        }
    });
    let mut bindings = Bindings::new();
    bindings.insert("states", json!({"input": input.clone(), "context": {}}));
    let cases = [
        ("simple path on the input", "order.customer.name", true),
        (
            "simple path via $states.input",
            "$states.input.order.customer.name",
            false,
        ),
        (
            "filter and sum",
            "$sum(order.items[price > 10].(price * qty))",
            true,
        ),
        (
            "object construction",
            "{'id': order.id, 'skus': order.items.sku}",
            true,
        ),
    ];
    // The same read with ~1 MB of other data beside it in `$states.input`.
    let items: Vec<_> = (0..10_000)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "tags": ["a", "b", "c"], "price": 1.5, "text": "x".repeat(40)}))
        .collect();
    let mut large = input.clone();
    large["catalog"] = json!(items);
    let mut large_bindings = Bindings::new();
    large_bindings.insert("states", json!({"input": large.clone(), "context": {}}));
    println!(
        "large input: {} bytes of JSON",
        serde_json::to_string(&large).map_or(0, |s| s.len())
    );
    let large_cases = [
        ("path, 1 MB input", "order.customer.name", true),
        (
            "$states path, 1 MB $states",
            "$states.input.order.customer.name",
            false,
        ),
    ];
    for (label, source, on_input) in large_cases {
        let expression = Expression::compile(source).expect("benchmark expression compiles");
        let input = on_input.then_some(&large);
        let mut runs: Vec<f64> = (0..15)
            .map(|_| {
                let start = Instant::now();
                black_box(expression.evaluate(black_box(input), &large_bindings).ok());
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        println!(
            "{label:32} {source:48} median {:.1} us/eval (min {:.1})",
            runs[7], runs[0]
        );
    }
    for (label, source, on_input) in cases {
        let expression = Expression::compile(source).expect("benchmark expression compiles");
        let input = on_input.then_some(&input);
        let mut batches: Vec<f64> = (0..BATCHES)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..PER_BATCH {
                    black_box(expression.evaluate(black_box(input), &bindings).ok());
                }
                start.elapsed().as_secs_f64() * 1e6 / PER_BATCH as f64
            })
            .collect();
        batches.sort_by(f64::total_cmp);
        println!(
            "{label:32} {source:48} median {:.2} us/eval (min {:.2})",
            batches[BATCHES / 2],
            batches[0]
        );
    }
}
