//! Local sibling instances for remote lanes: several `faastlane serve` processes of one
//! workflow (each optionally pinned to a CPU with `taskset`), and Debian's nginx on loopback
//! in front of them as a round-robin proxy, so that they answer at one URL as a Knative
//! service's pods do. Used by the remote-lane tests and the `remote` bench suite; every
//! process is killed when the [`Siblings`] is dropped, also when a test fails half way.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// How long an instance or nginx may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What to start.
#[derive(Clone, Debug)]
pub struct SiblingOptions {
    /// The `faastlane` binary.
    pub exe: PathBuf,
    /// The workflow directory every instance registers.
    pub workflow: PathBuf,
    /// How many `faastlane serve` instances.
    pub instances: usize,
    /// Pin instance `i` to CPU `cpus[i % cpus.len()]` with `taskset` (empty: no pinning).
    pub cpus: Vec<usize>,
    /// More arguments for every instance (`--remote URL` is added by
    /// [`SiblingOptions::remote_to_proxy`]).
    pub args: Vec<String>,
    /// Give every instance `--remote <the proxy's URL>` with this cap.
    pub remote_to_proxy: Option<usize>,
}

/// One `faastlane serve` instance.
pub struct Instance {
    child: Child,
    pub port: u16,
    pub pid: u32,
}

/// The instances and the proxy in front of them.
pub struct Siblings {
    pub instances: Vec<Instance>,
    nginx: Option<Child>,
    /// The proxy's URL: `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Siblings {
    /// Starts the instances, then nginx (found by `scripts/ensure-nginx.sh`, whose path is
    /// `nginx`) in front of them.
    pub fn start(options: &SiblingOptions, nginx: &Path) -> Result<Siblings, BenchError> {
        let dir = tempfile::tempdir()?;
        // The proxy's port is chosen first: instances may need its URL (`--remote`).
        let proxy_port = free_port()?;
        let url = format!("http://127.0.0.1:{proxy_port}");
        let mut siblings = Siblings {
            instances: Vec::new(),
            nginx: None,
            url: url.clone(),
            _dir: dir,
        };
        for i in 0..options.instances {
            let instance = start_instance(options, i, &url)?;
            siblings.instances.push(instance);
        }
        let ports: Vec<u16> = siblings.instances.iter().map(|i| i.port).collect();
        let conf = siblings._dir.path().join("nginx.conf");
        std::fs::write(
            &conf,
            nginx_config(siblings._dir.path(), proxy_port, &ports),
        )?;
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(siblings._dir.path())
            .arg("-e")
            .arg(siblings._dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: nginx.display().to_string(),
                source,
            })?;
        siblings.nginx = Some(child);
        siblings.wait_for_proxy(proxy_port)?;
        Ok(siblings)
    }

    /// The instances' `host:port`s, as they name themselves (part of their instance name).
    pub fn addresses(&self) -> Vec<String> {
        self.instances
            .iter()
            .map(|i| format!("127.0.0.1:{}", i.port))
            .collect()
    }

    fn wait_for_proxy(&mut self, port: u16) -> Result<(), BenchError> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.nginx.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log =
                    std::fs::read_to_string(self._dir.path().join("error.log")).unwrap_or_default();
                return Err(BenchError::Client {
                    message: format!("nginx exited: {status}"),
                    stderr: log.trim().to_string(),
                });
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(BenchError::Client {
                    message: format!("nginx did not listen on port {port}"),
                    stderr: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Siblings {
    fn drop(&mut self) {
        let children = self
            .nginx
            .iter_mut()
            .chain(self.instances.iter_mut().map(|i| &mut i.child));
        for child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts instance `i` on a port of its choosing and reads the port from its first line.
fn start_instance(options: &SiblingOptions, i: usize, proxy: &str) -> Result<Instance, BenchError> {
    let mut command = match options.cpus.get(i % options.cpus.len().max(1)) {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(&options.exe);
            c
        }
        None => Command::new(&options.exe),
    };
    command
        .arg("serve")
        .arg(&options.workflow)
        .args(["--port", "0", "--host", "127.0.0.1", "--db", ":memory:"])
        .args(&options.args);
    if let Some(cap) = options.remote_to_proxy {
        command.args(["--remote", proxy, "--remote-cap", &cap.to_string()]);
    }
    let mut child = command
        .env_remove("PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BenchError::Spawn {
            program: options.exe.display().to_string(),
            source,
        })?;
    let pid = child.id();
    let Some(stderr) = child.stderr.take() else {
        let _ = child.kill();
        return Err(BenchError::Client {
            message: "no stderr pipe".to_string(),
            stderr: String::new(),
        });
    };
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the instance's log to its end (the pipe must not fill): the port from the first
    // line, the rest to the test's stderr.
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && let Some(port) = listening_port(&line) {
                let _ = tx.send(Ok(port));
                sent = true;
                continue;
            }
            if !sent {
                let _ = tx.send(Err(line.clone()));
            }
            eprintln!("[serve {pid}] {line}");
        }
    });
    let started = Instant::now();
    let mut said = Vec::new();
    loop {
        let left = START_TIMEOUT.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(Ok(port)) => return Ok(Instance { child, port, pid }),
            Ok(Err(line)) => said.push(line),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BenchError::Client {
                    message: format!("faastlane serve (instance {i}) did not start"),
                    stderr: said.join("\n"),
                });
            }
        }
    }
}

/// The port in `faastlane serve: listening on http://127.0.0.1:PORT`.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.trim().rsplit(':').next()?.parse().ok()
}

/// Round robin over `ports`; a request is never passed to a second instance (a batch of
/// branches runs once), and a failed instance is never taken out of the rotation (so which
/// request meets it does not depend on timing). One process (no master): killing it on drop
/// leaves no worker behind.
fn nginx_config(dir: &Path, port: u16, ports: &[u16]) -> String {
    let servers: String = ports
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=0;\n"))
        .collect();
    let d = dir.display();
    format!(
        "master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream siblings {{
{servers}    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      proxy_pass http://siblings;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_next_upstream off;
      proxy_read_timeout 900s;
      proxy_send_timeout 900s;
    }}
  }}
}}
"
    )
}

fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The path `scripts/ensure-nginx.sh` prints (it installs Debian's nginx when missing).
pub fn ensure_nginx(repo: &Path) -> Result<PathBuf, BenchError> {
    let script = repo.join("scripts/ensure-nginx.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| BenchError::Spawn {
            program: script.display().to_string(),
            source,
        })?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || path.is_empty() {
        return Err(BenchError::Client {
            message: format!("{} failed: {}", script.display(), out.status),
            stderr: String::new(),
        });
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_the_first_line() {
        assert_eq!(
            listening_port("faastlane serve: listening on http://127.0.0.1:40123"),
            Some(40123)
        );
        assert_eq!(listening_port("something else"), None);
    }

    #[test]
    fn the_proxy_never_retries_a_batch_elsewhere() {
        let conf = nginx_config(Path::new("/tmp/x"), 9000, &[1, 2, 3]);
        assert!(conf.contains("proxy_next_upstream off;"));
        assert_eq!(conf.matches("max_fails=0").count(), 3);
    }
}
