//! What functions print: `sys.stdout` and `sys.stderr` are replaced once (see
//! `bootstrap.py`) by streams that call [`emit`], which hands complete lines to the log sink
//! of the call running on the writing thread, tagged with its state name.
//!
//! A write from a thread that runs no call (a thread the function started itself, or the
//! interpreter outside any call) goes to the process's stderr, never to its stdout.

use std::cell::RefCell;
use std::io::Write;

use engine::LogSink;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::ffi;

const STDOUT: u8 = 1;

/// Partial lines of the call running on this thread (stdout, stderr).
#[derive(Default)]
struct Partial {
    out: String,
    err: String,
}

thread_local! {
    static PARTIAL: RefCell<Partial> = RefCell::new(Partial::default());
    /// The request id of the call running on this thread, for the root logger's records.
    static REQUEST_ID: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` with `request_id` as what [`request_id`] answers on this thread.
pub(crate) fn with_request_id<R>(request_id: &str, f: impl FnOnce() -> R) -> R {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            REQUEST_ID.with(|id| id.borrow_mut().clear());
        }
    }
    REQUEST_ID.with(|id| {
        let mut id = id.borrow_mut();
        id.clear();
        id.push_str(request_id);
    });
    let _clear = Clear;
    f()
}

/// The request id of the call running on this thread ("" outside a call), read by the
/// root logger's filter as Lambda's runtime reads its own.
#[pyfunction]
pub(crate) fn request_id() -> String {
    REQUEST_ID.with(|id| id.borrow().clone())
}

/// Runs `f` with this thread's Python output routed to `sink` under `state`, then delivers
/// what is left of an unfinished line.
pub(crate) fn capture<R>(sink: &dyn LogSink, state: &str, f: impl FnOnce() -> R) -> R {
    struct Flush<'a> {
        sink: &'a dyn LogSink,
        state: &'a str,
    }
    impl Drop for Flush<'_> {
        fn drop(&mut self) {
            let rest = PARTIAL.with(|p| {
                let mut p = p.borrow_mut();
                [std::mem::take(&mut p.out), std::mem::take(&mut p.err)]
            });
            let [out, err] = rest;
            if !out.is_empty() {
                self.sink.line(self.state, out.trim_end_matches('\r'));
            }
            if !err.is_empty() {
                self.sink.error_line(self.state, err.trim_end_matches('\r'));
            }
        }
    }
    ffi::with_sink(sink, state, || {
        let _flush = Flush { sink, state };
        f()
    })
}

/// The `write` of the replacement streams: `stream` is 1 for stdout, 2 for stderr.
#[pyfunction]
pub(crate) fn emit(py: Python<'_>, stream: u8, text: &Bound<'_, PyString>) {
    let text = text.to_string_lossy();
    let delivered = ffi::current_sink(|sink, state| {
        let lines = PARTIAL.with(|p| {
            let mut p = p.borrow_mut();
            let buffer = if stream == STDOUT {
                &mut p.out
            } else {
                &mut p.err
            };
            complete_lines(buffer, &text)
        });
        if !lines.is_empty() {
            // The sink may do I/O: let other Python threads run meanwhile, as file writes do.
            py.detach(|| {
                for line in &lines {
                    if stream == STDOUT {
                        sink.line(state, line);
                    } else {
                        sink.error_line(state, line);
                    }
                }
            });
        }
    });
    if delivered.is_none() {
        // Nobody is listening on this thread: stderr, unbuffered, so nothing is lost.
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

/// Appends `text` to `buffer` and takes out every line it completes (without its newline).
fn complete_lines(buffer: &mut String, text: &str) -> Vec<String> {
    if !text.contains('\n') {
        buffer.push_str(text);
        return Vec::new();
    }
    buffer.push_str(text);
    let mut lines = Vec::new();
    let mut rest = buffer.as_str();
    while let Some(end) = rest.find('\n') {
        lines.push(rest[..end].trim_end_matches('\r').to_string());
        rest = &rest[end + 1..];
    }
    *buffer = rest.to_string();
    lines
}

#[cfg(test)]
mod tests {
    use super::complete_lines;

    #[test]
    fn splits_lines_and_keeps_the_partial_one() {
        let mut buffer = String::from("par");
        assert!(complete_lines(&mut buffer, "tial").is_empty());
        assert_eq!(
            complete_lines(&mut buffer, " one\r\nnext\n\nend"),
            ["partial one", "next", ""]
        );
        assert_eq!(buffer, "end");
    }
}
