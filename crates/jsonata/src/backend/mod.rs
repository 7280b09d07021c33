//! The seam between faastlane and the crate that implements JSONata.
//!
//! [`Backend`] is all the rest of this crate knows of an evaluator; [`Active`] names the one
//! in use. Today that is `jsonata-core`, chosen because it passes the official JSONata test
//! suite (measured by `tests/suite.rs`); a replacement implements the trait and nothing else
//! changes. Only this module names `jsonata_core`.

mod ast;
mod convert;
mod datetime;
mod guarded;
mod parse_integer;
mod signature;
mod syntax;

use std::rc::Rc;

use std::collections::BTreeMap;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions, HostFnResult};
use jsonata_core::parser;
use jsonata_core::value::JValue;
use serde_json::Value;

use self::ast::{Need, variable_need, variable_path_of};
use self::convert::{from_json, from_json_needed, to_json};
use self::syntax::{located_syntax_error, reject_later_operators, syntax_error};
use crate::bindings::NativeFunction;
use crate::dialect::Dialect;
use crate::{Bindings, Error, VariablePath, aws};

/// What the crate needs of a JSONata implementation.
pub(crate) trait Backend {
    /// A compiled expression; shared by every thread that evaluates it.
    type Program: Send + Sync + Clone;

    fn compile(source: &str, dialect: Dialect) -> Result<Self::Program, Error>;

    fn evaluate(
        program: &Self::Program,
        input: Option<&Value>,
        bindings: &Bindings,
    ) -> Result<Option<Value>, Error>;

    /// The program as a plain `$variable.field...` read, if it is one.
    fn variable_path(program: &Self::Program) -> Option<VariablePath>;
}

/// The implementation in use.
pub(crate) type Active = JsonataCore;

/// `jsonata-core`'s tree-walking evaluator (the one that takes variables and host functions).
pub(crate) struct JsonataCore;

/// A parsed expression and the `$names` its text mentions.
#[derive(Clone)]
pub(crate) struct CoreProgram {
    ast: AstNode,
    /// The expression before its calls of guarded builtins were rewritten
    /// ([`guarded::rewrite_calls`]), kept when there were any: bindings that give one of
    /// those names a meaning of their own evaluate this.
    unguarded_calls: Option<AstNode>,
    dialect: Dialect,
    /// Every `$name` in the source, sorted. Outside `$eval` a variable or function is only
    /// reachable through its name written out, so an evaluation converts and installs only
    /// these: a large binding the expression never reads costs nothing.
    mentions: Vec<String>,
    /// What the expression can read of each mentioned variable, for binding only that.
    needs: BTreeMap<String, Need>,
}

impl CoreProgram {
    fn mentions(&self, name: &str) -> bool {
        self.mentions
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }
}

/// Error code of a host function that cannot be installed under the name it was given.
const NATIVE_NAME_TAKEN: &str = "U1010";

impl Backend for JsonataCore {
    type Program = CoreProgram;

    fn compile(source: &str, dialect: Dialect) -> Result<Self::Program, Error> {
        // Signatures the backend's parser would slice inside a character.
        signature::check(source)?;
        let mut ast = parser::parse(source).map_err(|e| located_syntax_error(source, &e))?;
        if dialect == Dialect::StepFunctions {
            reject_later_operators(source, &ast)?;
        }
        let mentions = mentioned_names(source);
        if mentions.iter().any(|m| m == "now") {
            // JSONata's `$now([picture [, timezone]])` is `$fromMillis($millis(), ...)`; the
            // backend's own `$now` takes no picture and reads the clock on every call.
            let now = parser::parse(
                "$now := function($picture, $timezone) \
                 { $fromMillis($millis(), $picture, $timezone) }",
            )
            .map_err(|e| syntax_error(&e))?;
            ast = AstNode::Block(vec![now, ast]);
        }
        let needs = mentions
            .iter()
            .map(|name| (name.clone(), variable_need(&ast, name)))
            .collect();
        let (ast, unguarded_calls) =
            match guarded::rewrite_calls(&ast, dialect == Dialect::Standard) {
                Some(rewritten) => (rewritten, Some(ast)),
                None => (ast, None),
            };
        Ok(CoreProgram {
            ast,
            unguarded_calls,
            needs,
            dialect,
            mentions,
        })
    }

    fn evaluate(
        program: &Self::Program,
        input: Option<&Value>,
        bindings: &Bindings,
    ) -> Result<Option<Value>, Error> {
        // `$eval` can reach any name: with it available, everything is bound.
        let dynamic = program.dialect == Dialect::Standard && program.mentions("eval");
        let wanted = |name: &str| dynamic || program.mentions(name);

        let mut context = Context::new();
        for (name, value) in bindings.values.iter().filter(|(n, _)| wanted(n)) {
            let need = match program.needs.get(name) {
                Some(need @ Need::Fields(_)) if !dynamic => need,
                // Never read (a name inside a string, say): bind it whole all the same, so a
                // miss in the analysis can cost time but never change a result.
                _ => &Need::Whole,
            };
            context.bind(name.clone(), from_json_needed(value, need));
        }
        let limits = bindings.limits;
        let options = EvaluatorOptions {
            timeout_ms: limits
                .timeout
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            max_stack_depth: limits.max_depth,
            max_sequence_length: limits.max_sequence_length,
            ..EvaluatorOptions::default()
        };
        let mut evaluator = Evaluator::with_options(context, options);
        if wanted("millis") || wanted("now") {
            // One clock reading per evaluation: every `$millis()` and `$now()` in it agree.
            let started = now_millis();
            install(
                &mut evaluator,
                "millis",
                Rc::new(move |args: &[Option<Value>]| match args {
                    [] => Ok(Some(Value::from(started))),
                    _ => Err(Error::new(
                        "T0410",
                        "Argument 1 of function \"millis\" does not match function signature",
                    )),
                }),
            )?;
        }
        // Builtins that panic on some arguments go through guards (`$now` calls
        // `$fromMillis`). Installed before the bindings' functions, which replace them.
        guarded::install(&mut evaluator, |name| {
            wanted(name) || (name == "fromMillis" && wanted("now"))
        });
        if program.dialect == Dialect::StepFunctions {
            for &(name, function) in aws::FUNCTIONS.iter().filter(|(n, _)| wanted(n)) {
                install(&mut evaluator, name, Rc::new(function))?;
            }
            if wanted("eval") {
                install(&mut evaluator, "eval", Rc::new(aws::eval_unsupported))?;
            }
        }
        for (name, function) in bindings.functions.iter().filter(|(n, _)| wanted(n)) {
            let function: NativeFunction = function.clone();
            install(
                &mut evaluator,
                name,
                Rc::new(move |args: &[Option<Value>]| function(args)),
            )?;
        }
        let input = input.map_or(JValue::Undefined, from_json);
        let ast = match &program.unguarded_calls {
            // A binding named like a guarded builtin must be what its calls reach.
            Some(plain)
                if guarded::Builtin::ALL.iter().any(|b| {
                    bindings.values.iter().any(|(n, _)| n == b.name())
                        || bindings.functions.iter().any(|(n, _)| n == b.name())
                }) =>
            {
                plain
            }
            _ => &program.ast,
        };
        let result = evaluator
            .evaluate(ast, &input)
            .map_err(|e| evaluation_error(&e))?;
        Ok(to_json(&result))
    }

    fn variable_path(program: &Self::Program) -> Option<VariablePath> {
        variable_path_of(&program.ast)
    }
}

/// The names that may follow each `$` in `source`, sorted and deduplicated: both the run of
/// letters, digits and `_`, and the run up to whitespace or an operator character (JSONata's
/// own rule, which lets a name hold `$` or quotes). Over-approximates (a `$x` inside a string
/// literal counts) so as never to miss a name.
fn mentioned_names(source: &str) -> Vec<String> {
    const OPERATOR_CHARS: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";
    let mut names = Vec::new();
    for (at, _) in source.match_indices('$') {
        let rest = &source[at + 1..];
        let word = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let token = rest
            .find(|c: char| c.is_whitespace() || OPERATOR_CHARS.contains(c))
            .unwrap_or(rest.len());
        names.extend([&rest[..word], &rest[..token]].map(str::to_owned));
    }
    names.retain(|name| !name.is_empty());
    names.sort();
    names.dedup();
    names
}

/// Milliseconds since the Unix epoch (0 for a clock set before it).
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

type HostFunction = Rc<dyn Fn(&[Option<Value>]) -> Result<Option<Value>, Error>>;

/// Registers `function` as `$name`, converting arguments and results at the boundary.
fn install(evaluator: &mut Evaluator, name: &str, function: HostFunction) -> Result<(), Error> {
    let call = move |args: &[JValue]| -> HostFnResult {
        let args: Vec<Option<Value>> = args.iter().map(to_json).collect();
        match function(&args) {
            Ok(Some(value)) => Ok(from_json(&value)),
            Ok(None) => Ok(JValue::Undefined),
            Err(e) => Err(EvaluatorError::EvaluationError(e.to_string())),
        }
    };
    evaluator.register_fn_override(name, call).map_err(|e| {
        Error::new(
            NATIVE_NAME_TAKEN,
            format!("cannot bind function ${name}: {}", e.message()),
        )
    })
}

fn evaluation_error(e: &EvaluatorError) -> Error {
    let error = Error::from_coded_message(e.message(), "D1001");
    // The backend's own codes for a spent depth or time budget become U1001, the code the
    // reference implementation's harness (and so the official suite) uses for both.
    match error.code.as_str() {
        "D1011" => Error::new(
            "U1001",
            "Stack overflow error: Check for non-terminating recursive function.  \
             Consider rewriting as tail-recursive.",
        ),
        "D1012" => Error::new(
            "U1001",
            "Expression evaluation timeout: Check for infinite loop",
        ),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Binding only what an expression reads gives what binding everything gives.
    #[test]
    fn pruned_bindings_evaluate_like_whole_ones() {
        let v = json!({
            "a": {"b": [[1, 2], [3]], "c": [1], "d": [], "n": null, "s": "str", "k": {"x": 1, "y": 2}},
            "items": [
                {"name": "p", "price": 3, "tags": ["t1"], "type": "x", "a": {"b": 1}},
                {"name": "q", "price": 5, "tags": [], "type": "y", "nested": [{"price": 7}]},
                "loose",
                [{"price": 11}]
            ],
            "other": {"big": [1, 2, 3]},
            "$v": "dollar key"
        });
        let sources = [
            "$v",
            "$v.a",
            "$v.a.b",
            "$v.a.b[0]",
            "$v.a.b[]",
            "$v.items.price",
            "$sum($v.items.price)",
            "$v.items[price > 3].name",
            "$v.items[price > $v.a.k.x].name",
            "$v.items[name = $v.items[0].name].type",
            "$v.items.nested.price",
            "$v.items{type: $sum(price)}",
            "$v.items^(price).name",
            "$v.items@$i.$i.name",
            "$v.items#$pos.{'p': $pos, 'n': name}",
            "$v.items.%.other",
            "$v.a.k.*",
            "$v.a.**",
            "$keys($v.a.k)",
            "$keys($v)",
            "$count($v.items)",
            "$v.a.k ~> $keys()",
            "$each($v.a.k, function($val, $key) {$key})",
            "$lookup($v.a.k, 'y')",
            "$sift($v.a.k, function($val) {$val > 1})",
            "$v.a.k.x in [1, 2]",
            "$v.a = $v.a",
            "$v.a.k = {'x': 1, 'y': 2}",
            "'$v.other' & $v.a.s",
            "($w := $v.a; $w.k.y)",
            "($v := $v.a; $v.k.x)",
            "function($v) { $v.other }($v.a)",
            "$map($v.items, function($i) { $i.price })",
            "$v.a.k ~> |$|{'z': 3}|",
            "$v.{'first': a.s, 'second': other.big[1]}",
            "[$v.a.c, $v.a.d, $v.a.n]",
            "$string($v.a.k)",
            "$v.missing.path",
            "$v.items[0]",
            "$v.items[-1].price",
            "$v.`$v`",
            "$exists($v.a.k.z)",
            "$v.a.b.$string()",
            "$reduce($v.items.price, function($x, $y) { $x + $y })",
        ];
        let mut bindings = Bindings::new();
        bindings.insert("v", v);
        let mut pruned_somewhere = 0;
        for source in sources {
            let mut program = JsonataCore::compile(source, Dialect::StepFunctions)
                .unwrap_or_else(|e| panic!("{source}: {e}"));
            if matches!(program.needs.get("v"), Some(Need::Fields(_))) {
                pruned_somewhere += 1;
            }
            let pruned = JsonataCore::evaluate(&program, None, &bindings);
            program.needs.clear();
            let whole = JsonataCore::evaluate(&program, None, &bindings);
            assert_eq!(pruned, whole, "{source}");
        }
        // The comparison means something only if most expressions were pruned.
        assert!(pruned_somewhere >= 30, "{pruned_somewhere}");
    }

    #[test]
    fn mentioned_names_cover_jsonata_names() {
        assert_eq!(
            mentioned_names("$a.b + $x$y & $é_1 ~> $f('$in string')"),
            ["a", "f", "in", "x", "x$y", "y", "é_1"]
        );
    }

    #[test]
    fn needs_follow_plain_field_chains() {
        let need = |source: &str| {
            let program = JsonataCore::compile(source, Dialect::StepFunctions).unwrap();
            program.needs.get("states").cloned()
        };
        let fields = |pairs: Vec<(&str, Need)>| {
            Need::Fields(pairs.into_iter().map(|(k, n)| (k.to_owned(), n)).collect())
        };
        assert_eq!(
            need("$states.input.a & $states.input.b.c"),
            Some(fields(vec![(
                "input",
                fields(vec![
                    ("a", Need::Whole),
                    ("b", fields(vec![("c", Need::Whole)]))
                ])
            )]))
        );
        assert_eq!(
            need("$states.input[0].x"),
            Some(fields(vec![("input", Need::Whole)]))
        );
        assert_eq!(need("$keys($states)"), Some(Need::Whole));
        assert_eq!(need("$states.input.a.%"), Some(Need::Whole));
    }
}
