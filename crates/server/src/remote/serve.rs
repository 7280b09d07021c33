//! Sibling `faastlane serve` instances behind one URL (a Knative service, a load balancer):
//! `POST <url>/lanes/branches` with the request, the report as the answer.

use std::time::Duration;

use engine::lanes::{RemoteError, RemoteTransport};
use engine::wire::RemoteResponse;

use super::client::{Client, error_status};
use super::{LANES_PATH, response};

pub struct ServeTransport {
    target: String,
    url: String,
    client: Client,
}

impl ServeTransport {
    /// `base`: the siblings' URL (`http://lanes:8080`, with a path prefix if they are
    /// served under one).
    pub fn new(base: &str) -> Self {
        ServeTransport {
            target: base.to_string(),
            url: format!("{}{LANES_PATH}", base.trim_end_matches('/')),
            client: Client::default(),
        }
    }
}

impl RemoteTransport for ServeTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn send(&self, body: Vec<u8>, timeout: Duration) -> Result<RemoteResponse, RemoteError> {
        let answer = self
            .client
            .post(&self.target, &self.url, &[], body, timeout)?;
        if answer.status != 200 {
            return Err(error_status(&self.target, &answer));
        }
        response(&self.target, &answer.body)
    }
}
