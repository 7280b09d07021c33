//! Expressions that only read a variable's field, like `{% $states.result %}` or
//! `{% $states.input.order.id %}`: the engine can answer these without JSONata, keeping the
//! state by reference instead of converting it to JSON and back.

use serde_json::Value;

/// `$variable.field1.field2...` with plain field names and nothing else (no predicates,
/// wildcards, functions or operators).
///
/// Its value is the last field's value as it is, or undefined when a field is missing, as
/// long as the variable's value and every field passed through on the way are objects. An
/// array along the way makes JSONata map over it, and a string or number yields undefined in
/// ways best left to JSONata: [`VariablePath::resolve`] says when the shortcut holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariablePath {
    /// The variable's name, without `$`.
    pub variable: String,
    /// The fields read in turn, possibly none.
    pub fields: Vec<String>,
}

/// What following a [`VariablePath`] through a value found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// The expression's value: this one, or undefined (`None`).
    Value(Option<&'a Value>),
    /// A non-object was passed through: evaluate the expression instead.
    NeedsEvaluation,
}

impl VariablePath {
    /// Follows the fields from `value`, the variable's value.
    pub fn resolve<'a>(&self, value: &'a Value) -> Resolved<'a> {
        let mut current = value;
        for field in &self.fields {
            let Value::Object(fields) = current else {
                return Resolved::NeedsEvaluation;
            };
            match fields.get(field) {
                Some(next) => current = next,
                None => return Resolved::Value(None),
            }
        }
        Resolved::Value(Some(current))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Bindings, Expression};

    fn path_of(source: &str) -> Option<VariablePath> {
        Expression::compile(source)
            .unwrap()
            .variable_path()
            .cloned()
    }

    #[test]
    fn only_plain_field_reads_are_variable_paths() {
        assert_eq!(
            path_of("$states.result.`a b`"),
            Some(VariablePath {
                variable: "states".into(),
                fields: vec!["result".into(), "a b".into()],
            })
        );
        assert_eq!(path_of("$x").map(|p| p.fields.len()), Some(0));
        for other in [
            "$states.input[0]",
            "$x.a[]",
            "$x.*",
            "$.a",
            "$$.a",
            "a.b",
            "$x.a + 1",
            "$f()",
            "$x.a@$y",
            "$x.a#$i",
            "$x.(a)",
        ] {
            assert_eq!(path_of(other), None, "{other}");
        }
    }

    /// The shortcut agrees with the evaluator wherever it claims to hold.
    #[test]
    fn resolving_agrees_with_evaluation() {
        let x = json!({"a": {"b": [[1, 2], [3]], "c": [1], "d": [], "n": null, "s": "str"}, "t": [{"u": 1}]});
        let mut bindings = Bindings::new();
        bindings.insert("x", x.clone());
        let mut shortcuts = 0;
        for source in [
            "$x",
            "$x.a",
            "$x.a.b",
            "$x.a.c",
            "$x.a.d",
            "$x.a.n",
            "$x.a.s",
            "$x.a.missing",
            "$x.missing.b",
            "$x.a.s.length",
            "$x.t.u",
            "$x.a.b.c",
        ] {
            let expression = Expression::compile(source).unwrap();
            let path = expression.variable_path().expect("a variable path");
            let evaluated = expression.evaluate(None, &bindings).unwrap();
            if let Resolved::Value(found) = path.resolve(&x) {
                shortcuts += 1;
                assert_eq!(found.cloned(), evaluated, "{source}");
            }
        }
        assert_eq!(shortcuts, 9);
    }
}
