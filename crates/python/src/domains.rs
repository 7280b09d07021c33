//! Python functions in protection domains: CPython's raw, mem and object allocators routed,
//! while a function runs, to its domain's memory ([`mpk::DomainHeap`]).
//!
//! [`install`] replaces the three allocators (`PyMem_SetAllocator`) with hooks that keep
//! CPython's own allocators underneath: outside any function (this thread's current domain
//! unset: the engine, imports, the interpreter's own work) they forward to them, so that
//! memory is the shared domain's (key 0). Between [`enter`] and [`leave`] on a thread, every
//! allocation that thread makes goes to the function's domain. `free` and `realloc` find the
//! owner by address: a pointer in the domain heap goes back to its domain (from any thread,
//! in any domain), every other one to CPython's allocator; a block that grows stays in the
//! domain it was in (a shared list appended to inside a function stays shared). Two domain
//! heaps: the mem and object allocators' (their every call holds the GIL, so the heap takes
//! no lock of its own: `DomainHeap::new_serialized`) and the raw allocator's (called
//! without the GIL too: a heap with a mutex).
//!
//! The GIL and other threads: allocation is per thread (a thread-local domain), so a thread
//! running function A and one running B, taking turns on the GIL, each allocate in their
//! own domain. The cyclic GC would traverse every object from whichever thread triggers it,
//! inside that thread's gate; it is disabled while any thread is inside a domain
//! ([`before_gate`] counts) and collects after the gate ([`after_gate`]), on a thread with every key open.
//! Reference-count writes to shared objects from inside a domain are ordinary writes to key
//! 0, which every gate allows.
//!
//! Every `unsafe` block of this module is a call into CPython's allocator API or into the
//! domain heap, each with its `SAFETY` argument.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use mpk::{DomainHeap, DomainId, Domains, ProtectionMask};
use pyo3::ffi::{self, PyMemAllocatorDomain, PyMemAllocatorEx};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::interpreter;

struct Hooks {
    /// The mem and object allocators' blocks: every call holds the GIL, which serializes the
    /// heap's calls.
    heap: DomainHeap,
    /// The raw allocator's, called without the GIL too: a heap with its own mutex.
    raw: DomainHeap,
    /// CPython's allocators, raw, mem, obj.
    original: [PyMemAllocatorEx; 3],
}

// SAFETY: the saved allocators are CPython's function pointers and their contexts, which
// CPython itself calls from every thread (the raw one without the GIL).
unsafe impl Send for Hooks {}
// SAFETY: as for `Send`; the hooks never mutate them.
unsafe impl Sync for Hooks {}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

thread_local! {
    /// The domain of the function running on this thread, while it runs.
    static CURRENT: Cell<Option<DomainId>> = const { Cell::new(None) };
    /// Whether this thread is inside a function's gate (from [`enter`] to [`after_gate`]).
    static GATED: Cell<bool> = const { Cell::new(false) };
    /// The domain whose key this thread has open, from [`enter`] to [`after_gate`]: its
    /// blocks are freed without a PKRU write (the hand-off frees the function's objects).
    static OPEN: Cell<Option<DomainId>> = const { Cell::new(None) };
}

/// Releases after a gate that went beyond the collection (for tests).
static FULL_RELEASES: AtomicU64 = AtomicU64::new(0);

/// Gates passed, for [`after_gate`]'s periodic full walk.
static GATES: AtomicU64 = AtomicU64::new(0);

/// How many gates pass between two collections that walk the frozen objects too.
const FULL_WALK_EVERY: u64 = 1024;

/// Threads inside a domain, and whether the GC was enabled before the first entered.
static INSIDE: Mutex<(usize, bool)> = Mutex::new((0, false));

#[derive(Debug, thiserror::Error)]
pub enum DomainsError {
    #[error("python's allocators are routed to another set of protection domains already")]
    OtherDomains,
}

/// Routes CPython's allocators to `domains` (once per process; the interpreter starts here
/// if it has not). A second call with the same domains does nothing.
pub fn install(domains: &Arc<Domains>) -> Result<(), DomainsError> {
    interpreter::attach(|py| {
        crate::context::make_types(py);
        let hooks = HOOKS.get_or_init(|| Hooks {
            // SAFETY: this heap is called by the mem and object hooks only (and, for
            // bookkeeping, by this module with the GIL held), and CPython calls those
            // allocators with the GIL held (its documented contract, which its debug hooks
            // check): no two calls overlap.
            heap: unsafe { DomainHeap::new_serialized(Arc::clone(domains)) },
            raw: DomainHeap::new(Arc::clone(domains)),
            original: [raw(), mem(), obj()].map(|d| {
                let mut a = empty_allocator();
                // SAFETY: `a` is a valid out-parameter; the GIL is held.
                unsafe { ffi::PyMem_GetAllocator(d, &mut a) };
                a
            }),
        });
        if !Arc::ptr_eq(hooks.heap.domains(), domains) {
            return Err(DomainsError::OtherDomains);
        }
        static SET: OnceLock<()> = OnceLock::new();
        SET.get_or_init(|| {
            for (i, d) in [raw(), mem(), obj()].into_iter().enumerate() {
                let mut hook = PyMemAllocatorEx {
                    ctx: i as *mut c_void,
                    malloc: Some(hook_malloc),
                    calloc: Some(hook_calloc),
                    realloc: Some(hook_realloc),
                    free: Some(hook_free),
                };
                // SAFETY: the GIL is held and no other thread allocates through Python while
                // the interpreter is attached here for the raw domain either, as
                // `tracemalloc` does it at run time; the hooks forward every pointer they do
                // not own to the allocator saved above, so blocks allocated before this call
                // are freed by the allocator that made them.
                unsafe { ffi::PyMem_SetAllocator(d, &mut hook) };
            }
        });
        Ok(())
    })?;
    open_outside_domains();
    Ok(())
}

fn raw() -> PyMemAllocatorDomain {
    PyMemAllocatorDomain::PYMEM_DOMAIN_RAW
}
fn mem() -> PyMemAllocatorDomain {
    PyMemAllocatorDomain::PYMEM_DOMAIN_MEM
}
fn obj() -> PyMemAllocatorDomain {
    PyMemAllocatorDomain::PYMEM_DOMAIN_OBJ
}

fn empty_allocator() -> PyMemAllocatorEx {
    PyMemAllocatorEx {
        ctx: std::ptr::null_mut(),
        malloc: None,
        calloc: None,
        realloc: None,
        free: None,
    }
}

/// Before a function's gate: the cyclic GC waits until no thread is inside a domain. (The
/// GIL is taken here, outside the gate, so this thread's Python state is made, if it must
/// be, in the shared domain.)
pub fn before_gate() {
    open_outside_domains();
    interpreter::attach(|_py| {
        let mut inside = INSIDE.lock().unwrap_or_else(PoisonError::into_inner);
        if inside.0 == 0 {
            // SAFETY: the GIL is held.
            inside.1 = unsafe { ffi::PyGC_Disable() } != 0;
        }
        inside.0 += 1;
    });
}

/// The calling thread now runs `id`'s function, inside its gate: its allocations go there.
pub fn enter(id: DomainId) {
    GATED.with(|g| g.set(true));
    OPEN.with(|c| c.set(Some(id)));
    CURRENT.with(|c| c.set(Some(id)));
}

/// The function returned: the calling thread allocates in the shared domain again (it is
/// still inside the gate, so the hand-off copy can read the function's memory).
pub fn leave() {
    CURRENT.with(|c| c.set(None));
}

/// After the gate: this thread sees every domain again, and what interpreter-wide state
/// took from the function is released while every key is open: the free lists (tuples,
/// lists, dicts, floats: an object freed in the function would be handed to the next
/// allocation, in another function's domain, emptied by a full collection, which also frees
/// the cycles the function left; see the body for why it is cheap), `re`'s pattern cache (patterns built from the function's
/// data, and a cache table that grew in its domain) and the types' method cache (it holds
/// the attribute names looked up, some of them strings the function made: replacing an
/// entry decrements the old name's count); module dicts whose table grew in the function's
/// domain are rebuilt outside it (`module_tables`). The GC is enabled again
/// when the last thread leaves its domain.
///
/// A function that kept nothing (after the collection its domain holds no block, and no
/// other thread is inside a domain) skips all but the collection: no structure can point
/// into a domain that has no memory in use, and every other domain's pointers were released
/// after its own gate. That is most calls of a function that returns a result and keeps no
/// state; the method cache alone costs 2.5 µs to clear (and the next calls refill it).
pub fn after_gate() {
    let domain = OPEN.with(Cell::get);
    CURRENT.with(|c| c.set(None));
    OPEN.with(|c| c.set(None));
    GATED.with(|g| g.set(false));
    open_outside_domains();
    interpreter::attach(|py| {
        // Not held while Python runs: a collection may run finalizers, which may let another
        // thread take the GIL and wait for this lock in `before_gate`.
        let alone = INSIDE.lock().unwrap_or_else(PoisonError::into_inner).0 <= 1;
        let released = release_calls(py).and_then(|calls| {
            // A full collection is what empties the free lists, but it walks every tracked
            // object: 2.3 ms per gate natively with healthcare's heap. Objects that survived
            // one are frozen (moved out of the collector's sight), so the next walks only
            // what was made since, the function's leftovers included. Every FULL_WALK_EVERY
            // gates they are thawed so that cycles among them that died since are still
            // found.
            if GATES.fetch_add(1, Ordering::Relaxed) % FULL_WALK_EVERY == FULL_WALK_EVERY - 1 {
                calls.unfreeze.call0(py)?;
            }
            calls.collect.call0(py)?;
            calls.freeze.call0(py)?;
            // Without the hooks (nothing was allocated in a domain) there is no heap.
            let Some(heap) = HOOKS.get().map(|h| &h.heap) else {
                return Ok(());
            };
            let raw = &hooks().raw;
            if alone
                && domain.is_none_or(|id| heap.live_blocks_of(id) + raw.live_blocks_of(id) == 0)
            {
                return Ok(());
            }
            FULL_RELEASES.fetch_add(1, Ordering::Relaxed);
            calls.purge.call0(py)?;
            // SAFETY: the GIL is held; every key is open on this thread, so dropping the
            // cached names (some of them a domain's strings) reaches their memory.
            unsafe { ffi::PyType_ClearCache() };
            // What the two released went to the free lists: emptied again.
            calls.collect.call0(py)?;
            calls.freeze.call0(py)?;
            // After the collection emptied the free lists: module dicts that grew in the
            // function's domain get a table in the shared domain.
            crate::module_tables::rehome(py, &heap.owners()).map(drop)
        });
        if let Err(e) = released {
            tracing::warn!("releasing a python function's leftovers: {e}");
        }
        let mut inside = INSIDE.lock().unwrap_or_else(PoisonError::into_inner);
        inside.0 = inside.0.saturating_sub(1);
        if inside.0 == 0 && inside.1 {
            // SAFETY: the GIL is held.
            unsafe { ffi::PyGC_Enable() };
        }
    });
}

/// The functions [`after_gate`] calls, looked up once (an import per call costs more than
/// some of the calls).
struct ReleaseCalls {
    purge: Py<PyAny>,
    unfreeze: Py<PyAny>,
    collect: Py<PyAny>,
    freeze: Py<PyAny>,
}

fn release_calls(py: Python<'_>) -> PyResult<&ReleaseCalls> {
    static CALLS: PyOnceLock<ReleaseCalls> = PyOnceLock::new();
    CALLS.get_or_try_init(py, || {
        let (re, gc) = (py.import("re")?, py.import("gc")?);
        Ok(ReleaseCalls {
            purge: re.getattr("purge")?.unbind(),
            unfreeze: gc.getattr("unfreeze")?.unbind(),
            collect: gc.getattr("collect")?.unbind(),
            freeze: gc.getattr("freeze")?.unbind(),
        })
    })
}

/// Opens every protection key on the calling thread when it runs no function: the engine
/// and the interpreter's own work (a collection, a `free` of any domain's object) must
/// reach every domain. Nothing without installed hooks.
pub(crate) fn open_outside_domains() {
    if HOOKS.get().is_some() && mpk::is_supported() && !GATED.with(Cell::get) {
        mpk::allow(ProtectionMask::all());
    }
}

/// Whether `object` (or a dict's key table) lives in a function's domain (for tests and
/// diagnostics).
pub fn in_a_domain(object: &Bound<'_, PyAny>) -> bool {
    let owners = HOOKS.get().map(|h| h.heap.owners()).unwrap_or_default();
    crate::shared_copy::in_a_domain(object, &owners)
}

/// How many objects the hand-off copy got from a free list the function had filled, and
/// made again (for tests).
pub fn copies_made_again() -> u64 {
    crate::shared_copy::PUT_ASIDE.load(Ordering::Relaxed)
}

/// How many gates ended with the whole release, not the collection alone (for tests).
pub fn full_releases() -> u64 {
    FULL_RELEASES.load(Ordering::Relaxed)
}

/// Blocks of `id` not freed yet (for tests).
pub fn live_blocks_of(id: DomainId) -> usize {
    // The GIL serializes the mem and object heap's calls.
    interpreter::attach(|_py| {
        HOOKS
            .get()
            .map_or(0, |h| h.heap.live_blocks_of(id) + h.raw.live_blocks_of(id))
    })
}

/// Blocks allocated by functions and not freed yet (for tests).
pub fn live_blocks() -> usize {
    interpreter::attach(|_py| {
        HOOKS
            .get()
            .map_or(0, |h| h.heap.live_blocks() + h.raw.live_blocks())
    })
}

fn hooks() -> &'static Hooks {
    // The hooks are installed only after HOOKS is set.
    HOOKS.get().unwrap_or_else(|| std::process::abort())
}

fn original(ctx: *mut c_void) -> &'static PyMemAllocatorEx {
    &hooks().original[(ctx as usize).min(2)]
}

/// The heap a hook allocates from: the raw allocator's (`ctx` 0, see `install`) or the mem
/// and object allocators' (the GIL held).
fn heap_for(ctx: *mut c_void) -> &'static DomainHeap {
    let hooks = hooks();
    if ctx.is_null() {
        &hooks.raw
    } else {
        &hooks.heap
    }
}

/// The heap that owns `ptr`, if one does: the hook's own first. (A block freed through
/// another allocator family than made it, which CPython forbids and crashes on, goes back
/// to its own heap all the same.)
fn heap_of(ctx: *mut c_void, ptr: *mut c_void) -> Option<&'static DomainHeap> {
    let hooks = hooks();
    let (first, second) = if ctx.is_null() {
        (&hooks.raw, &hooks.heap)
    } else {
        (&hooks.heap, &hooks.raw)
    };
    [first, second].into_iter().find(|h| h.owns(ptr.cast()))
}

fn current() -> Option<DomainId> {
    CURRENT.try_with(Cell::get).ok().flatten()
}

fn open_domain() -> Option<DomainId> {
    OPEN.try_with(Cell::get).ok().flatten()
}

extern "C" fn hook_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    match current() {
        // SAFETY: the thread is inside `id`'s gate (set by `enter`, cleared by `leave`).
        Some(id) => unsafe { heap_for(ctx).alloc(id, size.max(1)) }.cast(),
        None => {
            let o = original(ctx);
            o.malloc.map_or(std::ptr::null_mut(), |m| m(o.ctx, size))
        }
    }
}

extern "C" fn hook_calloc(ctx: *mut c_void, nelem: usize, elsize: usize) -> *mut c_void {
    match current() {
        // SAFETY: as in `hook_malloc`; the heap's blocks are zeroed.
        Some(id) => nelem
            .checked_mul(elsize)
            .map_or(std::ptr::null_mut(), |n| unsafe {
                heap_for(ctx).alloc(id, n.max(1)).cast()
            }),
        None => {
            let o = original(ctx);
            o.calloc
                .map_or(std::ptr::null_mut(), |c| c(o.ctx, nelem, elsize))
        }
    }
}

extern "C" fn hook_realloc(ctx: *mut c_void, ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        return hook_malloc(ctx, size);
    }
    if let Some(heap) = heap_of(ctx, ptr) {
        // SAFETY: CPython passes a live block it allocated; this heap's (`owns`). The open
        // domain's key is open on this thread (inside its gate).
        return unsafe { heap.realloc_in(ptr.cast(), size.max(1), open_domain()) }.cast();
    }
    let o = original(ctx);
    o.realloc
        .map_or(std::ptr::null_mut(), |r| r(o.ctx, ptr, size))
}

extern "C" fn hook_free(ctx: *mut c_void, ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    if let Some(heap) = heap_of(ctx, ptr) {
        // SAFETY: CPython frees a live block it allocated; this heap's (`owns`). The open
        // domain's key is open on this thread (inside its gate).
        unsafe { heap.free_in(ptr.cast(), open_domain()) };
        return;
    }
    let o = original(ctx);
    if let Some(f) = o.free {
        f(o.ctx, ptr);
    }
}

/// The hand-off: a function's result copied into the shared domain object by object
/// ([`crate::shared_copy`]: containers and the function's own leaves copied, shared immutable
/// leaves kept), while the function's domain is still open. The next function gets those
/// objects by reference, as under `--isolation none`. The function's own objects are
/// released here, with the GIL held, so they are freed into their domain now and not later
/// on a thread inside another function's gate.
pub fn hand_off(value: asl::Value) -> Result<asl::Value, asl::ForeignError> {
    // The copy must be made in the shared domain, whoever calls this.
    let outer = CURRENT.with(|c| c.replace(None));
    let copied = interpreter::attach(|py| {
        let owners = HOOKS.get().map(|h| h.heap.owners()).unwrap_or_default();
        to_shared(py, value, &owners)
    });
    CURRENT.with(|c| c.set(outer));
    copied
}

fn to_shared(
    py: Python<'_>,
    value: asl::Value,
    owners: &mpk::Owners,
) -> Result<asl::Value, asl::ForeignError> {
    use asl::Value;
    match value {
        Value::Json(_) => Ok(value),
        Value::Object(fields) => fields
            .into_iter()
            .map(|(k, v)| to_shared(py, v, owners).map(|v| (k, v)))
            .collect::<Result<_, _>>()
            .map(Value::Object),
        Value::Array(elements) => elements
            .into_iter()
            .map(|v| to_shared(py, v, owners))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Foreign(foreign) => match foreign.as_any().downcast_ref::<crate::PyHandle>() {
            Some(handle) => handle.copy_to_shared(py, owners),
            // Another runtime's object: JSON is the common ground.
            None => foreign.to_json().map(Value::Json),
        },
    }
}

/// [`isolation::DomainMemory`] for Python functions: the functions of this module, for
/// `DomainIsolated::with_memory` (after [`install`]).
pub struct PythonMemory;

impl isolation::DomainMemory for PythonMemory {
    fn before_gate(&self) {
        before_gate();
    }

    fn enter(&self, id: DomainId) {
        enter(id);
    }

    fn leave(&self) {
        leave();
    }

    fn hand_off(&self, value: asl::Value) -> Result<asl::Value, String> {
        hand_off(value).map_err(|e| e.to_string())
    }

    fn after_gate(&self) {
        after_gate();
    }
}
