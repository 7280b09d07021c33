//! Sibling instances as invocations of a Lambda function that runs `faastlane lambda` with
//! the same workflow: Lambda's Invoke API, synchronous (`RequestResponse`).
//!
//! The endpoint is the AWS SDKs' `AWS_ENDPOINT_URL_LAMBDA` (or `AWS_ENDPOINT_URL`), such as
//! `cargo lambda watch`'s emulator, else Lambda's public endpoint for `AWS_REGION`
//! (`https://lambda.REGION.amazonaws.com`, over TLS). With `AWS_ACCESS_KEY_ID` in the
//! environment (Lambda sets it, with the secret and session token of the function's role)
//! every request is SigV4-signed, as the SDKs sign it (`sigv4.rs`).

use std::time::{Duration, SystemTime};

use engine::lanes::{RemoteError, RemoteTransport};
use engine::wire::RemoteResponse;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::client::{Client, error_status};
use super::sigv4::{Signer, region};
use super::{check_name, event, response};

/// What stays as it is in a path segment: RFC 3986's unreserved characters (a function ARN's
/// or alias's `:` is encoded, as the SDKs encode it).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct LambdaTransport {
    target: String,
    url: String,
    client: Client,
    signer: Option<Signer>,
}

impl LambdaTransport {
    /// The function `name` at the endpoint the environment (`env`) names.
    pub fn from_env(name: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let name = check_name(name)?;
        let endpoint = match env("AWS_ENDPOINT_URL_LAMBDA").or_else(|| env("AWS_ENDPOINT_URL")) {
            Some(endpoint) => endpoint,
            None => match region(&env) {
                Some(region) => format!("https://lambda.{region}.amazonaws.com"),
                None => {
                    return Err(
                        "no Lambda endpoint: set AWS_REGION (Lambda's endpoint for that region) or AWS_ENDPOINT_URL_LAMBDA (an emulator, a proxy)".to_string(),
                    );
                }
            },
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(format!(
                "AWS_ENDPOINT_URL_LAMBDA={endpoint}: expected an http:// or https:// URL"
            ));
        }
        let signer = Signer::from_env(&env).transpose()?;
        Ok(LambdaTransport {
            target: format!("lambda:{name}"),
            url: format!(
                "{}/2015-03-31/functions/{}/invocations",
                endpoint.trim_end_matches('/'),
                utf8_percent_encode(name, SEGMENT)
            ),
            client: Client::default(),
            signer,
        })
    }

    /// Where invocations go.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether requests are SigV4-signed (credentials in the environment).
    pub fn signs(&self) -> bool {
        self.signer.is_some()
    }

    /// The headers of one invocation of `body`: Lambda's, and the signature's when signing.
    fn headers(&self, body: &[u8]) -> Result<Vec<(String, String)>, RemoteError> {
        let headers = vec![
            ("content-type", "application/json".to_string()),
            ("x-amz-invocation-type", "RequestResponse".to_string()),
            ("x-amz-log-type", "None".to_string()),
        ];
        let signature = match &self.signer {
            Some(signer) => signer
                .sign(&self.url, &headers, body, SystemTime::now())
                .map_err(|reason| RemoteError::Refused {
                    target: self.target.clone(),
                    reason,
                })?,
            None => Vec::new(),
        };
        Ok(headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain(signature)
            .collect())
    }
}

impl RemoteTransport for LambdaTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn send(&self, body: Vec<u8>, timeout: Duration) -> Result<RemoteResponse, RemoteError> {
        let body = event(body);
        let headers = self.headers(&body)?;
        let headers: Vec<(&str, String)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let answer = self
            .client
            .post(&self.target, &self.url, &headers, body, timeout)?;
        if answer.status != 200 {
            let kind = answer
                .headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Err(match error_status(&self.target, &answer) {
                RemoteError::Refused { target, reason } => RemoteError::Refused {
                    target,
                    reason: match kind {
                        Some(kind) => format!("{kind}: {reason}"),
                        None => reason,
                    },
                },
                other => other,
            });
        }
        if answer.headers.contains_key("x-amz-function-error") {
            return Err(function_error(&self.target, &answer.body));
        }
        response(&self.target, &answer.body)
    }
}

/// The function failed instead of answering (its runtime crashed, it timed out): Lambda's
/// `{"errorType", "errorMessage"}`.
fn function_error(target: &str, body: &[u8]) -> RemoteError {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Failure {
        error_type: Option<String>,
        error_message: Option<String>,
    }
    let f: Failure = serde_json::from_slice(body).unwrap_or_default();
    let message = f
        .error_message
        .unwrap_or_else(|| super::client::snippet(body));
    if f.error_type.is_none() && message.contains("Task timed out") {
        return RemoteError::Timeout {
            target: target.to_string(),
            seconds: timed_out_after(&message).unwrap_or(0.0),
        };
    }
    RemoteError::Failed {
        target: target.to_string(),
        error: f.error_type.unwrap_or_else(|| "Lambda.Unknown".to_string()),
        cause: message,
    }
}

/// `... Task timed out after 3.00 seconds` -> 3.0.
fn timed_out_after(message: &str) -> Option<f64> {
    let rest = message.split("timed out after ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(endpoint: Option<&'static str>) -> impl Fn(&str) -> Option<String> {
        move |name| (name == "AWS_ENDPOINT_URL_LAMBDA").then(|| endpoint.map(str::to_string))?
    }

    #[test]
    fn the_invoke_url_follows_the_api() {
        let t = LambdaTransport::from_env("finra", env(Some("http://127.0.0.1:9000/")))
            .expect("configured");
        assert_eq!(
            t.url(),
            "http://127.0.0.1:9000/2015-03-31/functions/finra/invocations"
        );
        assert_eq!(t.target(), "lambda:finra");
    }

    #[test]
    fn without_an_endpoint_the_region_names_lambdas_own() {
        let e = LambdaTransport::from_env("f", env(None))
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("AWS_REGION") && e.contains("AWS_ENDPOINT_URL_LAMBDA"),
            "{e}"
        );
        let e = LambdaTransport::from_env("f", env(Some("lambda.example")))
            .err()
            .unwrap_or_default();
        assert!(e.contains("expected an http:// or https:// URL"), "{e}");
        let in_lambda = |name: &str| {
            [
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "token"),
            ]
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
        };
        let t = LambdaTransport::from_env("arn:aws:lambda:eu-west-1:1:function:f:live", in_lambda)
            .expect("configured");
        assert_eq!(
            t.url(),
            "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af%3Alive/invocations"
        );
        assert!(t.signs());
        let headers = t.headers(b"{}").expect("signed");
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names.contains(&"authorization") && names.contains(&"x-amz-security-token"),
            "{names:?}"
        );
        assert!(
            !LambdaTransport::from_env("f", env(Some("http://127.0.0.1:9000")))
                .expect("ok")
                .signs()
        );
    }

    #[test]
    fn function_errors_keep_their_type_and_timeouts_become_states_timeout() {
        let crashed = function_error(
            "lambda:f",
            br#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: x Error: Runtime exited with error: signal: killed"}"#,
        );
        assert_eq!(crashed.states_error().error, "Runtime.ExitError");
        let timed_out = function_error(
            "lambda:f",
            br#"{"errorMessage":"2026-12-04T16:00:00.000Z 1 Task timed out after 3.00 seconds"}"#,
        );
        assert_eq!(
            timed_out,
            RemoteError::Timeout {
                target: "lambda:f".into(),
                seconds: 3.0
            }
        );
        assert_eq!(timed_out.states_error().error, "States.Timeout");
    }
}
