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
//!   keys (multiplexing, scrubbed recycling), [`DomainHeap`], a `malloc` over domain memory
//!   for a foreign allocator (CPython's), and [`violation`], which turns a protection-key
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
mod heap;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod violation;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use domain::{ARENA_BYTES, DomainId, Domains, Gate, Violation};
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use heap::{DomainHeap, Owners};

/// Which keys a thread may use: a PKRU value, built from "everything denied but key 0".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtectionMask(pub(crate) u32);

impl ProtectionMask {
    /// Only key 0 (the shared domain): what a new thread has.
    pub const fn shared_only() -> Self {
        ProtectionMask(pkru::DENY_ALL_BUT_ZERO)
    }

    /// Every key readable and writable.
    pub const fn all() -> Self {
        ProtectionMask(0)
    }

    /// This mask with `key` readable and writable too.
    pub const fn or(self, key: u32) -> Self {
        ProtectionMask(self.0 & !pkru::bits(key))
    }

    /// Whether `key` may be read.
    pub const fn allows(self, key: u32) -> bool {
        self.0 & (pkru::DISABLE_ACCESS << (2 * key)) == 0
    }

    /// The PKRU value.
    pub const fn pkru(self) -> u32 {
        self.0
    }
}

/// Whether code that needs protection keys should run: `true` where they work. Where they
/// do not it says why on stderr and returns `false`, unless `MPK_REQUIRE=1` (set inside the
/// QEMU guest of `scripts/test-mpk-qemu.sh`), where it panics: a test that needs PKU must
/// not pass by skipping there.
pub fn required_or_skip() -> bool {
    if is_supported() {
        return true;
    }
    assert!(
        std::env::var_os("MPK_REQUIRE").is_none_or(|v| v != "1"),
        "MPK_REQUIRE=1 but {}",
        support()
    );
    eprintln!("skipped: {}", support());
    false
}

/// Serialises users of this process's protection keys (there are 15; a [`Domains`] takes
/// them all): tests hold it while they own one.
pub fn keys_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

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

/// The disabled twin, compiled and checked on x86-64 Linux too, so it keeps the same API.
#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
#[path = "disabled.rs"]
#[allow(
    dead_code,
    reason = "a disabled key cannot exist, so its methods are unreachable in the twin"
)]
mod disabled_twin;

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    use super::disabled_twin as off;
    use super::*;

    #[test]
    fn the_disabled_twin_refuses_keys_and_ignores_masks() {
        assert!(!off::is_supported());
        assert_eq!(off::support(), &Support::NotX86Linux);
        assert!(matches!(
            off::ProtectionKey::alloc(),
            Err(Error::Unsupported(Support::NotX86Linux))
        ));
        // SAFETY: the disabled twin touches no memory.
        assert!(unsafe { off::tag(std::ptr::null_mut(), 4096, 1) }.is_err());
        off::allow(ProtectionMask::all());
        assert_eq!(off::current_mask(), ProtectionMask::shared_only());
    }

    #[test]
    fn masks_open_and_close_keys() {
        let m = ProtectionMask::shared_only().or(3);
        assert!(m.allows(0) && m.allows(3) && !m.allows(2) && !m.allows(15));
        assert_eq!(ProtectionMask::all().pkru(), 0);
    }
}
