//! Walks over a state machine and the machines nested in its Parallel and Map states: the
//! position that names a state to both a parent and a worker process ([`state_index`],
//! [`nth_state`]), and every Task's function for `Engine::prepare` ([`task_functions`]).
//!
//! Nothing here runs a state; the driver in `mod.rs` re-exports these for the rest of the
//! crate.

use asl::model::{State, StateKind, StateMachine};

use super::task::task_function;

/// Every Task's function, with the state path naming it, for
/// [`Engine::prepare`](crate::Engine::prepare).
pub(crate) fn task_functions(machine: &StateMachine) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect_functions(machine, "", &mut out);
    out
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
pub(crate) fn state_index(root: &StateMachine, target: &State) -> Option<usize> {
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
pub(crate) fn nth_state(root: &StateMachine, index: usize) -> Option<&State> {
    let mut found = None;
    walk_states(root, &mut 0, &mut |i, s| {
        if i == index {
            found = Some(s);
        }
        found.is_some()
    });
    found
}

fn collect_functions(machine: &StateMachine, prefix: &str, out: &mut Vec<(String, String)>) {
    for state in machine.states.values() {
        let path = format!("{prefix}{}", state.name);
        match &state.kind {
            StateKind::Task(_) => {
                if let Some(function) = task_function(state) {
                    out.push((path, function));
                }
            }
            StateKind::Parallel(par) => {
                for (i, branch) in par.branches.iter().enumerate() {
                    collect_functions(branch, &format!("{path}/{i}/"), out);
                }
            }
            StateKind::Map(map) => collect_functions(&map.processor, &format!("{path}/"), out),
            _ => {}
        }
    }
}
