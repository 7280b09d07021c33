//! The blocking HTTP exchange every back end makes: one POST, never retried, its failures
//! sorted into the [`RemoteError`] cases the engine turns into branch errors.

use std::time::Duration;

use engine::lanes::RemoteError;

/// Largest answer read from a sibling (Lambda's synchronous response limit is 6 MB; a
/// serve sibling's own request limit is 64 MiB by default).
const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// An HTTP/1.1 client with connection reuse.
pub struct Client {
    agent: ureq::Agent,
}

/// A sibling's answer.
pub struct Answer {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Default for Client {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            // Error statuses carry the sibling's own error document.
            .http_status_as_error(false)
            // A redirect of a POST is not followed (it would send the batch twice).
            .max_redirects(0)
            .build()
            .into();
        Client { agent }
    }
}

impl Client {
    /// POSTs `body` (JSON) to `url` with `headers` and waits up to `timeout` for the answer.
    pub fn post(
        &self,
        target: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Answer, RemoteError> {
        let mut request = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let sent = request
            .config()
            .timeout_global(Some(timeout))
            .build()
            .send(&body[..]);
        let mut response = sent.map_err(|e| failure(target, timeout, e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| failure(target, timeout, e))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// What a failed exchange means for the batch's branches.
fn failure(target: &str, timeout: Duration, e: ureq::Error) -> RemoteError {
    let target = target.to_string();
    match e {
        ureq::Error::Timeout(_) => RemoteError::Timeout {
            target,
            seconds: timeout.as_secs_f64(),
        },
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => RemoteError::Timeout {
            target,
            seconds: timeout.as_secs_f64(),
        },
        // The connection broke or nothing listens: the sibling is gone.
        ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_)
        | ureq::Error::HostNotFound => RemoteError::Lost {
            target,
            reason: e.to_string(),
        },
        other => RemoteError::Refused {
            target,
            reason: other.to_string(),
        },
    }
}

/// The start of a body, for an error message.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.trim().to_string()
}

/// An answer with an error status: the sibling's `{"error", "cause"}` when it sent one, a
/// lost sibling for a gateway's 502/503/504, a refusal otherwise.
pub(crate) fn error_status(target: &str, answer: &Answer) -> RemoteError {
    #[derive(serde::Deserialize)]
    struct Failure {
        error: String,
        #[serde(default)]
        cause: String,
    }
    if let Ok(f) = serde_json::from_slice::<Failure>(&answer.body) {
        return RemoteError::Failed {
            target: target.to_string(),
            error: f.error,
            cause: f.cause,
        };
    }
    let reason = format!("HTTP {}: {}", answer.status, snippet(&answer.body));
    match answer.status {
        502..=504 => RemoteError::Lost {
            target: target.to_string(),
            reason,
        },
        _ => RemoteError::Refused {
            target: target.to_string(),
            reason,
        },
    }
}
