//! State machine actions and tags.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::{App, decode_token, encode_token, page_size, required, timestamp};
use crate::error::ApiError;
use crate::store::{MachineRecord, now};

const MAX_TAGS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Tag {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateInput {
    name: Option<String>,
    definition: Option<String>,
    role_arn: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    logging_configuration: Option<Json>,
    tracing_configuration: Option<Json>,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ArnInput {
    state_machine_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateInput {
    state_machine_arn: Option<String>,
    definition: Option<String>,
    role_arn: Option<String>,
    logging_configuration: Option<Json>,
    tracing_configuration: Option<Json>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ValidateInput {
    definition: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TagInput {
    resource_arn: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

fn default_logging() -> Json {
    json!({"level": "OFF", "includeExecutionData": false})
}

fn default_tracing() -> Json {
    json!({"enabled": false})
}

fn check_role(role: &str) -> Result<(), ApiError> {
    if role.starts_with("arn:") && role.split(':').count() >= 6 {
        Ok(())
    } else {
        Err(ApiError::invalid_arn(format!("Invalid ARN prefix: {role}")))
    }
}

fn check_tags(tags: Vec<Tag>) -> Result<Vec<(String, String)>, ApiError> {
    tags.into_iter()
        .map(|t| {
            Ok((
                required(t.key, "tags.member.key")?,
                t.value.unwrap_or_default(),
            ))
        })
        .collect()
}

impl App {
    pub(super) fn create_state_machine(&self, input: CreateInput) -> Result<Json, ApiError> {
        let name = required(input.name, "name")?;
        let definition = required(input.definition, "definition")?;
        let role_arn = required(input.role_arn, "roleArn")?;
        crate::arn::check_name(&name)?;
        check_role(&role_arn)?;
        let kind = input.kind.unwrap_or_else(|| "STANDARD".to_string());
        if kind != "STANDARD" && kind != "EXPRESS" {
            return Err(ApiError::constraint(
                "type",
                &kind,
                "Member must satisfy enum value set: [STANDARD, EXPRESS]",
            ));
        }
        let tags = check_tags(input.tags)?;
        if tags.len() > MAX_TAGS {
            return Err(ApiError::too_many_tags(&name));
        }
        self.check_definition(&name, &definition)?;
        let arn = self.identity.state_machine_arn(&name);
        let logging = input.logging_configuration.unwrap_or_else(default_logging);
        let tracing = input.tracing_configuration.unwrap_or_else(default_tracing);
        let record = MachineRecord {
            seq: 0,
            name: name.clone(),
            arn: arn.clone(),
            definition,
            role_arn,
            kind,
            created: now(),
            updated: None,
            revision_id: None,
            logging,
            tracing,
        };
        if !self.store.insert_machine(&record)? {
            // Creating the same state machine again is idempotent; anything else conflicts.
            let existing = self
                .store
                .machine(&name)?
                .ok_or_else(|| ApiError::state_machine_already_exists(&arn))?;
            let same = existing.definition == record.definition
                && existing.role_arn == record.role_arn
                && existing.kind == record.kind;
            if !same {
                return Err(ApiError::state_machine_already_exists(&arn));
            }
            return Ok(json!({
                "stateMachineArn": existing.arn,
                "creationDate": timestamp(existing.created),
            }));
        }
        if !tags.is_empty() {
            self.store.set_tags(&arn, &tags)?;
        }
        tracing::info!(state_machine = %arn, "created");
        Ok(json!({"stateMachineArn": arn, "creationDate": timestamp(record.created)}))
    }

    pub(super) fn describe_state_machine(&self, input: ArnInput) -> Result<Json, ApiError> {
        let arn = required(input.state_machine_arn, "stateMachineArn")?;
        let (machine, _) = self.machine(&arn)?;
        let r = &machine.record;
        let mut out = json!({
            "stateMachineArn": r.arn,
            "name": r.name,
            "status": "ACTIVE",
            "definition": r.definition,
            "roleArn": r.role_arn,
            "type": r.kind,
            "creationDate": timestamp(r.created),
            "loggingConfiguration": r.logging,
            "tracingConfiguration": r.tracing,
        });
        if let Some(rev) = &r.revision_id {
            out["revisionId"] = json!(rev);
        }
        Ok(out)
    }

    pub(super) fn list_state_machines(&self, input: ListInput) -> Result<Json, ApiError> {
        let limit = page_size(input.max_results)?;
        let after = match &input.next_token {
            Some(t) => decode_token(t, "stateMachines", "")?,
            None => 0,
        };
        let mut records = self.store.list_machines(after, limit + 1)?;
        let more = records.len() > limit;
        records.truncate(limit);
        let items: Vec<Json> = records
            .iter()
            .map(|r| {
                json!({
                    "stateMachineArn": r.arn,
                    "name": r.name,
                    "type": r.kind,
                    "creationDate": timestamp(r.created),
                })
            })
            .collect();
        let mut out = json!({"stateMachines": items});
        if more && let Some(last) = records.last() {
            out["nextToken"] = json!(encode_token("stateMachines", "", last.seq));
        }
        Ok(out)
    }

    pub(super) fn update_state_machine(&self, input: UpdateInput) -> Result<Json, ApiError> {
        let arn = required(input.state_machine_arn, "stateMachineArn")?;
        let (machine, _) = self.machine(&arn)?;
        if input.definition.is_none()
            && input.role_arn.is_none()
            && input.logging_configuration.is_none()
            && input.tracing_configuration.is_none()
        {
            return Err(ApiError {
                kind: "MissingRequiredParameter",
                message: "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified".to_string(),
                status: axum::http::StatusCode::BAD_REQUEST,
            });
        }
        let mut record = machine.record.clone();
        if let Some(definition) = input.definition {
            self.check_definition(&record.name, &definition)?;
            record.definition = definition;
        }
        if let Some(role) = input.role_arn {
            check_role(&role)?;
            record.role_arn = role;
        }
        if let Some(logging) = input.logging_configuration {
            record.logging = logging;
        }
        if let Some(tracing) = input.tracing_configuration {
            record.tracing = tracing;
        }
        let updated = now();
        record.updated = Some(updated);
        let revision = uuid::Uuid::new_v4().to_string();
        record.revision_id = Some(revision.clone());
        self.store.update_machine(&record)?;
        self.forget_machine(&record.name);
        Ok(json!({"updateDate": timestamp(updated), "revisionId": revision}))
    }

    pub(super) fn delete_state_machine(&self, input: ArnInput) -> Result<Json, ApiError> {
        let arn = required(input.state_machine_arn, "stateMachineArn")?;
        let (name, _) = crate::arn::state_machine(&arn)?;
        if let Some(record) = self.store.machine(name)?
            && record.arn == arn
        {
            self.store.delete_machine(name, &arn)?;
            self.forget_machine(name);
            tracing::info!(state_machine = %arn, "deleted");
        }
        Ok(json!({}))
    }

    pub(super) fn validate_definition(&self, input: ValidateInput) -> Result<Json, ApiError> {
        let definition = required(input.definition, "definition")?;
        let limit = page_size(input.max_results)?;
        let diagnostics = match asl::load_str_with(&definition, &self.limits) {
            Ok(_) => Vec::new(),
            Err(diags) => diags,
        };
        let items: Vec<Json> = diagnostics
            .iter()
            .take(limit)
            .map(|d| {
                let message = match &d.state {
                    Some(state) => format!("state '{state}': {}", d.message),
                    None => d.message.clone(),
                };
                json!({
                    "severity": "ERROR",
                    "code": "SCHEMA_VALIDATION_FAILED",
                    "message": message,
                    "location": if d.pointer.is_empty() { "/" } else { d.pointer.as_str() },
                })
            })
            .collect();
        Ok(json!({
            "result": if diagnostics.is_empty() { "OK" } else { "FAIL" },
            "diagnostics": items,
            "truncated": diagnostics.len() > limit,
        }))
    }

    /// The state machine a tag action names (tags are kept for state machines only).
    fn tagged(&self, arn: &str) -> Result<(), ApiError> {
        match self.machine(arn) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == "StateMachineDoesNotExist" => {
                Err(ApiError::resource_not_found(arn))
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn tag_resource(&self, input: TagInput) -> Result<Json, ApiError> {
        let arn = required(input.resource_arn, "resourceArn")?;
        self.tagged(&arn)?;
        let tags = check_tags(input.tags)?;
        let existing = self.store.tags(&arn)?;
        let new_keys = tags
            .iter()
            .filter(|(k, _)| !existing.iter().any(|(e, _)| e == k))
            .count();
        if existing.len() + new_keys > MAX_TAGS {
            return Err(ApiError::too_many_tags(&arn));
        }
        self.store.set_tags(&arn, &tags)?;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(&self, input: TagInput) -> Result<Json, ApiError> {
        let arn = required(input.resource_arn, "resourceArn")?;
        self.tagged(&arn)?;
        self.store.remove_tags(&arn, &input.tag_keys)?;
        Ok(json!({}))
    }

    pub(super) fn list_tags(&self, input: TagInput) -> Result<Json, ApiError> {
        let arn = required(input.resource_arn, "resourceArn")?;
        self.tagged(&arn)?;
        let tags: Vec<Json> = self
            .store
            .tags(&arn)?
            .into_iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
        Ok(json!({"tags": tags}))
    }
}
