//! `faastlane serve` and the executor processes it starts.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use engine::Identity;
use server::{ServeOptions, serve};

use crate::args::{ExecutorArgs, ServeArgs};

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let limits = args.limits();
    let db = match args.db {
        Some(db) => db,
        None => default_db()?,
    };
    let exe = std::env::current_exe().context("finding the faastlane binary to start executors")?;
    // Decided before anything starts: `mpk` without protection keys, or a bad marking,
    // stops the server here.
    let dirs: Vec<_> = args
        .workflows
        .iter()
        .chain(&args.functions)
        .cloned()
        .collect();
    let isolation = super::isolation::serve_spec(args.isolation, &dirs)?;
    let workers = args
        .workers
        .unwrap_or_else(|| lanes::cpus::usable().usable)
        .max(1);
    let host = args
        .host
        .unwrap_or_else(|| default_host(std::env::var_os("PORT").is_some()));
    let remote = args.remote.config()?;
    let lanes_workers = args
        .lanes_workers
        .unwrap_or_else(|| lanes::cpus::usable().usable)
        .max(1);
    let options = ServeOptions {
        addr: std::net::SocketAddr::new(host, args.port),
        functions: args.functions,
        workflows: args.workflows,
        db,
        workers,
        executor_command: executor_command(exe, isolation.as_ref())?,
        mock_config: args.mock_config,
        max_body: args.max_request_bytes,
        grace: Duration::from_secs(args.grace_seconds),
        identity: Identity::from_env(),
        limits,
        remote,
        lanes_workers,
    };
    serve(options, |addr| {
        eprintln!("faastlane serve: listening on http://{addr}");
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Where to listen without `--host`: every address when a container platform set `$PORT`
/// (it routes to the container's own address), else loopback only.
fn default_host(port_from_platform: bool) -> std::net::IpAddr {
    if port_from_platform {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv4Addr::LOCALHOST.into()
    }
}

/// The binary with its hidden `executor` subcommand, as verbose as this process, with the
/// isolation the server chose.
fn executor_command(
    exe: std::path::PathBuf,
    isolation: Option<&super::isolation::ServeSpec>,
) -> Result<Vec<std::ffi::OsString>> {
    use tracing::level_filters::LevelFilter;
    let mut command = vec![exe.into_os_string(), "executor".into()];
    if let Some(spec) = isolation {
        command.push("--isolation-spec".into());
        command.push(serde_json::to_string(spec)?.into());
    }
    let level = LevelFilter::current();
    if level >= LevelFilter::DEBUG {
        command.push("-vv".into());
    } else if level >= LevelFilter::INFO {
        command.push("-v".into());
    }
    Ok(command)
}

pub fn executor(args: ExecutorArgs) -> Result<ExitCode> {
    let wrap = args
        .isolation_spec
        .as_deref()
        .map(super::isolation::executor_wrap)
        .transpose()?;
    server::executor::child::main_with(wrap).context("executor")?;
    Ok(ExitCode::SUCCESS)
}

/// `faastlane/serve.db` under `$XDG_DATA_HOME` or `~/.local/share`.
fn default_db() -> Result<String> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share"))
        })
        .context("no XDG_DATA_HOME or HOME for the default database: give --db PATH")?;
    let dir = base.join("faastlane");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.join("serve.db").to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_port_means_every_address_else_loopback() {
        assert!(default_host(true).is_unspecified());
        assert!(default_host(false).is_loopback());
    }
}
