//! Backend builtins that panic on some arguments, called through a guard.
//!
//! jsonata-core 2.2.13 panics inside `$fromMillis`, `$toMillis` and `$parseInteger` on
//! arguments any client can write (see [`super::datetime`] and [`super::parse_integer`]).
//! faastlane contains a panic as `U1000`, but an expression must get JSONata's answer, not
//! an internal error. So each of these calls goes through a guard that looks at the
//! arguments first (refusing, rewriting or answering what the builtin cannot take) and then
//! calls the builtin itself, in an evaluator of its own.
//!
//! The guard has to see what the builtin would see, and a builtin's signature can take the
//! context item as its first argument (`$fromMillis()` inside a path formats the value at
//! hand), which a host function is never given. So at compile time every call `$name(...)`
//! of a guarded builtin becomes `$__faastlane_name($, ...)`: the guard gets the context as
//! its first argument and evaluates the builtin's call with it as the input, where the
//! builtin inserts it exactly as it would have. The names are also overridden directly, for
//! the uses the rewrite cannot see: a builtin passed as a value (`$map(xs, $fromMillis)`), a
//! partial application, `$eval`. Where the expression or its bindings give one of these names
//! a meaning of its own, the rewrite would bypass it, so such an expression keeps its calls
//! as they are and only the direct overrides (which bindings shadow) guard them.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use jsonata_core::ast::{AstNode, BinaryOp};
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions, HostFnResult};
use jsonata_core::parser;
use jsonata_core::value::JValue;

use super::ast::{any_node, for_each_node_mut};
use super::{datetime, parse_integer, signature};

/// A guarded builtin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    FromMillis,
    ToMillis,
    ParseInteger,
}

impl Builtin {
    pub(super) const ALL: [Builtin; 3] = [
        Builtin::FromMillis,
        Builtin::ToMillis,
        Builtin::ParseInteger,
    ];

    /// The name expressions call it by.
    pub(super) fn name(self) -> &'static str {
        match self {
            Builtin::FromMillis => "fromMillis",
            Builtin::ToMillis => "toMillis",
            Builtin::ParseInteger => "parseInteger",
        }
    }

    /// The name rewritten calls use: it takes the context item first.
    pub(super) fn host_name(self) -> &'static str {
        match self {
            Builtin::FromMillis => "__faastlane_fromMillis",
            Builtin::ToMillis => "__faastlane_toMillis",
            Builtin::ParseInteger => "__faastlane_parseInteger",
        }
    }

    /// Runs the builtin on `args` with `context` as the context item, guarded.
    pub(super) fn call(self, context: &JValue, args: &[JValue]) -> HostFnResult {
        match self {
            Builtin::FromMillis => datetime::from_millis(context, args),
            Builtin::ToMillis => datetime::to_millis(context, args),
            Builtin::ParseInteger => parse_integer::parse_integer(context, args),
        }
    }
}

/// Whether `ast` gives `name` a meaning of its own: assigns `$name`, takes it as a lambda's
/// parameter, or binds it as a path's focus or position variable.
fn binds(ast: &AstNode, name: &str) -> bool {
    any_node(ast, |node| match node {
        AstNode::Binary {
            op: BinaryOp::ColonEqual,
            lhs,
            ..
        } => matches!(&**lhs, AstNode::Variable(v) if v == name),
        AstNode::Lambda { params, .. } => params.iter().any(|p| p == name),
        AstNode::Path { steps } => steps.iter().any(|step| {
            step.focus.as_deref() == Some(name) || step.index_var.as_deref() == Some(name)
        }),
        _ => false,
    })
}

/// `ast` with every call of a guarded builtin it can rewrite (not one on the right of `~>`)
/// made a call of the guard that takes the context item first, and (`eval`: plain JSONata's
/// `$eval`) every expression text given to `$eval` checked first ([`check_eval`]); `None`
/// when there is nothing to rewrite.
pub(super) fn rewrite_calls(ast: &AstNode, eval: bool) -> Option<AstNode> {
    let rewritable: Vec<Builtin> = Builtin::ALL
        .into_iter()
        .filter(|b| !binds(ast, b.name()))
        .collect();
    let eval = eval && !binds(ast, "eval");
    let rewrites = |node: &AstNode| match node {
        AstNode::Function {
            name,
            is_builtin: true,
            args,
        } => {
            rewritable.iter().any(|b| b.name() == name)
                || (eval && name == "eval" && !args.is_empty())
        }
        _ => false,
    };
    if !any_node(ast, rewrites) {
        return None;
    }
    let mut rewritten = ast.clone();
    // `x ~> $f(a)` calls `$f(x, a)`: the evaluator puts the left side first, where the
    // context would go, so such a call stays as written (its guard, the direct override,
    // is given every argument).
    let mut piped: HashSet<*const AstNode> = HashSet::new();
    any_node(&rewritten, |node| {
        if let AstNode::Binary {
            op: BinaryOp::ChainPipe,
            rhs,
            ..
        } = node
        {
            piped.insert(&**rhs);
        }
        false
    });
    for_each_node_mut(&mut rewritten, |node| {
        if piped.contains(&(&raw const *node)) {
            return;
        }
        let AstNode::Function {
            name,
            args,
            is_builtin: true,
        } = node
        else {
            return;
        };
        if let Some(builtin) = rewritable.iter().find(|b| b.name() == name.as_str()) {
            *name = builtin.host_name().to_string();
            args.insert(0, AstNode::Variable(String::new()));
        } else if eval && name == "eval" && !args.is_empty() {
            let text = std::mem::replace(&mut args[0], AstNode::Null);
            args[0] = AstNode::Function {
                name: CHECK_EVAL.to_string(),
                args: vec![text],
                is_builtin: true,
            };
        }
    });
    Some(rewritten)
}

/// The host function rewritten `$eval` calls pass their text through.
const CHECK_EVAL: &str = "__faastlane_checkEval";

/// `$eval`'s text as given, unless the backend would panic parsing it ([`signature`]): then
/// the error `$eval` gives a text that does not parse. The backend evaluates what passes in
/// the caller's own evaluator, with the caller's variables, as `$eval` must.
fn check_eval(args: &[JValue]) -> HostFnResult {
    match args.first() {
        Some(JValue::String(text)) => match signature::check(text) {
            Ok(()) => Ok(JValue::String(text.clone())),
            Err(e) => Err(coded(
                "D3120",
                format!(
                    "The expression passed to $eval cannot be parsed: {}",
                    e.message
                ),
            )),
        },
        Some(other) => Ok(other.clone()),
        None => Ok(JValue::Undefined),
    }
}

/// Registers the guards: under each builtin's own name (arguments as given, no context) and
/// under the name rewritten calls use (context first).
pub(super) fn install(evaluator: &mut Evaluator, wanted: impl Fn(&str) -> bool) {
    if wanted("eval") {
        let checked = evaluator.register_fn(CHECK_EVAL, check_eval);
        debug_assert!(checked.is_ok());
    }
    for builtin in Builtin::ALL {
        if !wanted(builtin.name()) {
            continue;
        }
        // Neither name can be taken: the builtins are not of the compiled fast path (the
        // only ones the backend refuses to override), and the host names are not builtins.
        let direct = evaluator.register_fn_override(builtin.name(), move |args: &[JValue]| {
            builtin.call(&JValue::Undefined, args)
        });
        let rewritten = evaluator.register_fn(builtin.host_name(), move |args: &[JValue]| {
            let (context, args) = args.split_first().unwrap_or((&JValue::Undefined, &[]));
            builtin.call(context, args)
        });
        debug_assert!(direct.is_ok() && rewritten.is_ok(), "{}", builtin.name());
    }
}

thread_local! {
    /// `$name($a0, ..., $aN)` for each builtin and number of arguments, parsed once.
    static CALLS: RefCell<HashMap<(&'static str, usize), Rc<AstNode>>> =
        RefCell::new(HashMap::new());
}

/// The unguarded builtin `name` on `args`, with `context` as the context item, evaluated
/// the way the expression would have evaluated it.
pub(super) fn call_builtin(name: &'static str, context: &JValue, args: &[JValue]) -> HostFnResult {
    let call = CALLS.with(|calls| {
        if let Some(call) = calls.borrow().get(&(name, args.len())) {
            return Ok(Rc::clone(call));
        }
        let params: Vec<String> = (0..args.len()).map(|i| format!("$a{i}")).collect();
        let call = Rc::new(
            parser::parse(&format!("${name}({})", params.join(", "))).map_err(|e| {
                EvaluatorError::EvaluationError(format!("U1000: the call of ${name}: {e}"))
            })?,
        );
        calls
            .borrow_mut()
            .insert((name, args.len()), Rc::clone(&call));
        Ok::<_, EvaluatorError>(call)
    })?;
    let mut bound = Context::new();
    for (i, arg) in args.iter().enumerate() {
        // An undefined argument stays unbound: reading `$aI` gives undefined, as the
        // argument did.
        if !arg.is_undefined() {
            bound.bind(format!("a{i}"), arg.clone());
        }
    }
    Evaluator::with_options(bound, EvaluatorOptions::default()).evaluate(&call, context)
}

/// An error with a JSONata code, as a builtin raises it.
pub(super) fn coded(code: &str, message: impl std::fmt::Display) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!("{code}: {message}"))
}
