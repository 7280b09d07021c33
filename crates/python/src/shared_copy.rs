//! The hand-off of a function that ran in a protection domain: its result copied, object by
//! object, into the shared domain, so the next function reads it by reference as it would
//! under `--isolation none`, and nothing of the function's own memory is reachable from it.
//!
//! Called inside the function's gate after `domains::leave` (allocation goes to CPython's
//! allocator, i.e. the shared domain), with the GIL held. The walk accepts what the JSON path
//! accepts (dicts and lists, tuples, strings, integers of 64 bits, finite floats, booleans,
//! `None`; subclasses become their base type, as through JSON, but a tuple stays a tuple,
//! as under `--isolation none`) and refuses the rest: the
//! caller then asks [`convert::to_json`] for the error, which is the JSON path's, word for
//! word.
//!
//! What is copied: every container (a dict, a list, and a tuple unless it and all its items
//! are shared already), and every leaf that lives in a domain (the heap knows a block's owner
//! by address, [`mpk::Owners`]). What is shared: leaves that live in the shared domain and
//! cannot change (interned names, small integers, `None`/`True`/`False`, strings made before
//! the call).
//!
//! Free lists: CPython keeps freed floats, tuples, lists, dicts and dict key tables on lists
//! and hands them out again before asking the allocator. Those the function freed are in its
//! domain; a copy built on one would be unreadable to the next function. Every object the
//! copy creates is therefore checked by address, and one that lives in a domain is put
//! aside (held until the copy is done, so it is not handed out again) and the object made
//! anew. A free list is finite (80 to 2,000 entries), so this ends; the release after the gate
//! empties the lists.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;

use mpk::Owners;

/// Containers nested deeper than this are refused (the JSON path's limit).
const MAX_DEPTH: usize = 1000;

/// How many times one object is made again before the copy gives up.
const MAX_MADE_AGAIN: usize = 100_000;

/// Objects put aside since the process started (for tests: the free-list case happens).
pub(crate) static PUT_ASIDE: AtomicU64 = AtomicU64::new(0);

/// Whether `object`, or a dict's key table, lives in a domain.
pub(crate) fn in_a_domain(object: &Bound<'_, PyAny>, owners: &Owners) -> bool {
    let ptr = object.as_ptr();
    if owners.owner(ptr.cast()).is_some() {
        return true;
    }
    // SAFETY: a live object, the GIL held (`Bound`); `ma_keys` is a field of the public
    // `PyDictObject` layout, which every dict (and subclass) starts with.
    unsafe {
        ffi::PyDict_Check(ptr) != 0
            && owners
                .owner((*ptr.cast::<ffi::PyDictObject>()).ma_keys.cast())
                .is_some()
    }
}

/// Why the copy stopped.
pub(crate) enum Refusal {
    /// The object has no JSON form: the JSON path gives the message.
    NotJson,
    /// CPython failed (out of memory).
    Python(PyErr),
}

/// A copy of `object` in the shared domain.
pub(crate) fn copy<'py>(
    object: &Bound<'py, PyAny>,
    owners: &Owners,
) -> Result<Bound<'py, PyAny>, Refusal> {
    let mut walk = Walk {
        py: object.py(),
        owners,
        open: Vec::new(),
        aside: Vec::new(),
    };
    walk.copy(object)
    // `walk` drops here: what was put aside goes back to CPython.
}

struct Walk<'a, 'py> {
    py: Python<'py>,
    owners: &'a Owners,
    /// The containers being copied, by address (cycle and depth check).
    open: Vec<usize>,
    /// Objects CPython handed out from a free list that lives in a domain.
    aside: Vec<Bound<'py, PyAny>>,
}

impl<'py> Walk<'_, 'py> {
    fn private(&self, object: *mut ffi::PyObject) -> bool {
        self.owners.owner(object.cast()).is_some()
    }

    fn copy(&mut self, object: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, Refusal> {
        let ptr = object.as_ptr();
        // SAFETY: `ptr` is a live object (the `Bound` holds a reference); reading its type
        // pointer with the GIL held is what every type check does.
        let ty = unsafe { ffi::Py_TYPE(ptr) };
        let exact = |t: *mut ffi::PyTypeObject| std::ptr::eq(ty, t);
        // SAFETY: the addresses of CPython's static type objects.
        let (none, bool_, str_, int, float, dict, list, tuple) = unsafe {
            (
                ffi::Py_None(),
                &raw mut ffi::PyBool_Type,
                &raw mut ffi::PyUnicode_Type,
                &raw mut ffi::PyLong_Type,
                &raw mut ffi::PyFloat_Type,
                &raw mut ffi::PyDict_Type,
                &raw mut ffi::PyList_Type,
                &raw mut ffi::PyTuple_Type,
            )
        };
        // Singletons, static in CPython.
        if std::ptr::eq(ptr, none) || exact(bool_) {
            return Ok(object.clone());
        }
        // The exact types first (nearly every object of a result): a subclass check costs
        // a walk of the type's bases for every object that is not of the type asked about.
        let (is_dict, is_list, is_tuple) = if exact(str_) {
            return self.string(object, true);
        } else if exact(int) {
            return self.int(object, true);
        } else if exact(float) {
            return self.float(object, true);
        } else if exact(dict) || exact(list) || exact(tuple) {
            (exact(dict), exact(list), exact(tuple))
        } else if is(object, ffi::PyUnicode_Check) {
            return self.string(object, false);
        } else if is(object, ffi::PyLong_Check) {
            return self.int(object, false);
        } else if is(object, ffi::PyFloat_Check) {
            return self.float(object, false);
        } else {
            (
                is(object, ffi::PyDict_Check),
                is(object, ffi::PyList_Check),
                is(object, ffi::PyTuple_Check),
            )
        };
        if !(is_dict || is_list || is_tuple) {
            return Err(Refusal::NotJson);
        }
        let address = ptr as usize;
        if self.open.contains(&address) || self.open.len() >= MAX_DEPTH {
            return Err(Refusal::NotJson);
        }
        self.open.push(address);
        let copied = if is_dict {
            self.dict(object)
        } else {
            self.sequence(object, is_tuple, exact(tuple))
        };
        self.open.pop();
        copied
    }

    /// `made` (a new reference from CPython, or null), unless it lives in a domain (taken
    /// from a free list the function filled): then `None`, and it is held until the end.
    fn fresh(&mut self, made: *mut ffi::PyObject) -> Result<Option<Bound<'py, PyAny>>, Refusal> {
        // SAFETY: `made` is a new reference returned by a CPython constructor, or null with
        // an exception set.
        let made =
            unsafe { Bound::from_owned_ptr_or_err(self.py, made) }.map_err(Refusal::Python)?;
        if self.private(made.as_ptr()) {
            PUT_ASIDE.fetch_add(1, Ordering::Relaxed);
            self.aside.push(made);
            return Ok(None);
        }
        Ok(Some(made))
    }

    /// Calls `make` until it returns an object outside every domain (a bounded number of
    /// times: the free lists hold at most ~42,000 objects in all, tuples of 20 sizes included).
    fn made(
        &mut self,
        mut make: impl FnMut() -> *mut ffi::PyObject,
    ) -> Result<Bound<'py, PyAny>, Refusal> {
        for _ in 0..MAX_MADE_AGAIN {
            if let Some(made) = self.fresh(make())? {
                return Ok(made);
            }
        }
        Err(Refusal::Python(PyRuntimeError::new_err(
            "cpython kept handing out memory of a protection domain for the copy",
        )))
    }

    fn string(&mut self, s: &Bound<'py, PyAny>, exact: bool) -> Result<Bound<'py, PyAny>, Refusal> {
        let ptr = s.as_ptr();
        // SAFETY: `ptr` is a live `str` (checked by the caller); these read its header.
        let (ascii, kind, length, data) = unsafe {
            (
                ffi::PyUnicode_IS_ASCII(ptr) != 0,
                ffi::PyUnicode_KIND(ptr),
                ffi::PyUnicode_GET_LENGTH(ptr),
                ffi::PyUnicode_DATA(ptr),
            )
        };
        let out = if exact && !self.private(ptr) {
            s.clone()
        } else {
            let max_char: ffi::Py_UCS4 = match (ascii, kind) {
                (true, _) => 0x7f,
                (false, 1) => 0xff,
                (false, 2) => 0xffff,
                _ => 0x10_ffff,
            };
            // SAFETY: a new string of the same length and kind (a string's kind is the
            // smallest that holds its widest character, so `max_char` gives the same);
            // CPython allocates it, through the hooks, in the shared domain.
            let copy = self.made(|| unsafe { ffi::PyUnicode_New(length, max_char) })?;
            let bytes = usize::try_from(length).unwrap_or(0) * kind as usize;
            // SAFETY: both buffers hold `length` characters of `kind` bytes; the copy is new,
            // not shared yet, and its hash is still unset: it gets the original's, which the
            // same characters give (-1 if not computed yet), so a dict key is not hashed
            // again. `hash` is a field of the public `PyASCIIObject` layout every `str`
            // starts with.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.cast::<u8>(),
                    ffi::PyUnicode_DATA(copy.as_ptr()).cast::<u8>(),
                    bytes,
                );
                (*copy.as_ptr().cast::<ffi::PyASCIIObject>()).hash =
                    (*ptr.cast::<ffi::PyASCIIObject>()).hash;
            }
            copy
        };
        if !ascii {
            // A string with lone surrogates has no UTF-8 (nor JSON) form. Asking for its
            // UTF-8 also caches it now, in the shared domain, rather than later in the
            // domain of whichever function asks first (where the others could not read it).
            let mut size: ffi::Py_ssize_t = 0;
            // SAFETY: a live `str`; the GIL is held.
            if unsafe { ffi::PyUnicode_AsUTF8AndSize(out.as_ptr(), &mut size) }.is_null() {
                // SAFETY: clearing the exception the failed call set.
                unsafe { ffi::PyErr_Clear() };
                return Err(Refusal::NotJson);
            }
        }
        Ok(out)
    }

    fn int(&mut self, i: &Bound<'py, PyAny>, exact: bool) -> Result<Bound<'py, PyAny>, Refusal> {
        let ptr = i.as_ptr();
        let mut overflow = 0;
        // SAFETY: a live `int`; the GIL is held.
        let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow) };
        let signed = match overflow {
            0 => true,
            1 => {
                // SAFETY: as above; fails (with an exception set) past 64 bits.
                let unsigned = unsafe { ffi::PyLong_AsUnsignedLongLong(ptr) };
                // SAFETY: checking for that exception, with the GIL held.
                if unsigned == u64::MAX && unsafe { !ffi::PyErr_Occurred().is_null() } {
                    // SAFETY: clearing it.
                    unsafe { ffi::PyErr_Clear() };
                    return Err(Refusal::NotJson);
                }
                false
            }
            _ => return Err(Refusal::NotJson),
        };
        if exact && !self.private(ptr) {
            return Ok(i.clone());
        }
        if signed {
            // SAFETY: CPython's constructor; small values are its static integers.
            return self.made(|| unsafe { ffi::PyLong_FromLongLong(value) });
        }
        // SAFETY: as above, for a value past `i64::MAX`, read again (cannot fail now).
        self.made(|| unsafe {
            ffi::PyLong_FromUnsignedLongLong(ffi::PyLong_AsUnsignedLongLong(ptr))
        })
    }

    fn float(&mut self, f: &Bound<'py, PyAny>, exact: bool) -> Result<Bound<'py, PyAny>, Refusal> {
        // SAFETY: a live `float` (or subclass: same layout); the GIL is held.
        let value = unsafe { ffi::PyFloat_AS_DOUBLE(f.as_ptr()) };
        if !value.is_finite() {
            return Err(Refusal::NotJson);
        }
        if exact && !self.private(f.as_ptr()) {
            return Ok(f.clone());
        }
        // SAFETY: CPython's constructor.
        self.made(|| unsafe { ffi::PyFloat_FromDouble(value) })
    }

    fn dict(&mut self, d: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, Refusal> {
        // SAFETY: a live dict (or subclass), the GIL held.
        let size = unsafe { ffi::PyDict_Size(d.as_ptr()) };
        // SAFETY: CPython's constructor, sized for the items (no resize while filling).
        let mut out = self.made(|| unsafe { _PyDict_NewPresized(size) })?;
        let mut position: ffi::Py_ssize_t = 0;
        let mut key = std::ptr::null_mut();
        let mut value = std::ptr::null_mut();
        // SAFETY: a live dict, the GIL held; `PyDict_Next` gives borrowed references to live
        // entries, and nothing changes the dict while it is walked (the copies are new
        // objects and no Python code runs).
        while unsafe { ffi::PyDict_Next(d.as_ptr(), &mut position, &mut key, &mut value) } != 0 {
            // SAFETY: borrowed references the dict keeps alive through this step.
            let (k, v) = unsafe {
                (
                    Borrowed::from_ptr(self.py, key),
                    Borrowed::from_ptr(self.py, value),
                )
            };
            if !is(&k, ffi::PyUnicode_Check) {
                return Err(Refusal::NotJson);
            }
            let k = self.string(&k, is(&k, ffi::PyUnicode_CheckExact))?;
            let v = self.copy(&v)?;
            // SAFETY: a new dict, a string key, a live value; it takes its own references.
            if unsafe { ffi::PyDict_SetItem(out.as_ptr(), k.as_ptr(), v.as_ptr()) } != 0 {
                return Err(Refusal::Python(PyErr::fetch(self.py)));
            }
        }
        // A small dict's key table may come from the key tables' free list: then the items
        // move to another dict, whose table `PyDict_Update` makes new (it clones a whole
        // table into an empty dict).
        while self.private(keys_of(&out).cast()) {
            PUT_ASIDE.fetch_add(1, Ordering::Relaxed);
            // SAFETY: CPython's constructor.
            let again = self.made(|| unsafe { _PyDict_NewPresized(size) })?;
            // SAFETY: two live dicts; `again` takes its own references.
            if unsafe { ffi::PyDict_Update(again.as_ptr(), out.as_ptr()) } != 0 {
                return Err(Refusal::Python(PyErr::fetch(self.py)));
            }
            self.aside.push(std::mem::replace(&mut out, again));
        }
        Ok(out)
    }

    fn sequence(
        &mut self,
        s: &Bound<'py, PyAny>,
        tuple: bool,
        exact_tuple: bool,
    ) -> Result<Bound<'py, PyAny>, Refusal> {
        let ptr = s.as_ptr();
        // SAFETY: a live list or tuple (or subclass: same layout), the GIL held; no Python
        // code runs during the walk, so its items stay.
        let (n, item) = unsafe {
            if tuple {
                (
                    ffi::PyTuple_GET_SIZE(ptr),
                    ffi::PyTuple_GET_ITEM as unsafe fn(_, _) -> _,
                )
            } else {
                (
                    ffi::PyList_GET_SIZE(ptr),
                    ffi::PyList_GET_ITEM as unsafe fn(_, _) -> _,
                )
            }
        };
        let py = self.py;
        // SAFETY: `i < n`: a borrowed reference the sequence keeps alive.
        let item_at = |i| unsafe { Borrowed::from_ptr(py, item(ptr, i)) };
        if tuple {
            // A tuple of shared leaves that is itself shared is kept; else rebuilt.
            let mut items = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
            let mut same = exact_tuple && !self.private(ptr);
            for i in 0..n {
                let original = item_at(i);
                let copy = self.copy(&original)?;
                same &= copy.is(&*original);
                items.push(copy);
            }
            if same {
                return Ok(s.clone());
            }
            // SAFETY: CPython's constructor.
            let out = self.made(|| unsafe { ffi::PyTuple_New(n) })?;
            for (i, copy) in (0..).zip(items) {
                // SAFETY: a new tuple of `n` empty slots, `i < n`; the slot takes the
                // reference `into_ptr` gives up.
                unsafe { ffi::PyTuple_SET_ITEM(out.as_ptr(), i, copy.into_ptr()) };
            }
            return Ok(out);
        }
        // SAFETY: CPython's constructor: `n` empty slots (a list freed with some still empty,
        // on an error, is fine).
        let out = self.made(|| unsafe { ffi::PyList_New(n) })?;
        for i in 0..n {
            let copy = self.copy(&item_at(i))?;
            // SAFETY: `i < n`, the slot empty; it takes the reference `into_ptr` gives up.
            unsafe { ffi::PyList_SET_ITEM(out.as_ptr(), i, copy.into_ptr()) };
        }
        Ok(out)
    }
}

/// A dict's key table.
pub(crate) fn keys_of(dict: &Bound<'_, PyAny>) -> *mut ffi::PyDictKeysObject {
    // SAFETY: a live dict (or subclass, same layout) with the GIL held; `ma_keys` is a field
    // of the public `PyDictObject` layout.
    unsafe { (*dict.as_ptr().cast::<ffi::PyDictObject>()).ma_keys }
}

/// One of CPython's type checks on `object`.
fn is(
    object: &Bound<'_, PyAny>,
    check: unsafe fn(*mut ffi::PyObject) -> std::os::raw::c_int,
) -> bool {
    // SAFETY: a live object (the `Bound` holds a reference) with the GIL held; a type check
    // reads its type only.
    unsafe { check(object.as_ptr()) != 0 }
}

unsafe extern "C" {
    /// A dict with room for `minused` items (no resize while they are inserted); CPython
    /// exports it (`Include/cpython/dictobject.h`), pyo3-ffi leaves it out as private.
    fn _PyDict_NewPresized(minused: ffi::Py_ssize_t) -> *mut ffi::PyObject;
}
