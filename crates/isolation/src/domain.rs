//! MPK isolation: a protection domain per sensitive function, entered around each call.
//!
//! What is protected: memory a function keeps in its domain ([`alloc_private`], for native
//! functions) is unreachable from every other function; a touch is reported as
//! `Faastlane.IsolationViolation` naming the function, the domain it touched and the address,
//! fails that Task (and so the execution, unless the workflow catches it), and a faulting
//! write is undone (see `mpk::violation`). What is not: anything in the shared domain (key
//! 0), which is all ordinary heap memory, the values handed from one function to the next,
//! and the whole embedded Python heap (its allocators are not routed to domains, see
//! `docs/isolation.md`).
//!
//! The state a function returns is in the shared domain already (the engine's values are
//! ordinary heap objects), so a hand-off moves nothing: its cost is the two PKRU writes of the
//! gate (entry and exit) and the registry lookup.

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

/// A runtime whose sensitive functions each run inside their own protection domain.
pub struct DomainIsolated {
    inner: Arc<dyn Runtime>,
    domains: Arc<Domains>,
    of: HashMap<String, DomainId>,
}

impl DomainIsolated {
    /// A domain for each of `functions` (named after it), sharing this process's keys.
    pub fn new(inner: Arc<dyn Runtime>, functions: &[String]) -> Result<Self, mpk::Error> {
        let domains = Arc::new(Domains::new()?);
        let of = functions
            .iter()
            .map(|f| (f.clone(), domains.create(f.clone())))
            .collect();
        Ok(DomainIsolated { inner, domains, of })
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

impl Runtime for DomainIsolated {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        self.inner.prepare(functions)
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let Some(&id) = self.of.get(call.function) else {
            return self.inner.invoke(call, input);
        };
        // A call starts with an empty domain: nothing the previous call kept reaches it, and
        // private memory does not grow from call to call.
        let gate = self
            .domains
            .reset(id)
            .and_then(|()| self.domains.enter(id))
            .map_err(|e| {
                TaskFailure::Runtime(StatesError::runtime(format!(
                    "entering the protection domain of function '{}': {e}",
                    call.function
                )))
            })?;
        let outer = CURRENT.with(|c| c.replace(Some((Arc::clone(&self.domains), id))));
        let result = self.inner.invoke(call, input);
        CURRENT.with(|c| *c.borrow_mut() = outer);
        match gate.leave() {
            Ok(()) => result,
            // The function's result is thrown away: it may hold what it should not have read.
            Err(v) => Err(TaskFailure::Function(StatesError::new(
                ISOLATION_VIOLATION,
                violation_cause(call, &v),
            ))),
        }
    }

    fn codec(&self) -> &dyn ValueCodec {
        self.inner.codec()
    }
}
