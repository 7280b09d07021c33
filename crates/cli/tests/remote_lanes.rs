//! Remote lanes end to end: three `faastlane serve` instances behind Debian's nginx on
//! loopback (a round-robin proxy, as a Knative service's URL), driven by `faastlane run
//! --remote` and by `POST /invoke` on the instances themselves; and the Lambda and OpenWhisk
//! back ends' requests, checked by a local stub of each API that passes the batch on to a
//! serve instance (no Lambda or OpenWhisk controller runs here).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bench::siblings::{SiblingOptions, Siblings, ensure_nginx};
use serde_json::{Value as Json, json};

#[path = "support/http_stub.rs"]
mod http_stub;
use http_stub::{Seen, stub};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote-lanes")
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_faastlane"))
}

fn siblings(workflow: &Path, instances: usize, remote_cap: Option<usize>) -> Siblings {
    let nginx = ensure_nginx(&repo()).expect("scripts/ensure-nginx.sh installs nginx");
    Siblings::start(
        &SiblingOptions {
            exe: exe(),
            workflow: workflow.to_path_buf(),
            instances,
            cpus: Vec::new(),
            args: vec!["--workers".into(), "1".into()],
            remote_to_proxy: remote_cap,
        },
        &nginx,
    )
    .expect("the instances and nginx start")
}

/// `faastlane run` of the fixture on `items`, sending to `remote`, with its trace.
fn run(remote: &str, cap: usize, items: Json, extra: &[&str]) -> (Output, Json, Json) {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trace.json");
    let out = Command::new(exe())
        .arg("run")
        .arg(fixture())
        .args(["--input", &json!({"items": items}).to_string()])
        .args(["--remote", remote, "--remote-cap", &cap.to_string()])
        .arg("--trace")
        .arg(&trace)
        .args(extra)
        .output()
        .expect("faastlane runs");
    let stdout: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    let trace: Json = std::fs::read(&trace)
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or(Json::Null);
    (out, stdout, trace)
}

fn items(modes: &[&str]) -> Json {
    modes
        .iter()
        .enumerate()
        .map(|(n, mode)| json!({"n": n, "mode": mode, "seconds": 30}))
        .collect()
}

fn expected(n: usize) -> Json {
    (0..n)
        .map(|i| json!({"n": i * 2, "label": format!("item {}", i * 2)}))
        .collect()
}

/// The remote entries of the trace's first lane decision.
fn remote_entries(trace: &Json) -> Vec<Json> {
    trace["lanes"][0]["remote"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn run_sends_surplus_branches_through_nginx_round_robin_to_three_instances() {
    let s = siblings(&fixture(), 3, None);
    let n = 12;
    let (out, output, trace) = run(&s.url, 3, items(&["ok"; 12]), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(output, expected(n));
    let entries = remote_entries(&trace);
    assert_eq!(entries.len(), 3, "{trace:#}");
    // Each request went to another instance (round robin), and each names itself.
    let addresses = s.addresses();
    let mut answered = BTreeSet::new();
    for e in &entries {
        assert_eq!(e["target"], json!(s.url));
        assert!(e.get("error").is_none(), "{e}");
        let instance = e["instance"].as_str().unwrap_or_default();
        let address = addresses
            .iter()
            .find(|a| instance.contains(a.as_str()))
            .unwrap_or_else(|| panic!("{instance} is none of {addresses:?}"));
        answered.insert(address.clone());
    }
    assert_eq!(answered.len(), 3, "{entries:?}");
    // Every item ran exactly once: here (lane inline or process) or in one remote batch.
    let sent: Vec<u64> = entries
        .iter()
        .flat_map(|e| e["branches"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b.as_u64())
        .collect();
    let works = trace["states"].as_array().cloned().unwrap_or_default();
    let mut ran: Vec<(u64, String)> = works
        .iter()
        .filter(|r| r["state"].as_str().is_some_and(|s| s.ends_with("/Work")))
        .filter_map(|r| {
            let path = r["state"].as_str()?;
            let index = path.split('/').nth(1)?.parse().ok()?;
            Some((index, r["lane"].as_str()?.to_string()))
        })
        .collect();
    ran.sort();
    assert_eq!(ran.len(), n, "{ran:?}");
    for (index, lane) in &ran {
        assert_eq!(
            lane == "remote",
            sent.contains(index),
            "item {index} ran on {lane}"
        );
    }
    assert!(
        trace["lanes"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("sibling request")),
        "{}",
        trace["lanes"][0]["reason"]
    );
}

#[test]
fn invoke_on_an_instance_fans_out_to_its_siblings_through_the_proxy() {
    let s = siblings(&fixture(), 3, Some(2));
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let body = json!({"items": items(&["ok"; 6])}).to_string();
    let mut answer = agent
        .post(&format!("{}/invoke/remote-lanes", s.url))
        .send(body.as_str())
        .expect("the proxy answers");
    assert_eq!(answer.status(), 200);
    let output: Json =
        serde_json::from_slice(&answer.body_mut().read_to_vec().expect("body")).expect("json");
    assert_eq!(output, expected(6));
    // The instance that ran the execution sent two batches; the proxy spread them.
    let served: u64 = s
        .instances
        .iter()
        .map(|i| {
            let mut h = agent
                .get(&format!("http://127.0.0.1:{}/healthz", i.port))
                .call()
                .expect("healthz");
            let health: Json =
                serde_json::from_slice(&h.body_mut().read_to_vec().expect("body")).expect("json");
            health["remoteBatchesServed"].as_u64().unwrap_or(0)
        })
        .sum();
    assert_eq!(served, 2);
}

#[test]
fn a_sibling_that_dies_fails_its_branches_with_runtime_exit_error_once() {
    let s = siblings(&fixture(), 3, None);
    // The last item goes to a sibling (a Map's last items are sent first), whose executor
    // exits in it.
    let mut modes = vec!["ok"; 7];
    modes.push("exit");
    let (out, output, trace) = run(&s.url, 2, items(&modes), &[]);
    assert!(!out.status.success());
    assert_eq!(output["error"], json!("Runtime.ExitError"), "{output}");
    assert!(
        output["cause"]
            .as_str()
            .is_some_and(|c| c.contains("Runtime exited with error: exit status 3")),
        "{output}"
    );
    // One request failed; another may have been given up on when the state failed.
    let failed: Vec<Json> = remote_entries(&trace)
        .into_iter()
        .filter(|e| {
            e["error"]
                .as_str()
                .is_some_and(|e| !e.starts_with("cancelled"))
        })
        .collect();
    assert_eq!(failed.len(), 1, "{trace:#}");
}

#[test]
fn a_sibling_that_does_not_answer_in_time_fails_its_branches_with_states_timeout() {
    let s = siblings(&fixture(), 2, None);
    let mut modes = vec!["ok"; 3];
    modes.push("sleep");
    let (out, output, _) = run(&s.url, 1, items(&modes), &["--remote-timeout", "1"]);
    assert!(!out.status.success());
    assert_eq!(output["error"], json!("States.Timeout"), "{output}");
    assert!(
        output["cause"].as_str().is_some_and(
            |c| c.contains("did not answer within 1.00 s") && c.contains("not run again")
        ),
        "{output}"
    );
}

#[test]
fn invoke_answers_outputs_errors_and_cloud_events() {
    let s = siblings(&fixture(), 1, None);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let post = |path: &str, body: &str, headers: &[(&str, &str)]| {
        let mut request = agent.post(&format!("{}{path}", s.url));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut answer = request.send(body).expect("answered");
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let body: Json = serde_json::from_slice(&answer.body_mut().read_to_vec().expect("body"))
            .unwrap_or(Json::Null);
        (status, headers, body)
    };
    let (status, _, body) = post("/invoke/nope", "{}", &[]);
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("StateMachineDoesNotExist"))
    );
    let (status, _, body) = post("/invoke/remote-lanes", "{not json", &[]);
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("InvalidExecutionInput"))
    );
    let (status, headers, body) = post("/invoke/remote-lanes", r#"{"items": 3}"#, &[]);
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], json!("States.Runtime"), "{body}");
    assert!(body["cause"].is_string(), "{body}");
    assert_eq!(
        headers
            .get("x-faastlane-status")
            .and_then(|v| v.to_str().ok()),
        Some("FAILED")
    );
    let input = json!({"items": items(&["ok", "ok"])}).to_string();
    let (status, headers, body) = post(
        "/invoke/remote-lanes",
        &input,
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/test"),
            ("ce-type", "test.input"),
            ("content-type", "application/json"),
        ],
    );
    assert_eq!((status, body), (200, expected(2)));
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("ce-specversion").as_deref(), Some("1.0"));
    assert_eq!(
        header("ce-type").as_deref(),
        Some("faastlane.execution.succeeded")
    );
    assert_eq!(
        header("ce-source").as_deref(),
        Some("/faastlane/remote-lanes")
    );
    assert!(header("ce-id").is_some_and(|id| !id.is_empty()));
}

/// Passes the batch inside a platform event to a serve instance's `/lanes/branches`.
fn forward(serve: &str, event: &Json) -> Json {
    let agent = ureq::Agent::new_with_defaults();
    let mut answer = agent
        .post(&format!("{serve}/lanes/branches"))
        .send(event["faastlaneLanes"].to_string().as_str())
        .expect("the serve instance answers");
    serde_json::from_slice(&answer.body_mut().read_to_vec().expect("body")).expect("json")
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_lambda_back_end_calls_the_invoke_api_synchronously() {
    // A stub of Lambda's Invoke API, not Lambda: it checks the request and lets a serve
    // instance run the batch, as `faastlane lambda` would.
    let s = siblings(&fixture(), 1, None);
    let serve = s.url.clone();
    let (endpoint, seen) = stub(1, move |r| (200, forward(&serve, &r.body).to_string()));
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("t.json");
    let out = Command::new(exe())
        .arg("run")
        .arg(fixture())
        .args(["--input", &json!({"items": items(&["ok"; 4])}).to_string()])
        .args(["--remote", "lambda:remote-lanes", "--remote-cap", "1"])
        .arg("--trace")
        .arg(&trace)
        .env("AWS_ENDPOINT_URL_LAMBDA", &endpoint)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(output, expected(4));
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(
        r.request_line,
        "POST /2015-03-31/functions/remote-lanes/invocations HTTP/1.1"
    );
    assert_eq!(header(r, "x-amz-invocation-type"), Some("RequestResponse"));
    assert_eq!(header(r, "content-type"), Some("application/json"));
    let request = &r.body["faastlaneLanes"];
    assert_eq!(request["job"]["workflow"], json!("remote-lanes"));
    assert_eq!(request["job"]["state"], json!("Each"));
    let indices = request["indices"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        request["inputs"].as_array().map(Vec::len),
        Some(indices.len())
    );
    let trace: Json = serde_json::from_slice(&std::fs::read(&trace).expect("trace")).expect("json");
    assert_eq!(
        trace["lanes"][0]["remote"][0]["target"],
        json!("lambda:remote-lanes")
    );
}

#[test]
fn the_openwhisk_back_end_makes_a_blocking_invoke_with_basic_auth() {
    // A stub of OpenWhisk's controller (none can run here): it checks the request shape and
    // answers with an activation record whose result a serve instance computed.
    let s = siblings(&fixture(), 1, None);
    let serve = s.url.clone();
    let (host, seen) = stub(1, move |r| {
        let result = forward(&serve, &r.body);
        let record = json!({"activationId": "a1", "response": {"status": "success", "success": true, "result": result}});
        (200, record.to_string())
    });
    let key = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
    let out = Command::new(exe())
        .arg("run")
        .arg(fixture())
        .args(["--input", &json!({"items": items(&["ok"; 4])}).to_string()])
        .args(["--remote", "openwhisk:remote-lanes", "--remote-cap", "1"])
        .env("__OW_API_HOST", &host)
        .env("__OW_API_KEY", key)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(output, expected(4));
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(
        r.request_line,
        "POST /api/v1/namespaces/_/actions/remote-lanes?blocking=true HTTP/1.1"
    );
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    assert_eq!(header(r, "authorization"), Some(basic.as_str()));
    assert!(r.body["faastlaneLanes"]["indices"].is_array(), "{}", r.body);
}

#[test]
fn serve_listens_on_the_port_the_environment_names() {
    // As Knative and Cloud Run start a container: $PORT set, no --port. (Without --host it
    // would listen on every address, which a test must not: `commands::serve` tests that.)
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(exe())
        .arg("serve")
        .arg(fixture())
        .args(["--db", ":memory:", "--host", "127.0.0.1"])
        .env("PORT", port.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    if let Some(stderr) = child.stderr.take() {
        let _ = BufReader::new(stderr).read_line(&mut first);
    }
    let agent = ureq::Agent::new_with_defaults();
    let health = agent
        .get(&format!("http://127.0.0.1:{port}/healthz"))
        .call()
        .map(|r| r.status().as_u16());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        first.trim(),
        format!("faastlane serve: listening on http://127.0.0.1:{port}")
    );
    assert_eq!(health.ok(), Some(200));
}
