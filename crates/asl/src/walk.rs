//! Walks over a state machine and the machines nested in its Parallel and Map states: the
//! position that names a state to both a parent and a worker process ([`state_index`],
//! [`nth_state`]), every Task's function ([`task_functions`], for a runtime to load them
//! before a run) and the function one Task calls ([`task_function`], for the engine's
//! planner). Beside the model, so that the engine's interpreter and its planner both read
//! them here rather than from each other.

use serde_json::Value as Json;

use crate::model::{Invocation, State, StateKind, StateMachine};
use crate::template::Template;

/// Every Task's function, with the state path naming it, for
/// `Engine::prepare`.
pub fn task_functions(machine: &StateMachine) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect_functions(machine, "", &|_| true, &mut out);
    out
}

/// The functions some Task names by a plain name (`"Resource": "resize"`), not by a Lambda
/// ARN or a `lambda:invoke` FunctionName: names AWS would not accept, which the engine
/// requires to exist before a run.
pub fn plain_task_functions(machine: &StateMachine) -> Vec<String> {
    let mut out = Vec::new();
    let plain = |state: &State| match &state.kind {
        StateKind::Task(task) => {
            matches!(task.resource.invocation, Invocation::Direct { .. })
                && !task.resource.arn.starts_with("arn:")
        }
        _ => false,
    };
    collect_functions(machine, "", &plain, &mut out);
    out.into_iter().map(|(_, f)| f).collect()
}

/// Whether any state of `machine` or its nested machines is a Task.
pub fn has_tasks(machine: &StateMachine) -> bool {
    let mut found = false;
    walk_states(machine, &mut 0, &mut |_, s| {
        found = matches!(s.kind, StateKind::Task(_));
        found
    });
    found
}

/// Calls `f` on every state of `machine` and its nested machines, in a fixed pre-order
/// (states in definition order, a Parallel's branches, a Map's processor), until it returns
/// `true`. Parent and worker processes name a state by its position in this walk.
fn walk_states<'m>(
    machine: &'m StateMachine,
    count: &mut usize,
    f: &mut dyn FnMut(usize, &'m State) -> bool,
) -> bool {
    for state in machine.states.values() {
        let i = *count;
        *count += 1;
        if f(i, state) {
            return true;
        }
        let found = match &state.kind {
            StateKind::Parallel(par) => par.branches.iter().any(|b| walk_states(b, count, f)),
            StateKind::Map(map) => walk_states(&map.processor, count, f),
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// The position of `target` (compared by address) in the walk of [`walk_states`].
pub fn state_index(root: &StateMachine, target: &State) -> Option<usize> {
    let mut found = None;
    walk_states(root, &mut 0, &mut |i, s| {
        if std::ptr::eq(s, target) {
            found = Some(i);
        }
        found.is_some()
    });
    found
}

/// The state at position `index` of the walk of [`walk_states`].
pub fn nth_state(root: &StateMachine, index: usize) -> Option<&State> {
    let mut found = None;
    walk_states(root, &mut 0, &mut |i, s| {
        if i == index {
            found = Some(s);
        }
        found.is_some()
    });
    found
}

fn collect_functions(
    machine: &StateMachine,
    prefix: &str,
    keep: &dyn Fn(&State) -> bool,
    out: &mut Vec<(String, String)>,
) {
    for state in machine.states.values() {
        let path = format!("{prefix}{}", state.name);
        match &state.kind {
            StateKind::Task(_) => {
                if let Some(function) = task_function(state).filter(|_| keep(state)) {
                    out.push((path, function));
                }
            }
            StateKind::Parallel(par) => {
                for (i, branch) in par.branches.iter().enumerate() {
                    collect_functions(branch, &format!("{path}/{i}/"), keep, out);
                }
            }
            StateKind::Map(map) => {
                collect_functions(&map.processor, &format!("{path}/"), keep, out)
            }
            _ => {}
        }
    }
}

/// The function a Task state calls, when it is known before the state runs (a
/// `lambda:invoke` with a `FunctionName` path is not).
pub fn task_function(state: &State) -> Option<String> {
    let StateKind::Task(task) = &state.kind else {
        return None;
    };
    match &task.resource.invocation {
        Invocation::Direct { function, .. } => Some(function.clone()),
        Invocation::LambdaInvoke => {
            if let Some(Template::Object(fields)) = &state.parameters
                && let Some((_, Template::Literal(Json::String(name)))) =
                    fields.iter().find(|(k, _)| k == "FunctionName")
            {
                Some(parse_function_name(name).0)
            } else {
                None
            }
        }
    }
}

/// Splits a Lambda FunctionName (`name`, `name:alias`, `ACCOUNT:function:name[:q]`, a full
/// ARN) into the function and its qualifier.
pub fn parse_function_name(raw: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = raw.split(':').collect();
    let after_function = parts
        .iter()
        .position(|p| *p == "function")
        .map(|i| &parts[i + 1..]);
    let rest: &[&str] = match after_function {
        Some(rest) => rest,
        None => &parts,
    };
    match rest {
        [name] => (name.to_string(), None),
        [name, qualifier, ..] => (name.to_string(), Some(qualifier.to_string())),
        [] => (raw.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_spelling() {
        assert_eq!(parse_function_name("resize"), ("resize".into(), None));
        assert_eq!(
            parse_function_name("resize:prod"),
            ("resize".into(), Some("prod".into()))
        );
        assert_eq!(
            parse_function_name("123456789012:function:resize"),
            ("resize".into(), None)
        );
        assert_eq!(
            parse_function_name("arn:aws:lambda:us-east-1:123456789012:function:resize:7"),
            ("resize".into(), Some("7".into()))
        );
    }
}
