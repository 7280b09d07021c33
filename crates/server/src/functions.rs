//! Where a state machine's functions live: `--functions DIR` directories holding `NAME.py`,
//! a package `NAME/__init__.py`, or a `functions.json` mapping `NAME`, as for `faastlane run`.
//! The server only looks at files (it runs no Python); executors import the functions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use asl::{StatesError, Value};
use engine::codec::{JsonCodec, ValueCodec};
use engine::{
    Call, Engine, LambdaResponse, PrepareError, PrepareProblem, Runtime, TaskFailure, Workflow,
};

/// The `--functions` directories, searched in order.
#[derive(Clone, Debug, Default)]
pub struct FunctionDirs {
    dirs: Vec<PathBuf>,
}

impl FunctionDirs {
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        FunctionDirs { dirs }
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The first directory that provides `function`.
    pub fn locate(&self, function: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| provides(d, function))
            .map(PathBuf::as_path)
    }

    /// Every function `workflow` calls, with its directory, or the problems naming the
    /// states whose functions are nowhere.
    pub fn resolve(
        &self,
        workflow: &Workflow,
    ) -> Result<BTreeMap<String, PathBuf>, Vec<PrepareProblem>> {
        // Engine::prepare names the states that call each missing function.
        let check = Engine::new(Arc::new(Locator(self.clone())));
        check.prepare(workflow)?;
        Ok(workflow
            .functions()
            .into_iter()
            .filter_map(|f| self.locate(&f).map(|d| (f, d.to_path_buf())))
            .collect())
    }
}

fn provides(dir: &Path, function: &str) -> bool {
    manifest(dir).is_some_and(|m| m.contains_key(function))
        || (plain(function)
            && (dir.join(format!("{function}.py")).is_file()
                || dir.join(function).join("__init__.py").is_file()))
}

/// Every function `dir` provides, sorted: the names its `functions.json` maps, `NAME.py`
/// and packages `NAME/__init__.py` for plain names.
pub fn provided(dir: &Path) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let function = name.strip_suffix(".py").unwrap_or(&name);
        if provides(dir, function) {
            names.insert(function.to_string());
        }
    }
    names.extend(manifest(dir).into_iter().flatten().map(|(k, _)| k));
    names.into_iter().collect()
}

fn manifest(dir: &Path) -> Option<serde_json::Map<String, serde_json::Value>> {
    let text = std::fs::read_to_string(dir.join(python_runtime::discovery::MANIFEST)).ok()?;
    serde_json::from_str(&text).ok()
}

/// A name the runtime maps to `NAME.py` or a package `NAME/`.
fn plain(function: &str) -> bool {
    !function.is_empty()
        && function
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A runtime that only checks that functions exist (for [`Engine::prepare`]'s report in the
/// server, which runs no user code); it never runs anything.
struct Locator(FunctionDirs);

impl Runtime for Locator {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        functions
            .iter()
            .filter(|f| self.0.locate(f).is_none())
            .map(|f| {
                PrepareError::not_found(
                    *f,
                    format!(
                        "no function '{f}' ({f}.py, {f}/__init__.py or an entry of functions.json) in {}",
                        describe(&self.0.dirs)
                    ),
                )
            })
            .collect()
    }

    fn invoke(&self, call: &Call<'_>, _input: Value) -> Result<Value, TaskFailure> {
        Err(TaskFailure::Runtime(StatesError::runtime(format!(
            "function '{}' cannot run in the server process",
            call.function
        ))))
    }
}

fn describe(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no functions directory (give --functions DIR)".to_string();
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    format!("the functions directories {}", list.join(", "))
}

/// Sends each call to the runtime of the directory its function lives in: the route found
/// before the run, else (a function named at run time) the first directory providing it.
pub struct Routed {
    routes: BTreeMap<String, Arc<dyn Runtime>>,
    dirs: Vec<(PathBuf, Arc<dyn Runtime>)>,
}

impl Routed {
    pub fn new(routes: BTreeMap<String, Arc<dyn Runtime>>) -> Self {
        Routed {
            routes,
            dirs: Vec::new(),
        }
    }

    /// The directories (with their runtimes) searched, in order, for a function no route
    /// names.
    pub fn with_dirs(mut self, dirs: Vec<(PathBuf, Arc<dyn Runtime>)>) -> Self {
        self.dirs = dirs;
        self
    }

    fn route(&self, function: &str) -> Option<&Arc<dyn Runtime>> {
        self.routes.get(function).or_else(|| {
            self.dirs
                .iter()
                .find(|(dir, _)| provides(dir, function))
                .map(|(_, runtime)| runtime)
        })
    }
}

impl Runtime for Routed {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        functions
            .iter()
            .flat_map(|f| match self.routes.get(*f) {
                Some(runtime) => runtime.prepare(&[f]),
                None => vec![PrepareError::not_found(
                    *f,
                    format!("no function '{f}' in the functions directories"),
                )],
            })
            .collect()
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        match self.route(call.function) {
            Some(runtime) => runtime.invoke(call, input),
            None => Err(call.function_not_found()),
        }
    }

    fn lambda_response(
        &self,
        call: &Call<'_>,
        result: Value,
        measure: bool,
    ) -> Result<LambdaResponse, TaskFailure> {
        match self.route(call.function) {
            Some(runtime) => runtime.lambda_response(call, result, measure),
            None => LambdaResponse::json(call, result, measure),
        }
    }

    /// The codec of the runtimes routed to. An executor's runtimes are all of one kind (all
    /// Python, sharing one interpreter, or all native), so the first one's codec makes values
    /// any of them takes: a remote-lane batch's shared input becomes Python objects once per
    /// batch instead of JSON converted by every branch (measured: a FINRA-200 batch of 100
    /// branches spent 140 of its 170 ms cloning, measuring and converting its 113 KB input).
    fn codec(&self) -> &dyn ValueCodec {
        match self
            .routes
            .values()
            .chain(self.dirs.iter().map(|(_, r)| r))
            .next()
        {
            Some(runtime) => runtime.codec(),
            None => &JsonCodec,
        }
    }
}

#[cfg(test)]
mod tests {
    use engine::codec::{CodecError, Payload, PayloadSink};

    use super::*;

    /// A codec whose values are recognisable: every decoded value is `"decoded here"`.
    struct Marking;

    impl ValueCodec for Marking {
        fn encode(&self, values: &[&Value], out: &mut dyn PayloadSink) -> Result<(), CodecError> {
            out.write_all(&[0; 1].repeat(values.len()))
                .map_err(|e| CodecError::Write(e.to_string()))
        }

        fn decode(&self, payload: &Payload) -> Result<Vec<Value>, CodecError> {
            Ok(vec![
                Value::Json("decoded here".into());
                payload.bytes().len()
            ])
        }
    }

    struct WithCodec;

    impl Runtime for WithCodec {
        fn prepare(&self, _: &[&str]) -> Vec<PrepareError> {
            Vec::new()
        }

        fn invoke(&self, call: &Call<'_>, _: Value) -> Result<Value, TaskFailure> {
            Err(call.function_not_found())
        }

        fn codec(&self) -> &dyn ValueCodec {
            &Marking
        }
    }

    fn round_trip(routed: &Routed) -> Vec<serde_json::Value> {
        let value = Value::Json(serde_json::json!({"a": 1}));
        let mut bytes = Vec::new();
        routed.codec().encode(&[&value], &mut bytes).unwrap();
        let values = routed.codec().decode(&(Arc::new(bytes) as Payload));
        values
            .unwrap()
            .iter()
            .map(|v| v.to_json().unwrap())
            .collect()
    }

    #[test]
    fn routed_values_cross_processes_with_the_codec_of_the_runtimes_routed_to() {
        let runtime: Arc<dyn Runtime> = Arc::new(WithCodec);
        let by_route = Routed::new(BTreeMap::from([("f".to_string(), Arc::clone(&runtime))]));
        assert_eq!(
            round_trip(&by_route),
            vec![serde_json::json!("decoded here")]
        );
        let by_dir = Routed::new(BTreeMap::new()).with_dirs(vec![("d".into(), runtime)]);
        assert_eq!(round_trip(&by_dir), vec![serde_json::json!("decoded here")]);
        // No runtime at all: values are JSON.
        let none = Routed::new(BTreeMap::new());
        assert_eq!(round_trip(&none), vec![serde_json::json!({"a": 1})]);
    }
}
