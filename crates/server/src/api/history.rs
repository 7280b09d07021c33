//! GetExecutionHistory: the events an execution recorded, paged by event id.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::{App, decode_token, encode_token, page_size, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HistoryInput {
    execution_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    #[serde(default)]
    reverse_order: bool,
    include_execution_data: Option<bool>,
}

impl App {
    pub(super) fn get_execution_history(&self, input: HistoryInput) -> Result<Json, ApiError> {
        let arn = required(input.execution_arn, "executionArn")?;
        crate::arn::execution(&arn)?;
        if self.store.execution(&arn)?.is_none() {
            return Err(ApiError::execution_does_not_exist(&arn));
        }
        let limit = page_size(input.max_results)?;
        let listing = if input.reverse_order {
            "history-reverse"
        } else {
            "history"
        };
        let from = match &input.next_token {
            Some(t) => decode_token(t, listing, &arn)?,
            None if input.reverse_order => i64::MAX,
            None => 0,
        };
        let mut events = self
            .store
            .history(&arn, from, input.reverse_order, limit + 1)?;
        let more = events.len() > limit;
        events.truncate(limit);
        if input.include_execution_data == Some(false) {
            events.iter_mut().for_each(strip_data);
        }
        let mut out = json!({});
        if more && let Some(id) = events.last().and_then(|e| e["id"].as_i64()) {
            out["nextToken"] = json!(encode_token(listing, &arn, id));
        }
        out["events"] = Json::Array(events);
        Ok(out)
    }
}

/// Drops inputs and outputs from an event's details, as AWS does with
/// `includeExecutionData: false`.
fn strip_data(event: &mut Json) {
    if let Some(object) = event.as_object_mut() {
        for (key, details) in object.iter_mut() {
            if !key.ends_with("EventDetails") {
                continue;
            }
            if let Some(details) = details.as_object_mut() {
                details.remove("input");
                details.remove("output");
            }
        }
    }
}
