//! Every `unsafe` block of this crate: `fork`, `_exit` and mapping a sealed memfd.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;

/// Which side of a fork this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent(u32),
}

/// How many threads this process has (`/proc/self/task`).
pub fn thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// `fork()`.
///
/// # Safety
///
/// The process must be single-threaded: a child forked while another thread holds a lock
/// (the allocator's, a `Mutex`, stdout's, the GIL) may deadlock on it. This crate forks only
/// in the fork server's loop and in [`crate::ForkServer::start`], which checks that the
/// process has one thread.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions of its own; the caller guarantees the
    // process is single-threaded, so the child's copy of every lock is unlocked.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as u32)),
    }
}

/// Ends the process at once: no destructors, no atexit handlers, no stdio flushing (a forked
/// child must not run its parent's cleanup).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and always sound to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// A read-only shared mapping of a whole sealed memfd.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is read-only memory owned by this value; sharing `&[u8]` views of it
// between threads is as safe as sharing a `Box<[u8]>`.
unsafe impl Send for Mapping {}
// SAFETY: as above, nothing mutates the mapping.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `fd`, which must be a memfd sealed against writing, shrinking and growing (checked
    /// here), so its bytes cannot change or disappear while the mapping lives.
    pub(crate) fn of_sealed(fd: &OwnedFd) -> io::Result<Mapping> {
        let seals = rustix::fs::fcntl_get_seals(fd)?;
        let needed = rustix::fs::SealFlags::WRITE
            | rustix::fs::SealFlags::SHRINK
            | rustix::fs::SealFlags::GROW;
        if !seals.contains(needed) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "payload memfd is not sealed",
            ));
        }
        let len = usize::try_from(rustix::fs::fstat(fd)?.st_size)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative size"))?;
        if len == 0 {
            return Ok(Mapping {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        // SAFETY: a fresh mapping chosen by the kernel (null hint) aliases no Rust object; the
        // file is sealed, so it holds `len` bytes that nobody can modify for as long as the
        // mapping exists, which makes handing out `&[u8]` of it sound.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                fd.as_fd(),
                0,
            )?
        };
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` readable bytes that never change (see `of_sealed`)
        // until `drop` unmaps them; a dangling pointer with length 0 is a valid empty slice.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the region `of_sealed` mapped; no slice of it outlives
            // `self` (they borrow it).
            let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}

/// Forks a child that exits at once and waits for it: the floor of any process lane, for
/// benchmarks. Fails when the process has more than one thread.
pub fn fork_exit_wait() -> io::Result<std::time::Duration> {
    if thread_count()? != 1 {
        return Err(io::Error::other(
            "fork_exit_wait needs a single-threaded process",
        ));
    }
    let started = std::time::Instant::now();
    // SAFETY: the process has one thread (checked above); the child only calls `_exit`.
    match unsafe { fork() }? {
        Forked::Child => exit_now(0),
        Forked::Parent(pid) => {
            let pid = rustix::process::Pid::from_raw(pid as i32)
                .ok_or_else(|| io::Error::other("fork returned pid 0"))?;
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())?;
            Ok(started.elapsed())
        }
    }
}

/// Limits this process's address space (`RLIMIT_AS`) to `bytes`, for good: an allocation past
/// it fails in this process only (Rust aborts, Python raises `MemoryError`). Process-lane
/// workers call it ([`crate::ServerOptions::worker_memory_limit`]); so can an executor process
/// that runs a server's executions.
pub fn limit_memory(bytes: u64) -> io::Result<()> {
    rustix::process::setrlimit(
        rustix::process::Resource::As,
        rustix::process::Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        },
    )
    .map_err(io::Error::from)
}
