//! Immutable JSON shared by reference.
//!
//! The execution input is kept for the whole execution (`$$.Execution.Input`, the history)
//! and is also the first state's input. Holding it once behind an [`Arc`] and handing states
//! a [`SharedJson`] handle to it, instead of a copy, keeps a large input in memory once. Its
//! parts are handles too (the root plus the way down), so `$.records` or a Map item shares
//! its subtree instead of cloning it; nothing ever writes through a handle, so a handle is
//! its own independent copy.

use std::any::Any;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::value::{Foreign, ForeignError, Kind, Value, json_kind};

/// One step from a container to a member.
#[derive(Clone, Debug)]
enum Step {
    Field(String),
    Element(usize),
}

/// A node of an immutable JSON document held by reference.
#[derive(Clone, Debug)]
pub struct SharedJson {
    root: Arc<Json>,
    steps: Vec<Step>,
}

impl SharedJson {
    /// A handle to the whole document.
    pub fn new(root: Arc<Json>) -> SharedJson {
        SharedJson {
            root,
            steps: Vec::new(),
        }
    }

    /// A handle to the whole document, as a state's value.
    pub fn value(root: Arc<Json>) -> Value {
        Value::Foreign(Arc::new(SharedJson::new(root)))
    }

    /// The node this handle points at. The steps were taken from the same immutable
    /// document, so they always lead somewhere; `Null` would only mean a broken handle.
    fn node(&self) -> &Json {
        let mut node = &*self.root;
        for step in &self.steps {
            let next = match (step, node) {
                (Step::Field(k), Json::Object(m)) => m.get(k),
                (Step::Element(i), Json::Array(a)) => a.get(*i),
                _ => None,
            };
            node = next.unwrap_or(&Json::Null);
        }
        node
    }

    /// A member as a value: scalars as JSON, containers as handles.
    fn member(&self, child: &Json, step: Step) -> Value {
        match child {
            Json::Array(_) | Json::Object(_) => {
                let mut steps = self.steps.clone();
                steps.push(step);
                Value::Foreign(Arc::new(SharedJson {
                    root: Arc::clone(&self.root),
                    steps,
                }))
            }
            scalar => Value::Json(scalar.clone()),
        }
    }
}

impl Foreign for SharedJson {
    fn kind(&self) -> Kind {
        json_kind(self.node())
    }

    fn get(&self, key: &str) -> Option<Value> {
        let child = self.node().as_object()?.get(key)?;
        Some(self.member(child, Step::Field(key.to_owned())))
    }

    fn index(&self, index: usize) -> Option<Value> {
        let child = self.node().as_array()?.get(index)?;
        Some(self.member(child, Step::Element(index)))
    }

    fn len(&self) -> Option<usize> {
        match self.node() {
            Json::Array(a) => Some(a.len()),
            Json::Object(m) => Some(m.len()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<String> {
        self.node()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn to_json(&self) -> Result<Json, ForeignError> {
        Ok(self.node().clone())
    }

    fn as_json(&self) -> Option<&Json> {
        Some(self.node())
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), ForeignError> {
        serde_json::to_writer(out, self.node()).map_err(|e| ForeignError::NotJson(e.to_string()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn detach(&self) -> Result<Value, ForeignError> {
        // Nothing writes through a handle: sharing it is as good as a copy.
        Ok(Value::Foreign(Arc::new(self.clone())))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_are_handles_into_the_same_document() {
        let root = Arc::new(json!({"a": {"b": [1, {"c": "x"}]}, "n": 2}));
        let v = SharedJson::value(Arc::clone(&root));
        let b = v.get("a").unwrap().get("b").unwrap();
        assert!(matches!(b, Value::Foreign(_)));
        assert_eq!(b.len(), Some(2));
        assert_eq!(b.index(0).unwrap().as_json(), Some(&json!(1)));
        let c = b.index(1).unwrap();
        assert_eq!(c.as_json(), Some(&json!({"c": "x"})));
        assert_eq!(v.get("n").unwrap().as_json(), Some(&json!(2)));
        assert!(v.get("missing").is_none());
        assert!(b.index(5).is_none());
        assert_eq!(v.kind(), Kind::Object);
        assert_eq!(v.to_json().unwrap(), *root);
        let mut text = Vec::new();
        c.write_json(&mut text).unwrap();
        assert_eq!(text, br#"{"c":"x"}"#);
        // Three handles and the test's own: the document was never copied.
        assert!(Arc::strong_count(&root) >= 2);
    }

    #[test]
    fn detach_shares_the_document() {
        let root = Arc::new(json!([1, 2]));
        let v = SharedJson::value(Arc::clone(&root)).detach().unwrap();
        assert_eq!(v.to_json().unwrap(), json!([1, 2]));
        assert_eq!(Arc::strong_count(&root), 2);
    }
}
