//! The Lambda service as Step Functions sees it: a request body made from a `lambda:invoke`
//! `Payload`, the response body a function's result becomes, the Invoke response
//! `lambda:invoke` returns (with the HTTP headers Lambda sends), and Lambda's own errors
//! (`Lambda.ResourceNotFoundException`, `Lambda.InvalidRequestContentException`) with the
//! texts the AWS SDK for Java puts in their cause.

use std::time::SystemTime;

use asl::{Kind, StatesError, Value};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};

use crate::context::Identity;
use crate::runtime::{Call, TaskFailure};

/// A function's result as Lambda's Invoke returns it to Step Functions.
#[derive(Debug)]
pub struct LambdaResponse {
    /// What the Task gets: the response body, parsed as JSON (`Payload` of `lambda:invoke`).
    pub payload: Value,
    /// The response body's length in bytes (the `Content-Length` header), when asked for.
    pub body_length: Option<usize>,
}

impl LambdaResponse {
    /// The response of a function whose result is a JSON document: the body is the result
    /// as the Lambda Python runtime encodes it (`json.dumps`: `", "` and `": "` separators,
    /// non-ASCII escaped).
    pub fn json(call: &Call<'_>, result: Value, measure: bool) -> Result<Self, TaskFailure> {
        let body_length = if measure {
            let json = result
                .to_json()
                .map_err(|e| marshal_error(call, &format!("Unable to marshal response: {e}")))?;
            Some(python_json_length(&json))
        } else {
            None
        };
        Ok(LambdaResponse {
            payload: result,
            body_length,
        })
    }
}

/// `Runtime.MarshalError`: a result Lambda's runtime cannot encode as its response body.
pub fn marshal_error(call: &Call<'_>, message: &str) -> TaskFailure {
    const ERROR: &str = "Runtime.MarshalError";
    let cause = python_json(&json!({
        "errorMessage": message,
        "errorType": ERROR,
        "requestId": call.request_id.as_str(),
        "stackTrace": [],
    }));
    TaskFailure::Function(StatesError::new(ERROR, cause))
}

/// The event a `lambda:invoke` `Payload` becomes. The Payload is the request body: absent
/// or `null` sends no body, which Lambda gives the function as `{}`; a string is the body
/// itself, so `"0"` reaches the function as the number 0 and `"\"Hi\""` as the string `Hi`;
/// anything else is sent as its JSON.
pub fn request_event(payload: Option<Value>, request_id: &str) -> Result<Value, StatesError> {
    let Some(payload) = payload else {
        return Ok(Value::empty_object());
    };
    match payload.kind() {
        Kind::Null => Ok(Value::empty_object()),
        Kind::String => {
            let Some(Json::String(body)) = payload.scalar() else {
                return Ok(payload);
            };
            if body.trim().is_empty() {
                return Ok(Value::empty_object());
            }
            serde_json::from_str(&body).map(Value::Json).map_err(|e| {
                StatesError::new(
                    "Lambda.InvalidRequestContentException",
                    service_cause(
                        &format!(
                            "Could not parse request body into json: Could not parse payload into json: {e}"
                        ),
                        400,
                        "InvalidRequestContentException",
                        request_id,
                    ),
                )
            })
        }
        _ => Ok(payload),
    }
}

/// `Lambda.ResourceNotFoundException` for a function that does not exist, with the cause
/// Step Functions reports (the ARN with `$LATEST` when no version or alias was given).
pub fn function_not_found(call: &Call<'_>) -> TaskFailure {
    let arn = call
        .identity
        .function_arn(call.function, Some(call.qualifier.unwrap_or("$LATEST")));
    TaskFailure::Runtime(StatesError::new(
        "Lambda.ResourceNotFoundException",
        service_cause(
            &format!("Function not found: {arn}"),
            404,
            "ResourceNotFoundException",
            &uuid::Uuid::new_v4().to_string(),
        ),
    ))
}

/// An AWS service error as the AWS SDK for Java prints it (what Step Functions puts in the
/// cause of a `Lambda.*` error).
fn service_cause(message: &str, status: u16, code: &str, request_id: &str) -> String {
    format!(
        "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
    )
}

/// The region and account a Lambda function reference names, when they differ from
/// `default`'s: a full ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]`) gives both, a
/// partial ARN (`ACCOUNT:function:NAME`) the account. Allocates nothing for a reference that
/// names `default`'s own (the usual case, on every call of a Lambda-ARN Task).
pub fn function_identity(reference: &str, default: &Identity) -> Option<Identity> {
    let mut parts = reference.split(':');
    let (region, account) = match (parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("lambda")) => {
            let (region, account) = (parts.next()?, parts.next()?);
            (parts.next() == Some("function")).then_some((region, account))?
        }
        (Some(account), Some("function"), Some(_)) => (default.region.as_str(), account),
        _ => return None,
    };
    (region != default.region || account != default.account).then(|| Identity {
        region: region.to_string(),
        account: account.to_string(),
    })
}

/// The result `arn:aws:states:::lambda:invoke` gives: Lambda's Invoke response as the AWS SDK
/// for Java returns it, with the headers Lambda sends.
pub fn invoke_response(
    response: LambdaResponse,
    qualifier: Option<&str>,
    request_id: &str,
    now: SystemTime,
) -> Value {
    let version = qualifier.unwrap_or("$LATEST");
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let length = response.body_length.unwrap_or(0).to_string();
    let trace = trace_id(now.timestamp(), request_id);
    // In the order the SDK's map of every header lists them on AWS.
    let all: [(&str, &str); 8] = [
        ("X-Amz-Executed-Version", version),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("Connection", "keep-alive"),
        ("x-amzn-RequestId", request_id),
        ("Content-Length", &length),
        ("Date", &date),
        ("X-Amzn-Trace-Id", &trace),
        ("Content-Type", "application/json"),
    ];
    let all_headers: Map<String, Json> = all
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    // `HttpHeaders` is a case-insensitive sorted map.
    let mut sorted = all;
    sorted.sort_by_key(|(k, _)| k.to_ascii_lowercase());
    let headers: Map<String, Json> = sorted
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut out = IndexMap::new();
    out.insert("ExecutedVersion".to_string(), Value::Json(json!(version)));
    out.insert("Payload".to_string(), response.payload);
    out.insert(
        "SdkHttpMetadata".to_string(),
        Value::Json(json!({
            "AllHttpHeaders": all_headers,
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        })),
    );
    out.insert(
        "SdkResponseMetadata".to_string(),
        Value::Json(json!({"RequestId": request_id})),
    );
    out.insert("StatusCode".to_string(), Value::Json(json!(200)));
    Value::from_fields(out)
}

/// An X-Ray trace header in the shape Lambda returns (`root=1-<epoch hex>-<96 bits>;
/// parent=<64 bits>;sampled=0`), its ids taken from the request id's random bits.
fn trace_id(epoch_seconds: i64, request_id: &str) -> String {
    let hex: String = request_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_lowercase();
    let hex = format!("{hex:0<32}");
    format!(
        "root=1-{:08x}-{};parent={};sampled=0",
        epoch_seconds.max(0),
        &hex[..24],
        &hex[16..32]
    )
}

/// The length in bytes of `json` as Python's `json.dumps` writes it (what Lambda's Python
/// runtime sends as the response body): `", "` and `": "` between items, every character
/// outside printable ASCII escaped. Numbers are counted as serde_json writes them.
pub fn python_json_length(json: &Json) -> usize {
    match json {
        Json::Null => 4,
        Json::Bool(true) => 4,
        Json::Bool(false) => 5,
        Json::Number(n) => n.to_string().len(),
        Json::String(s) => python_string_length(s),
        Json::Array(items) => {
            2 + items.iter().map(python_json_length).sum::<usize>()
                + 2 * items.len().saturating_sub(1)
        }
        Json::Object(fields) => {
            2 + fields
                .iter()
                .map(|(k, v)| python_string_length(k) + 2 + python_json_length(v))
                .sum::<usize>()
                + 2 * fields.len().saturating_sub(1)
        }
    }
}

fn python_string_length(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            ' '..='~' => 1,
            c if c.len_utf16() == 2 => 12,
            _ => 6,
        })
        .sum::<usize>()
}

/// `json` as Python's `json.dumps` writes it (the text of Lambda's error documents).
pub fn python_json(json: &Json) -> String {
    let mut out = String::new();
    write_python_json(json, &mut out);
    out
}

fn write_python_json(json: &Json, out: &mut String) {
    match json {
        Json::Null | Json::Bool(_) | Json::Number(_) => out.push_str(&json.to_string()),
        Json::String(s) => write_python_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(k, out);
                out.push_str(": ");
                write_python_json(v, out);
            }
            out.push('}');
        }
    }
}

fn write_python_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_matches_json_dumps() {
        // json.dumps({"a": [1, "é\n"], "b": None, "c": "\U0001F600"})
        let value = json!({"a": [1, "é\n"], "b": null, "c": "\u{1F600}"});
        let text = r#"{"a": [1, "\u00e9\n"], "b": null, "c": "\ud83d\ude00"}"#;
        assert_eq!(python_json(&value), text);
        assert_eq!(python_json_length(&value), text.len());
        assert_eq!(python_json_length(&json!({})), 2);
        assert_eq!(python_json_length(&json!("HelloWorld")), 12);
    }

    #[test]
    fn function_references_name_their_region_and_account() {
        let default = Identity::default();
        let full = function_identity(
            "arn:aws:lambda:eu-west-1:123456789012:function:f:1",
            &default,
        );
        assert_eq!(
            full,
            Some(Identity {
                region: "eu-west-1".into(),
                account: "123456789012".into()
            })
        );
        let partial = function_identity("123456789012:function:f", &default);
        assert_eq!(partial.map(|i| i.account), Some("123456789012".to_string()));
        let own = "arn:aws:lambda:us-east-1:111111111111:function:f";
        assert_eq!(function_identity(own, &default), None);
        assert_eq!(function_identity("arn:aws:s3:::bucket", &default), None);
        assert_eq!(function_identity("f", &default), None);
        assert_eq!(function_identity("f:prod", &default), None);
    }

    #[test]
    fn trace_ids_have_lambdas_shape() {
        let t = trace_id(0x669f2d13, "b37f1999-9659-4b55-abe3-83fd6d2862b2");
        assert_eq!(
            t,
            "root=1-669f2d13-b37f199996594b55abe383fd;parent=abe383fd6d2862b2;sampled=0"
        );
    }
}
