//! `faastlane openwhisk` and `faastlane lambda`: the platform runtimes of the `platform`
//! crate, started from the command line. Both must run before this process starts any
//! thread (they fork the fork server for process lanes first).

use std::process::ExitCode;

use anyhow::{Context, Result};
use platform::lambda::{self, LambdaOptions};
use platform::openwhisk::{self, OpenWhiskOptions};

use super::isolation::Isolation;
use crate::args::{IsolationArg, OpenWhiskArgs};

pub fn openwhisk(args: OpenWhiskArgs) -> Result<ExitCode> {
    // Decided before the action arrives: `mpk` without protection keys stops here.
    let isolation = super::isolation::choose(args.isolation)?;
    let options = OpenWhiskOptions {
        addr: std::net::SocketAddr::new(args.host, args.port),
        work_dir: args.work_dir,
        max_body: args.max_request_bytes,
        isolation,
    };
    openwhisk::serve(options, |addr| {
        eprintln!("faastlane openwhisk: listening on http://{addr}");
    })
    .context("faastlane openwhisk")?;
    Ok(ExitCode::SUCCESS)
}

/// The isolation of a Lambda function's workflow: `FAASTLANE_ISOLATION` (none, mpk,
/// process or auto; a function's configuration is its environment), as `run --isolation`.
pub const ISOLATION_VAR: &str = "FAASTLANE_ISOLATION";

pub fn lambda() -> Result<ExitCode> {
    let options = LambdaOptions::from_env()?;
    let arg = match std::env::var(ISOLATION_VAR) {
        Ok(value) if !value.is_empty() => <IsolationArg as clap::ValueEnum>::from_str(&value, true)
            .map_err(|_| {
                anyhow::anyhow!("{ISOLATION_VAR}={value:?}: expected none, mpk, process or auto")
            })?,
        _ => IsolationArg::None,
    };
    lambda::run_isolated(
        &options,
        Box::new(move |dir, workflow, engine| {
            let isolation =
                Isolation::start(arg, dir, workflow, engine).map_err(|e| format!("{e:#}"))?;
            if !isolation.isolates() {
                return Ok(None);
            }
            Ok(Some(
                Box::new(move |runtime| isolation.wrap(runtime).map_err(|e| format!("{e:#}")))
                    as platform::host::Wrap,
            ))
        }),
    )
    .context("faastlane lambda")?;
    Ok(ExitCode::SUCCESS)
}
