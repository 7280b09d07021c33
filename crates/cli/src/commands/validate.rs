use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::ValidateArgs;
use crate::workflow::Loaded;

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let loaded = Loaded::read(&args.workflow, &args.substitutions.read()?)?;
    let machine = match loaded.machine() {
        Ok(machine) => machine,
        Err(report) => {
            eprintln!("{report}");
            return Ok(ExitCode::from(2));
        }
    };
    let states = count_states(&machine);
    let workflow = engine::Workflow {
        name: loaded.name.clone(),
        machine,
    };
    let functions = workflow.functions();
    if !functions.is_empty() {
        let names: Vec<&str> = functions.iter().map(String::as_str).collect();
        let problems = python_runtime::check_functions(&loaded.dir, &names)
            .with_context(|| format!("checking the functions of {}", loaded.dir.display()))?;
        if !problems.is_empty() {
            eprintln!(
                "{}: functions that cannot load:",
                loaded.definition_path.display()
            );
            let tasks = asl::walk::task_functions(&workflow.machine);
            for p in &problems {
                let states: Vec<String> = tasks
                    .iter()
                    .filter(|(_, f)| *f == p.function)
                    .map(|(s, _)| format!("'{s}'"))
                    .collect();
                eprintln!(
                    "  - state {}: function '{}': {}",
                    states.join(", "),
                    p.function,
                    p.message
                );
            }
            eprintln!("{} problem(s)", problems.len());
            return Ok(ExitCode::from(2));
        }
    }
    println!(
        "{}: valid ({} states)",
        loaded.definition_path.display(),
        states
    );
    Ok(ExitCode::SUCCESS)
}

fn count_states(machine: &asl::StateMachine) -> usize {
    machine
        .states
        .values()
        .map(|s| {
            1 + match &s.kind {
                asl::StateKind::Parallel(p) => p.branches.iter().map(count_states).sum(),
                asl::StateKind::Map(m) => count_states(&m.processor),
                _ => 0,
            }
        })
        .sum()
}
