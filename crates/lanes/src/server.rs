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

use engine::lanes::NotReady;

use crate::SpawnError;
use crate::host::{Host, SPARE_NAME};
use crate::protocol::{Channel, Exit, FromServer, FromWorker, Received, ToServer};
use crate::sys::{self, Forked};

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
    /// Run setup only when the parent first asks whether the server is ready (a state that
    /// wants processes), instead of at once: a run whose states all stay inline then never
    /// pays for the server's interpreter start.
    pub lazy_setup: bool,
    /// Workers kept alive after their state ends, to take the next state's branches (of
    /// this execution or the next) without a start: a reused worker costs a message and the
    /// new inputs' decoding instead of a fork's copy-on-write faults and three wake-ups.
    /// Default: the usable CPUs. 0: every worker exits with its state.
    pub idle_workers: usize,
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
            lazy_setup: false,
            idle_workers: crate::cpus::usable().usable,
        }
    }
}

/// The parent's handle on a fork server. Dropping it stops the server and its workers.
pub struct ForkServer {
    /// What the server's workers share with it: they hold it, so a worker outliving its
    /// `ForkServer` (dropped or moved first) still reaches a live channel and idle list.
    pub(crate) shared: Arc<Shared>,
    pid: u32,
    pidfd: Option<OwnedFd>,
    ready: Mutex<Option<Result<(), String>>>,
    /// Whether `Start` was sent (lazy setup).
    started: std::sync::atomic::AtomicBool,
    /// Observed worker start-up, in nanoseconds (a moving average).
    spawn_ns: Mutex<f64>,
    /// Observed hand-over of a job to an idle worker, in nanoseconds (a moving average).
    reuse_ns: Mutex<Option<f64>>,
}

/// The part of a [`ForkServer`] its [`crate::Worker`]s use after it hands them out.
pub(crate) struct Shared {
    pub(crate) control: Channel,
    /// Workers whose state ended, waiting for another job (at most `options.idle_workers`).
    pub(crate) idle: Mutex<Vec<Idle>>,
    pub(crate) options: ServerOptions,
}

/// How long a killed worker has to be reported reaped.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// A worker waiting for another job, seen from the parent.
pub(crate) struct Idle {
    pub(crate) channel: Channel,
    pub(crate) pid: u32,
}

impl Idle {
    pub(crate) fn wait_reaped(self) {
        wait_reaped(&self.channel);
    }
}

/// Waits (up to [`REAP_WAIT`]) until the server reports a worker reaped on its channel.
pub(crate) fn wait_reaped(channel: &Channel) {
    let end = Instant::now() + REAP_WAIT;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match channel.recv::<FromWorker>(Some(left)) {
            Ok(Some(Received {
                message: FromWorker::Exited { .. },
                ..
            }))
            | Ok(None)
            | Err(_) => return,
            Ok(Some(_)) => {}
        }
    }
}

/// A worker start before any was measured: a fork of a small process plus the round trip.
const DEFAULT_SPAWN: Duration = Duration::from_micros(1500);

impl ForkServer {
    /// Forks the fork server, which runs `setup` and then serves. Call it before this
    /// process starts any thread: it fails if the process has more than one.
    /// `setup`'s error is a message: it crosses to this process as text.
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
                    shared: Arc::new(Shared {
                        control: ours,
                        idle: Mutex::new(Vec::new()),
                        options,
                    }),
                    pid,
                    pidfd,
                    ready: Mutex::new(None),
                    started: std::sync::atomic::AtomicBool::new(false),
                    spawn_ns: Mutex::new(DEFAULT_SPAWN.as_nanos() as f64),
                    reuse_ns: Mutex::new(None),
                })
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until setup finished; `Err` says why the server cannot serve.
    pub fn ready(&self) -> Result<(), SpawnError> {
        self.ready_within(None)
            .map_err(|e| SpawnError::ServerDown(e.to_string()))
    }

    /// Like [`ForkServer::ready`], waiting at most `wait` (`None`: the configured
    /// `ready_timeout`); a server still starting is `Err` without being written off.
    pub fn ready_within(&self, wait: Option<Duration>) -> Result<(), NotReady> {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = ready.as_ref() {
            return r.clone().map_err(NotReady::Failed);
        }
        if self.shared.options.lazy_setup
            && !self.started.swap(true, std::sync::atomic::Ordering::AcqRel)
            && let Err(e) = self.shared.control.send(&ToServer::Start, &[], &[])
        {
            let failed = format!("cannot reach the fork server: {e}");
            *ready = Some(Err(failed.clone()));
            return Err(NotReady::Failed(failed));
        }
        let limit = wait.map_or(self.shared.options.ready_timeout, |w| {
            w.min(self.shared.options.ready_timeout)
        });
        let result = match self.shared.control.recv::<FromServer>(Some(limit)) {
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
                return Err(NotReady::Starting);
            }
            Err(e) => Err(format!("no word from the fork server: {e}")),
        };
        *ready = Some(result.clone());
        result.map_err(NotReady::Failed)
    }

    pub(crate) fn record_spawn(&self, took: Duration) {
        let mut ns = self.spawn_ns.lock().unwrap_or_else(|p| p.into_inner());
        *ns += (took.as_nanos() as f64 - *ns) * 0.3;
    }

    pub(crate) fn record_reuse(&self, took: Duration) {
        let mut ns = self.reuse_ns.lock().unwrap_or_else(|p| p.into_inner());
        let took = took.as_nanos() as f64;
        *ns = Some(ns.map_or(took, |ns| ns + (took - ns) * 0.3));
    }

    /// What the next worker is expected to cost: handing the job to an idle worker when
    /// one is waiting (once such a hand-over was measured), else a start.
    pub fn spawn_cost(&self) -> Duration {
        let idle = !self
            .shared
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        let reuse = *self.reuse_ns.lock().unwrap_or_else(|p| p.into_inner());
        let ns = match reuse {
            Some(ns) if idle => ns,
            _ => *self.spawn_ns.lock().unwrap_or_else(|p| p.into_inner()),
        };
        Duration::from_nanos(ns as u64)
    }

    /// The pids of the workers waiting for a job.
    pub fn idle_workers(&self) -> Vec<u32> {
        self.shared
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|w| w.pid)
            .collect()
    }

    /// Ends the idle workers and waits until the server has reaped them (memory pressure,
    /// or a test that wants no worker left).
    pub fn retire_idle(&self) {
        let idle = std::mem::take(&mut *self.shared.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for worker in &idle {
            let _ = worker
                .channel
                .send(&crate::protocol::ToWorker::Exit, &[], &[]);
        }
        for worker in idle {
            worker.wait_reaped();
        }
    }
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        // End of the control channel: the server kills and reaps its workers, then exits.
        // A server that has not said Ready has no worker or spare (it forks only after
        // setup): stop it at once rather than wait for a slow import to finish.
        let asked = !self.shared.options.lazy_setup || *self.started.get_mut();
        let served = asked && self.ready_within(Some(Duration::ZERO)).is_ok();
        let _ = rustix::net::shutdown(self.shared.control.as_fd(), rustix::net::Shutdown::Both);
        let Some(pidfd) = &self.pidfd else { return };
        let grace = if served {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + grace;
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
    if options.lazy_setup {
        // Wait for the first request (`Start`), or for the parent to go away.
        match control.recv::<ToServer>(None) {
            Ok(Some(Received {
                message: ToServer::Start,
                ..
            })) => {}
            _ => sys::exit_now(0),
        }
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
    let (mut control, mut children, mut spare) = fork_spare(&host, control, HashMap::new());
    loop {
        let pids: Vec<u32> = children.keys().copied().collect();
        let mut polled: Vec<rustix::event::PollFd<'_>> = Vec::with_capacity(pids.len() + 2);
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
        if let Some(s) = &spare {
            polled.push(rustix::event::PollFd::new(
                &s.pidfd,
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
        let spare_died = spare.is_some() && polled.last().is_some_and(|p| !p.revents().is_empty());
        drop(polled);
        for pid in exited {
            if let Some(child) = children.remove(&pid) {
                reap(child);
            }
        }
        if spare_died && let Some(s) = spare.take() {
            s.reap();
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
                let Some(channel) = fds.next() else {
                    continue;
                };
                let first = match (job, fds.next()) {
                    (Some(job), Some(inputs)) => Some((job, inputs)),
                    (None, None) => None,
                    // A job without its inputs: nothing to run.
                    _ => continue,
                };
                // The spare takes the job: the fork already happened, off the critical path.
                if let Some(s) = spare.take() {
                    let mut handed_fds = vec![channel.as_fd()];
                    handed_fds.extend(first.as_ref().map(|(_, inputs)| inputs.as_fd()));
                    let handed = s.channel.send(
                        &ToServer::Spawn {
                            job: first.as_ref().map(|(job, _)| job.clone()),
                            memory_limit,
                        },
                        &[],
                        &handed_fds,
                    );
                    drop(handed_fds);
                    match handed {
                        Ok(()) => {
                            children.insert(
                                s.pid,
                                Child {
                                    pidfd: s.pidfd,
                                    channel: Channel::from_fd(channel),
                                },
                            );
                            drop(first);
                            let (c, ch, sp) = fork_spare(&host, control, children);
                            (control, children, spare) = (c, ch, sp);
                            continue;
                        }
                        Err(_) => s.kill(),
                    }
                }
                let channel = Channel::from_fd(channel);
                match fork_with_hooks(&host) {
                    Ok(Forked::Child) => {
                        drop(control);
                        drop(children);
                        drop(spare);
                        crate::worker::run(&host, first, channel, memory_limit)
                    }
                    Ok(Forked::Parent(pid)) => {
                        drop(first);
                        match open_pidfd(pid) {
                            Some(pidfd) => {
                                children.insert(pid, Child { pidfd, channel });
                            }
                            None => {
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
                if spare.is_none() {
                    let (c, ch, sp) = fork_spare(&host, control, children);
                    (control, children, spare) = (c, ch, sp);
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
            // Setup already ran.
            Ok(Some(Received {
                message: ToServer::Start,
                ..
            })) => {}
            Ok(None) | Err(_) => break,
        }
    }
    // The parent is gone or done: no worker outlives the server, none stays a zombie.
    if let Some(s) = spare.take() {
        s.kill();
    }
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

/// A worker forked ahead of time, waiting for its job.
struct Spare {
    pid: u32,
    pidfd: OwnedFd,
    /// The server's end of the spare's channel: the job comes through it.
    channel: Channel,
}

impl Spare {
    fn reap(self) {
        let _ = rustix::process::waitid(
            rustix::process::WaitId::PidFd(self.pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        );
    }

    fn kill(self) {
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        self.reap();
    }
}

/// Runs, in a spare, what every worker runs first (the codec on a small value), so that the
/// runtime's after-fork work and the first copy-on-write faults happen before a job arrives.
fn warm_up(host: &Host) {
    let value = asl::Value::Json(serde_json::json!({"warm": [1, "up", null]}));
    let codec = host.runtime.codec();
    let mut bytes = Vec::new();
    if codec.encode(&[&value], &mut bytes).is_ok() {
        let payload: engine::codec::Payload = Arc::new(bytes);
        let _ = codec.decode(&payload);
    }
}

fn fork_with_hooks(host: &Host) -> io::Result<Forked> {
    match &host.fork_hooks {
        Some(hooks) => hooks(&mut || {
            // SAFETY: the fork server never starts a thread (setup must not either:
            // Python's watchdog starts only with a call that has a deadline).
            unsafe { sys::fork() }
        }),
        // SAFETY: as above.
        None => unsafe { sys::fork() },
    }
}

fn open_pidfd(pid: u32) -> Option<OwnedFd> {
    rustix::process::Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
}

/// Forks the next worker before anyone asks for it: the fork, the runtime's after-fork work
/// and the first copy-on-write faults then cost nothing when a job arrives. Takes and gives
/// back the server's state so that the child can drop (close) its copy of it.
fn fork_spare(
    host: &Host,
    control: Channel,
    children: HashMap<u32, Child>,
) -> (Channel, HashMap<u32, Child>, Option<Spare>) {
    let Ok((ours, theirs)) = Channel::pair() else {
        return (control, children, None);
    };
    match fork_with_hooks(host) {
        Ok(Forked::Child) => {
            drop(control);
            drop(children);
            drop(ours);
            let _ = rustix::thread::set_name(SPARE_NAME);
            let _ = rustix::process::set_parent_process_death_signal(Some(
                rustix::process::Signal::KILL,
            ));
            warm_up(host);
            match theirs.recv::<ToServer>(None) {
                Ok(Some(Received {
                    message: ToServer::Spawn { job, memory_limit },
                    fds,
                    ..
                })) => {
                    drop(theirs);
                    let mut fds = fds.into_iter();
                    let channel = fds.next().map(Channel::from_fd);
                    match (channel, job, fds.next()) {
                        (Some(channel), Some(job), Some(inputs)) => {
                            crate::worker::run(host, Some((job, inputs)), channel, memory_limit)
                        }
                        (Some(channel), None, None) => {
                            crate::worker::run(host, None, channel, memory_limit)
                        }
                        _ => sys::exit_now(0),
                    }
                }
                _ => sys::exit_now(0),
            }
        }
        Ok(Forked::Parent(pid)) => {
            drop(theirs);
            let spare = open_pidfd(pid).map(|pidfd| Spare {
                pid,
                pidfd,
                channel: ours,
            });
            (control, children, spare)
        }
        Err(_) => (control, children, None),
    }
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
