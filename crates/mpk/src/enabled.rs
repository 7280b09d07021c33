//! Protection keys on x86-64 Linux: detection, keys, masks. The same API as `disabled.rs`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::{Error, ProtectionMask, Support, pkru, sys};

/// Whether this CPU and kernel give protection keys: CPUID says PKU and OSPKE (the kernel
/// set CR4.PKE), and a `pkey_alloc` succeeds (a kernel built without
/// `CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS`, or booted with `nopku`, says `EINVAL`).
/// Decided once per process.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(detect)
}

fn detect() -> Support {
    if std::env::var_os("FAASTLANE_MPK").is_some_and(|v| v == "off") {
        return Support::Disabled;
    }
    let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
    if leaf7.ecx & (1 << 3) == 0 {
        return Support::NoCpuPku;
    }
    if leaf7.ecx & (1 << 4) == 0 {
        return Support::NoOsPke;
    }
    match sys::pkey_alloc(0, pkru::DISABLE_ACCESS) {
        Ok(key) => {
            let _ = sys::pkey_free(key);
            Support::Available
        }
        Err(e) => Support::Kernel(e.to_string()),
    }
}

/// Whether [`support`] is [`Support::Available`]. Inlined to a load and a compare after the
/// first call: every PKRU switch asks.
#[inline]
pub fn is_supported() -> bool {
    match SUPPORTED.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => decide(),
    }
}

const YES: u8 = 1;
const NO: u8 = 2;
/// [`support`]'s answer as [`YES`] or [`NO`]; 0 before it is known.
static SUPPORTED: AtomicU8 = AtomicU8::new(0);

#[cold]
fn decide() -> bool {
    let yes = matches!(support(), Support::Available);
    SUPPORTED.store(if yes { YES } else { NO }, Ordering::Relaxed);
    yes
}

/// A protection key this process allocated; freed on drop.
#[derive(Debug)]
pub struct ProtectionKey(u32);

impl ProtectionKey {
    /// A fresh key, access-disabled in the calling thread (other threads deny it already:
    /// their PKRU started as [`pkru::INIT`]).
    pub fn alloc() -> Result<ProtectionKey, Error> {
        if !is_supported() {
            return Err(Error::Unsupported(support().clone()));
        }
        match sys::pkey_alloc(0, pkru::DISABLE_ACCESS) {
            Ok(key) => Ok(ProtectionKey(key)),
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => Err(Error::NoKeys),
            Err(source) => Err(Error::Syscall {
                call: "pkey_alloc",
                source,
            }),
        }
    }

    /// The hardware key number (1..=15).
    pub fn id(&self) -> u32 {
        self.0
    }

    /// Tags the pages `addr..addr + len` with this key, readable and writable.
    ///
    /// # Safety
    ///
    /// As [`sys::pkey_mprotect`]: the pages are an anonymous mapping this program made and
    /// no code relies on reaching them while its thread denies this key.
    pub unsafe fn protect(&self, addr: *mut u8, len: usize) -> Result<(), Error> {
        // SAFETY: forwarded from the caller.
        unsafe { tag(addr, len, self.0) }
    }
}

/// Tags pages with `key` (0: the default, shared key).
///
/// # Safety
///
/// As [`sys::pkey_mprotect`].
pub(crate) unsafe fn tag(addr: *mut u8, len: usize, key: u32) -> Result<(), Error> {
    // SAFETY: forwarded from the caller.
    unsafe { sys::pkey_mprotect(addr, len, libc::PROT_READ | libc::PROT_WRITE, key) }.map_err(
        |source| Error::Syscall {
            call: "pkey_mprotect",
            source,
        },
    )
}

impl Drop for ProtectionKey {
    fn drop(&mut self) {
        let _ = sys::pkey_free(self.0);
    }
}

/// Sets the calling thread's PKRU to `mask`.
///
/// # Panics
///
/// Without protection keys ([`is_supported`] false): the instruction would raise SIGILL.
#[inline]
pub fn allow(mask: ProtectionMask) {
    assert!(is_supported(), "mpk::allow without protection keys");
    // SAFETY: protection keys are supported (checked above). Denying keys never makes Rust
    // memory unsound to use: every page tagged with a non-zero key belongs to a `Domains`
    // arena, handed out as raw pointers only, and an access through them faults
    // (SEGV_PKUERR, turned into an error by `violation`) instead of reading.
    unsafe { pkru::write(mask.0) }
}

/// The calling thread's PKRU as a mask ([`ProtectionMask::shared_only`] without keys).
#[inline]
pub fn current_mask() -> ProtectionMask {
    if !is_supported() {
        return ProtectionMask::shared_only();
    }
    // SAFETY: protection keys are supported (checked above).
    ProtectionMask(unsafe { pkru::read() })
}
