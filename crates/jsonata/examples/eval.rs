//! Evaluate one JSONata expression the way a Step Functions JSONata state does.
//!
//! `cargo run -p faastlane-jsonata --example eval -- EXPRESSION [STATES_INPUT_JSON]`
//!
//! The JSON (a literal, or `@file.json`) becomes `$states.input`; the result prints as JSON,
//! an error as `CODE: message` (with the position of a syntax error) and exit status 1.

use std::process::ExitCode;

use anyhow::{Context, bail};
use jsonata::{Bindings, Expression};
use serde_json::{Value, json};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(source) = args.next() else {
        bail!("usage: eval EXPRESSION [STATES_INPUT_JSON | @FILE]");
    };
    let input: Value = match args.next() {
        None => json!({}),
        Some(arg) => {
            let text = match arg.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?
                }
                None => arg,
            };
            serde_json::from_str(&text).context("the input is not JSON")?
        }
    };
    let expression = Expression::compile(&source).map_err(|e| match e.position {
        Some(at) => anyhow::anyhow!("{e} (at character {at})"),
        None => anyhow::anyhow!("{e}"),
    })?;
    let mut bindings = Bindings::new();
    bindings.insert("states", json!({ "input": input }));
    match expression.evaluate(None, &bindings)? {
        Some(value) => println!("{}", serde_json::to_string_pretty(&value)?),
        None => println!("undefined"),
    }
    Ok(())
}
