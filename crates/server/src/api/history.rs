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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::executor::pool::Pool;
    use crate::functions::FunctionDirs;
    use crate::store::{Finished, NewExecution, Store};

    const ARN: &str = "arn:aws:states:us-east-1:111111111111:execution:m:e";

    /// An app whose store holds one finished execution with `n` events.
    fn app_with_events(n: i64) -> Arc<App> {
        let store = Store::open(":memory:").expect("store");
        store
            .insert_execution(&NewExecution {
                arn: ARN,
                name: "e",
                state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m",
                definition: "{}",
                role_arn: "arn:aws:iam::111111111111:role/r",
                machine_updated: 0.0,
                start: 0.0,
                input: "{}",
                trace_header: None,
            })
            .expect("insert");
        let events = (1..=n)
            .map(|id| {
                json!({"id": id, "type": "PassStateEntered",
                       "stateEnteredEventDetails": {"name": "A", "input": "{\"secret\":1}"}})
            })
            .collect();
        let finished = Finished {
            status: "SUCCEEDED",
            stop: 1.0,
            output: Some("{}".to_string()),
            error: None,
            cause: None,
            events,
        };
        store.finish_execution(ARN, &finished).expect("finish");
        Arc::new(App::new(
            store,
            engine::Identity::default(),
            FunctionDirs::default(),
            Pool::new(Vec::new(), 1),
            None,
        ))
    }

    fn page(app: &App, reverse: bool, token: Option<String>, data: Option<bool>) -> Json {
        app.get_execution_history(HistoryInput {
            execution_arn: Some(ARN.to_string()),
            max_results: Some(2),
            next_token: token,
            reverse_order: reverse,
            include_execution_data: data,
        })
        .expect("history page")
    }

    fn ids(app: &App, reverse: bool) -> Vec<i64> {
        let (mut ids, mut token) = (Vec::new(), None);
        loop {
            let out = page(app, reverse, token, None);
            ids.extend(
                out["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["id"].as_i64()),
            );
            match out["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return ids,
            }
        }
    }

    #[test]
    fn pages_forward_and_backward() {
        let app = app_with_events(5);
        assert_eq!(ids(&app, false), vec![1, 2, 3, 4, 5]);
        assert_eq!(ids(&app, true), vec![5, 4, 3, 2, 1]);
    }

    #[test]
    fn a_token_of_the_other_order_is_invalid() {
        let app = app_with_events(5);
        let token = page(&app, false, None, None)["nextToken"]
            .as_str()
            .map(str::to_string);
        let err = app
            .get_execution_history(HistoryInput {
                execution_arn: Some(ARN.to_string()),
                max_results: None,
                next_token: token,
                reverse_order: true,
                include_execution_data: None,
            })
            .err()
            .map(|e| e.kind);
        assert_eq!(err, Some("InvalidToken"));
    }

    #[test]
    fn execution_data_can_be_left_out() {
        let app = app_with_events(1);
        let with = page(&app, false, None, None);
        assert_eq!(
            with["events"][0]["stateEnteredEventDetails"]["input"],
            "{\"secret\":1}"
        );
        let without = page(&app, false, None, Some(false));
        assert!(
            without["events"][0]["stateEnteredEventDetails"]
                .get("input")
                .is_none()
        );
        assert_eq!(
            without["events"][0]["stateEnteredEventDetails"]["name"],
            "A"
        );
    }
}
