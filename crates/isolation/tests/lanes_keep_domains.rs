//! Process lanes keep protection domains: a worker forked from a fork server whose runtime
//! isolates functions in domains inherits the keys, the domains and its PKRU (fork copies
//! them), and a violation in the worker fails the branch's Task as it would here.
//!
//! No test harness: the fork server must start before any thread. Needs PKU: skips without
//! it, unless `MPK_REQUIRE=1` (inside `scripts/test-mpk-qemu.sh`'s QEMU guest).

#![allow(clippy::expect_used, reason = "a failed step ends the test")]

use std::sync::Arc;

use asl::{StatesError, Value};
use engine::{BranchLanes, Engine, EngineOptions, ExecutionOptions, NativeRuntime, Workflow};
use isolation::{DomainIsolated, alloc_private};
use lanes::{ForkServer, Host, ServerOptions};
use serde_json::{Value as Json, json};

const WORKFLOW: &str = r#"{
  "StartAt": "Each",
  "States": {
    "Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
      "ItemProcessor": {"StartAt": "Keep", "States": {
        "Keep": {"Type": "Task", "Resource": "keep", "Next": "Peek"},
        "Peek": {"Type": "Task", "Resource": "peek", "End": true,
          "Catch": [{"ErrorEquals": ["Faastlane.IsolationViolation"], "ResultPath": "$.caught", "Next": "Done"}]},
        "Done": {"Type": "Pass", "End": true}
      }}}
  }
}"#;

fn runtime() -> Result<DomainIsolated, String> {
    let native = NativeRuntime::new()
        .with("keep", |_, _: Value| {
            let p = alloc_private(8).ok_or_else(|| StatesError::runtime("no domain"))?;
            // SAFETY: a fresh private allocation of 8 bytes.
            unsafe { p.as_ptr().write_volatile(42) };
            let pkru = mpk::current_mask().pkru();
            Ok(Value::Json(
                json!({"addr": p.as_ptr() as u64, "pid": std::process::id(), "pkru": pkru}),
            ))
        })
        .with("peek", |_, input: Value| {
            let j = input.to_json().unwrap_or(Json::Null);
            let addr = j["addr"].as_u64().unwrap_or(0) as usize as *const u8;
            // SAFETY: keep's live 8-byte private allocation (the read faults: another domain).
            let byte = unsafe { addr.read_volatile() };
            Ok(Value::Json(json!({"read": byte})))
        });
    let names = ["keep".to_string(), "peek".to_string()];
    DomainIsolated::new(Arc::new(native), &names).map_err(|e| e.to_string())
}

fn main() {
    if !mpk::required_or_skip() {
        return;
    }
    let workflow = Workflow {
        name: "domains".into(),
        machine: asl::load_str(WORKFLOW).expect("definition"),
    };
    let hosted = workflow.clone();
    let server = ForkServer::start(ServerOptions::default(), move || {
        Ok(Host {
            workflow: hosted,
            runtime: Arc::new(runtime()?),
            options: EngineOptions::default(),
            fork_hooks: None,
        })
    })
    .expect("fork server");
    let engine = Engine::with_options(
        Arc::new(runtime().expect("domains here")),
        EngineOptions {
            lanes: BranchLanes::Process,
            processes: Some(Arc::new(server)),
            cpus: 2,
            ..EngineOptions::default()
        },
    );
    let out = engine
        .execute(
            &workflow,
            json!({"items": [1]}),
            &ExecutionOptions::default(),
        )
        .into_json()
        .expect("the violation is caught");
    let item = &out[0];
    assert_ne!(
        item["pid"].as_u64(),
        Some(u64::from(std::process::id())),
        "ran in a worker: {out}"
    );
    // Inside keep's gate the worker's PKRU opened keep's key and denied the others.
    let pkru = item["pkru"].as_u64().expect("pkru") as u32;
    assert_ne!(pkru, mpk::ProtectionMask::shared_only().pkru(), "{out}");
    assert_eq!(
        item["caught"]["Error"], "Faastlane.IsolationViolation",
        "{out}"
    );
    let cause = item["caught"]["Cause"].as_str().unwrap_or_default();
    assert!(
        cause.starts_with(
            "function 'peek' (state 'Peek') read the memory of domain 'keep' at address 0x"
        ),
        "{cause}"
    );
    eprintln!("process lanes keep domains: ok");
}
