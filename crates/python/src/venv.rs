//! `requirements.txt`: installed once into a virtual environment cached by the file's SHA-256
//! and the interpreter's version, then reused with no network.
//!
//! The environment is built by the embedded interpreter's own installation (found from
//! `sys.base_prefix`, never from `python3` on `PATH`), without the interpreter's global
//! site-packages: a workflow with requirements imports from its own environment and the
//! standard library only, as it will on Lambda (the runtime also takes the global
//! site-packages off `sys.path`, see `add_site_dir` in `bootstrap.py`). It is built in a temporary directory next to its final place and renamed there once pip has
//! succeeded and a marker file is written: a crash mid-install leaves only a `.tmp-*`
//! directory (safe to delete), never a broken environment that looks ready. The rename breaks
//! the absolute paths in the environment's `bin/` scripts; faastlane only adds its
//! site-packages to `sys.path`, which does not depend on them.
//!
//! Cache directory: `$FAASTLANE_CACHE_DIR`, else `$XDG_CACHE_HOME/faastlane`, else
//! `~/.cache/faastlane`; environments live in its `venvs/` folder.

use std::fs;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::error::RequirementsError;
use crate::interpreter::InterpreterInfo;

/// The requirements file's name.
pub const REQUIREMENTS: &str = "requirements.txt";

/// Written last into a finished environment.
const READY_MARKER: &str = ".faastlane-ready";

/// A virtual environment holding a workflow's requirements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// The environment's directory.
    pub root: PathBuf,
    /// Its site-packages, added to `sys.path`.
    pub site_packages: PathBuf,
    /// Whether this process built it (false: it came from the cache).
    pub created: bool,
}

/// How pip may reach packages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PipNetwork {
    /// Use the package index; if that fails, try once more with `--no-index` (local wheels
    /// and paths then still install).
    #[default]
    Online,
    /// Never contact an index (`--no-index`).
    Offline,
}

/// The cache directory from the environment, as documented above.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("FAASTLANE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("faastlane"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache").join("faastlane"))
}

/// Returns the environment for `requirements`, building it if the cache has none.
pub(crate) fn ensure(
    requirements: &Path,
    cache_dir: &Path,
    python: &InterpreterInfo,
    network: PipNetwork,
) -> Result<Environment, RequirementsError> {
    let contents = fs::read(requirements).map_err(|source| RequirementsError::Read {
        path: requirements.to_path_buf(),
        source,
    })?;
    let (major, minor, micro) = python.version_info;
    let digest = hex(&Sha256::digest(&contents));
    let venvs = cache_dir.join("venvs");
    // `-own`: built without the global site-packages (environments of older faastlane
    // versions relied on them and must not be reused).
    let name = format!("{digest}-py{major}.{minor}.{micro}-own");
    let root = venvs.join(&name);
    let site_packages = root
        .join("lib")
        .join(format!("python{major}.{minor}"))
        .join("site-packages");
    let environment = |created| Environment {
        root: root.clone(),
        site_packages: site_packages.clone(),
        created,
    };
    if root.join(READY_MARKER).is_file() {
        return Ok(environment(false));
    }

    let cache_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RequirementsError::Cache { path, source }
    };
    fs::create_dir_all(&venvs).map_err(cache_error(&venvs))?;
    check_interpreter(python)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let temp = venvs.join(format!(".tmp-{name}-{}-{nanos}", std::process::id()));
    let built = build(&temp, requirements, python, network)
        .and_then(|()| {
            fs::write(
                temp.join(READY_MARKER),
                format!("{}\n", requirements.display()),
            )
            .map_err(cache_error(&temp))
        })
        .and_then(|()| {
            // Not ours to reuse: a directory without the marker was never finished.
            if root.exists() && !root.join(READY_MARKER).is_file() {
                fs::remove_dir_all(&root).map_err(cache_error(&root))?;
            }
            Ok(())
        })
        .and_then(|()| match fs::rename(&temp, &root) {
            Ok(()) => Ok(true),
            // Another process finished the same environment first: use theirs.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty
                ) && root.join(READY_MARKER).is_file() =>
            {
                Ok(false)
            }
            Err(e) => Err(cache_error(&root)(e)),
        });
    if !matches!(built, Ok(true)) {
        let _ = fs::remove_dir_all(&temp);
    }
    built.map(environment)
}

fn check_interpreter(python: &InterpreterInfo) -> Result<(), RequirementsError> {
    let exe = &python.executable;
    if !exe.is_file() {
        return Err(RequirementsError::NoInterpreter { path: exe.clone() });
    }
    let output = Command::new(exe)
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| RequirementsError::Spawn {
            program: exe.display().to_string(),
            source,
        })?;
    let found = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let (major, minor, micro) = python.version_info;
    let expected = format!("{major}.{minor}.{micro}");
    if found != expected {
        return Err(RequirementsError::InterpreterMismatch {
            path: exe.clone(),
            found,
            expected,
        });
    }
    Ok(())
}

fn build(
    temp: &Path,
    requirements: &Path,
    python: &InterpreterInfo,
    network: PipNetwork,
) -> Result<(), RequirementsError> {
    let exe = &python.executable;
    let temp_arg = temp.as_os_str();
    run(
        "python -m venv",
        Command::new(exe)
            .args(["-m", "venv", "--without-pip"])
            .arg(temp_arg),
        None,
    )?;
    let venv_python = temp.join("bin").join("python");
    // pip from the embedded interpreter's installation, installing into the new environment.
    let pip = |offline: bool| {
        let mut command = Command::new(exe);
        command
            .args(["-m", "pip", "--python"])
            .arg(&venv_python)
            .args(["install", "--disable-pip-version-check", "--no-input"])
            .arg("--requirement")
            .arg(requirements)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        if offline {
            command.arg("--no-index");
        }
        command
    };
    // Relative paths in a requirements file are relative to the directory it is in.
    let workdir = requirements.parent();
    match network {
        PipNetwork::Offline => run("pip install --no-index", &mut pip(true), workdir),
        PipNetwork::Online => run("pip install", &mut pip(false), workdir).or_else(|first| {
            tracing::warn!("{first}; retrying without the package index");
            run("pip install --no-index", &mut pip(true), workdir).map_err(|_| first)
        }),
    }
}

/// Runs a step with its output (pip's progress) on our stderr, never our stdout.
fn run(step: &str, command: &mut Command, workdir: Option<&Path>) -> Result<(), RequirementsError> {
    let program = format!("{:?}", command.get_program());
    let spawn_error = |source| RequirementsError::Spawn {
        program: program.clone(),
        source,
    };
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(spawn_error)?;
    command.stdin(Stdio::null()).stdout(Stdio::from(stderr));
    if let Some(dir) = workdir.filter(|d| !d.as_os_str().is_empty()) {
        command.current_dir(dir);
    }
    let status = command.status().map_err(spawn_error)?;
    if status.success() {
        Ok(())
    } else {
        Err(RequirementsError::Failed {
            step: step.to_owned(),
            status: status.to_string(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
