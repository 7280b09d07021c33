//! The seam between faastlane and the crate that implements JSONata.
//!
//! [`Backend`] is all the rest of this crate knows of an evaluator; [`Active`] names the one
//! in use. Today that is `jsonata-core`, chosen because it passes the official JSONata test
//! suite (measured by `tests/suite.rs`); a replacement implements the trait and nothing else
//! changes. Only this file names `jsonata_core`.

use std::rc::Rc;

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions, HostFnResult};
use jsonata_core::parser::{self, Lexer, ParserError, Token};
use jsonata_core::value::{JArray, JMap, JValue};
use serde_json::{Map, Value};

use crate::bindings::NativeFunction;
use crate::dialect::Dialect;
use crate::{Bindings, Error, VariablePath, aws, number};

/// What the crate needs of a JSONata implementation.
pub(crate) trait Backend {
    /// A compiled expression; shared by every thread that evaluates it.
    type Program: Send + Sync;

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
pub(crate) struct CoreProgram {
    ast: AstNode,
    dialect: Dialect,
    /// Every `$name` in the source, sorted. Outside `$eval` a variable or function is only
    /// reachable through its name written out, so an evaluation converts and installs only
    /// these: a large binding the expression never reads costs nothing.
    mentions: Vec<String>,
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
        Ok(CoreProgram {
            ast,
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
            context.bind(name.clone(), from_json(value));
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
        let result = evaluator
            .evaluate(&program.ast, &input)
            .map_err(|e| evaluation_error(&e))?;
        Ok(to_json(&result))
    }

    fn variable_path(program: &Self::Program) -> Option<VariablePath> {
        variable_path_of(&program.ast)
    }
}

/// `$name` alone, or a path of a `$name` step and plain field steps, none of them carrying
/// predicates, bindings or tuple marks.
fn variable_path_of(ast: &AstNode) -> Option<VariablePath> {
    let named = |name: &String| (!name.is_empty()).then(|| name.clone());
    match ast {
        AstNode::Variable(name) => Some(VariablePath {
            variable: named(name)?,
            fields: Vec::new(),
        }),
        AstNode::Path { steps } => {
            let plain = |step: &PathStep| {
                step.stages.is_empty()
                    && step.focus.is_none()
                    && step.index_var.is_none()
                    && step.ancestor_label.is_none()
                    && !step.is_tuple
                    && !step.inner_tuple
            };
            let (first, rest) = steps.split_first()?;
            let AstNode::Variable(name) = &first.node else {
                return None;
            };
            if !plain(first) {
                return None;
            }
            let fields = rest
                .iter()
                .map(|step| match &step.node {
                    AstNode::Name(field) if plain(step) => Some(field.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(VariablePath {
                variable: named(name)?,
                fields,
            })
        }
        _ => None,
    }
}

/// The names after each `$` in `source` (letters, digits, `_`), sorted and deduplicated.
/// Over-approximates (a `$x` inside a string literal counts), never misses a name.
fn mentioned_names(source: &str) -> Vec<String> {
    let mut names: Vec<String> = source
        .split('$')
        .skip(1)
        .map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            rest[..end].to_owned()
        })
        .filter(|name| !name.is_empty())
        .collect();
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

/// Step Functions runs JSONata 2.0.6, whose tokenizer has no `??` or `?:` (JSONata 2.1 added
/// them): there the second character is an operator with nothing before it. Reports that
/// error, with its position, for the first such operator in `source`, which parsed to `ast`.
fn reject_later_operators(source: &str, ast: &AstNode) -> Result<(), Error> {
    let later = |node: &AstNode| {
        matches!(
            node,
            AstNode::Binary {
                op: BinaryOp::Coalesce | BinaryOp::Default,
                ..
            }
        )
    };
    if !(source.contains("??") || source.contains("?:")) || !any_node(ast, later) {
        return Ok(());
    }
    // Where: the first `??`/`?:` token. (A function signature such as `<s?:s>` lexes to one
    // too, but the AST above shows a real operator exists; a signature before it can only
    // misplace the position, never invent the error.)
    let first_later = |end: usize| {
        let mut lexer = Lexer::new(source[..end].to_owned());
        loop {
            match lexer.next_token() {
                Ok(Token::QuestionQuestion) => return Some('?'),
                Ok(Token::QuestionColon) => return Some(':'),
                Ok(Token::Eof) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    let ends: Vec<usize> = source
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    // Shortest prefix holding such a token: its length is where 2.0.6 stops.
    let shortest = ends.partition_point(|&end| first_later(end).is_none());
    let symbol = ends
        .get(shortest)
        .and_then(|&end| first_later(end))
        .unwrap_or('?');
    let mut error = Error::new(
        "S0211",
        format!("The symbol \"{symbol}\" cannot be used as a unary operator"),
    );
    error.position = ends.get(shortest).map(|_| shortest + 1);
    Err(error)
}

/// Whether any node of `ast` satisfies `wanted`; walks with a heap stack, as an AST can nest
/// as deep as its source text is long.
fn any_node(ast: &AstNode, wanted: impl Fn(&AstNode) -> bool) -> bool {
    let mut pending = vec![ast];
    while let Some(node) = pending.pop() {
        if wanted(node) {
            return true;
        }
        match node {
            AstNode::String(_)
            | AstNode::Name(_)
            | AstNode::Number(_)
            | AstNode::Boolean(_)
            | AstNode::Null
            | AstNode::Undefined
            | AstNode::Placeholder
            | AstNode::Regex { .. }
            | AstNode::Variable(_)
            | AstNode::ParentVariable(_)
            | AstNode::Wildcard
            | AstNode::Descendant
            | AstNode::Parent(_) => {}
            AstNode::Path { steps } => {
                for step in steps {
                    pending.push(&step.node);
                    pending.extend(step.stages.iter().filter_map(|stage| match stage {
                        Stage::Filter(filter) => Some(&**filter),
                        Stage::KeepArray | Stage::Index(_) => None,
                    }));
                }
            }
            AstNode::Binary { lhs, rhs, .. } => pending.extend([&**lhs, &**rhs]),
            AstNode::Unary { operand, .. } => pending.push(operand),
            AstNode::Function { args, .. } => pending.extend(args),
            AstNode::Call { procedure, args } => {
                pending.push(procedure);
                pending.extend(args);
            }
            AstNode::Lambda { body, .. } => pending.push(body),
            AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
                pending.extend(items);
            }
            AstNode::Object(pairs) => pending.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
            AstNode::ObjectTransform { input, pattern } => {
                pending.push(input);
                pending.extend(pattern.iter().flat_map(|(k, v)| [k, v]));
            }
            AstNode::Conditional {
                condition,
                then_branch,
                else_branch,
            } => {
                pending.extend([&**condition, &**then_branch]);
                pending.extend(else_branch.as_deref());
            }
            AstNode::FunctionApplication(inner) => pending.push(inner),
            AstNode::Sort { input, terms } => {
                pending.push(input);
                pending.extend(terms.iter().map(|(term, _)| term));
            }
            AstNode::Transform {
                location,
                update,
                delete,
            } => {
                pending.extend([&**location, &**update]);
                pending.extend(delete.as_deref());
            }
        }
    }
    false
}

/// Codes of a parse that failed only because the text stopped early.
const END_OF_TEXT_CODES: &[&str] = &["S0101", "S0105", "S0106", "S0203", "S0207"];

/// [`syntax_error`] with JSONata's `position`: the offset (in characters) just past the token
/// where parsing failed. The backend reports none, so it is found as the shortest prefix of
/// `source` that fails the same way for a reason other than ending early; `None` when no
/// prefix does (an error found only after the whole text was read).
fn located_syntax_error(source: &str, e: &ParserError) -> Error {
    let mut error = syntax_error(e);
    let ends: Vec<usize> = source
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    let fails_early = |&end: &usize| match parser::parse(&source[..end]) {
        Ok(_) => false,
        Err(e) => !END_OF_TEXT_CODES.contains(&syntax_error(&e).code.as_str()),
    };
    // Failing is (nearly) monotonic in the prefix length: a parser reading left to right
    // that fails on a prefix fails on every longer one.
    let shortest = ends.partition_point(|end| !fails_early(end));
    if let Some(&end) = ends.get(shortest) {
        let at_prefix = parser::parse(&source[..end])
            .err()
            .map(|e| syntax_error(&e));
        if at_prefix.is_some_and(|p| p.code == error.code) {
            error.position = Some(shortest + 1);
        }
    }
    error
}

fn syntax_error(e: &ParserError) -> Error {
    // The one parse error the backend reports without JSONata's code.
    let fallback = match e {
        ParserError::UnclosedComment => "S0106",
        _ => "S0201",
    };
    Error::from_coded_message(&e.to_string(), fallback)
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

/// A JSON value as JSONata's, without the intermediate copy `JValue::from(Value)` needs.
fn from_json(value: &Value) -> JValue {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(
                items.iter().map(from_json).collect(),
                flat,
            ))
        }
        Value::Object(fields) => JValue::Object(Rc::new(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<JMap>(),
        )),
    })
}

/// JSONata's value as JSON, `None` for undefined. Functions are dropped from objects and are
/// `null` in arrays, as `JSON.stringify` has them. Recursion grows the stack on the heap when
/// deep: a result can nest as deep as the evaluation that built it.
fn to_json(value: &JValue) -> Option<Value> {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || to_json_shallow(value))
}

fn to_json_shallow(value: &JValue) -> Option<Value> {
    Some(match value {
        JValue::Undefined | JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => {
            return None;
        }
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number::to_json(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| to_json(v).unwrap_or(Value::Null))
                .collect(),
        ),
        JValue::Object(fields) => Value::Object(
            fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), to_json(v)?)))
                .collect::<Map<_, _>>(),
        ),
    })
}
