//! Native Rust functions: a registry of closures, for the library API, tests and benchmarks.

use std::collections::HashMap;
use std::sync::Arc;

use asl::{StatesError, Value};

use crate::runtime::{Call, PrepareError, Runtime, TaskFailure};

type NativeFn = dyn Fn(&Call<'_>, Value) -> Result<Value, StatesError> + Send + Sync;

/// A runtime whose functions are Rust closures.
#[derive(Clone, Default)]
pub struct NativeRuntime {
    functions: HashMap<String, Arc<NativeFn>>,
}

impl NativeRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name`; an `Err` from the closure is the task's error (name and cause).
    pub fn register<F>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(&Call<'_>, Value) -> Result<Value, StatesError> + Send + Sync + 'static,
    {
        self.functions.insert(name.into(), Arc::new(f));
        self
    }

    /// Builder form of [`NativeRuntime::register`].
    pub fn with<F>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(&Call<'_>, Value) -> Result<Value, StatesError> + Send + Sync + 'static,
    {
        self.register(name, f);
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }
}

impl Runtime for NativeRuntime {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        functions
            .iter()
            .filter(|f| !self.functions.contains_key(**f))
            .map(|f| {
                PrepareError::not_found(*f, format!("no native function named '{f}' is registered"))
            })
            .collect()
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let f = self
            .functions
            .get(call.function)
            .ok_or_else(|| call.function_not_found())?;
        f(call, input).map_err(TaskFailure::Function)
    }
}
