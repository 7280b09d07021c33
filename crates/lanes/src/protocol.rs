//! The messages between the parent, the fork server and the workers, and the channel that
//! carries them: a `SOCK_SEQPACKET` Unix socket (one `sendmsg` is one message, so a worker
//! killed mid-send never leaves half a frame) with file descriptors passed as `SCM_RIGHTS`.
//!
//! A frame is `[u32 header length, little endian][header: JSON of the message][tail bytes]`.
//! A frame too large for one packet goes into a sealed memfd and the packet carries only the
//! marker length `u32::MAX` and that memfd.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use engine::wire::{BranchJob, History, RemoteRecord, TaskCheckpoint};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::shm::{MemfdBuffer, SharedPayload};

/// The parent's requests to the fork server (its control channel).
#[derive(Debug, Serialize, Deserialize)]
pub enum ToServer {
    /// Run setup now (a server started with lazy setup waits for this).
    Start,
    /// Fork a worker for `job`. Descriptors: the worker's end of its channel, the inputs.
    /// Without a job (no inputs either), the worker says hello and waits idle for one.
    Spawn {
        job: Option<Box<BranchJob>>,
        /// `RLIMIT_AS` for the worker, in bytes.
        memory_limit: Option<u64>,
    },
    /// Kill a worker (SIGKILL through its pidfd, so a recycled pid is never hit).
    Kill { pid: u32 },
}

/// What the fork server says on its control channel, once.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromServer {
    Ready,
    SetupFailed { message: String },
}

/// The parent's requests to a worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToWorker {
    Run {
        index: usize,
        /// Microseconds since the execution started, when it records a trace.
        trace_offset_us: Option<u64>,
        /// The execution's history-event counter and limit, now.
        history: Option<History>,
    },
    /// Go idle: drop this job's inputs and wait for the next [`ToWorker::Job`] (or `Exit`).
    Release,
    /// Take another job after [`ToWorker::Release`]. Descriptor: its inputs.
    Job {
        job: Box<BranchJob>,
    },
    Exit,
}

/// How a branch ended, as a worker reports it.
#[derive(Debug, Serialize, Deserialize)]
pub enum Outcome {
    /// The encoded output is the frame's tail.
    Inline,
    /// The encoded output is the attached memfd.
    Memfd,
    Failed {
        error: String,
        cause: String,
    },
}

/// How a worker process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// What arrives on a worker's channel: from the worker, or from the fork server about it.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    Hello {
        pid: u32,
    },
    Log {
        state: String,
        line: String,
    },
    /// The Task `state` runs a function that must end within this many milliseconds
    /// (`None`: the call ended).
    Deadline {
        state: String,
        in_ms: Option<u64>,
    },
    /// A Task of the branch starts an attempt the parent can take up again if it has to kill
    /// this worker at the Task's deadline. The Task's raw input, encoded, is the frame's tail,
    /// or the attached memfd when `memfd`.
    Checkpoint {
        checkpoint: TaskCheckpoint,
        memfd: bool,
    },
    /// The attempt of the last `Checkpoint` ended: it no longer describes the branch.
    CheckpointEnd,
    Result {
        index: usize,
        outcome: Outcome,
        states: Vec<RemoteRecord>,
        durations: Vec<(String, u64)>,
        /// History events the branch added.
        events: u64,
    },
    /// From the fork server: the fork failed.
    SpawnFailed {
        message: String,
    },
    /// From the fork server, after it reaped the worker.
    Exited {
        status: Exit,
    },
}

/// A received message, its tail and its descriptors.
pub struct Received<T> {
    pub message: T,
    pub tail: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

/// Largest frame sent as one packet (the default socket buffer holds ~200 KB).
const PACKET_MAX: usize = 128 * 1024;
const SPILLED: u32 = u32::MAX;
const MAX_FDS: usize = 4;

/// One end of a message channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Channel {
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Another handle on the same socket.
    pub fn try_clone(&self) -> io::Result<Channel> {
        Ok(Channel {
            fd: self.fd.try_clone()?,
        })
    }

    /// Sends one message. Safe to call from several threads: a packet is atomic.
    pub fn send<T: Serialize>(
        &self,
        message: &T,
        tail: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<()> {
        let header = serde_json::to_vec(message).map_err(io::Error::other)?;
        let len = u32::try_from(header.len()).map_err(io::Error::other)?;
        if 4 + header.len() + tail.len() <= PACKET_MAX {
            return self.packet(&[&len.to_le_bytes(), &header, tail], fds);
        }
        // Too big for a packet: the whole frame goes into a memfd.
        let mut buffer = MemfdBuffer::new()?;
        engine::codec::PayloadSink::write_all(&mut buffer, &len.to_le_bytes())?;
        engine::codec::PayloadSink::write_all(&mut buffer, &header)?;
        engine::codec::PayloadSink::write_all(&mut buffer, tail)?;
        let shared = buffer.into_shared()?;
        let frame_fd = engine::codec::PayloadBytes::fd(&shared)
            .ok_or_else(|| io::Error::other("a shared payload has a descriptor"))?;
        let mut all: Vec<BorrowedFd<'_>> = fds.to_vec();
        all.push(frame_fd);
        self.packet(&[&SPILLED.to_le_bytes()], &all)
    }

    fn packet(&self, parts: &[&[u8]], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let iov: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !control.push(rustix::net::SendAncillaryMessage::ScmRights(fds)) {
            return Err(io::Error::other("too many descriptors for one message"));
        }
        loop {
            match rustix::net::sendmsg(
                &self.fd,
                &iov,
                &mut control,
                rustix::net::SendFlags::NOSIGNAL,
            ) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one message; `Ok(None)` when the other end is closed. With a timeout,
    /// `Err(TimedOut)` when nothing arrived in time.
    pub fn recv<T: DeserializeOwned>(
        &self,
        timeout: Option<Duration>,
    ) -> io::Result<Option<Received<T>>> {
        if let Some(t) = timeout
            && !self.wait_readable(t)?
        {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let mut buf = vec![0u8; PACKET_MAX];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS + 1))];
        let mut control = rustix::net::RecvAncillaryBuffer::new(&mut space);
        let got = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match rustix::net::recvmsg(
                &self.fd,
                &mut iov,
                &mut control,
                rustix::net::RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(r) => break r,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut fds = Vec::new();
        for message in control.drain() {
            if let rustix::net::RecvAncillaryMessage::ScmRights(received) = message {
                fds.extend(received);
            }
        }
        if got.bytes == 0 {
            return Ok(None);
        }
        if got.flags.contains(rustix::net::ReturnFlags::TRUNC) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message truncated",
            ));
        }
        buf.truncate(got.bytes);
        if buf.len() == 4 && buf[..4] == SPILLED.to_le_bytes() {
            let frame_fd = fds.pop().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "spilled frame without its memfd",
                )
            })?;
            let shared = SharedPayload::open(frame_fd)?;
            let frame = engine::codec::PayloadBytes::bytes(&shared).to_vec();
            return decode(&frame, fds).map(Some);
        }
        decode(&buf, fds).map(Some)
    }

    /// Waits until a message (or the end) can be read; `false` on timeout.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let ts = rustix::time::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [rustix::event::PollFd::new(
                &self.fd,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn decode<T: DeserializeOwned>(frame: &[u8], fds: Vec<OwnedFd>) -> io::Result<Received<T>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let len = frame
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| bad("short frame"))? as usize;
    let header = frame.get(4..4 + len).ok_or_else(|| bad("short header"))?;
    let message = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    Ok(Received {
        message,
        tail: frame[4 + len..].to_vec(),
        fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_descriptors_and_big_frames_cross() {
        let (a, b) = Channel::pair().expect("socketpair");
        let (x, _y) = Channel::pair().expect("socketpair");
        a.send(
            &ToWorker::Run {
                index: 7,
                trace_offset_us: None,
                history: None,
            },
            b"tail",
            &[x.as_fd()],
        )
        .expect("send");
        let got: Received<ToWorker> = b.recv(None).expect("recv").expect("a message");
        assert!(matches!(got.message, ToWorker::Run { index: 7, .. }));
        assert_eq!(got.tail, b"tail");
        assert_eq!(got.fds.len(), 1);

        let big = vec![7u8; 1 << 20];
        a.send(&ToWorker::Exit, &big, &[]).expect("send big");
        let got: Received<ToWorker> = b
            .recv(Some(Duration::from_secs(5)))
            .expect("recv")
            .expect("a message");
        assert_eq!(got.tail.len(), 1 << 20);
        assert!(got.fds.is_empty());

        assert_eq!(
            b.recv::<ToWorker>(Some(Duration::from_millis(10)))
                .err()
                .map(|e| e.kind()),
            Some(io::ErrorKind::TimedOut)
        );
        drop(a);
        assert!(b.recv::<ToWorker>(None).expect("eof").is_none());
    }
}
