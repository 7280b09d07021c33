//! A private Redis server on a loopback port, for the baseline's state.
//!
//! Started as `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no` (no disk
//! persistence: a platform's cache tier would not fsync either) and killed when dropped, also
//! when the benchmark fails half way.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server`, stopped on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` from `PATH` on a free port of 127.0.0.1 and waits until it answers.
    pub fn start() -> Result<RedisServer, BenchError> {
        let program = find_program("redis-server").ok_or(BenchError::RedisMissing)?;
        Self::start_with(&program)
    }

    pub fn start_with(program: &Path) -> Result<RedisServer, BenchError> {
        let mut last = None;
        // A port found free may be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            let child = Command::new(program)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--protected-mode", "yes", "--loglevel", "warning"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|source| BenchError::Spawn {
                    program: program.display().to_string(),
                    source,
                })?;
            let mut server = RedisServer { child, port };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BenchError::Redis("redis-server did not start".into())))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn wait_ready(&mut self) -> Result<(), BenchError> {
        let started = Instant::now();
        let client =
            redis::Client::open(self.url()).map_err(|e| BenchError::Redis(e.to_string()))?;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Redis(format!(
                    "redis-server on port {} exited: {status}",
                    self.port
                )));
            }
            if let Ok(mut con) = client.get_connection() {
                let pong: Result<String, _> = redis::cmd("PING").query(&mut con);
                if pong.is_ok() {
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(BenchError::Redis(format!(
                    "redis-server on port {} did not answer within {START_TIMEOUT:?}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BenchError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(BenchError::Io)?;
    Ok(listener.local_addr().map_err(BenchError::Io)?.port())
}

/// `name` on `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
