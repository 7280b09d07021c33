//! Questions about a parsed expression: is it a plain variable read, which nodes does it
//! hold, which parts of a variable can it read. Walks use a heap stack: an AST nests as deep
//! as its source text is long.

use std::collections::BTreeMap;

use jsonata_core::ast::{AstNode, PathStep, Stage};

use crate::VariablePath;

/// A step that only names a field: no predicate, binding or tuple mark.
fn plain(step: &PathStep) -> bool {
    step.stages.is_empty()
        && step.focus.is_none()
        && step.index_var.is_none()
        && step.ancestor_label.is_none()
        && !step.is_tuple
        && !step.inner_tuple
}

/// `$name` alone, or a path of a `$name` step and plain field steps.
pub(super) fn variable_path_of(ast: &AstNode) -> Option<VariablePath> {
    let named = |name: &String| (!name.is_empty()).then(|| name.clone());
    match ast {
        AstNode::Variable(name) => Some(VariablePath {
            variable: named(name)?,
            fields: Vec::new(),
        }),
        AstNode::Path { steps } => {
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

/// Whether any node of `ast` satisfies `wanted`.
pub(super) fn any_node(ast: &AstNode, mut wanted: impl FnMut(&AstNode) -> bool) -> bool {
    let mut pending = vec![ast];
    while let Some(node) = pending.pop() {
        if wanted(node) {
            return true;
        }
        push_children(node, &mut pending);
    }
    false
}

/// The parts of a variable's value an expression can read.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Need {
    /// Nothing: the expression never reads the variable.
    #[default]
    Nothing,
    /// All of it.
    Whole,
    /// Only these fields (of the value, or of each object in it if it is an array), each
    /// with what is read of it.
    Fields(BTreeMap<String, Need>),
}

impl Need {
    /// Adds a read of `path` (a chain of field names) of all that lies below it.
    fn add(&mut self, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            *self = Need::Whole;
            return;
        };
        match self {
            Need::Whole => {}
            Need::Nothing => {
                let mut fields = BTreeMap::new();
                Need::Nothing.add_into(&mut fields, first, rest);
                *self = Need::Fields(fields);
            }
            Need::Fields(fields) => Need::Nothing.add_into(fields, first, rest),
        }
    }

    fn add_into(self, fields: &mut BTreeMap<String, Need>, first: &str, rest: &[&str]) {
        fields.entry(first.to_owned()).or_insert(self).add(rest);
    }
}

/// What `ast` can read of the variable `$name`: the field chains of the paths that start at
/// it, or the whole value when it is used any other way. A `%` (parent) anywhere makes it
/// the whole value, since a parent step climbs back out of the part a path selected.
pub(super) fn variable_need(ast: &AstNode, name: &str) -> Need {
    if any_node(ast, |node| matches!(node, AstNode::Parent(_))) {
        return Need::Whole;
    }
    let mut need = Need::Nothing;
    let mut pending = vec![ast];
    while let Some(node) = pending.pop() {
        match node {
            AstNode::Variable(v) if v == name => return Need::Whole,
            AstNode::Path { steps } => {
                if let Some((first, rest)) = steps.split_first()
                    && matches!(&first.node, AstNode::Variable(v) if v == name)
                {
                    if !plain(first) {
                        return Need::Whole;
                    }
                    // Field names up to and including the first step that does more than
                    // name a field; what lies below that step is read whole.
                    let mut path = Vec::new();
                    for step in rest {
                        let AstNode::Name(field) = &step.node else {
                            break;
                        };
                        path.push(field.as_str());
                        if !plain(step) {
                            break;
                        }
                    }
                    need.add(&path);
                    // The rest of the path may read the variable again (in a predicate).
                    push_path_children(steps, 1, &mut pending);
                    push_stages(first, &mut pending);
                    continue;
                }
                push_children(node, &mut pending);
            }
            other => push_children(other, &mut pending),
        }
        if need == Need::Whole {
            return need;
        }
    }
    need
}

fn push_stages<'a>(step: &'a PathStep, pending: &mut Vec<&'a AstNode>) {
    pending.extend(step.stages.iter().filter_map(|stage| match stage {
        Stage::Filter(filter) => Some(&**filter),
        Stage::KeepArray | Stage::Index(_) => None,
    }));
}

fn push_path_children<'a>(steps: &'a [PathStep], from: usize, pending: &mut Vec<&'a AstNode>) {
    for step in steps.iter().skip(from) {
        pending.push(&step.node);
        push_stages(step, pending);
    }
}

/// Calls `visit` on every node of `ast`, parents before their children (a node `visit`
/// rewrites is then walked as rewritten).
pub(super) fn for_each_node_mut(ast: &mut AstNode, mut visit: impl FnMut(&mut AstNode)) {
    let mut pending = vec![ast];
    while let Some(node) = pending.pop() {
        visit(node);
        push_children_mut(node, &mut pending);
    }
}

/// The nodes directly below a node, for reading (`push_children`) and for writing
/// (`push_children_mut`): one walk, written once, with `iter`/`iter_mut` and
/// `as_deref`/`as_deref_mut` as the only difference.
macro_rules! children {
    ($name:ident, $($mut:ident)?; $iter:ident, $as_deref:ident) => {
        fn $name<'a>(node: &'a $($mut)? AstNode, pending: &mut Vec<&'a $($mut)? AstNode>) {
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
                        pending.push(& $($mut)? step.node);
                        pending.extend(step.stages.$iter().filter_map(|stage| match stage {
                            Stage::Filter(filter) => Some(& $($mut)? **filter),
                            Stage::KeepArray | Stage::Index(_) => None,
                        }));
                    }
                }
                AstNode::Binary { lhs, rhs, .. } => {
                    pending.extend([& $($mut)? **lhs, & $($mut)? **rhs]);
                }
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
                AstNode::Object(pairs) => pending.extend(pairs.$iter().flat_map(|(k, v)| [k, v])),
                AstNode::ObjectTransform { input, pattern } => {
                    pending.push(input);
                    pending.extend(pattern.$iter().flat_map(|(k, v)| [k, v]));
                }
                AstNode::Conditional {
                    condition,
                    then_branch,
                    else_branch,
                } => {
                    pending.extend([& $($mut)? **condition, & $($mut)? **then_branch]);
                    pending.extend(else_branch.$as_deref());
                }
                AstNode::FunctionApplication(inner) => pending.push(inner),
                AstNode::Sort { input, terms } => {
                    pending.push(input);
                    pending.extend(terms.$iter().map(|(term, _)| term));
                }
                AstNode::Transform {
                    location,
                    update,
                    delete,
                } => {
                    pending.extend([& $($mut)? **location, & $($mut)? **update]);
                    pending.extend(delete.$as_deref());
                }
            }
        }
    };
}

children!(push_children,; iter, as_deref);
children!(push_children_mut, mut; iter_mut, as_deref_mut);
