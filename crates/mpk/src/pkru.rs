//! The PKRU register: two instructions, `RDPKRU` and `WRPKRU`.
//!
//! PKRU is a 32-bit per-thread register holding two bits per protection key `k` (0..=15):
//!
//! ```text
//! bit 2k     AD  access disable: no data reads or writes to pages tagged k
//! bit 2k+1   WD  write disable:  no data writes to pages tagged k
//! ```
//!
//! Key 0 is the default tag of all memory. Linux starts every thread with `0x55555554` (AD on
//! every key but 0), threads inherit their creator's PKRU, a `fork` child its parent's, and a
//! signal handler runs with `0x55555554` whatever the thread had (the value saved in the
//! signal frame is restored on return). Instruction fetches are never checked.
//!
//! Both instructions fault with `#UD` (SIGILL) unless `CR4.PKE` is set, which Linux does
//! only on a CPU with PKU (CPUID.(EAX=7,ECX=0):ECX bit 3) and reports as OSPKE (bit 4):
//! call them only after [`crate::support`] said yes. `WRPKRU` is not serialising and costs
//! ~20-30 cycles on hardware (as published for Skylake); under QEMU TCG ~2.7 µs, because
//! QEMU flushes its TLB on every write.

/// Access disable bit of key 0; shift left by `2 * key` for another key.
pub const DISABLE_ACCESS: u32 = 0b01;
/// Write disable bit of key 0; shift left by `2 * key` for another key.
pub const DISABLE_WRITE: u32 = 0b10;
/// What Linux gives a new thread and a signal handler: every key but 0 access-disabled.
pub const INIT: u32 = 0x5555_5554;
/// Every key access-disabled but key 0: [`INIT`] as a mask.
pub const DENY_ALL_BUT_ZERO: u32 = INIT;

/// The two bits of `key` in a PKRU value.
pub const fn bits(key: u32) -> u32 {
    (DISABLE_ACCESS | DISABLE_WRITE) << (2 * key)
}

/// `RDPKRU`: the calling thread's PKRU.
#[cfg(target_arch = "x86_64")]
///
/// # Safety
///
/// The CPU and OS must support protection keys (OSPKE), or this raises SIGILL.
#[inline]
pub unsafe fn read() -> u32 {
    let pkru: u32;
    // SAFETY: RDPKRU requires ECX = 0 and writes EAX (PKRU) and EDX (zeroed); it touches no
    // memory and no flags. The caller guarantees the instruction exists (OSPKE).
    unsafe {
        std::arch::asm!("rdpkru", in("ecx") 0u32, out("eax") pkru, out("edx") _, options(nomem, nostack, preserves_flags));
    }
    pkru
}

/// `WRPKRU`: sets the calling thread's PKRU.
#[cfg(target_arch = "x86_64")]
///
/// # Safety
///
/// The CPU and OS must support protection keys (OSPKE), or this raises SIGILL. Memory the
/// new value denies must not be accessed by the thread through references Rust assumes
/// valid (an access faults with SIGSEGV `SEGV_PKUERR`).
#[inline]
pub unsafe fn write(pkru: u32) {
    // SAFETY: WRPKRU requires ECX = EDX = 0 and reads EAX; the caller guarantees the
    // instruction exists and that nothing relies on the memory it denies. It is not marked
    // `nomem`: accesses must not be moved across it by the compiler.
    unsafe {
        std::arch::asm!("wrpkru", in("eax") pkru, in("ecx") 0u32, in("edx") 0u32, options(nostack, preserves_flags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_of_each_key() {
        assert_eq!(bits(0), 0b11);
        assert_eq!(bits(1), 0b1100);
        assert_eq!(bits(15), 0b11 << 30);
        assert_eq!(INIT & bits(0), 0);
        assert_eq!(INIT & bits(3), DISABLE_ACCESS << 6);
    }
}
