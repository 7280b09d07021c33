//! `faastlane openwhisk` and `faastlane lambda`: the platform runtimes of the `platform`
//! crate, started from the command line. Both must run before this process starts any
//! thread (they fork the fork server for process lanes first).

use std::process::ExitCode;

use anyhow::{Context, Result};
use platform::lambda::{self, LambdaOptions};
use platform::openwhisk::{self, OpenWhiskOptions};

use crate::args::OpenWhiskArgs;

pub fn openwhisk(args: OpenWhiskArgs) -> Result<ExitCode> {
    let options = OpenWhiskOptions {
        addr: std::net::SocketAddr::new(args.host, args.port),
        work_dir: args.work_dir,
        max_body: args.max_request_bytes,
    };
    openwhisk::serve(options, |addr| {
        eprintln!("faastlane openwhisk: listening on http://{addr}");
    })
    .context("faastlane openwhisk")?;
    Ok(ExitCode::SUCCESS)
}

pub fn lambda() -> Result<ExitCode> {
    let options = LambdaOptions::from_env()?;
    lambda::run(&options).context("faastlane lambda")?;
    Ok(ExitCode::SUCCESS)
}
