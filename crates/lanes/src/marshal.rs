//! A branch output a worker cannot send back: which part of it, of what type, and the error
//! the branch fails with (Lambda's for a response it cannot serialize).

use asl::{StatesError, Value};
use engine::codec::{CodecError, PayloadSink, ValueCodec};
use engine::wire::BranchJob;

/// Lambda's error for a response it cannot serialize.
const MARSHAL_ERROR: &str = "Runtime.MarshalError";

/// How deep [`unencodable_part`] looks for the part of a result that does not encode.
const LOCATE_DEPTH: usize = 32;

/// The error of a branch whose output `value` the runtime's codec cannot encode (`error`):
/// `Runtime.MarshalError`, as for a Lambda function returning it, naming the state, the
/// branch, and the part of the output at fault with its type.
pub(crate) fn error(
    job: &BranchJob,
    index: usize,
    codec: &dyn ValueCodec,
    value: &Value,
    error: CodecError,
) -> StatesError {
    let (path, part, error) = unencodable_part(codec, value, error);
    let what = match &part {
        Value::Foreign(f) => f.type_name().map(|t| format!(" ({t})")),
        _ => None,
    };
    StatesError::new(
        MARSHAL_ERROR,
        format!(
            "Unable to marshal response: the output of branch {index} of state '{}{}' cannot leave its worker process: {path}{}: {error}",
            job.prefix,
            job.state,
            what.unwrap_or_default()
        ),
    )
}

/// The deepest part of `value` that `codec` cannot encode on its own: its JSONPath, the part
/// and the codec's error for it; `value` itself failed with `error`. Only ever runs on a
/// failure, and the trial encodings are discarded as they are written.
fn unencodable_part(
    codec: &dyn ValueCodec,
    value: &Value,
    error: CodecError,
) -> (String, Value, CodecError) {
    let mut path = String::from("$");
    let mut at = value.clone();
    let mut error = error;
    for _ in 0..LOCATE_DEPTH {
        let Some((step, part, part_error)) = children(&at).into_iter().find_map(|(step, part)| {
            match codec.encode(&[&part], &mut Discard(0)) {
                Ok(()) => None,
                Err(e) => Some((step, part, e)),
            }
        }) else {
            break;
        };
        path.push_str(&step);
        at = part;
        error = part_error;
    }
    (path, at, error)
}

/// The fields or elements of a container, each with its JSONPath step.
fn children(value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| (key_step(k), v.clone()))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v.clone()))
            .collect(),
        Value::Foreign(f) => match f.kind() {
            asl::value::Kind::Object => f
                .keys()
                .into_iter()
                .filter_map(|k| f.get(&k).map(|v| (key_step(&k), v)))
                .collect(),
            asl::value::Kind::Array => (0..f.len().unwrap_or(0))
                .filter_map(|i| f.index(i).map(|v| (format!("[{i}]"), v)))
                .collect(),
            _ => Vec::new(),
        },
        // Plain JSON always encodes.
        Value::Json(_) => Vec::new(),
    }
}

/// `.key`, or `['key']` when `key` is not a plain identifier.
fn key_step(key: &str) -> String {
    let mut step = String::new();
    asl::path::push_key(&mut step, key);
    step
}

/// A sink that keeps nothing: trial encodings only need to know whether they succeed.
struct Discard(u64);

impl PayloadSink for Discard {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0 += bytes.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use asl::{Foreign, ForeignError, Kind};
    use engine::codec::JsonCodec;
    use engine::wire::ExecutionWire;
    use serde_json::json;

    use super::*;

    /// A runtime object with no encoding (as a Python generator is to pickle).
    #[derive(Debug)]
    struct Socket;

    impl Foreign for Socket {
        fn kind(&self) -> Kind {
            Kind::Opaque
        }
        fn get(&self, _: &str) -> Option<Value> {
            None
        }
        fn index(&self, _: usize) -> Option<Value> {
            None
        }
        fn len(&self) -> Option<usize> {
            None
        }
        fn keys(&self) -> Vec<String> {
            Vec::new()
        }
        fn to_json(&self) -> Result<serde_json::Value, ForeignError> {
            Err(ForeignError::NotJson("a socket has no JSON form".into()))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn type_name(&self) -> Option<String> {
            Some("socket.socket".into())
        }
    }

    fn job() -> BranchJob {
        BranchJob {
            workflow: "w".into(),
            state_index: 0,
            state: "Each".into(),
            prefix: "Outer/2/".into(),
            execution: ExecutionWire {
                arn: "arn".into(),
                name: "x".into(),
                start_time: "2026-01-01T00:00:00.000Z".into(),
                input: json!({}),
                role_arn: "role".into(),
                state_machine_arn: "sm".into(),
                state_machine_name: "w".into(),
            },
            deadline_ms: None,
            trace_offset_us: None,
            shared_input: false,
            first_index: 0,
            variables: Default::default(),
        }
    }

    #[test]
    fn an_unencodable_result_is_a_marshal_error_naming_the_part_at_fault() {
        let value = Value::Object(
            [
                ("ok".to_string(), Value::Json(json!([1, 2]))),
                (
                    "peer's".to_string(),
                    Value::Array(vec![
                        Value::Json(json!(1)),
                        Value::Foreign(Arc::new(Socket)),
                    ]),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let error = JsonCodec
            .encode(&[&value], &mut Vec::new())
            .expect_err("a socket does not encode");
        let e = super::error(&job(), 7, &JsonCodec, &value, error);
        assert_eq!(e.error, "Runtime.MarshalError");
        assert_eq!(
            e.cause,
            "Unable to marshal response: the output of branch 7 of state 'Outer/2/Each' cannot \
             leave its worker process: $['peer\\'s'][1] (socket.socket): a socket has no JSON form"
        );
    }
}
