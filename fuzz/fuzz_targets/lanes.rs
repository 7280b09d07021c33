//! The differential oracle across process lanes: one fixed definition with a Parallel state
//! (a Map with Choice, templates and intrinsics per item, a Format, a caught failure) run on
//! generated inputs inline and with every branch forced into worker processes of a fork
//! server. Both must succeed with the same output, or both fail.
//!
//! The fork server hosts one workflow and must start while this process has one thread, so
//! it starts in libFuzzer's initialisation, before libFuzzer's own threads.
#![no_main]

use std::sync::{Arc, OnceLock};

use engine::{BranchLanes, Engine, EngineOptions, Workflow};
use faastlane_fuzz::{assert_agree, execute, functions, generate, reach};
use lanes::{ForkServer, Host, ServerOptions};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

const DEFINITION: &str = r#"{"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true,
  "Branches": [
    {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
      "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "n.$": "$.n"},
      "ItemProcessor": {"StartAt": "Wrap", "States": {
        "Wrap": {"Type": "Task", "Resource": "wrap", "Next": "Pick"},
        "Pick": {"Type": "Choice", "Choices": [
            {"Variable": "$.wrapped.v", "IsNumeric": true, "Next": "Sum"},
            {"And": [{"Variable": "$.wrapped.v", "IsString": true}, {"Variable": "$.wrapped.v", "StringMatches": "a*"}], "Next": "Text"}
          ], "Default": "Other"},
        "Sum": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.wrapped.i, 1)", "v.$": "$.wrapped.v"}, "End": true},
        "Text": {"Type": "Pass", "Parameters": {"text.$": "States.Format('{}-{}', $.wrapped.v, $.wrapped.i)"}, "End": true},
        "Other": {"Type": "Pass", "Parameters": {"json.$": "States.JsonToString($.wrapped)"}, "End": true}
      }}}}},
    {"StartAt": "Fmt", "States": {"Fmt": {"Type": "Pass", "Parameters": {"f.$": "States.Format('{} {}', $.s, $.n)", "a.$": "$.a"}, "End": true}}},
    {"StartAt": "Try", "States": {
      "Try": {"Type": "Task", "Resource": "fail", "End": true,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}]},
      "Caught": {"Type": "Pass", "OutputPath": "$.err", "End": true}}}
  ]}}}"#;

fn workflow() -> Workflow {
    Workflow {
        name: "lanes".to_string(),
        machine: asl::load_str(DEFINITION).expect("the oracle's definition is valid"),
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        cpus: 2,
        limits: faastlane_fuzz::limits(),
        ..EngineOptions::default()
    }
}

static SERVER: OnceLock<Arc<ForkServer>> = OnceLock::new();

fuzz_target!(
    init: {
        let server = ForkServer::start(ServerOptions::default(), || {
            Ok(Host {
                workflow: workflow(),
                runtime: Arc::new(functions()),
                options: options(),
                fork_hooks: None,
            })
        })
        .expect("the fork server starts before any thread");
        server.ready().expect("the fork server is ready");
        let _ = SERVER.set(Arc::new(server));
    },
    |data: &[u8]| {
        reach::init();
        reach::input();
        let Ok(input) = generate::input(&mut Unstructured::new(data)) else { return };
        let Some(server) = SERVER.get() else { return };
        let workflow = workflow();
        let inline = execute(&faastlane_fuzz::engine(BranchLanes::Inline), &workflow, &input);
        let process = Engine::with_options(
            Arc::new(functions()),
            EngineOptions {
                lanes: BranchLanes::Process,
                processes: Some(Arc::clone(server) as Arc<dyn engine::lanes::ProcessPool>),
                ..options()
            },
        );
        let in_processes = execute(&process, &workflow, &input);
        assert_agree(&inline, &in_processes, "process", &input.to_string());
    }
);
