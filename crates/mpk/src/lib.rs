//! Intel memory protection keys (MPK / PKU) for faastlane's isolation domains.
//!
//! Shaped like wasmtime's `runtime/vm/mpk`:
//! - [`sys`]: the `pkey_alloc`, `pkey_free` and `pkey_mprotect` system calls, raw, as
//!   `io::Result`;
//! - [`pkru`]: the `RDPKRU` and `WRPKRU` instructions and the register's layout;
//! - a safe API over keys and masks ([`ProtectionKey`], [`ProtectionMask`], [`allow`],
//!   [`current_mask`]) with two implementations, `enabled.rs` on x86-64 Linux and
//!   `disabled.rs` elsewhere, and run-time detection ([`support`]: CPUID PKU + OSPKE, then a
//!   `pkey_alloc` that succeeds);
//! - [`Domains`]: named memory domains entered through a [`Gate`], with more domains than
//!   keys (multiplexing, scrubbed recycling), and [`violation`], which turns a protection-key
//!   fault inside a gate into a [`Violation`] instead of a crash.
//!
//! Every `unsafe` block of the crate is in this crate, each with its `SAFETY` argument.

pub mod pkru;
pub mod sys;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod enabled;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use enabled::*;

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod disabled;
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub use disabled::*;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod domain;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod violation;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use domain::{ARENA_BYTES, DomainId, Domains, Gate, Violation};

/// Whether protection keys can be used here, and if not why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    Available,
    /// `FAASTLANE_MPK=off` in the environment.
    Disabled,
    /// Not an x86-64 Linux build.
    NotX86Linux,
    /// CPUID.(EAX=7,ECX=0):ECX.PKU is 0.
    NoCpuPku,
    /// The CPU has PKU but the kernel did not enable it (CPUID OSPKE is 0: booted with
    /// `nopku`, or built without `CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS`).
    NoOsPke,
    /// `pkey_alloc` failed.
    Kernel(String),
}

impl std::fmt::Display for Support {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Support::Available => write!(f, "protection keys are available"),
            Support::Disabled => write!(f, "protection keys are turned off (FAASTLANE_MPK=off)"),
            Support::NotX86Linux => write!(f, "protection keys need x86-64 Linux"),
            Support::NoCpuPku => write!(f, "this CPU has no protection keys (no PKU in CPUID)"),
            Support::NoOsPke => write!(
                f,
                "the kernel has not enabled protection keys (no OSPKE in CPUID)"
            ),
            Support::Kernel(e) => write!(f, "pkey_alloc failed: {e}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("memory protection keys are not available: {0}")]
    Unsupported(Support),
    #[error("{call} failed: {source}")]
    Syscall {
        call: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("every protection key is taken")]
    NoKeys,
    #[error("every protection key belongs to a domain a thread is inside")]
    AllKeysInUse,
    #[error("no domain {0}")]
    UnknownDomain(usize),
    #[error("domain '{0}' is in use")]
    DomainInUse(String),
}
