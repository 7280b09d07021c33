//! MPK isolation: a protection domain per sensitive function, entered around each call.
//!
//! What is protected: memory a function keeps in its domain ([`alloc_private`], for native
//! functions) is unreachable from every other function; a touch is reported as
//! `Faastlane.IsolationViolation` naming the function, the domain it touched and the address,
//! fails that Task (and so the execution, unless the workflow catches it), and a faulting
//! write is undone (see `mpk::violation`). What is not: anything in the shared domain (key
//! 0), which is all ordinary heap memory and the values handed from one function to the next.
//! A runtime that routes its heap to the domains (Python, `python_runtime::domains`) plugs in
//! as a [`DomainMemory`]: what its functions allocate while they run is then theirs too.
//!
//! The state a native function returns is in the shared domain already (the engine's values
//! are ordinary heap objects), so a hand-off moves nothing: its cost is the two PKRU writes of
//! the gate (entry and exit) and the registry lookup. A [`DomainMemory`] copies the result
//! into the shared domain at the hand-off (Python: object by object,
//! `python_runtime::domains::hand_off`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

use asl::{StatesError, Value};
use engine::codec::ValueCodec;
use engine::{Call, PrepareError, Runtime, TaskFailure};
use mpk::{DomainId, Domains};

use crate::ISOLATION_VIOLATION;

thread_local! {
    /// The domain of the function running on this thread, while it runs.
    static CURRENT: RefCell<Option<(Arc<Domains>, DomainId)>> = const { RefCell::new(None) };
}

/// `size` bytes of private memory in the protection domain of the function running on this
/// thread (`None` outside an isolated function): other functions cannot reach it. It lives
/// until the function's next call, which starts with its domain scrubbed (zeros).
pub fn alloc_private(size: usize) -> Option<NonNull<u8>> {
    CURRENT.with(|c| {
        let current = c.borrow();
        let (domains, id) = current.as_ref()?;
        domains.alloc(*id, size).ok()
    })
}

/// How a runtime puts the memory its functions allocate into their domains (Python: its
/// allocators routed to a [`mpk::DomainHeap`], `python_runtime::domains`). Called on the
/// thread running the call, in this order.
pub trait DomainMemory: Send + Sync {
    /// Before the gate (every key open).
    fn before_gate(&self);
    /// Inside `id`'s gate, before the function runs: its allocations go to `id`.
    fn enter(&self, id: DomainId);
    /// The function returned; still inside the gate: allocations go to the shared domain.
    fn leave(&self);
    /// The hand-off, still inside the gate: `value` (the function's result, in its domain)
    /// copied into the shared domain, so the next function can read it.
    fn hand_off(&self, value: Value) -> Result<Value, String>;
    /// After the gate.
    fn after_gate(&self);
}

/// A runtime whose sensitive functions each run inside their own protection domain.
pub struct DomainIsolated {
    inner: Arc<dyn Runtime>,
    domains: Arc<Domains>,
    of: HashMap<String, DomainId>,
    memory: Option<Arc<dyn DomainMemory>>,
    /// With `memory`: the one domain the functions not marked sensitive share, so that they
    /// too are kept from the sensitive functions' memory.
    unmarked: Option<DomainId>,
}

impl DomainIsolated {
    /// A domain for each of `functions` (named after it), sharing this process's keys.
    pub fn new(inner: Arc<dyn Runtime>, functions: &[String]) -> Result<Self, mpk::Error> {
        Ok(DomainIsolated::over(
            inner,
            functions,
            Arc::new(Domains::new()?),
        ))
    }

    /// The same over given domains (e.g. [`Domains::unprotected`], to measure or test the
    /// machinery where protection keys are absent).
    pub fn over(inner: Arc<dyn Runtime>, functions: &[String], domains: Arc<Domains>) -> Self {
        let of = functions
            .iter()
            .map(|f| (f.clone(), domains.create(f.clone())))
            .collect();
        DomainIsolated {
            inner,
            domains,
            of,
            memory: None,
            unmarked: None,
        }
    }

    /// The same, with the runtime's memory routed to the domains (`memory`, made over
    /// [`DomainIsolated::domains`]); the functions not marked sensitive share one more
    /// domain. A domain is then never reset: the runtime's objects a function keeps
    /// (module globals, caches) stay valid; its freed memory is zeroed by the runtime's heap.
    pub fn with_memory(mut self, memory: Arc<dyn DomainMemory>) -> Self {
        self.unmarked = Some(self.domains.create("(functions not marked sensitive)"));
        self.memory = Some(memory);
        self
    }

    /// The domains, for a native function to allocate in its own.
    pub fn domains(&self) -> &Arc<Domains> {
        &self.domains
    }

    pub fn domain_of(&self, function: &str) -> Option<DomainId> {
        self.of.get(function).copied()
    }
}

/// "function 'peek' (state 'Peek') read the memory of domain 'keep' at address 0x7f.. (protection
/// key 3, 8 faulting accesses); its result was discarded".
fn violation_cause(call: &Call<'_>, v: &mpk::Violation) -> String {
    let touched = v.touched.as_deref().map_or_else(
        || "memory outside its domain".to_string(),
        |t| format!("the memory of domain '{t}'"),
    );
    let writes = match (v.write, v.writes_kept) {
        (_, true) => "; some of its writes there could not be undone",
        (true, false) => "; its writes there were undone",
        (false, false) => "",
    };
    if std::env::var_os("FAASTLANE_MPK_DEBUG").is_some() {
        eprintln!(
            "mpk: first faulting instruction: {}",
            mpk::violation::describe_code(v.ip)
        );
    }
    format!(
        "function '{}' (state '{}') {} {touched} at address {:#x} (protection key {}, {} faulting accesses); its result was discarded{writes}",
        call.function,
        call.state_name,
        if v.write { "wrote" } else { "read" },
        v.addr,
        v.key,
        v.count,
    )
}

impl DomainIsolated {
    fn run(&self, call: &Call<'_>, input: Value, id: DomainId) -> Result<Value, TaskFailure> {
        let outer = CURRENT.with(|c| c.replace(Some((Arc::clone(&self.domains), id))));
        let result = self.inner.invoke(call, input);
        CURRENT.with(|c| *c.borrow_mut() = outer);
        result
    }

    fn leave(
        &self,
        call: &Call<'_>,
        gate: mpk::Gate<'_>,
        result: Result<Value, TaskFailure>,
    ) -> Result<Value, TaskFailure> {
        match gate.leave() {
            Ok(()) => result,
            // The function's result is thrown away: it may hold what it should not have read.
            Err(v) => Err(TaskFailure::Function(StatesError::new(
                ISOLATION_VIOLATION,
                violation_cause(call, &v),
            ))),
        }
    }
}

impl Runtime for DomainIsolated {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        self.inner.prepare(functions)
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let Some(id) = self.of.get(call.function).copied().or(self.unmarked) else {
            return self.inner.invoke(call, input);
        };
        let entering = |e: mpk::Error| {
            TaskFailure::Runtime(StatesError::runtime(format!(
                "entering the protection domain of function '{}': {e}",
                call.function
            )))
        };
        let Some(memory) = &self.memory else {
            // A call starts with an empty domain: nothing the previous call kept reaches it,
            // and private memory does not grow from call to call.
            self.domains.reset(id).map_err(entering)?;
            let gate = self.domains.enter(id).map_err(entering)?;
            let result = self.run(call, input, id);
            return self.leave(call, gate, result);
        };
        memory.before_gate();
        let gate = match self.domains.enter(id) {
            Ok(gate) => gate,
            Err(e) => {
                memory.after_gate();
                return Err(entering(e));
            }
        };
        memory.enter(id);
        let result = self.run(call, input, id);
        memory.leave();
        let result = result.and_then(|value| {
            memory.hand_off(value).map_err(|e| {
                TaskFailure::Runtime(StatesError::runtime(format!(
                    "handing the result of function '{}' to the shared domain: {e}",
                    call.function
                )))
            })
        });
        let result = self.leave(call, gate, result);
        memory.after_gate();
        result
    }

    fn lambda_response(
        &self,
        call: &Call<'_>,
        result: Value,
        measure: bool,
    ) -> Result<engine::LambdaResponse, TaskFailure> {
        self.inner.lambda_response(call, result, measure)
    }

    fn codec(&self) -> &dyn ValueCodec {
        self.inner.codec()
    }
}
