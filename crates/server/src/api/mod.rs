//! The Step Functions actions over the store and the executors. Handlers parse an action's
//! request (shapes from botocore's `stepfunctions/2016-11-23/service-2.json`), call the
//! service and shape the response; HTTP and the JSON 1.0 envelope are in `http.rs`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use engine::{Engine, Identity, NativeRuntime, Workflow};
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::error::ApiError;
use crate::executor::pool::Pool;
use crate::functions::FunctionDirs;
use crate::metrics::Metrics;
use crate::mock::MockConfig;
use crate::store::{MachineRecord, Store};

mod executions;
mod history;
mod invoke;
mod machines;
mod running;

pub use invoke::{Invoked, PlainError};

pub use running::Background;

/// Everything the handlers share.
pub struct App {
    pub store: Store,
    pub identity: Identity,
    pub functions: FunctionDirs,
    pub pool: Pool,
    pub mocks: Option<MockConfig>,
    pub metrics: Metrics,
    pub background: Arc<Background>,
    /// What definitions and executions may use ([`App::with_limits`]; default: AWS's
    /// definition and history limits, nothing else).
    pub limits: asl::Limits,
    /// Where executions send the branches beyond their CPU (`--remote`).
    pub remote: Option<crate::remote::RemoteConfig>,
    /// Executors for batches of branches siblings send (`POST /lanes/branches`): apart from
    /// the executions' own, so that an execution waiting for its branches never holds the
    /// executor a batch of its own (sent back to this instance) needs.
    pub lanes_pool: Pool,
    /// Batches of branches this instance ran for siblings.
    pub lanes_batches: std::sync::atomic::AtomicU64,
    /// How this instance names itself in its answers to siblings (set once it listens).
    pub instance: std::sync::OnceLock<String>,
    /// Parsed state machines by name, so that starting an execution reads no database.
    machines: RwLock<HashMap<String, Arc<Machine>>>,
}

/// A state machine ready to start executions.
pub struct Machine {
    pub record: MachineRecord,
    pub workflow: Arc<Workflow>,
    /// Where its functions live.
    pub functions: std::collections::BTreeMap<String, std::path::PathBuf>,
    /// An engine for workflows that call no function: those run in the server process
    /// (they run no user code); the others run in executors.
    pub local: Option<Arc<Engine>>,
    /// No Wait state: a local execution only computes (microseconds), so it runs on the
    /// request's own task instead of the blocking pool.
    pub inline: bool,
}

/// Whether `machine` (or a branch in it) has a Wait state.
fn waits(machine: &asl::StateMachine) -> bool {
    machine.states.values().any(|s| match &s.kind {
        asl::StateKind::Wait(_) => true,
        asl::StateKind::Parallel(p) => p.branches.iter().any(waits),
        asl::StateKind::Map(m) => waits(&m.processor),
        _ => false,
    })
}

impl App {
    pub fn new(
        store: Store,
        identity: Identity,
        functions: FunctionDirs,
        pool: Pool,
        mocks: Option<MockConfig>,
    ) -> Self {
        App {
            store,
            identity,
            functions,
            pool,
            mocks,
            metrics: Metrics::default(),
            background: Arc::default(),
            limits: asl::Limits::default(),
            remote: None,
            lanes_pool: Pool::new(Vec::new(), 1),
            lanes_batches: std::sync::atomic::AtomicU64::new(0),
            instance: std::sync::OnceLock::new(),
            machines: RwLock::default(),
        }
    }

    /// Bounds what definitions and executions may use (`faastlane serve --max-...`).
    pub fn with_limits(mut self, limits: asl::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Runs one action on its JSON request.
    pub async fn dispatch(self: &Arc<Self>, action: &str, body: Json) -> Result<Json, ApiError> {
        let result = match action {
            "CreateStateMachine" => self.create_state_machine(parse(body)?),
            "DescribeStateMachine" => self.describe_state_machine(parse(body)?),
            "ListStateMachines" => self.list_state_machines(parse(body)?),
            "UpdateStateMachine" => self.update_state_machine(parse(body)?),
            "DeleteStateMachine" => self.delete_state_machine(parse(body)?),
            "ValidateStateMachineDefinition" => self.validate_definition(parse(body)?),
            "TagResource" => self.tag_resource(parse(body)?),
            "UntagResource" => self.untag_resource(parse(body)?),
            "ListTagsForResource" => self.list_tags(parse(body)?),
            "StartExecution" => self.start_execution(parse(body)?),
            "StartSyncExecution" => self.start_sync_execution(parse(body)?).await,
            "DescribeExecution" => self.describe_execution(parse(body)?),
            "DescribeStateMachineForExecution" => {
                self.describe_state_machine_for_execution(parse(body)?)
            }
            "ListExecutions" => self.list_executions(parse(body)?),
            "StopExecution" => self.stop_execution(parse(body)?),
            "GetExecutionHistory" => self.get_execution_history(parse(body)?),
            other => Err(ApiError::unknown_operation(other)),
        };
        self.metrics.request(
            action,
            match &result {
                Ok(_) => "ok",
                Err(e) => e.kind,
            },
        );
        result
    }

    /// The state machine named by `arn` (with its `#TestCase`, if any).
    pub(crate) fn machine(&self, arn: &str) -> Result<(Arc<Machine>, Option<String>), ApiError> {
        let (name, case) = crate::arn::state_machine(arn)?;
        let plain = arn.split('#').next().unwrap_or(arn);
        let not_found = || ApiError::state_machine_does_not_exist(plain);
        if let Some(m) = self.machines_read().get(name) {
            return if m.record.arn == plain {
                Ok((Arc::clone(m), case.map(str::to_string)))
            } else {
                Err(not_found())
            };
        }
        let record = self.store.machine(name)?.ok_or_else(not_found)?;
        if record.arn != plain {
            return Err(not_found());
        }
        let machine = Arc::new(self.prepare_machine(record)?);
        self.machines_write()
            .insert(name.to_string(), Arc::clone(&machine));
        Ok((machine, case.map(str::to_string)))
    }

    /// Parses a stored (hence valid) definition and finds its functions.
    fn prepare_machine(&self, record: MachineRecord) -> Result<Machine, ApiError> {
        let workflow = Arc::new(
            self.check_definition(&record.name, &record.definition)
                .map_err(|e| ApiError::internal(e.message))?,
        );
        let functions = self.functions.resolve(&workflow).unwrap_or_default();
        // Any Task may call a function (one named at run time too): only a workflow without
        // Tasks runs in this process.
        let local = (!asl::walk::has_tasks(&workflow.machine)).then(|| {
            Arc::new(Engine::with_options(
                Arc::new(NativeRuntime::new()),
                engine::EngineOptions {
                    identity: self.identity.clone(),
                    trace: true,
                    limits: self.limits.clone(),
                    ..engine::EngineOptions::default()
                },
            ))
        });
        let inline = !waits(&workflow.machine);
        Ok(Machine {
            record,
            workflow,
            functions,
            local,
            inline,
        })
    }

    pub(crate) fn forget_machine(&self, name: &str) {
        self.machines_write().remove(name);
    }

    fn machines_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Machine>>> {
        self.machines.read().unwrap_or_else(|p| p.into_inner())
    }

    fn machines_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Machine>>> {
        self.machines.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates a definition and, unless the mock config covers the machine, that every
    /// function it calls is in a functions directory.
    pub(crate) fn check_definition(&self, name: &str, text: &str) -> Result<Workflow, ApiError> {
        let machine = asl::load_str_with(text, &self.limits).map_err(|diags| {
            let problems: Vec<String> = diags
                .iter()
                .map(|d| format!("SCHEMA_VALIDATION_FAILED: {d}"))
                .collect();
            ApiError::invalid_definition(problems.join(", "))
        })?;
        let workflow = Workflow {
            name: name.to_string(),
            machine,
        };
        let mocked = self.mocks.as_ref().is_some_and(|m| m.covers(name));
        if !mocked && let Err(problems) = self.functions.resolve(&workflow) {
            let problems: Vec<String> = problems
                .iter()
                .map(|p| format!("MISSING_FUNCTION: {p}"))
                .collect();
            return Err(ApiError::invalid_definition(problems.join(", ")));
        }
        Ok(workflow)
    }
}

/// Decodes an action's request; a field of the wrong type is a SerializationException, as
/// AWS reports it.
fn parse<T: DeserializeOwned>(body: Json) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::serialization(e.to_string()))
}

/// A required member, or the ValidationException AWS sends without it.
fn required<T>(value: Option<T>, member: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::missing(member))
}

/// `maxResults`: 0 or absent means the default (100); 1000 at most.
fn page_size(max_results: Option<i64>) -> Result<usize, ApiError> {
    match max_results {
        None | Some(0) => Ok(100),
        Some(n) if n < 0 => Err(ApiError::constraint(
            "maxResults",
            n,
            "Member must have value greater than or equal to 0",
        )),
        Some(n) if n > 1000 => Err(ApiError::constraint(
            "maxResults",
            n,
            "Member must have value less than or equal to 1000",
        )),
        Some(n) => Ok(n as usize),
    }
}

/// An opaque page token: which listing, of what, and where the next page starts.
fn encode_token(listing: &str, of: &str, position: i64) -> String {
    let raw = json!({"l": listing, "o": of, "p": position}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_token(token: &str, listing: &str, of: &str) -> Result<i64, ApiError> {
    let invalid = || ApiError::invalid_token(token);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Json = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if value["l"] != listing || value["o"] != of {
        return Err(invalid());
    }
    value["p"].as_i64().ok_or_else(invalid)
}

/// A timestamp as the JSON protocol sends it: seconds since the epoch, millisecond precision.
fn timestamp(seconds: f64) -> Json {
    json!((seconds * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = encode_token("executions", "arn:m", 42);
        assert_eq!(decode_token(&t, "executions", "arn:m").ok(), Some(42));
        assert!(decode_token(&t, "executions", "arn:other").is_err());
        assert!(decode_token("garbage!", "executions", "arn:m").is_err());
    }

    #[tokio::test]
    async fn the_payload_limit_fails_a_state_with_data_limit_exceeded() {
        let app = |limit| {
            Arc::new(
                App::new(
                    Store::open(":memory:").expect("in-memory store"),
                    Identity::default(),
                    FunctionDirs::default(),
                    Pool::new(Vec::new(), 1),
                    None,
                )
                .with_limits(asl::Limits {
                    payload_bytes: limit,
                    ..asl::Limits::default()
                }),
            )
        };
        let definition = json!({"StartAt": "Grow", "States": {"Grow": {
            "Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": true}}});
        let input = json!({"s": "x".repeat(100)}).to_string();
        for (limit, status) in [
            (Some(150), "FAILED"),
            (Some(250), "SUCCEEDED"),
            (None, "SUCCEEDED"),
        ] {
            let app = app(limit);
            let created = app
                .dispatch(
                    "CreateStateMachine",
                    json!({"name": "grow", "type": "EXPRESS", "roleArn": "arn:aws:iam::1:role/r",
                           "definition": definition.to_string()}),
                )
                .await
                .expect("created");
            let out = app
                .dispatch(
                    "StartSyncExecution",
                    json!({"stateMachineArn": created["stateMachineArn"], "input": input}),
                )
                .await
                .expect("ran");
            assert_eq!(out["status"], status, "limit {limit:?}: {out}");
            if status == "FAILED" {
                assert_eq!(out["error"], "States.DataLimitExceeded");
                assert_eq!(
                    out["cause"],
                    "The state/task 'Grow' returned a result with a size exceeding the maximum number of bytes service limit."
                );
            }
        }
    }

    #[test]
    fn page_sizes_follow_aws_limits() {
        assert_eq!(page_size(None).ok(), Some(100));
        assert_eq!(page_size(Some(7)).ok(), Some(7));
        assert!(page_size(Some(1001)).is_err());
        assert!(page_size(Some(-1)).is_err());
    }
}
