//! cargo-lambda's Lambda emulator for the integration tests: `cargo lambda watch
//! --only-lambda-apis` (installed from PyPI by `scripts/ensure-cargo-lambda.sh`) serves the
//! Runtime API and the Invoke API on loopback; `faastlane lambda` runtimes poll it.
#![allow(
    dead_code,
    reason = "each test binary that includes this module uses part of it"
)]

use std::ffi::OsStr;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cargo-lambda binary, installed by the project's script (the test fails if it cannot be).
fn cargo_lambda() -> PathBuf {
    let out = Command::new(repo().join("scripts/ensure-cargo-lambda.sh"))
        .output()
        .expect("run scripts/ensure-cargo-lambda.sh");
    assert!(
        out.status.success(),
        "scripts/ensure-cargo-lambda.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The emulator on `port`, in a scratch Cargo package whose binaries are the function names
/// it accepts invocations for (it reads `cargo metadata` at start; nothing is built).
pub fn start_emulator(scratch: &Path, port: u16, function: &str) -> Killed {
    std::fs::write(
        scratch.join("Cargo.toml"),
        format!(
            "[package]\nname = \"emulated\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"{function}\"\npath = \"main.rs\"\n"
        ),
    )
    .expect("Cargo.toml");
    std::fs::write(scratch.join("main.rs"), "fn main() {}\n").expect("main.rs");
    let log = std::fs::File::create(scratch.join("emulator.log")).expect("log");
    let child = Command::new(cargo_lambda())
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start cargo lambda watch");
    let emulator = Killed(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the emulator did not listen: {}",
            std::fs::read_to_string(scratch.join("emulator.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    emulator
}

pub fn start_runtime(api: &str, env: &[(&str, &OsStr)], log: &Path) -> Killed {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faastlane"));
    command
        .arg("lambda")
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env_remove("LAMBDA_TASK_ROOT")
        .env_remove("_HANDLER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("runtime log"));
    for (k, v) in env {
        command.env(k, v);
    }
    Killed(command.spawn().expect("start faastlane lambda"))
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Invokes `function` through the emulator's Invoke API: (status, body).
pub fn invoke(agent: &ureq::Agent, port: u16, function: &str, event: &Json) -> (u16, Json) {
    let mut response = agent
        .post(format!(
            "http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
        ))
        .content_type("application/json")
        .send(event.to_string())
        .expect("invoke");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}
