use std::process::ExitCode;

use anyhow::Result;

use crate::args::{GraphArgs, GraphFormat};
use crate::workflow::Loaded;

pub fn run(args: GraphArgs) -> Result<ExitCode> {
    let loaded = Loaded::read(&args.workflow, &args.substitutions.read()?)?;
    let machine = match loaded.machine() {
        Ok(m) => m,
        Err(report) => {
            eprintln!("{report}");
            return Ok(ExitCode::from(2));
        }
    };
    let text = match args.format {
        GraphFormat::Mermaid => asl::graph::mermaid(&machine),
        GraphFormat::Dot => asl::graph::dot(&machine, &loaded.name),
    };
    super::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
