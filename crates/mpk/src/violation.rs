//! Protection-key faults as errors: a SIGSEGV handler that recognises `SEGV_PKUERR` inside a
//! watched region of code (a domain [`crate::Gate`]), records the key and address, lets the
//! access complete and returns; the gate reports the fault when it is left.
//!
//! Why the access is let through instead of unwinding: the faulting thread may be deep in C
//! (CPython's eval loop, an allocator) holding locks and half-updated reference counts.
//! `siglongjmp` out of it would leave the interpreter corrupt, so the process could not keep
//! serving. Instead the handler grants the faulting key in the PKRU value saved in the
//! signal frame (XSAVE component 9, at the offset CPUID.(EAX=0xD,ECX=9):EBX gives); the
//! kernel restores it on return, the instruction is restarted and succeeds, and the function
//! runs to its end with that key open. Its result is then thrown away: the gate's owner
//! fails the task with the fault. So a violation cannot hand another domain's data to the
//! next function, but the faulting function itself may still use what it read (write it to
//! a file, for instance) and a faulting write does change the other domain's memory. Code
//! that must not get that far runs under process isolation.
//!
//! A fault outside a watched region, or any other SIGSEGV, goes to the handler that was
//! installed before (Rust's stack-overflow handler, or the default action).

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Error, pkru};

/// `si_code` of a protection-key fault (not exported by the `libc` crate).
pub const SEGV_PKUERR: i32 = 4;
/// Byte offset of `si_pkey` in a SIGSEGV's `siginfo_t` on x86-64 (after `si_addr` and the
/// `si_addr_lsb` union member); not exported by the `libc` crate.
pub const SI_PKEY_OFFSET: usize = 32;
/// `fpstate.sw_reserved.magic1` when the signal frame's FPU area is an XSAVE area.
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// Offset of `sw_reserved` in the legacy FXSAVE area, and of the XSAVE header.
const SW_RESERVED: usize = 464;
const XSAVE_HEADER: usize = 512;
/// The PKRU state component of XSAVE.
const XFEATURE_PKRU: u32 = 9;

/// A protection-key fault seen inside a watched region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The key of the page touched.
    pub key: u32,
    /// The address touched.
    pub addr: usize,
}

#[derive(Clone, Copy)]
struct Watched {
    depth: u32,
    fault: Option<Fault>,
}

thread_local! {
    // Const-initialised and without a destructor: reading it in a signal handler is a plain
    // thread-local load, with no lazy registration that could allocate.
    static WATCHED: Cell<Watched> = const { Cell::new(Watched { depth: 0, fault: None }) };
}

static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
static PKRU_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// Installs the SIGSEGV handler (once per process; later calls do nothing).
pub fn install() -> Result<(), Error> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let leaf = std::arch::x86_64::__cpuid_count(0xD, XFEATURE_PKRU);
            PKRU_OFFSET.store(leaf.ebx as usize, Ordering::Relaxed);
            // SAFETY: a zeroed sigaction is a valid value (no handler, empty mask) that is
            // then filled in; `on_sigsegv` has the SA_SIGINFO signature; `previous` receives
            // the old action.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigsegv as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGSEGV, &action, &mut previous) != 0 {
                    return Err(std::io::Error::last_os_error().to_string());
                }
                let _ = PREVIOUS.set(previous);
            }
            Ok(())
        })
        .clone()
        .map_err(|e| Error::Syscall {
            call: "sigaction",
            source: std::io::Error::other(e),
        })
}

/// Watches the calling thread for protection-key faults until [`Watch::finish`].
#[must_use = "a watch reports faults when finished"]
pub struct Watch {
    previous: Watched,
}

/// Starts watching the calling thread (nests: an inner watch's faults are its own).
pub fn watch() -> Watch {
    let previous = WATCHED.with(|w| {
        let previous = w.get();
        w.set(Watched {
            depth: previous.depth + 1,
            fault: None,
        });
        previous
    });
    Watch { previous }
}

impl Watch {
    /// Stops watching; the first fault seen since [`watch`], if any.
    pub fn finish(self) -> Option<Fault> {
        let fault = WATCHED.with(|w| w.get().fault);
        // Drop restores the outer watch.
        fault
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHED.with(|w| w.set(self.previous));
    }
}

extern "C" fn on_sigsegv(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo and ucontext.
    let code = unsafe { (*info).si_code };
    if code == SEGV_PKUERR {
        // SAFETY: for SEGV_PKUERR the kernel fills si_addr and si_pkey (a u32 at offset 32).
        let (key, addr) = unsafe {
            (
                info.cast::<u8>()
                    .add(SI_PKEY_OFFSET)
                    .cast::<u32>()
                    .read_unaligned(),
                (*info).si_addr() as usize,
            )
        };
        let watched = WATCHED.with(|w| {
            let mut state = w.get();
            if state.depth == 0 {
                return false;
            }
            state.fault.get_or_insert(Fault { key, addr });
            w.set(state);
            true
        });
        // SAFETY: `ctx` is this signal's ucontext (see above).
        if watched && unsafe { grant_in_frame(ctx, key) } {
            return;
        }
    }
    // SAFETY: the arguments are this handler's own.
    unsafe { chain(sig, info, ctx) }
}

/// Opens `key` in the PKRU value the kernel restores when the handler returns.
///
/// # Safety
///
/// `ctx` must be the `ucontext_t` the kernel passed to a running SA_SIGINFO handler.
unsafe fn grant_in_frame(ctx: *mut libc::c_void, key: u32) -> bool {
    let offset = PKRU_OFFSET.load(Ordering::Relaxed);
    if offset == 0 || key > 15 {
        return false;
    }
    // SAFETY: the kernel's signal frame holds a ucontext whose `fpregs` points at the saved
    // FPU state in the same frame. We read the software-reserved words to check it is an
    // XSAVE area large enough to hold the PKRU component before writing it.
    unsafe {
        let uc = ctx.cast::<libc::ucontext_t>();
        let fp = (*uc).uc_mcontext.fpregs.cast::<u8>();
        if fp.is_null() {
            return false;
        }
        let magic = fp.add(SW_RESERVED).cast::<u32>().read_unaligned();
        let xstate_size = fp.add(SW_RESERVED + 16).cast::<u32>().read_unaligned() as usize;
        if magic != FP_XSTATE_MAGIC1 || offset + 4 > xstate_size {
            return false;
        }
        let bv = fp.add(XSAVE_HEADER).cast::<u64>();
        if bv.read_unaligned() & (1 << XFEATURE_PKRU) == 0 {
            // PKRU was in its init state (0: everything allowed): nothing to open.
            return false;
        }
        let saved = fp.add(offset).cast::<u32>();
        saved.write_unaligned(saved.read_unaligned() & !pkru::bits(key));
    }
    true
}

/// Hands a fault this module does not handle to the previous handler, or restores the
/// default action so that the restarted access kills the process as it would have.
///
/// # Safety
///
/// The arguments must be those of a running SA_SIGINFO handler for `sig`.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let previous = PREVIOUS.get();
    let handler = previous.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: sigaction is async-signal-safe; a zeroed action is SIG_DFL.
        unsafe {
            let mut default: libc::sigaction = std::mem::zeroed();
            libc::sigemptyset(&mut default.sa_mask);
            libc::sigaction(sig, &default, std::ptr::null_mut());
        }
        return;
    }
    let siginfo = previous.is_some_and(|p| p.sa_flags & libc::SA_SIGINFO != 0);
    // SAFETY: `handler` is the function the previous sigaction installed, with the signature
    // its SA_SIGINFO flag says.
    unsafe {
        if siginfo {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig);
        }
    }
}
