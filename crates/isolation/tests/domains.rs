//! MPK isolation of native functions: a function reading another's private memory fails its
//! Task with `Faastlane.IsolationViolation`, and the process keeps serving. Needs PKU: skips
//! without it, unless `MPK_REQUIRE=1` (inside `scripts/test-mpk-qemu.sh`'s QEMU guest).

#![allow(clippy::expect_used, reason = "a failed step ends the test")]

use std::sync::Arc;

use asl::{StatesError, Value};
use engine::{Engine, ExecutionOptions, NativeRuntime, Workflow};
use isolation::{DomainIsolated, alloc_private};
use serde_json::{Value as Json, json};

/// `keep`: puts `secret` in its private memory, returns the address. `peek`: reads 8 bytes at
/// `addr`.
fn runtime() -> NativeRuntime {
    NativeRuntime::new()
        .with("keep", |_, input: Value| {
            let j = input.to_json().unwrap_or(Json::Null);
            let secret = j["secret"].as_str().unwrap_or("").as_bytes().to_vec();
            let p = alloc_private(secret.len().max(8))
                .ok_or_else(|| StatesError::runtime("no domain"))?;
            // SAFETY: `p` is a fresh private allocation of at least `secret.len()` bytes.
            unsafe { std::ptr::copy_nonoverlapping(secret.as_ptr(), p.as_ptr(), secret.len()) };
            Ok(Value::Json(json!({"addr": p.as_ptr() as u64})))
        })
        .with("recall", |_, input: Value| {
            // Keeps a secret, then reads back what is at `addr` (its previous call's secret).
            let j = input.to_json().unwrap_or(Json::Null);
            let p = alloc_private(16).ok_or_else(|| StatesError::runtime("no domain"))?;
            let old = j["addr"].as_u64().map(|a| a as usize as *const u8);
            let before: Vec<u8> = match old {
                // SAFETY: `old` is this function's own private allocation of 16 bytes from
                // its previous call (its domain keeps the arena, scrubbed).
                Some(old) => (0..6)
                    .map(|i| unsafe { old.add(i).read_volatile() })
                    .collect(),
                None => Vec::new(),
            };
            // SAFETY: `p` is a fresh private allocation of 16 bytes.
            unsafe { std::ptr::copy_nonoverlapping(b"secret".as_ptr(), p.as_ptr(), 6) };
            Ok(Value::Json(
                json!({"addr": p.as_ptr() as u64, "before": before}),
            ))
        })
        .with("peek", |_, input: Value| {
            let j = input.to_json().unwrap_or(Json::Null);
            let addr = j["addr"].as_u64().unwrap_or(0) as usize as *const u8;
            // SAFETY: the address of a live private allocation of at least 8 bytes (of
            // another function: the access faults and the gate reports it).
            let bytes: Vec<u8> = (0..8)
                .map(|i| unsafe { addr.add(i).read_volatile() })
                .collect();
            Ok(Value::Json(
                json!({"read": String::from_utf8_lossy(&bytes)}),
            ))
        })
}

/// Allocates, writes and reads back its own private memory; counts successes in `seen`.
fn own(call: &engine::Call<'_>, input: Value) -> Result<Value, StatesError> {
    let p = alloc_private(64).ok_or_else(|| StatesError::runtime("no domain"))?;
    let name = call.function.as_bytes();
    // SAFETY: a fresh private allocation of 64 bytes; the names are shorter.
    let back: Vec<u8> = unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), p.as_ptr(), name.len());
        (0..name.len())
            .map(|i| p.as_ptr().add(i).read_volatile())
            .collect()
    };
    let mut j = input.to_json().unwrap_or(Json::Null);
    j["seen"] = json!(j["seen"].as_u64().unwrap_or(0) + u64::from(back == name));
    Ok(Value::Json(j))
}

fn workflow(definition: Json) -> Workflow {
    Workflow {
        name: "isolation".into(),
        machine: asl::load(&definition).expect("definition"),
    }
}

fn engine(functions: &[&str]) -> Engine {
    let names: Vec<String> = functions.iter().map(|f| f.to_string()).collect();
    let isolated = DomainIsolated::new(Arc::new(runtime()), &names).expect("domains");
    Engine::new(Arc::new(isolated))
}

#[test]
fn reading_another_functions_memory_fails_the_task_and_the_next_execution_runs() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let engine = engine(&["keep", "peek"]);
    let steal = workflow(json!({"StartAt": "Keep", "States": {
        "Keep": {"Type": "Task", "Resource": "keep", "Next": "Peek"},
        "Peek": {"Type": "Task", "Resource": "peek", "End": true}
    }}));
    let err = engine
        .execute(
            &steal,
            json!({"secret": "555-0100 Jane"}),
            &ExecutionOptions::default(),
        )
        .into_json()
        .expect_err("peek reads keep's memory");
    assert_eq!(err.error, "Faastlane.IsolationViolation");
    assert!(
        err.cause.starts_with(
            "function 'peek' (state 'Peek') read the memory of domain 'keep' at address 0x"
        ),
        "{}",
        err.cause
    );
    assert!(
        err.cause.ends_with("its result was discarded"),
        "{}",
        err.cause
    );

    // The process keeps serving: the next execution runs, and keep's own data is intact.
    let keep_only = workflow(json!({"StartAt": "Keep", "States": {
        "Keep": {"Type": "Task", "Resource": "keep", "End": true}
    }}));
    let out = engine
        .execute(
            &keep_only,
            json!({"secret": "x"}),
            &ExecutionOptions::default(),
        )
        .into_json()
        .expect("next execution");
    assert!(out["addr"].as_u64().is_some());

    // A Catch for the violation works like any Task error.
    let caught = workflow(json!({"StartAt": "Keep", "States": {
        "Keep": {"Type": "Task", "Resource": "keep", "Next": "Peek"},
        "Peek": {"Type": "Task", "Resource": "peek", "End": true,
          "Catch": [{"ErrorEquals": ["Faastlane.IsolationViolation"], "Next": "Refused"}]},
        "Refused": {"Type": "Pass", "Result": "refused", "End": true}
    }}));
    let out = engine
        .execute(
            &caught,
            json!({"secret": "y"}),
            &ExecutionOptions::default(),
        )
        .into_json()
        .expect("caught");
    assert_eq!(out, json!("refused"));
}

#[test]
fn a_call_finds_its_domain_scrubbed() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let engine = engine(&["recall"]);
    let once = workflow(json!({"StartAt": "Recall", "States": {
        "Recall": {"Type": "Task", "Resource": "recall", "End": true}
    }}));
    let first = engine
        .execute(&once, json!({}), &ExecutionOptions::default())
        .into_json()
        .expect("first call");
    let second = engine
        .execute(&once, first.clone(), &ExecutionOptions::default())
        .into_json()
        .expect("second call");
    // Same memory (the domain starts over at its first arena), zeroed in between.
    assert_eq!(second["addr"], first["addr"]);
    assert_eq!(second["before"], json!([0, 0, 0, 0, 0, 0]));
}

#[test]
fn seventeen_sensitive_functions_each_keep_their_own_memory() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let names: Vec<String> = (0..17).map(|i| format!("f{i:02}")).collect();
    let mut states = serde_json::Map::new();
    for (i, name) in names.iter().enumerate() {
        let mut s = json!({"Type": "Task", "Resource": name});
        if i + 1 < names.len() {
            s["Next"] = json!(names[i + 1].to_uppercase());
        } else {
            s["End"] = json!(true);
        }
        states.insert(name.to_uppercase(), s);
    }
    let def = json!({"StartAt": "F00", "States": states});
    let mut native = NativeRuntime::new();
    for name in &names {
        native.register(name.clone(), own);
    }
    let isolated = DomainIsolated::new(Arc::new(native), &names).expect("domains");
    let domains = Arc::clone(isolated.domains());
    let engine = Engine::new(Arc::new(isolated));
    let wf = workflow(def);
    let out = engine
        .execute(&wf, json!({}), &ExecutionOptions::default())
        .into_json()
        .expect("17 domains");
    assert_eq!(out["seen"], 17, "{out}");
    assert!(domains.keys() < 17);
    assert!(domains.recycled() > 0, "keys were multiplexed");
}
