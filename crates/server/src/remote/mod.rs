//! Remote lanes' back ends: how a batch of branches reaches a sibling instance of the same
//! workflow through the platform's own invoke path (the engine's side, what goes where, is
//! `engine::remote`; the seam is [`engine::lanes::RemoteTransport`]).
//!
//! | `--remote`       | request                                                         |
//! |------------------|-----------------------------------------------------------------|
//! | `http://HOST[:PORT][/PREFIX]` | `POST PREFIX/lanes/branches` to `faastlane serve` siblings behind one URL (a Knative service, a load balancer) |
//! | `lambda:NAME`    | Lambda's Invoke API, `POST /2015-03-31/functions/NAME/invocations` (`faastlane lambda` runs it) |
//! | `openwhisk:NAME` | OpenWhisk's blocking invoke, `POST /api/v1/namespaces/_/actions/NAME?blocking=true`, `__OW_API_KEY` as basic auth |
//!
//! Lambda and OpenWhisk carry the request as `{"faastlaneLanes": REQUEST}`
//! ([`engine::wire::REMOTE_EVENT_KEY`]): the runtime there answers it with
//! [`engine::Engine::run_remote_batch`] instead of starting an execution.

use std::sync::Arc;
use std::time::Duration;

use engine::lanes::{RemoteError, RemoteLanes, RemoteTransport};
use engine::wire::RemoteResponse;
use serde::{Deserialize, Serialize};

mod client;
mod lambda;
mod openwhisk;
mod serve;
mod sigv4;

pub use client::Client;
pub use lambda::LambdaTransport;
pub use openwhisk::OpenWhiskTransport;
pub use serve::ServeTransport;

/// The path `faastlane serve` takes batches on.
pub const LANES_PATH: &str = "/lanes/branches";

/// Where remote lanes go and how much they take: what `--remote`, `--remote-cap` and
/// `--remote-timeout` say, as it travels to an executor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteConfig {
    /// `http://...`, `lambda:NAME` or `openwhisk:NAME`.
    pub target: String,
    /// The most requests one Parallel or Map state sends at once.
    pub cap: usize,
    /// How long a sibling may take to answer one request, in seconds.
    pub timeout_seconds: f64,
}

/// A `--remote` value that names no back end, or a back end that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum RemoteConfigError {
    #[error(
        "--remote {0:?}: expected http(s)://HOST[:PORT][/PREFIX], lambda:FUNCTION or openwhisk:ACTION"
    )]
    Unknown(String),
    #[error("--remote {target:?}: {reason}")]
    Setup { target: String, reason: String },
    #[error("--remote-cap must be at least 1")]
    Cap,
    #[error("--remote-timeout must be a positive number of seconds, not {0}")]
    Timeout(f64),
}

impl RemoteConfig {
    /// The engine's remote lanes for this configuration, with the environment's endpoint
    /// and credentials for Lambda and OpenWhisk.
    pub fn lanes(&self) -> Result<RemoteLanes, RemoteConfigError> {
        if self.cap == 0 {
            return Err(RemoteConfigError::Cap);
        }
        if !(self.timeout_seconds.is_finite() && self.timeout_seconds > 0.0) {
            return Err(RemoteConfigError::Timeout(self.timeout_seconds));
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let target = self.target.as_str();
        let transport: Arc<dyn RemoteTransport> = if let Some(name) = target.strip_prefix("lambda:")
        {
            Arc::new(LambdaTransport::from_env(name, env).map_err(|reason| {
                RemoteConfigError::Setup {
                    target: target.to_string(),
                    reason,
                }
            })?)
        } else if let Some(name) = target.strip_prefix("openwhisk:") {
            Arc::new(OpenWhiskTransport::from_env(name, env).map_err(|reason| {
                RemoteConfigError::Setup {
                    target: target.to_string(),
                    reason,
                }
            })?)
        } else if ["http://", "https://"]
            .iter()
            .any(|scheme| target.len() > scheme.len() && target.starts_with(scheme))
        {
            Arc::new(ServeTransport::new(target))
        } else {
            return Err(RemoteConfigError::Unknown(target.to_string()));
        };
        Ok(RemoteLanes {
            transport,
            cap: self.cap,
            timeout: Duration::from_secs_f64(self.timeout_seconds),
        })
    }
}

/// A function or action name as it goes into a URL path: AWS and OpenWhisk names are
/// letters, digits, `-`, `_`, `.`, `:` (Lambda ARNs) and `/` (OpenWhisk packages).
fn check_name(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c))
        && !name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "'{name}' is not a function or action name (letters, digits, - _ . : / only)"
        ))
    }
}

/// Reads a [`RemoteResponse`] out of a sibling's answer.
fn response(target: &str, body: &[u8]) -> Result<RemoteResponse, RemoteError> {
    serde_json::from_slice(body).map_err(|e| RemoteError::Refused {
        target: target.to_string(),
        reason: format!(
            "the answer is not a remote-lane report ({e}): {}",
            client::snippet(body)
        ),
    })
}

/// The body wrapped as a platform event: `{"faastlaneLanes": BODY}`.
fn event(body: Vec<u8>) -> Vec<u8> {
    let key = engine::wire::REMOTE_EVENT_KEY;
    let mut out = Vec::with_capacity(body.len() + key.len() + 5);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(&body);
    out.push(b'}');
    out
}

pub use engine::wire::{answer_event, lanes_request};

#[cfg(test)]
mod tests {
    use super::*;

    fn config(target: &str) -> RemoteConfig {
        RemoteConfig {
            target: target.to_string(),
            cap: 2,
            timeout_seconds: 30.0,
        }
    }

    #[test]
    fn targets_name_their_back_end_or_fail_clearly() {
        assert_eq!(
            config("http://lanes:8080")
                .lanes()
                .map(|l| l.transport.target().to_string())
                .ok(),
            Some("http://lanes:8080".to_string())
        );
        let e = config("ftp://x").lanes().unwrap_err().to_string();
        assert!(e.contains("expected http(s)://"), "{e}");
        assert_eq!(
            config("https://lanes.example")
                .lanes()
                .map(|l| l.transport.target().to_string())
                .ok(),
            Some("https://lanes.example".to_string())
        );
        assert!(config("https://").lanes().is_err());
        let mut c = config("http://x");
        c.cap = 0;
        assert!(matches!(c.lanes(), Err(RemoteConfigError::Cap)));
        c.cap = 1;
        c.timeout_seconds = f64::NAN;
        assert!(matches!(c.lanes(), Err(RemoteConfigError::Timeout(_))));
    }

    #[test]
    fn events_wrap_the_request_and_are_found_again() {
        let wrapped = event(br#"{"a":1}"#.to_vec());
        let value: serde_json::Value = serde_json::from_slice(&wrapped).expect("json");
        assert_eq!(value, serde_json::json!({"faastlaneLanes": {"a": 1}}));
        assert!(lanes_request(&serde_json::json!({"other": 1})).is_none());
        assert!(lanes_request(&value).is_some_and(|r| r.is_err()));
    }

    #[test]
    fn platform_events_are_answered_only_when_they_carry_a_batch_of_this_workflow() {
        let workflow = engine::Workflow {
            name: "w".to_string(),
            machine: asl::load_str(
                r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
                    {"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}},
                    {"StartAt":"B","States":{"B":{"Type":"Pass","Result":2,"End":true}}}]}}}"#,
            )
            .expect("valid"),
        };
        let engine = engine::Engine::new(std::sync::Arc::new(engine::NativeRuntime::new()));
        assert!(answer_event(&engine, &workflow, &serde_json::json!({"a": 1}), "i").is_none());
        let job = serde_json::json!({"workflow": "w", "state_index": 0, "state": "P", "prefix": "",
            "execution": {"arn": "a", "name": "n", "start_time": "t", "input": {}, "role_arn": "r",
                          "state_machine_arn": "s", "state_machine_name": "w"},
            "deadline_ms": null, "trace_offset_us": null, "shared_input": true, "first_index": 1});
        let event =
            serde_json::json!({"faastlaneLanes": {"job": job, "indices": [1], "inputs": [{}]}});
        let report = answer_event(&engine, &workflow, &event, "i")
            .expect("a batch")
            .expect("runs");
        assert_eq!(report.instance, "i");
        assert_eq!(
            report.branches[0].outcome,
            engine::wire::RemoteOutcome::Output(serde_json::json!(2))
        );
        let mut other = event.clone();
        other["faastlaneLanes"]["job"]["workflow"] = serde_json::json!("x");
        let refused = answer_event(&engine, &workflow, &other, "i").expect("a batch");
        assert!(refused.is_err_and(|(e, c)| e == "States.Runtime" && c.contains("not 'x'")));
    }

    #[test]
    fn names_with_path_tricks_are_refused() {
        assert!(check_name("finra-200").is_ok());
        assert!(check_name("pkg/action").is_ok());
        assert!(check_name("a?b").is_err());
        assert!(check_name("../admin").is_err());
        assert!(check_name("").is_err());
    }
}
