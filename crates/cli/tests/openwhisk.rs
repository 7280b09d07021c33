//! `faastlane openwhisk` against OpenWhisk's action-proxy contract, modelled on OpenWhisk's
//! `BasicActionRunnerTests` (init/run, echo and its logs, env, unicode, large input, error
//! and non-dictionary results, init twice), plus the FINRA and healthcare workflows deployed
//! as zip actions through `/init`. Each test starts the binary on a free loopback port.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value as Json, json};

#[path = "support/http_stub.rs"]
mod http_stub;
#[path = "support/isolated.rs"]
mod isolated;
use http_stub::{Seen, stub};

const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// A running `faastlane openwhisk`, its stdout and stderr going to files read at the end.
struct Proxy {
    child: Child,
    url: String,
    agent: ureq::Agent,
    dir: tempfile::TempDir,
}

impl Proxy {
    fn start() -> Proxy {
        Self::start_with_env(&[])
    }

    fn start_with_env(env: &[(&str, &str)]) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = std::fs::File::create(dir.path().join("stdout")).expect("stdout file");
        let err = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_faastlane"));
        command
            .args([
                "openwhisk",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--work-dir",
            ])
            .arg(dir.path().join("work"))
            .env("FAASTLANE_CACHE_DIR", dir.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start faastlane openwhisk");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut proxy = Proxy {
            child,
            url: String::new(),
            agent,
            dir,
        };
        let started = Instant::now();
        loop {
            let err = proxy.stderr();
            if let Some(rest) = err.split("listening on ").nth(1) {
                proxy.url = rest.lines().next().unwrap_or_default().trim().to_owned();
                break;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("faastlane openwhisk exited ({status}): {err}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no 'listening on' line: {err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        proxy
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    fn post(&self, path: &str, body: &Json) -> (u16, Json) {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.url))
            .content_type("application/json")
            .send(body.to_string())
            .expect("request");
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .expect("body");
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, json)
    }

    fn init(&self, value: Json) -> (u16, Json) {
        self.post("/init", &json!({ "value": value }))
    }

    fn init_code(&self, code: &str, main: &str) -> (u16, Json) {
        self.init(json!({ "name": "test", "main": main, "code": code, "binary": false }))
    }

    fn run(&self, value: Json) -> (u16, Json) {
        self.post("/run", &json!({ "value": value }))
    }

    /// Waits (bounded) until both streams hold `count` sentinels, then returns them.
    fn logs(&self, count: usize) -> (String, String) {
        let started = Instant::now();
        loop {
            let (out, err) = (self.stdout(), self.stderr());
            if sentinels(&out) >= count && sentinels(&err) >= count {
                return (out, err);
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "expected {count} sentinels:\nstdout:\n{out}\nstderr:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sentinels alone on their line.
fn sentinels(text: &str) -> usize {
    text.lines().filter(|l| *l == SENTINEL).count()
}

/// The log lines of activation `n` (0-based): between sentinel n-1 and sentinel n.
fn activation_log(text: &str, n: usize) -> Vec<&str> {
    text.split(&format!("{SENTINEL}\n"))
        .nth(n)
        .unwrap_or_default()
        .lines()
        .collect()
}

/// A base64 zip of `dir`'s files (recursively, `__pycache__` left out).
fn zip_dir(dir: &Path) -> String {
    let mut bytes = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(dir.join(&rel))
                .expect("read dir")
                .map(|e| e.expect("entry"))
                .collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let name = rel.join(entry.file_name());
                if entry.file_name() == "__pycache__" {
                    continue;
                }
                if entry.file_type().expect("type").is_dir() {
                    stack.push(name);
                } else {
                    zip.start_file(name.to_string_lossy(), options)
                        .expect("zip entry");
                    zip.write_all(&std::fs::read(entry.path()).expect("read"))
                        .expect("zip write");
                }
            }
        }
        zip.finish().expect("zip");
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn zip_files(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    zip_dir(dir.path())
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn read_json(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

const ECHO: &str = r#"
import sys
def main(args):
    print("hello stdout")
    print("hello stderr", file=sys.stderr)
    return args
"#;

#[test]
fn run_before_init_is_an_error() {
    let proxy = Proxy::start();
    let (status, body) = proxy.run(json!({}));
    assert!(status >= 400, "{status} {body}");
    assert!(body["error"].is_string(), "{body}");
}

#[test]
fn init_without_code_is_refused() {
    let proxy = Proxy::start();
    for value in [json!({}), json!({ "code": "" }), json!({ "main": "main" })] {
        let (status, body) = proxy.init(value);
        assert_eq!(status, 403);
        assert_eq!(body, json!({ "error": "Missing main/no code to execute." }));
    }
    // A refused init leaves the action uninitialized: a real one still works.
    assert_eq!(proxy.init_code(ECHO, "main").0, 200);
}

#[test]
fn echo_returns_its_input_and_logs_each_stream_before_the_sentinels() {
    let proxy = Proxy::start();
    assert_eq!(proxy.init_code(ECHO, "main"), (200, json!({ "ok": true })));
    for n in 0..3 {
        let (status, body) = proxy.run(json!({ "n": n, "nested": { "a": [1, 2] } }));
        assert_eq!(
            (status, body),
            (200, json!({ "n": n, "nested": { "a": [1, 2] } }))
        );
    }
    let (out, err) = proxy.logs(3);
    for n in 0..3 {
        assert!(activation_log(&out, n).contains(&"hello stdout"), "{out}");
        assert!(!activation_log(&out, n).contains(&"hello stderr"), "{out}");
        assert!(activation_log(&err, n).contains(&"hello stderr"), "{err}");
    }
    assert_eq!(sentinels(&out), 3, "{out}");
    assert_eq!(sentinels(&err), 3, "{err}");
}

#[test]
fn a_second_init_is_forbidden_and_leaves_no_sentinel() {
    let proxy = Proxy::start();
    assert_eq!(proxy.init_code(ECHO, "main").0, 200);
    let (status, body) = proxy.init_code("def main(args):\n    return {'other': 1}\n", "main");
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({ "error": "Cannot initialize the action more than once." })
    );
    // The first action is still the one that runs.
    assert_eq!(proxy.run(json!({ "x": 1 })), (200, json!({ "x": 1 })));
    let (out, err) = proxy.logs(1);
    assert_eq!(sentinels(&out), 1, "{out}");
    assert_eq!(sentinels(&err), 1, "{err}");
    assert!(
        err.contains("Cannot initialize the action more than once."),
        "{err}"
    );
}

#[test]
fn main_names_the_function() {
    let proxy = Proxy::start();
    let code = "def main(args):\n    return {'from': 'main'}\n\ndef niam(args):\n    return {'from': 'niam'}\n";
    assert_eq!(proxy.init_code(code, "niam").0, 200);
    assert_eq!(proxy.run(json!({})), (200, json!({ "from": "niam" })));
}

#[test]
fn init_env_and_activation_keys_are_exported() {
    let proxy = Proxy::start_with_env(&[("__OW_API_HOST", "https://whisk.example")]);
    let code = r#"
import os
AT_IMPORT = os.environ.get("SOME_VAR")
def main(args):
    keys = ["SOME_VAR", "OTHER", "__OW_API_HOST", "__OW_API_KEY", "__OW_NAMESPACE",
            "__OW_ACTION_NAME", "__OW_ACTION_VERSION", "__OW_ACTIVATION_ID",
            "__OW_TRANSACTION_ID", "__OW_DEADLINE"]
    env = {k: os.environ.get(k) for k in keys}
    env["at_import"] = AT_IMPORT
    return env
"#;
    let (status, _) = proxy.init(json!({
        "main": "main", "code": code, "env": { "SOME_VAR": "xyz", "OTHER": 42 }
    }));
    assert_eq!(status, 200);
    let far_future = "4102444800000";
    let (status, body) = proxy.post(
        "/run",
        &json!({
            "value": {}, "namespace": "ns", "action_name": "/ns/act", "action_version": "0.0.1",
            "activation_id": "a1b2", "transaction_id": "t1", "deadline": far_future,
            "api_key": "key:secret"
        }),
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "SOME_VAR": "xyz", "OTHER": "42", "__OW_API_HOST": "https://whisk.example",
            "__OW_API_KEY": "key:secret", "__OW_NAMESPACE": "ns", "__OW_ACTION_NAME": "/ns/act",
            "__OW_ACTION_VERSION": "0.0.1", "__OW_ACTIVATION_ID": "a1b2",
            "__OW_TRANSACTION_ID": "t1", "__OW_DEADLINE": far_future, "at_import": "xyz"
        })
    );
}

#[test]
fn a_result_that_is_not_a_dictionary_or_array_is_502() {
    let proxy = Proxy::start();
    let code = "def main(args):\n    return args['r']\n";
    assert_eq!(proxy.init_code(code, "main").0, 200);
    for r in [json!("a string"), json!(7), json!(null), json!(true)] {
        let (status, body) = proxy.run(json!({ "r": r }));
        assert_eq!(status, 502, "{r}");
        assert_eq!(
            body,
            json!({ "error": "The action did not return a dictionary or array." })
        );
    }
    assert_eq!(proxy.run(json!({ "r": [1, "x"] })), (200, json!([1, "x"])));
    assert_eq!(proxy.logs(5).0.matches(SENTINEL).count(), 5);
}

#[test]
fn an_uncaught_exception_is_an_error_result_with_the_traceback_on_stderr() {
    let proxy = Proxy::start();
    let code =
        "def helper():\n    raise ValueError('nope: ünïcode')\n\ndef main(args):\n    helper()\n";
    assert_eq!(proxy.init_code(code, "main").0, 200);
    let (status, body) = proxy.run(json!({}));
    assert_eq!((status, body), (200, json!({ "error": "nope: ünïcode" })));
    let (_, err) = proxy.logs(1);
    let log = activation_log(&err, 0).join("\n");
    assert!(log.contains("Traceback (most recent call last):"), "{err}");
    assert!(log.contains("in helper"), "{err}");
    assert!(log.contains("ValueError: nope: ünïcode"), "{err}");
}

#[test]
fn unicode_survives_code_parameters_result_and_logs() {
    let proxy = Proxy::start();
    let code = "def main(args):\n    s = args['delimiter'] + ' ☃ ' + args['delimiter']\n    print(s)\n    return {'winter': s}\n";
    assert_eq!(proxy.init_code(code, "main").0, 200);
    let (status, body) = proxy.run(json!({ "delimiter": "❄" }));
    assert_eq!((status, body), (200, json!({ "winter": "❄ ☃ ❄" })));
    let (out, _) = proxy.logs(1);
    assert!(activation_log(&out, 0).contains(&"❄ ☃ ❄"), "{out}");
}

#[test]
fn a_one_mebibyte_parameter_round_trips() {
    let proxy = Proxy::start();
    let code = "def main(args):\n    return args\n";
    assert_eq!(proxy.init_code(code, "main").0, 200);
    let big = "a".repeat(1 << 20);
    let (status, body) = proxy.run(json!({ "arg": big }));
    assert_eq!(status, 200);
    assert_eq!(body["arg"].as_str().map(str::len), Some(1 << 20));
    assert_eq!(body, json!({ "arg": big }));
}

#[test]
fn a_zip_workflow_runs_and_a_failed_execution_is_error_and_cause() {
    let proxy = Proxy::start();
    let definition = json!({
        "StartAt": "Double",
        "States": {
            "Double": { "Type": "Task", "Resource": "double", "Next": "Check" },
            "Check": { "Type": "Choice", "Choices": [
                { "Variable": "$.n", "NumericGreaterThan": 100, "Next": "TooBig" }
            ], "Default": "Done" },
            "TooBig": { "Type": "Fail", "Error": "TooBig", "Cause": "n grew past 100" },
            "Done": { "Type": "Succeed" }
        }
    });
    let code = zip_files(&[
        ("workflow.json", &definition.to_string()),
        (
            "double.py",
            "def handler(event, context):\n    return {'n': event['n'] * 2}\n",
        ),
    ]);
    let (status, body) = proxy.init(json!({ "name": "flow", "code": code, "binary": true }));
    assert_eq!((status, body), (200, json!({ "ok": true })));
    assert_eq!(proxy.run(json!({ "n": 21 })), (200, json!({ "n": 42 })));
    assert_eq!(
        proxy.run(json!({ "n": 60 })),
        (
            200,
            json!({ "error": "TooBig", "cause": "n grew past 100" })
        )
    );
}

#[test]
fn a_zip_whose_workflow_does_not_validate_is_502_with_the_located_problems() {
    let proxy = Proxy::start();
    let definition = json!({
        "StartAt": "A",
        "States": { "A": { "Type": "Pass", "Next": "Nowhere" } }
    });
    let code = zip_files(&[("workflow.json", &definition.to_string())]);
    let (status, body) = proxy.init(json!({ "code": code, "binary": true }));
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().expect("error text");
    assert!(error.contains("/States/A/Next"), "{error}");
    assert!(error.contains("Nowhere"), "{error}");
}

#[test]
fn a_zip_whose_function_does_not_import_is_502_naming_the_state() {
    let proxy = Proxy::start();
    let definition = json!({
        "StartAt": "Broken",
        "States": { "Broken": { "Type": "Task", "Resource": "broken", "End": true } }
    });
    let code = zip_files(&[
        ("workflow.json", &definition.to_string()),
        ("broken.py", "import no_such_module_anywhere\n"),
    ]);
    let (status, body) = proxy.init(json!({ "code": code, "binary": true }));
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().expect("error text");
    assert!(error.contains("Broken"), "{error}");
    assert!(error.contains("no_such_module_anywhere"), "{error}");
}

#[test]
fn a_bundled_virtualenv_is_on_the_path() {
    let proxy = Proxy::start();
    let definition = json!({
        "StartAt": "Use",
        "States": { "Use": { "Type": "Task", "Resource": "use", "End": true } }
    });
    let code = zip_files(&[
        ("workflow.json", &definition.to_string()),
        (
            "use.py",
            "import bundledpkg\ndef main(args):\n    return {'v': bundledpkg.VALUE}\n",
        ),
        (
            "virtualenv/lib/python3.11/site-packages/bundledpkg/__init__.py",
            "VALUE = 'from the bundled virtualenv'\n",
        ),
    ]);
    assert_eq!(proxy.init(json!({ "code": code, "binary": true })).0, 200);
    assert_eq!(
        proxy.run(json!({})),
        (200, json!({ "v": "from the bundled virtualenv" }))
    );
}

#[test]
fn finra_and_healthcare_deploy_as_zip_actions() {
    for name in ["finra", "healthcare"] {
        let dir = example(name);
        let proxy = Proxy::start();
        let (status, body) = proxy.init(
            json!({ "name": format!("/guest/{name}"), "code": zip_dir(&dir), "binary": true }),
        );
        assert_eq!((status, &body), (200, &json!({ "ok": true })), "{name}");
        let input = read_json(&dir.join("input.json"));
        let expected = read_json(&dir.join("expected.json"));
        for _ in 0..2 {
            let (status, body) = proxy.run(input.clone());
            assert_eq!(status, 200, "{name}: {body}");
            assert_eq!(body, expected, "{name}");
        }
        let (out, err) = proxy.logs(2);
        assert_eq!(sentinels(&out), 2, "{name}: {out}");
        assert_eq!(sentinels(&err), 2, "{name}: {err}");
    }
}

/// `--isolation` (or `FAASTLANE_ISOLATION`, the container's environment): the action's
/// sensitive functions (its `faastlane.json`) run as under `run --isolation`, here each call
/// in a fresh worker forked from a fork server set up from what `/init` unpacked; healthcare
/// gives the same output isolated.
#[test]
fn isolation_applies_to_the_action_unpacked_at_init() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/isolation");
    let proxy = Proxy::start_with_env(&[("FAASTLANE_ISOLATION", "process")]);
    let (status, body) = proxy
        .init(json!({ "name": "/guest/isolation", "code": zip_dir(&fixture), "binary": true }));
    assert_eq!(
        (status, &body),
        (200, &json!({ "ok": true })),
        "{}",
        proxy.stderr()
    );
    for _ in 0..2 {
        let (status, got) = proxy.run(json!({}));
        assert_eq!(status, 200, "{got}");
        isolated::assert_process_isolated(&got);
    }
    // Without isolation the same action leaks what the sensitive function kept.
    let plain = Proxy::start();
    assert_eq!(
        plain
            .init(json!({ "name": "/guest/isolation", "code": zip_dir(&fixture), "binary": true }))
            .0,
        200
    );
    assert_eq!(plain.run(json!({})).1["snooped"]["found"], "123-45-6789");

    let dir = example("healthcare");
    let proxy = Proxy::start_with_env(&[("FAASTLANE_ISOLATION", "auto")]);
    let notice = proxy.stderr();
    assert!(notice.starts_with("isolation: "), "{notice}");
    let (status, body) =
        proxy.init(json!({ "name": "/guest/healthcare", "code": zip_dir(&dir), "binary": true }));
    assert_eq!(
        (status, &body),
        (200, &json!({ "ok": true })),
        "{}",
        proxy.stderr()
    );
    let (status, body) = proxy.run(read_json(&dir.join("input.json")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, read_json(&dir.join("expected.json")));
}

/// A stand-in for OpenWhisk's controller (none can run here) for one blocking invoke: it
/// passes the invoke's parameters to `runtime`'s `/run` as the controller would, and answers
/// with the activation record.
fn controller(runtime: String) -> (String, Arc<Mutex<Vec<Seen>>>) {
    stub(1, move |request| {
        let mut answer = ureq::Agent::new_with_defaults()
            .post(format!("{runtime}/run"))
            .send(
                json!({"value": request.body, "activation_id": "a1", "namespace": "_",
                       "action_name": "remote-lanes"})
                .to_string(),
            )
            .expect("the runtime answers /run");
        let result: Json =
            serde_json::from_slice(&answer.body_mut().read_to_vec().expect("body")).expect("json");
        let status = if result.get("error").is_some() {
            "application error"
        } else {
            "success"
        };
        let record = json!({"activationId": "a1", "response":
            {"status": status, "success": status == "success", "result": result}});
        (200, record.to_string())
    })
}

/// The OpenWhisk back end of remote lanes, runtime side for real: `faastlane run --remote
/// openwhisk:NAME` sends a Map's surplus items as a blocking invoke, the controller stand-in
/// passes them to a `faastlane openwhisk` runtime holding the same workflow as a zip action,
/// and its `/run` answers with the batch's report instead of starting an execution.
#[test]
fn a_runtime_answers_the_branches_a_sibling_sends_through_a_blocking_invoke() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote-lanes");
    let proxy = Proxy::start();
    let (status, body) = proxy.init(json!({
        "name": "remote-lanes", "main": "main", "binary": true, "code": zip_dir(&fixture)
    }));
    assert_eq!(status, 200, "{body}");
    let (host, controller) = controller(proxy.url.clone());
    let items: Vec<Json> = (0..4)
        .map(|n| json!({"n": n, "mode": "ok", "seconds": 30}))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trace.json");
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .arg("run")
        .arg(&fixture)
        .args(["--input", &json!({ "items": items }).to_string()])
        .args(["--remote", "openwhisk:remote-lanes", "--remote-cap", "1"])
        .arg("--trace")
        .arg(&trace)
        .env("__OW_API_HOST", &host)
        .env("__OW_API_KEY", "user:secret")
        .output()
        .expect("faastlane run");
    assert!(
        out.status.success(),
        "{}\nruntime:\n{}",
        String::from_utf8_lossy(&out.stderr),
        proxy.stderr()
    );
    let output: Json = serde_json::from_slice(&out.stdout).expect("json output");
    let expected: Vec<Json> = (0..4)
        .map(|i| json!({"n": i * 2, "label": format!("item {}", i * 2)}))
        .collect();
    assert_eq!(output, Json::Array(expected));
    let seen = controller.lock().expect("lock").clone();
    assert_eq!(
        seen.first().map(|r| r.request_line.as_str()),
        Some("POST /api/v1/namespaces/_/actions/remote-lanes?blocking=true HTTP/1.1")
    );
    assert!(
        seen[0]
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v.starts_with("Basic ")),
        "{:?}",
        seen[0].headers
    );
    let trace: Json = serde_json::from_slice(&std::fs::read(&trace).expect("trace")).expect("json");
    let batch = &trace["lanes"][0]["remote"][0];
    assert_eq!(batch["target"], json!("openwhisk:remote-lanes"), "{trace}");
    let runtime = format!("(pid {})", proxy.child.id());
    assert!(
        batch["instance"]
            .as_str()
            .is_some_and(|i| i.ends_with(&runtime)),
        "answered by {}, not the runtime {runtime}",
        batch["instance"]
    );
    // The batch was one activation: its logs end with the sentinels like any other.
    proxy.logs(1);
}
