//! Sibling instances as invocations of a Lambda function that runs `faastlane lambda` with
//! the same workflow: Lambda's Invoke API, synchronous (`RequestResponse`).
//!
//! The endpoint is the AWS SDKs' `AWS_ENDPOINT_URL_LAMBDA` (or `AWS_ENDPOINT_URL`): a plain
//! HTTP one, such as `cargo lambda watch`'s emulator or a signing proxy. Requests are not
//! signed (SigV4) and there is no TLS client, so the public `lambda.REGION.amazonaws.com`
//! endpoint is refused at start rather than failing every batch.

use std::time::Duration;

use engine::lanes::{RemoteError, RemoteTransport};
use engine::wire::RemoteResponse;

use super::client::{Client, error_status};
use super::{check_name, event, response};

pub struct LambdaTransport {
    target: String,
    url: String,
    client: Client,
}

impl LambdaTransport {
    /// The function `name` at the endpoint the environment (`env`) names.
    pub fn from_env(name: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let name = check_name(name)?;
        let endpoint = env("AWS_ENDPOINT_URL_LAMBDA")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .ok_or_else(|| {
                "no Lambda endpoint: set AWS_ENDPOINT_URL_LAMBDA to a plain-HTTP Invoke API (the public endpoint needs TLS and SigV4 signing, which are not built in)".to_string()
            })?;
        if !endpoint.starts_with("http://") {
            return Err(format!(
                "AWS_ENDPOINT_URL_LAMBDA={endpoint}: only plain http:// endpoints are supported (no TLS or SigV4 signing)"
            ));
        }
        Ok(LambdaTransport {
            target: format!("lambda:{name}"),
            url: format!(
                "{}/2015-03-31/functions/{name}/invocations",
                endpoint.trim_end_matches('/')
            ),
            client: Client::default(),
        })
    }

    /// Where invocations go.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl RemoteTransport for LambdaTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn send(&self, body: Vec<u8>, timeout: Duration) -> Result<RemoteResponse, RemoteError> {
        let headers = [
            ("x-amz-invocation-type", "RequestResponse".to_string()),
            ("x-amz-log-type", "None".to_string()),
        ];
        let answer = self
            .client
            .post(&self.target, &self.url, &headers, event(body), timeout)?;
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
    fn without_a_plain_http_endpoint_it_says_why() {
        let e = LambdaTransport::from_env("f", env(None))
            .err()
            .unwrap_or_default();
        assert!(e.contains("AWS_ENDPOINT_URL_LAMBDA"), "{e}");
        let e = LambdaTransport::from_env("f", env(Some("https://lambda.us-east-1.amazonaws.com")))
            .err()
            .unwrap_or_default();
        assert!(e.contains("only plain http://"), "{e}");
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
