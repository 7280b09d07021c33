//! Step Functions' payload limit on what a state is given and what it returns
//! ([`asl::Limits::payload_bytes`]), and the one warning per execution for a payload that
//! would break it on AWS when it is not enforced ([`asl::Limits::payload_warning_bytes`]).
//!
//! Measuring counts compact JSON bytes without building the text and stops at the bound
//! ([`asl::limits::payload_exceeds`]), so a state costs at most that many bytes of
//! serialization, however large its value (a Python object handed over by reference is
//! walked field by field, not converted whole). Once the warning is given, nothing more is
//! measured unless the limit is enforced.

use std::sync::atomic::Ordering;

use asl::limits::payload_exceeds;
use asl::{StatesError, Value, names};

use super::Exec;

/// Which side of a state a payload is.
#[derive(Clone, Copy)]
pub(super) enum Payload {
    /// The input of the first state of a machine (the execution's, a branch's, an item's);
    /// every later state's input is the output checked before it.
    Input,
    Output,
}

impl Exec<'_> {
    /// Whether [`Exec::check_payload`] would pass `value` without failing or warning: then
    /// copies of it need not be measured again (a Parallel's branches all start with a copy
    /// of one input, measured once for all of them instead of once per branch).
    pub(super) fn payload_within(&self, value: &Value) -> bool {
        let warned = self.payload_warned.load(Ordering::Relaxed);
        self.engine.payload_within(value, warned)
    }

    /// Fails with `States.DataLimitExceeded` when `value` is over the payload limit, or warns
    /// once per execution when it is over the warning bound.
    pub(super) fn check_payload(
        &self,
        state: &str,
        value: &Value,
        side: Payload,
    ) -> Result<(), StatesError> {
        let limits = &self.engine.options.limits;
        if let Some(max) = limits.payload_bytes {
            if payload_exceeds(value, max) {
                return Err(StatesError::new(
                    names::DATA_LIMIT_EXCEEDED,
                    match side {
                        Payload::Output => format!(
                            "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
                        ),
                        Payload::Input => format!(
                            "The state/task '{state}' was given an input with a size exceeding the maximum number of bytes service limit."
                        ),
                    },
                ));
            }
            return Ok(());
        }
        if let Some(max) = limits.payload_warning_bytes
            && !self.payload_warned.load(Ordering::Relaxed)
            && payload_exceeds(value, max)
            && !self.payload_warned.swap(true, Ordering::Relaxed)
        {
            let what = match side {
                Payload::Input => "input",
                Payload::Output => "output",
            };
            tracing::warn!(
                execution = %self.info.name,
                "the {what} of state '{state}' is over {max} bytes: on AWS this execution would fail with States.DataLimitExceeded (Step Functions' payload limit); carrying on"
            );
        }
        Ok(())
    }
}

impl crate::Engine {
    /// Whether a state given `value` passes the payload check without failing or warning
    /// (`warned`: the execution's warning was already given).
    pub(crate) fn payload_within(&self, value: &Value, warned: bool) -> bool {
        let limits = &self.options.limits;
        match (limits.payload_bytes, limits.payload_warning_bytes) {
            (Some(max), _) => !payload_exceeds(value, max),
            (None, Some(_)) if warned => true,
            (None, Some(max)) => !payload_exceeds(value, max),
            (None, None) => true,
        }
    }
}
