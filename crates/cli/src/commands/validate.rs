use std::process::ExitCode;

use anyhow::Result;

use crate::args::ValidateArgs;
use crate::workflow::Loaded;

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let loaded = Loaded::read(&args.workflow)?;
    match loaded.machine() {
        Ok(machine) if args.workflow.is_dir() && !missing_functions(&loaded, &machine) => {
            Ok(ExitCode::from(2))
        }
        Ok(machine) => {
            println!(
                "{}: valid ({} states)",
                loaded.definition_path.display(),
                count_states(&machine)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(report) => {
            eprintln!("{report}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Reports the Tasks of a workflow directory whose functions are not in it (what `faastlane
/// serve` refuses with InvalidDefinition); true when every function is there.
fn missing_functions(loaded: &Loaded, machine: &asl::StateMachine) -> bool {
    let workflow = engine::Workflow {
        name: loaded.name.clone(),
        machine: machine.clone(),
    };
    let dirs = server::functions::FunctionDirs::new(vec![loaded.dir.clone()]);
    match dirs.resolve(&workflow) {
        Ok(_) => true,
        Err(problems) => {
            eprintln!("{} cannot run:", loaded.definition_path.display());
            for p in &problems {
                eprintln!("  - {p}");
            }
            false
        }
    }
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
