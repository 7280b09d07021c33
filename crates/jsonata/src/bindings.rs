//! What one evaluation sees besides its input: variables, native functions and limits.

use std::sync::Arc;

use serde_json::Value;

use crate::{Error, Limits};

/// A function supplied by the host, called as `$name(...)`. Each argument is `None` when it
/// evaluated to `undefined`; returning `Ok(None)` makes the call undefined.
pub type NativeFunction =
    Arc<dyn Fn(&[Option<Value>]) -> Result<Option<Value>, Error> + Send + Sync>;

/// Variables (`$name`) and native functions for one evaluation, plus its [`Limits`].
#[derive(Clone, Default)]
pub struct Bindings {
    pub(crate) values: Vec<(String, Value)>,
    pub(crate) functions: Vec<(String, NativeFunction)>,
    pub(crate) limits: Limits,
}

impl Bindings {
    /// No variables, default [`Limits`].
    pub fn new() -> Bindings {
        Bindings::default()
    }

    /// Binds `$name` (a leading `$` in `name` is optional) to `value`, replacing an earlier
    /// binding of the same name.
    pub fn insert(&mut self, name: &str, value: Value) {
        let name = bare(name);
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.values.push((name.to_owned(), value)),
        }
    }

    /// The value bound to `$name`, if any.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let name = bare(name);
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Makes `$name(...)` call `function`. A name of JSONata's library is an error at
    /// evaluation (`D3200`), so an expression can never mean two things.
    pub fn insert_function(
        &mut self,
        name: &str,
        function: impl Fn(&[Option<Value>]) -> Result<Option<Value>, Error> + Send + Sync + 'static,
    ) {
        let name = bare(name).to_owned();
        self.functions.retain(|(n, _)| *n != name);
        self.functions.push((name, Arc::new(function)));
    }

    /// Replaces the bounds on time and depth.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The bounds on time and depth in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

impl std::fmt::Debug for Bindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bindings")
            .field("values", &self.values)
            .field(
                "functions",
                &self.functions.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .finish()
    }
}

fn bare(name: &str) -> &str {
    name.strip_prefix('$').unwrap_or(name)
}
