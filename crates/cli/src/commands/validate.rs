use std::process::ExitCode;

use anyhow::Result;

use crate::args::ValidateArgs;
use crate::workflow::Loaded;

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let loaded = Loaded::read(&args.workflow, &args.substitutions.read()?)?;
    match loaded.machine() {
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
