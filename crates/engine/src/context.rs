//! The context object (`$$`) and the ARNs the engine makes up for local executions.

use std::any::Any;
use std::sync::Arc;
use std::time::SystemTime;

use asl::{Foreign, ForeignError, Kind, SharedJson, Value};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

/// Region and account the made-up ARNs carry (`AWS_REGION`, `AWS_ACCOUNT_ID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub region: String,
    pub account: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            region: "us-east-1".to_string(),
            account: "111111111111".to_string(),
        }
    }
}

impl Identity {
    /// Reads `AWS_REGION` and `AWS_ACCOUNT_ID`, with Step Functions Local's defaults.
    pub fn from_env() -> Self {
        let default = Identity::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Identity {
            region: var("AWS_REGION").unwrap_or(default.region),
            account: var("AWS_ACCOUNT_ID").unwrap_or(default.account),
        }
    }

    pub fn state_machine_arn(&self, machine: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{machine}",
            self.region, self.account
        )
    }

    pub fn execution_arn(&self, machine: &str, execution: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{machine}:{execution}",
            self.region, self.account
        )
    }

    pub fn function_arn(&self, function: &str, qualifier: Option<&str>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{function}",
            self.region, self.account
        );
        match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }

    /// The region and account a Lambda function reference names (`arn:aws:lambda:REGION:
    /// ACCOUNT:function:NAME`, or `ACCOUNT:function:NAME` in this region), when they differ
    /// from these: the function is invoked as that ARN, so its context's
    /// `invoked_function_arn` keeps what the definition wrote.
    pub fn of_function(&self, written: &str) -> Option<Identity> {
        let parts: Vec<&str> = written.split(':').collect();
        let (region, account) = match parts.as_slice() {
            ["arn", _, "lambda", region, account, "function", ..] => (*region, *account),
            [account, "function", ..] => (self.region.as_str(), *account),
            _ => return None,
        };
        if region.is_empty() || account.is_empty() {
            return None;
        }
        (region != self.region || account != self.account).then(|| Identity {
            region: region.to_owned(),
            account: account.to_owned(),
        })
    }

    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/faastlane-execution", self.account)
    }
}

/// Facts about one execution that every state's context object repeats.
#[derive(Debug)]
pub struct ExecutionInfo {
    pub arn: String,
    pub name: String,
    pub start_time: String,
    pub input: Arc<Json>,
    pub role_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
}

/// Formats a time the way Step Functions prints timestamps (`2024-01-02T03:04:05.678Z`).
pub fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The `Map.Item` part of the context inside a Map state's `ItemSelector`.
#[derive(Clone, Copy, Debug)]
pub struct MapItem<'a> {
    pub index: usize,
    pub value: &'a Value,
}

/// Builds `$$` for one state; `retry_count` is `None` for states that cannot retry (AWS gives
/// `State.RetryCount` only to Task, Parallel and Map states). Nothing is formatted or copied until a path reads it: most
/// states never look at the context object, and building it eagerly was most of the
/// engine's per-state cost.
pub fn context_object(
    exec: &Arc<ExecutionInfo>,
    state_name: &str,
    entered: SystemTime,
    retry_count: Option<u32>,
    map_item: Option<MapItem<'_>>,
) -> Value {
    Value::Foreign(Arc::new(ContextObject {
        exec: Arc::clone(exec),
        state_name: state_name.to_string(),
        entered,
        retry_count,
        map_item: map_item.map(|m| (m.index, m.value.clone())),
    }))
}

/// The context object of one state, built field by field on demand.
#[derive(Debug)]
struct ContextObject {
    exec: Arc<ExecutionInfo>,
    state_name: String,
    entered: SystemTime,
    retry_count: Option<u32>,
    map_item: Option<(usize, Value)>,
}

impl ContextObject {
    const KEYS: [&'static str; 4] = ["Execution", "State", "StateMachine", "Map"];

    fn execution(&self) -> Value {
        let exec = &self.exec;
        let mut m = IndexMap::new();
        m.insert(
            "Id".to_string(),
            Value::Json(Json::String(exec.arn.clone())),
        );
        m.insert(
            "Input".to_string(),
            SharedJson::value(Arc::clone(&exec.input)),
        );
        m.insert(
            "Name".to_string(),
            Value::Json(Json::String(exec.name.clone())),
        );
        m.insert(
            "RoleArn".to_string(),
            Value::Json(Json::String(exec.role_arn.clone())),
        );
        m.insert(
            "StartTime".to_string(),
            Value::Json(Json::String(exec.start_time.clone())),
        );
        m.insert("RedriveCount".to_string(), Value::Json(json!(0)));
        Value::Object(m)
    }

    fn state(&self) -> Value {
        let mut state = json!({
            "EnteredTime": timestamp(self.entered),
            "Name": self.state_name,
        });
        if let (Some(count), Some(fields)) = (self.retry_count, state.as_object_mut()) {
            fields.insert("RetryCount".to_string(), json!(count));
        }
        Value::Json(state)
    }

    fn state_machine(&self) -> Value {
        Value::Json(
            json!({"Id": self.exec.state_machine_arn, "Name": self.exec.state_machine_name}),
        )
    }

    fn map(&self) -> Option<Value> {
        let (index, value) = self.map_item.as_ref()?;
        let mut item = IndexMap::new();
        item.insert("Index".to_string(), Value::Json(json!(index)));
        item.insert("Value".to_string(), value.clone());
        let mut map = IndexMap::new();
        map.insert("Item".to_string(), Value::Object(item));
        Some(Value::Object(map))
    }

    fn whole(&self) -> Value {
        let fields = Self::KEYS
            .iter()
            .filter_map(|k| self.get(k).map(|v| (k.to_string(), v)))
            .collect();
        Value::Object(fields)
    }
}

impl Foreign for ContextObject {
    fn kind(&self) -> Kind {
        Kind::Object
    }

    fn get(&self, key: &str) -> Option<Value> {
        match key {
            "Execution" => Some(self.execution()),
            "State" => Some(self.state()),
            "StateMachine" => Some(self.state_machine()),
            "Map" => self.map(),
            _ => None,
        }
    }

    fn index(&self, _index: usize) -> Option<Value> {
        None
    }

    fn len(&self) -> Option<usize> {
        Some(self.keys().len())
    }

    fn keys(&self) -> Vec<String> {
        Self::KEYS
            .iter()
            .filter(|k| **k != "Map" || self.map_item.is_some())
            .map(|k| k.to_string())
            .collect()
    }

    fn to_json(&self) -> Result<Json, ForeignError> {
        self.whole().into_json()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn detach(&self) -> Result<Value, ForeignError> {
        self.whole().detach()
    }
}
