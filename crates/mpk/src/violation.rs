//! Protection-key faults as errors: a SIGSEGV handler that recognises `SEGV_PKUERR` inside a
//! watched region of code (a domain [`crate::Gate`]), records the key and address, lets that
//! one access complete and returns; the gate reports the fault when it is left.
//!
//! Why the access is let through instead of unwinding: the faulting thread may be deep in C
//! (CPython's eval loop, an allocator) holding locks and half-updated reference counts.
//! `siglongjmp` out of it would leave the interpreter corrupt, so the process could not keep
//! serving. Instead the handler grants the faulting key in the PKRU value saved in the
//! signal frame (XSAVE component 9, at the offset CPUID.(EAX=0xD,ECX=9):EBX gives) and sets
//! the trap flag in the saved EFLAGS; the kernel restores both on return, the instruction is
//! restarted and succeeds, and the single-step trap right after it (SIGTRAP) closes the key
//! again. So every cross-domain access faults, one instruction at a time.
//!
//! Before a faulting *write* is let through, the handler copies the page it hits (up to
//! [`UNDO_PAGES`] pages per watch); when the watch ends those pages are written back, so the
//! write does not stay in the other domain. What a faulting *read* returns cannot be taken
//! back from the function: the gate's owner throws the function's result away and fails the
//! task, so the data does not reach the next function, but the function may still use it
//! until it returns (write it to a file, for instance). Code that must not get that far runs
//! under process isolation.
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
/// The trap flag of EFLAGS: a debug trap after the next instruction.
const EFLAGS_TF: i64 = 0x100;
/// The write bit of a page fault's error code.
const PF_WRITE: i64 = 0b10;
const PAGE: usize = 4096;
/// Pages of other domains a watch can restore after faulting writes.
pub const UNDO_PAGES: usize = 16;

/// A protection-key fault seen inside a watched region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The key of the page touched.
    pub key: u32,
    /// The address touched.
    pub addr: usize,
    /// Whether the access was a write.
    pub write: bool,
    /// The faulting instruction.
    pub ip: usize,
}

/// What a watch saw: its first fault and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Faults {
    pub first: Fault,
    /// Faulting accesses in all (each instruction faults on its own).
    pub count: u32,
    /// Pages of other domains restored after faulting writes.
    pub restored_pages: usize,
    /// Some faulting write hit more pages than [`UNDO_PAGES`]: it was not all undone.
    pub writes_kept: bool,
}

#[derive(Clone, Copy)]
struct Watched {
    depth: u32,
    fault: Option<Fault>,
    count: u32,
    /// AD bits of the keys opened for the instruction being single-stepped.
    stepping: u32,
}

/// Copies of pages faulting writes hit, to write back when the watch ends.
struct Undo {
    pages: [usize; UNDO_PAGES],
    /// `UNDO_PAGES` pages, one after the other (on the heap: too large for a small stack).
    data: Box<[u8]>,
    len: usize,
    overflow: bool,
}

thread_local! {
    // Const-initialised and without a destructor: reading these in a signal handler is a
    // plain thread-local load, with no lazy registration that could allocate.
    static WATCHED: Cell<Watched> = const {
        Cell::new(Watched { depth: 0, fault: None, count: 0, stepping: 0 })
    };
    static UNDO: Cell<*mut Undo> = const { Cell::new(std::ptr::null_mut()) };
    // Owns the buffer `UNDO` points to (made by the first watch of the thread, outside any
    // handler), freed when the thread ends.
    static UNDO_OWNER: std::cell::RefCell<Option<Box<Undo>>> = const { std::cell::RefCell::new(None) };
}

static PREVIOUS_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREVIOUS_TRAP: OnceLock<libc::sigaction> = OnceLock::new();
static PKRU_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// Installs the SIGSEGV handler (once per process; later calls do nothing).
pub fn install() -> Result<(), Error> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let leaf = std::arch::x86_64::__cpuid_count(0xD, XFEATURE_PKRU);
            PKRU_OFFSET.store(leaf.ebx as usize, Ordering::Relaxed);
            handle(
                libc::SIGSEGV,
                on_sigsegv as *const () as usize,
                &PREVIOUS_SEGV,
            )?;
            handle(
                libc::SIGTRAP,
                on_sigtrap as *const () as usize,
                &PREVIOUS_TRAP,
            )
        })
        .clone()
        .map_err(|e| Error::Syscall {
            call: "sigaction",
            source: std::io::Error::other(e),
        })
}

/// Installs `handler` (an SA_SIGINFO function) for `sig`, keeping the previous action.
fn handle(
    sig: libc::c_int,
    handler: usize,
    previous: &OnceLock<libc::sigaction>,
) -> Result<(), String> {
    // SAFETY: a zeroed sigaction is a valid value (no handler, empty mask) that is then
    // filled in; `handler` has the SA_SIGINFO signature; `old` receives the old action.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, &action, &mut old) != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let _ = previous.set(old);
    }
    Ok(())
}

/// Watches the calling thread for protection-key faults until [`Watch::finish`]. Not
/// `Send`: it is the calling thread's.
#[must_use = "a watch reports faults when finished"]
pub struct Watch {
    previous: Watched,
    _thread: std::marker::PhantomData<*const ()>,
}

/// Starts watching the calling thread (nests: an inner watch's faults are its own).
pub fn watch() -> Watch {
    if UNDO.with(Cell::get).is_null() {
        let mut undo = Box::new(Undo {
            pages: [0; UNDO_PAGES],
            data: vec![0; UNDO_PAGES * PAGE].into_boxed_slice(),
            len: 0,
            overflow: false,
        });
        UNDO.with(|u| u.set(&mut *undo));
        UNDO_OWNER.with(|o| *o.borrow_mut() = Some(undo));
    }
    let previous = WATCHED.with(|w| {
        let previous = w.get();
        w.set(Watched {
            depth: previous.depth + 1,
            fault: None,
            count: 0,
            stepping: 0,
        });
        previous
    });
    Watch {
        previous,
        _thread: std::marker::PhantomData,
    }
}

impl Watch {
    /// Stops watching: what was seen since [`watch`], if anything. The outermost watch
    /// writes back the pages faulting writes changed.
    pub fn finish(self) -> Option<Faults> {
        let state = WATCHED.with(Cell::get);
        let (restored_pages, writes_kept) = if self.previous.depth == 0 {
            restore()
        } else {
            (0, false)
        };
        // Drop restores the outer watch.
        state.fault.map(|first| Faults {
            first,
            count: state.count,
            restored_pages,
            writes_kept,
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.previous.depth == 0 {
            restore();
        }
        WATCHED.with(|w| w.set(self.previous));
    }
}

/// Writes back the pages saved before faulting writes; how many, and whether some write
/// could not be saved.
fn restore() -> (usize, bool) {
    let undo = UNDO.with(Cell::get);
    if undo.is_null() {
        return (0, false);
    }
    // SAFETY: `undo` is this thread's buffer (owned by `UNDO_OWNER`), used by this thread's
    // handlers only, which do not run now (no access here faults: every key is open).
    let undo = unsafe { &mut *undo };
    let restored = undo.len;
    if restored > 0 {
        let mask = crate::current_mask();
        crate::allow(crate::ProtectionMask::all());
        for i in 0..restored {
            // SAFETY: `pages[i]` is a page of a domain arena the write hit, mapped and
            // writable (every key is open); page `i < len` of `data` is its copy from before
            // the write.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    undo.data.as_ptr().add(i * PAGE),
                    undo.pages[i] as *mut u8,
                    PAGE,
                )
            };
        }
        crate::allow(mask);
    }
    let overflow = undo.overflow;
    undo.len = 0;
    undo.overflow = false;
    (restored, overflow)
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
        // SAFETY: `ctx` is this signal's ucontext (see above); REG_ERR holds the page
        // fault's error code, REG_RIP the faulting instruction.
        let (write, ip) = unsafe {
            let gregs = &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs;
            (
                gregs[libc::REG_ERR as usize] & PF_WRITE != 0,
                gregs[libc::REG_RIP as usize] as usize,
            )
        };
        let watched = WATCHED.with(|w| {
            let mut state = w.get();
            if state.depth == 0 || key > 15 {
                return false;
            }
            state.fault.get_or_insert(Fault {
                key,
                addr,
                write,
                ip,
            });
            state.count += 1;
            w.set(state);
            true
        });
        if watched {
            if write {
                // SAFETY: a protection-key fault of this thread on `addr`, a mapped page.
                unsafe { save_page(addr, key) };
            }
            // SAFETY: `ctx` is this signal's ucontext (see above).
            if unsafe { step_with_key(ctx, key) } {
                WATCHED.with(|w| {
                    let mut state = w.get();
                    state.stepping |= pkru::DISABLE_ACCESS << (2 * key);
                    w.set(state);
                });
                return;
            }
        }
    }
    // SAFETY: the arguments are this handler's own.
    unsafe { chain(sig, info, ctx, &PREVIOUS_SEGV) }
}

/// The single-step trap after an access let through: closes the keys it opened again.
extern "C" fn on_sigtrap(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let stepping = WATCHED.with(|w| w.get().stepping);
    if stepping != 0 {
        // SAFETY: `ctx` is this signal's ucontext; the frame's PKRU slot was checked when
        // the keys were opened.
        unsafe {
            let uc = ctx.cast::<libc::ucontext_t>();
            (*uc).uc_mcontext.gregs[libc::REG_EFL as usize] &= !EFLAGS_TF;
            if let Some(saved) = frame_pkru(ctx) {
                saved.write_unaligned(saved.read_unaligned() | stepping);
            }
        }
        WATCHED.with(|w| {
            let mut state = w.get();
            state.stepping = 0;
            w.set(state);
        });
        return;
    }
    // SAFETY: the arguments are this handler's own.
    unsafe { chain(sig, info, ctx, &PREVIOUS_TRAP) }
}

/// Copies the page at `addr` (tagged `key`) into this thread's undo buffer, once.
///
/// # Safety
///
/// Called from the SIGSEGV handler for a protection-key fault at `addr`: the page is mapped.
unsafe fn save_page(addr: usize, key: u32) {
    let undo = UNDO.with(Cell::get);
    if undo.is_null() {
        return;
    }
    // SAFETY: this thread's buffer; the watch that made it is live and not running (we are
    // in its thread's signal handler, which is not re-entered for this buffer).
    let undo = unsafe { &mut *undo };
    let page = addr & !(PAGE - 1);
    if undo.pages[..undo.len].contains(&page) {
        return;
    }
    if undo.len == UNDO_PAGES {
        undo.overflow = true;
        return;
    }
    // SAFETY: protection keys work (a PKU fault arrived). The handler opens `key` just for
    // the copy and closes it again; the page is mapped and readable under that key; the
    // destination is page `len < UNDO_PAGES` of `data`, which holds `UNDO_PAGES` pages.
    unsafe {
        let handler_pkru = pkru::read();
        pkru::write(handler_pkru & !pkru::bits(key));
        std::ptr::copy_nonoverlapping(
            page as *const u8,
            undo.data.as_mut_ptr().add(undo.len * PAGE),
            PAGE,
        );
        pkru::write(handler_pkru);
    }
    undo.pages[undo.len] = page;
    undo.len += 1;
}

/// Opens `key` in the PKRU value the kernel restores when the handler returns, and sets the
/// trap flag so that the key is closed after the restarted instruction.
///
/// # Safety
///
/// `ctx` must be the `ucontext_t` the kernel passed to a running SA_SIGINFO handler.
unsafe fn step_with_key(ctx: *mut libc::c_void, key: u32) -> bool {
    // SAFETY: forwarded from the caller.
    let Some(saved) = (unsafe { frame_pkru(ctx) }) else {
        return false;
    };
    // SAFETY: `saved` points into the signal frame's XSAVE area; `ctx` is the frame's
    // ucontext, whose EFLAGS the kernel restores (TF included).
    unsafe {
        saved.write_unaligned(saved.read_unaligned() & !pkru::bits(key));
        (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_EFL as usize] |= EFLAGS_TF;
    }
    true
}

/// Where the PKRU value the kernel restores on return from the handler is, in the signal
/// frame's XSAVE area.
///
/// # Safety
///
/// `ctx` must be the `ucontext_t` the kernel passed to a running SA_SIGINFO handler.
unsafe fn frame_pkru(ctx: *mut libc::c_void) -> Option<*mut u32> {
    let offset = PKRU_OFFSET.load(Ordering::Relaxed);
    if offset == 0 {
        return None;
    }
    // SAFETY: the kernel's signal frame holds a ucontext whose `fpregs` points at the saved
    // FPU state in the same frame. We read the software-reserved words to check it is an
    // XSAVE area large enough to hold the PKRU component before writing it.
    unsafe {
        let uc = ctx.cast::<libc::ucontext_t>();
        let fp = (*uc).uc_mcontext.fpregs.cast::<u8>();
        if fp.is_null() {
            return None;
        }
        let magic = fp.add(SW_RESERVED).cast::<u32>().read_unaligned();
        let xstate_size = fp.add(SW_RESERVED + 16).cast::<u32>().read_unaligned() as usize;
        if magic != FP_XSTATE_MAGIC1 || offset + 4 > xstate_size {
            return None;
        }
        let bv = fp.add(XSAVE_HEADER).cast::<u64>();
        if bv.read_unaligned() & (1 << XFEATURE_PKRU) == 0 {
            // PKRU was in its init state (0: everything allowed): no fault could come from it.
            return None;
        }
        Some(fp.add(offset).cast::<u32>())
    }
}

/// Hands a fault this module does not handle to the previous handler, or restores the
/// default action so that the restarted access kills the process as it would have.
///
/// # Safety
///
/// The arguments must be those of a running SA_SIGINFO handler for `sig`.
unsafe fn chain(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
    previous: &OnceLock<libc::sigaction>,
) {
    let previous = previous.get();
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

/// Names the code at `ip`: the shared object and nearest exported symbol (`dladdr`), e.g.
/// `libpython3.11.so.1.0!PyObject_RichCompare+0x1c`, or the bare address.
pub fn describe_code(ip: usize) -> String {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr only reads the dynamic linker's tables and fills `info`; the strings it
    // points to live as long as the object is loaded (we copy them at once).
    let found = unsafe { libc::dladdr(ip as *const libc::c_void, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return format!("{ip:#x}");
    }
    // SAFETY: non-null NUL-terminated strings from dladdr (above).
    let file = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) }.to_string_lossy();
    let file = file.rsplit('/').next().unwrap_or_default().to_string();
    if info.dli_sname.is_null() {
        return format!("{file}+{:#x}", ip - info.dli_fbase as usize);
    }
    // SAFETY: as above.
    let symbol = unsafe { std::ffi::CStr::from_ptr(info.dli_sname) }.to_string_lossy();
    format!("{file}!{symbol}+{:#x}", ip - info.dli_saddr as usize)
}
