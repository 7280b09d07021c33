//! Every `unsafe` block of this crate: two CPython calls PyO3 has no safe wrapper for, and the
//! lifetime erasure that lets Python's `print` reach the log sink of the call running on its
//! thread.

use std::cell::Cell;
use std::os::raw::{c_long, c_ulong};

use engine::LogSink;
use pyo3::prelude::*;
use pyo3::{Py, PyAny, ffi};

/// CPython's identifier of the calling thread (`threading.get_ident()`).
pub(crate) fn current_thread_ident(_py: Python<'_>) -> c_ulong {
    // SAFETY: PyThread_get_thread_ident has no preconditions; the `Python` token proves the
    // interpreter is initialized.
    unsafe { ffi::PyThread_get_thread_ident() }
}

/// Schedules `exception` (a `BaseException` subclass) to be raised in the thread `thread` the
/// next time it runs Python bytecode. Returns whether a thread state with that identifier was
/// found.
pub(crate) fn raise_in_thread(py: Python<'_>, thread: c_ulong, exception: &Py<PyAny>) -> bool {
    let exception = exception.bind(py);
    // SAFETY: we hold the GIL (the `py` token), which PyThreadState_SetAsyncExc requires;
    // `exception` is a live object for the duration of the call and CPython takes its own
    // reference to it. The identifier is passed bit for bit: CPython declares it `unsigned
    // long`, pyo3-ffi `long`.
    let found = unsafe { ffi::PyThreadState_SetAsyncExc(thread as c_long, exception.as_ptr()) };
    found > 0
}

/// Drops an exception scheduled by [`raise_in_thread`] for `thread` that has not been raised
/// yet, so that it cannot fire in whatever the thread runs next.
pub(crate) fn clear_pending_in_thread(_py: Python<'_>, thread: c_ulong) {
    // SAFETY: we hold the GIL (the `py` token); a null exception is CPython's documented way
    // of clearing a pending asynchronous exception.
    unsafe {
        ffi::PyThreadState_SetAsyncExc(thread as c_long, std::ptr::null_mut());
    }
}

/// The log sink and state name of the call running on a thread, borrowed for as long as
/// [`with_sink`] runs.
#[derive(Clone, Copy)]
struct Current {
    sink: *const (dyn LogSink + 'static),
    state: *const str,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// Runs `f` with `sink` and `state` reachable through [`current_sink`] from this thread only.
/// Nests: the previous sink is restored afterwards, also when `f` panics.
pub(crate) fn with_sink<R>(sink: &dyn LogSink, state: &str, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Current>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0.take()));
        }
    }
    // SAFETY: this only erases the lifetime of the trait object. The pointer is stored in a
    // thread-local slot that `Restore` resets before this function returns (or unwinds), so it
    // is never read after `sink` stops being borrowed, and never from another thread.
    let sink: *const (dyn LogSink + 'static) = unsafe {
        std::mem::transmute::<*const (dyn LogSink + '_), *const (dyn LogSink + 'static)>(sink)
    };
    let previous = CURRENT.with(|c| {
        c.replace(Some(Current {
            sink,
            state: state as *const str,
        }))
    });
    let _restore = Restore(previous);
    f()
}

/// Calls `f` with the sink and state name installed by the innermost [`with_sink`] running
/// on this thread, or returns `None` when there is none.
pub(crate) fn current_sink<R>(f: impl FnOnce(&dyn LogSink, &str) -> R) -> Option<R> {
    let current = CURRENT.with(Cell::get)?;
    // SAFETY: the slot only holds pointers set by `with_sink` on this thread, whose borrows
    // outlive the slot's contents (see `with_sink`); both are therefore valid here.
    let (sink, state) = unsafe { (&*current.sink, &*current.state) };
    Some(f(sink, state))
}

/// This thread's hold on its Python thread state; dropped when the thread exits.
struct KeptThreadState {
    gil_state: ffi::PyGILState_STATE,
    thread_state: *mut ffi::PyThreadState,
}

impl Drop for KeptThreadState {
    fn drop(&mut self) {
        // SAFETY: runs once, at the exit of the thread that created the hold (thread-local
        // destructor), with the thread detached (no `Python::attach` can be active during
        // thread-local destruction of the thread that ran it). `thread_state` is the state
        // `PyEval_SaveThread` returned on this thread; restoring it and releasing the matching
        // `PyGILState_Ensure` lets CPython delete it. Blocks for the GIL like any call.
        unsafe {
            ffi::PyEval_RestoreThread(self.thread_state);
            ffi::PyGILState_Release(self.gil_state);
        }
    }
}

thread_local! {
    static KEPT: std::cell::RefCell<Option<KeptThreadState>> = const { std::cell::RefCell::new(None) };
    /// This thread was looked at: it keeps a state now, or never needs one kept (the main
    /// thread, a thread with a state of its own). Saves the checks on every call after the
    /// first (`std::thread::current()` and two CPython calls: ~50 ns of a ~1.5 µs hand-off).
    static SETTLED: Cell<bool> = const { Cell::new(false) };
}

/// Makes the Python thread state of this thread outlive each `Python::attach`.
///
/// Without this, every attach from a thread CPython did not create builds and destroys a
/// thread state (~8 µs of a 1 µs call). Threads that already have one (the thread that
/// started the interpreter, Python's own threads) are left alone, and so is the process's
/// main thread: its thread-local destructors run inside `exit()`, where waiting for the GIL
/// could hang the exit. Must be called detached.
pub(crate) fn keep_thread_state() {
    if SETTLED.get() {
        return;
    }
    SETTLED.set(true);
    if KEPT.with(|k| k.borrow().is_some()) || std::thread::current().name() == Some("main") {
        return;
    }
    // SAFETY: both functions may be called by any thread once the interpreter is initialized
    // (our callers hold a runtime, which initialized it); neither needs the GIL.
    let has_state =
        unsafe { ffi::PyGILState_Check() != 0 || !ffi::PyGILState_GetThisThreadState().is_null() };
    if has_state {
        return;
    }
    // SAFETY: this thread has no thread state and is not attached (checked above), so
    // `PyGILState_Ensure` creates one and takes the GIL; `PyEval_SaveThread` then releases
    // the GIL while keeping that state, whose ownership moves into `KeptThreadState`.
    let kept = unsafe {
        let gil_state = ffi::PyGILState_Ensure();
        let thread_state = ffi::PyEval_SaveThread();
        KeptThreadState {
            gil_state,
            thread_state,
        }
    };
    KEPT.with(|k| *k.borrow_mut() = Some(kept));
}

/// See [`crate::lane::around_fork`].
pub(crate) fn around_fork<R>(
    _py: Python<'_>,
    fork: impl FnOnce() -> R,
    is_child: impl Fn(&R) -> bool,
) -> R {
    // SAFETY: we hold the GIL (the `py` token) on the thread that calls fork, as
    // PyOS_BeforeFork requires; each BeforeFork is paired with exactly one AfterFork call on
    // the same side of the fork, as `os.fork` does.
    unsafe { ffi::PyOS_BeforeFork() };
    let result = fork();
    if is_child(&result) {
        // SAFETY: the first thing the child does with Python after the fork, GIL held (the
        // child's copy of this thread holds it).
        unsafe { ffi::PyOS_AfterFork_Child() };
    } else {
        // SAFETY: pairs the BeforeFork above in the parent, GIL held.
        unsafe { ffi::PyOS_AfterFork_Parent() };
    }
    result
}

/// A contiguous buffer exported by a Python object, readable as bytes while it lives.
pub(crate) struct BufferView {
    buffer: pyo3::buffer::PyBuffer<u8>,
}

impl BufferView {
    pub(crate) fn of(object: &Bound<'_, PyAny>) -> PyResult<BufferView> {
        let buffer = pyo3::buffer::PyBuffer::<u8>::get(object)?;
        if !buffer.is_c_contiguous() {
            return Err(pyo3::exceptions::PyBufferError::new_err(
                "an out-of-band buffer must be contiguous",
            ));
        }
        Ok(BufferView { buffer })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the buffer is C-contiguous (checked in `of`), so `buf_ptr` points to
        // `len_bytes` readable bytes, which stay valid while `self.buffer` holds the export.
        // Exporters (bytes, bytearray, mmap, numpy) do not move or free exported memory;
        // callers read it with the GIL held, so Python code cannot write it meanwhile.
        unsafe {
            std::slice::from_raw_parts(self.buffer.buf_ptr().cast::<u8>(), self.buffer.len_bytes())
        }
    }
}

/// Asks the kernel to map `[start, start + len)` (rounded to whole pages inside it) in one
/// go; a hint, errors ignored.
fn populate(start: *const u8, len: usize, advice: std::os::raw::c_int) {
    const PAGE: usize = 4096;
    let begin = (start as usize).div_ceil(PAGE) * PAGE;
    let end = (start as usize + len) / PAGE * PAGE;
    if end > begin {
        // SAFETY: madvise with MADV_POPULATE_* only faults pages in; the range lies inside
        // memory the caller owns (whole pages within `start..start + len`).
        unsafe {
            libc::madvise(begin as *mut libc::c_void, end - begin, advice);
        }
    }
}

/// Asks for transparent huge pages over the whole 2 MiB blocks inside `[start, start + len)`
/// (this kernel gives them on request: `enabled` is `madvise`): one fault and one zeroing per
/// 2 MiB instead of per 4 KiB, which is most of the cost of filling fresh memory on this VM.
/// A hint, errors ignored; small buffers are left alone.
fn huge_pages(start: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    let begin = (start as usize).div_ceil(HUGE) * HUGE;
    let end = (start as usize + len) / HUGE * HUGE;
    if end > begin {
        // SAFETY: MADV_HUGEPAGE only changes how the kernel backs the range; the range lies
        // inside memory the caller owns (whole huge pages within `start..start + len`).
        unsafe {
            libc::madvise(begin as *mut libc::c_void, end - begin, libc::MADV_HUGEPAGE);
        }
    }
}

/// A new `bytes` (or `bytearray`) holding a copy of `source`, its pages allocated at once.
pub(crate) fn copy_out<'py>(
    py: Python<'py>,
    source: &[u8],
    as_bytearray: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let len = ffi::Py_ssize_t::try_from(source.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("buffer too large"))?;
    // SAFETY: with the GIL held (`py`), a null source asks CPython for an uninitialised
    // object of `len` bytes, which we own (a new reference) and fill completely below before
    // any Python code can see it.
    let object = unsafe {
        if as_bytearray {
            ffi::PyByteArray_FromStringAndSize(std::ptr::null(), len)
        } else {
            ffi::PyBytes_FromStringAndSize(std::ptr::null(), len)
        }
    };
    // SAFETY: a new reference or null with an exception set, which `from_owned_ptr_or_err`
    // turns into the error.
    let object = unsafe { Bound::from_owned_ptr_or_err(py, object)? };
    // SAFETY: the object was created above with room for `len` bytes; its data pointer is
    // valid for writes of that many bytes and does not overlap `source` (fresh memory).
    unsafe {
        let data = if as_bytearray {
            ffi::PyByteArray_AsString(object.as_ptr())
        } else {
            ffi::PyBytes_AsString(object.as_ptr())
        }
        .cast::<u8>();
        if data.is_null() {
            return Err(PyErr::fetch(py));
        }
        huge_pages(data, source.len());
        populate(data, source.len(), libc::MADV_POPULATE_WRITE);
        populate(source.as_ptr(), source.len(), libc::MADV_POPULATE_READ);
        std::ptr::copy_nonoverlapping(source.as_ptr(), data, source.len());
    }
    Ok(object)
}

/// `bytes(buffer)` (`as_bytearray`: `bytearray(buffer)`) for a large out-of-band buffer: the
/// new object's pages are allocated in one go and the source's mapped in one go before the
/// copy (`MADV_POPULATE_WRITE`/`_READ`), which makes the copy of 100 MB about 50 ms instead
/// of 80 ms of page-by-page faults on this VM.
#[pyfunction]
pub(crate) fn copy_buffer<'py>(
    buffer: &Bound<'py, PyAny>,
    as_bytearray: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let view = BufferView::of(buffer)?;
    copy_out(buffer.py(), view.bytes(), as_bytearray)
}
