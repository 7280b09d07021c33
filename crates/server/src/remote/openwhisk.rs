//! Sibling instances as activations of an OpenWhisk action that runs `faastlane openwhisk`
//! with the same workflow: the controller's blocking invoke,
//! `POST {__OW_API_HOST}/api/v1/namespaces/_/actions/NAME?blocking=true`, authenticated with
//! `__OW_API_KEY` (`uuid:key`) as HTTP basic auth, both as OpenWhisk sets them inside an
//! action. The answer is the activation record; the report is its `response.result`.

use std::time::Duration;

use base64::Engine as _;
use engine::lanes::{RemoteError, RemoteTransport};
use engine::wire::RemoteResponse;
use serde_json::Value as Json;

use super::client::{Answer, Client, error_status, snippet};
use super::{check_name, event, response};

pub struct OpenWhiskTransport {
    target: String,
    url: String,
    authorization: String,
    client: Client,
}

impl OpenWhiskTransport {
    /// The action `name` at the controller and with the key the environment (`env`) names.
    pub fn from_env(name: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let name = check_name(name)?;
        let host = env("__OW_API_HOST").ok_or("no __OW_API_HOST: the OpenWhisk API host")?;
        let key = env("__OW_API_KEY").ok_or("no __OW_API_KEY: the namespace's uuid:key")?;
        // A host without a scheme is HTTPS, as OpenWhisk's client libraries assume.
        let host = if host.contains("://") {
            host
        } else {
            format!("https://{host}")
        };
        if !(host.starts_with("http://") || host.starts_with("https://")) {
            return Err(format!(
                "__OW_API_HOST={host}: expected an http:// or https:// URL"
            ));
        }
        Ok(OpenWhiskTransport {
            target: format!("openwhisk:{name}"),
            url: format!(
                "{}/api/v1/namespaces/_/actions/{name}?blocking=true",
                host.trim_end_matches('/')
            ),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(key)
            ),
            client: Client::default(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl RemoteTransport for OpenWhiskTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn send(&self, body: Vec<u8>, timeout: Duration) -> Result<RemoteResponse, RemoteError> {
        let headers = [("authorization", self.authorization.clone())];
        let answer = self
            .client
            .post(&self.target, &self.url, &headers, event(body), timeout)?;
        activation_result(&self.target, &answer)
    }
}

/// The report inside an activation record, or what became of the activation.
fn activation_result(target: &str, answer: &Answer) -> Result<RemoteResponse, RemoteError> {
    // 202: the controller stopped waiting (its blocking limit, 60 s by default); the
    // activation goes on, and is not started again.
    if answer.status == 202 {
        return Err(RemoteError::Timeout {
            target: target.to_string(),
            seconds: 60.0,
        });
    }
    let record: Option<Json> = serde_json::from_slice(&answer.body).ok();
    let Some(result) = record.as_ref().and_then(|r| r.get("response")) else {
        return Err(error_status(target, answer));
    };
    let status = result.get("status").and_then(Json::as_str).unwrap_or("");
    let inner = result.get("result").cloned().unwrap_or(Json::Null);
    match status {
        "success" => response(target, inner.to_string().as_bytes()),
        "application error" => {
            let text = |k: &str| inner.get(k).and_then(Json::as_str).map(str::to_string);
            Err(RemoteError::Failed {
                target: target.to_string(),
                error: text("error").unwrap_or_else(|| "States.Runtime".to_string()),
                cause: text("cause").unwrap_or_else(|| inner.to_string()),
            })
        }
        // The action's container died or answered nothing ("action developer error"), or
        // the platform failed it ("whisk internal error").
        _ => Err(RemoteError::Lost {
            target: target.to_string(),
            reason: format!(
                "activation {status:?}: {}",
                inner
                    .get("error")
                    .map_or_else(|| snippet(&answer.body), Json::to_string)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "__OW_API_HOST" => Some("172.17.0.1:3233".to_string()),
            "__OW_API_KEY" => Some("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZ".to_string()),
            _ => None,
        }
    }

    fn answer(status: u16, body: Json) -> Answer {
        Answer {
            status,
            headers: Default::default(),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn the_blocking_invoke_url_and_basic_auth_follow_the_api() {
        let t = OpenWhiskTransport::from_env("finra", env).expect("configured");
        assert_eq!(
            t.url(),
            "https://172.17.0.1:3233/api/v1/namespaces/_/actions/finra?blocking=true"
        );
        assert_eq!(
            t.authorization,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZ")
            )
        );
        assert!(OpenWhiskTransport::from_env("f", |_| None).is_err());
    }

    #[test]
    fn activation_records_map_to_reports_and_errors() {
        let ok = answer(
            200,
            serde_json::json!({"activationId": "a", "response": {"status": "success", "success": true,
                "result": {"instance": "ow-1", "branches": []}}}),
        );
        assert_eq!(
            activation_result("openwhisk:f", &ok)
                .map(|r| r.instance)
                .ok(),
            Some("ow-1".to_string())
        );
        let failed = answer(
            502,
            serde_json::json!({"response": {"status": "application error", "success": false,
                "result": {"error": "States.Runtime", "cause": "no state 'X'"}}}),
        );
        let e = activation_result("openwhisk:f", &failed).err();
        assert_eq!(
            e.map(|e| e.states_error().error),
            Some("States.Runtime".into())
        );
        let died = answer(
            502,
            serde_json::json!({"response": {"status": "action developer error", "success": false,
                "result": {"error": "The action did not produce a valid response and exited unexpectedly."}}}),
        );
        let e = activation_result("openwhisk:f", &died).err();
        assert_eq!(
            e.map(|e| e.states_error().error),
            Some("Runtime.ExitError".into())
        );
        let waited = answer(202, serde_json::json!({"activationId": "a"}));
        let e = activation_result("openwhisk:f", &waited).err();
        assert_eq!(
            e.map(|e| e.states_error().error),
            Some("States.Timeout".into())
        );
    }
}
