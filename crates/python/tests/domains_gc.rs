//! The release after an isolated Python function's gate (`domains::after_gate`) freezes what
//! survived its collection, so that the next collection walks only new objects; frozen
//! objects are thawed now and then, so cyclic garbage among them is still reclaimed.

use pyo3::prelude::*;
use pyo3::types::PyDict;

#[test]
fn a_cycle_that_dies_after_being_frozen_is_collected_by_a_later_full_walk() {
    python_runtime::init().expect("the interpreter starts");
    let globals = Python::attach(|py| {
        let globals = PyDict::new(py);
        py.run(
            c"import weakref\nclass C: pass\nc = C()\nc.me = c\nalive = weakref.ref(c)\nholder = [c]\ndel c\n",
            Some(&globals),
            None,
        )
        .expect("the cycle is built");
        globals.unbind()
    });
    let alive = |globals: &Py<PyDict>| {
        Python::attach(|py| {
            py.eval(c"alive() is not None", Some(globals.bind(py)), None)
                .and_then(|v| v.extract::<bool>())
                .expect("the weak reference answers")
        })
    };
    // Held by `holder` through a gate: it survives the collection and is frozen.
    python_runtime::domains::after_gate();
    Python::attach(|py| {
        py.run(c"holder.clear()", Some(globals.bind(py)), None)
            .expect("the last outside reference goes")
    });
    // Now garbage, but frozen: the next gate's collection does not see it (the price of a
    // collection that walks only what is new).
    python_runtime::domains::after_gate();
    assert!(
        alive(&globals),
        "a frozen cycle was collected by a young walk"
    );
    let mut gates = 0;
    while alive(&globals) {
        gates += 1;
        assert!(gates <= 2048, "the dead cycle was never reclaimed");
        python_runtime::domains::after_gate();
    }
}
