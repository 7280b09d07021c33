//! The fork server: a single-threaded process, forked before the parent starts any thread,
//! that loads the workflow's functions once and then forks a warm worker per request.
//!
//! ```text
//! parent                         fork server (1 thread)              worker
//!  start(setup) ──fork──────────> setup(): Python, imports
//!              <── Ready
//!  spawn: socketpair, Spawn{job} ─> fork (runtime's fork hooks) ───> Hello{pid}
//!         + [worker end, inputs]   keeps a dup of the worker end,    Run/Result ...
//!                                  a pidfd per worker
//!                                  pidfd readable: reap, Exited ──> (on the worker channel)
//!  drop: close control ──────────> kill + reap every worker, exit
//! ```
//!
//! Because the server has one thread, nothing is locked when it forks: the hazard measured
//! on this machine (children of a multi-threaded parent hanging on a lock another thread
//! held) cannot happen, whatever threads the parent runs.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::{EngineOptions, Runtime, Workflow};

use crate::protocol::{Channel, Exit, FromServer, FromWorker, Received, ToServer};
use crate::sys::{self, Forked};

/// Wraps the `fork()` call in a runtime's fork hooks (CPython: `PyOS_BeforeFork`,
/// `PyOS_AfterFork_Child`/`_Parent`, with the GIL held).
pub type ForkHooks = Box<dyn Fn(&mut dyn FnMut() -> io::Result<Forked>) -> io::Result<Forked>>;

/// What the fork server hosts: built by the setup closure, in the server, before any fork.
pub struct Host {
    pub workflow: Workflow,
    pub runtime: Arc<dyn Runtime>,
    /// Identity, trace and history limit for the workers' engines (their lanes are inline,
    /// their log goes to the parent).
    pub options: EngineOptions,
    pub fork_hooks: Option<ForkHooks>,
}

/// How the fork server and its workers run.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Environment set in the server before setup runs (the server is single-threaded then):
    /// by default one thread for OpenBLAS, OpenMP and MKL, so a worker importing numpy does
    /// not start a pool of threads per process.
    pub env: Vec<(String, String)>,
    /// `RLIMIT_AS` of each worker, in bytes.
    pub worker_memory_limit: Option<u64>,
    /// How long [`ForkServer::ready`] waits for setup.
    pub ready_timeout: Duration,
    /// How long a worker may take to start.
    pub spawn_timeout: Duration,
    /// How long after a Task's deadline a worker still running it is killed (the runtime's
    /// own timeout gets the first chance, so Retry and Catch inside the branch work).
    pub kill_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            env: ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]
                .iter()
                .map(|k| (k.to_string(), "1".to_string()))
                .collect(),
            worker_memory_limit: None,
            ready_timeout: Duration::from_secs(120),
            spawn_timeout: Duration::from_secs(30),
            kill_grace: Duration::from_millis(500),
        }
    }
}

/// The parent's handle on a fork server. Dropping it stops the server and its workers.
pub struct ForkServer {
    pub(crate) control: Channel,
    pid: u32,
    pidfd: Option<OwnedFd>,
    ready: Mutex<Option<Result<(), String>>>,
    /// Observed worker start-up, in nanoseconds (a moving average).
    spawn_ns: Mutex<f64>,
    pub(crate) options: ServerOptions,
}

/// A worker start before any was measured: a fork of a small process plus the round trip.
const DEFAULT_SPAWN: Duration = Duration::from_micros(1500);

impl ForkServer {
    /// Forks the fork server, which runs `setup` and then serves. Call it before this
    /// process starts any thread: it fails if the process has more than one.
    pub fn start<F>(options: ServerOptions, setup: F) -> io::Result<ForkServer>
    where
        F: FnOnce() -> Result<Host, String>,
    {
        let threads = sys::thread_count()?;
        if threads != 1 {
            return Err(io::Error::other(format!(
                "the fork server must start before any thread (this process has {threads})"
            )));
        }
        let (ours, theirs) = Channel::pair()?;
        let parent = rustix::process::getpid();
        // SAFETY: the process has exactly one thread (checked above), so no lock is held by
        // another thread at the fork.
        match unsafe { sys::fork() }? {
            Forked::Child => {
                drop(ours);
                serve_forever(parent, theirs, &options, setup)
            }
            Forked::Parent(pid) => {
                drop(theirs);
                let pidfd = rustix::process::Pid::from_raw(pid as i32).and_then(|p| {
                    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                });
                Ok(ForkServer {
                    control: ours,
                    pid,
                    pidfd,
                    ready: Mutex::new(None),
                    spawn_ns: Mutex::new(DEFAULT_SPAWN.as_nanos() as f64),
                    options,
                })
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until setup finished; `Err` says why the server cannot serve.
    pub fn ready(&self) -> Result<(), String> {
        self.ready_within(None)
    }

    /// Like [`ForkServer::ready`], waiting at most `wait` (`None`: the configured
    /// `ready_timeout`); a server still starting is `Err` without being written off.
    pub fn ready_within(&self, wait: Option<Duration>) -> Result<(), String> {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = ready.as_ref() {
            return r.clone();
        }
        let limit = wait.map_or(self.options.ready_timeout, |w| {
            w.min(self.options.ready_timeout)
        });
        let result = match self.control.recv::<FromServer>(Some(limit)) {
            Ok(Some(Received {
                message: FromServer::Ready,
                ..
            })) => Ok(()),
            Ok(Some(Received {
                message: FromServer::SetupFailed { message },
                ..
            })) => Err(format!("fork server setup failed: {message}")),
            Ok(None) => Err("the fork server exited".to_string()),
            Err(e) if e.kind() == io::ErrorKind::TimedOut && wait.is_some() => {
                return Err(format!(
                    "the fork server is still starting (waited {:.1} ms)",
                    limit.as_secs_f64() * 1e3
                ));
            }
            Err(e) => Err(format!("no word from the fork server: {e}")),
        };
        *ready = Some(result.clone());
        result
    }

    pub(crate) fn record_spawn(&self, took: Duration) {
        let mut ns = self.spawn_ns.lock().unwrap_or_else(|p| p.into_inner());
        *ns += (took.as_nanos() as f64 - *ns) * 0.3;
    }

    pub fn spawn_cost(&self) -> Duration {
        Duration::from_nanos(*self.spawn_ns.lock().unwrap_or_else(|p| p.into_inner()) as u64)
    }
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        // End of the control channel: the server kills and reaps its workers, then exits.
        let _ = rustix::net::shutdown(self.control.as_fd(), rustix::net::Shutdown::Both);
        let Some(pidfd) = &self.pidfd else { return };
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match rustix::process::waitid(
                rustix::process::WaitId::PidFd(pidfd.as_fd()),
                rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
            ) {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    // Still busy with setup (a slow import): it has no worker yet.
                    let _ =
                        rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
                    let _ = rustix::process::waitid(
                        rustix::process::WaitId::PidFd(pidfd.as_fd()),
                        rustix::process::WaitIdOptions::EXITED,
                    );
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

/// A worker the server forked.
struct Child {
    pidfd: OwnedFd,
    /// The server's copy of the worker's channel, to report its exit.
    channel: Channel,
}

fn serve_forever<F>(
    parent: rustix::process::Pid,
    control: Channel,
    options: &ServerOptions,
    setup: F,
) -> !
where
    F: FnOnce() -> Result<Host, String>,
{
    // Die with the parent; the check closes the race with a parent that died before it.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if rustix::process::getppid() != Some(parent) {
        sys::exit_now(0);
    }
    for (k, v) in &options.env {
        // SAFETY: this process was just forked from a single-threaded one and has started
        // no thread, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(k, v) };
    }
    let host = match setup() {
        Ok(host) => {
            let _ = control.send(&FromServer::Ready, &[], &[]);
            host
        }
        Err(message) => {
            let _ = control.send(&FromServer::SetupFailed { message }, &[], &[]);
            // Wait for the parent to close the channel, then go.
            let _ = control.recv::<ToServer>(None);
            sys::exit_now(0);
        }
    };
    let mut children: HashMap<u32, Child> = HashMap::new();
    loop {
        let pids: Vec<u32> = children.keys().copied().collect();
        let mut polled: Vec<rustix::event::PollFd<'_>> = Vec::with_capacity(pids.len() + 1);
        polled.push(rustix::event::PollFd::new(
            &control,
            rustix::event::PollFlags::IN,
        ));
        for pid in &pids {
            polled.push(rustix::event::PollFd::new(
                &children[pid].pidfd,
                rustix::event::PollFlags::IN,
            ));
        }
        match rustix::event::poll(&mut polled, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let control_ready = !polled[0].revents().is_empty();
        let exited: Vec<u32> = pids
            .iter()
            .zip(&polled[1..])
            .filter(|(_, p)| !p.revents().is_empty())
            .map(|(pid, _)| *pid)
            .collect();
        drop(polled);
        for pid in exited {
            if let Some(child) = children.remove(&pid) {
                reap(child);
            }
        }
        if !control_ready {
            continue;
        }
        match control.recv::<ToServer>(None) {
            Ok(Some(Received {
                message: ToServer::Spawn { job, memory_limit },
                fds,
                ..
            })) => {
                let mut fds = fds.into_iter();
                let (Some(channel), Some(inputs)) = (fds.next(), fds.next()) else {
                    continue;
                };
                let channel = Channel::from_fd(channel);
                let forked = match &host.fork_hooks {
                    Some(hooks) => hooks(&mut || {
                        // SAFETY: the fork server never starts a thread (setup must not
                        // either: Python's watchdog starts only with a deadline call).
                        unsafe { sys::fork() }
                    }),
                    // SAFETY: as above.
                    None => unsafe { sys::fork() },
                };
                match forked {
                    Ok(Forked::Child) => {
                        drop(control);
                        drop(children);
                        crate::worker::run(&host, *job, channel, inputs, memory_limit)
                    }
                    Ok(Forked::Parent(pid)) => {
                        drop(inputs);
                        let pidfd = rustix::process::Pid::from_raw(pid as i32).and_then(|p| {
                            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                                .ok()
                        });
                        match pidfd {
                            Some(pidfd) => {
                                children.insert(pid, Child { pidfd, channel });
                            }
                            None => {
                                // Cannot watch it: wait for it the plain way when it ends.
                                let _ = channel.send(
                                    &FromWorker::SpawnFailed {
                                        message: "pidfd_open failed".into(),
                                    },
                                    &[],
                                    &[],
                                );
                            }
                        }
                    }
                    Err(e) => {
                        let _ = channel.send(
                            &FromWorker::SpawnFailed {
                                message: format!("fork failed: {e}"),
                            },
                            &[],
                            &[],
                        );
                    }
                }
            }
            Ok(Some(Received {
                message: ToServer::Kill { pid },
                ..
            })) => {
                if let Some(child) = children.get(&pid) {
                    let _ = rustix::process::pidfd_send_signal(
                        &child.pidfd,
                        rustix::process::Signal::KILL,
                    );
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    // The parent is gone or done: no worker outlives the server, none stays a zombie.
    for child in children.values() {
        let _ = rustix::process::pidfd_send_signal(&child.pidfd, rustix::process::Signal::KILL);
    }
    for (_, child) in children.drain() {
        let _ = rustix::process::waitid(
            rustix::process::WaitId::PidFd(child.pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        );
    }
    sys::exit_now(0)
}

/// Collects a worker's exit status and tells its parent-side channel.
fn reap(child: Child) {
    let status = rustix::process::waitid(
        rustix::process::WaitId::PidFd(child.pidfd.as_fd()),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
    );
    let exit = match status {
        Ok(Some(s)) => match (s.exit_status(), s.terminating_signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Code(-1),
        },
        _ => Exit::Code(-1),
    };
    let _ = child
        .channel
        .send(&FromWorker::Exited { status: exit }, &[], &[]);
}
