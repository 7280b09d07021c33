//! The three protection-key system calls, as raw syscalls: the `libc` crate has their
//! numbers but no wrappers (glibc's `pkey_alloc(3)` wrappers are not bound), and errors come
//! back as [`std::io::Error`] with the kernel's errno.

use std::io;

/// `pkey_alloc(flags, access_rights)`: a fresh key, whose rights in the calling thread's
/// PKRU become `access_rights` ([`crate::pkru::DISABLE_ACCESS`], [`crate::pkru::DISABLE_WRITE`]).
/// Fails with `EINVAL` where the kernel or CPU has no protection keys, `ENOSPC` when all
/// keys are taken.
pub fn pkey_alloc(flags: u32, access_rights: u32) -> io::Result<u32> {
    // SAFETY: pkey_alloc reads no memory of ours; its integer arguments are checked by the
    // kernel.
    let key = unsafe {
        libc::syscall(
            libc::SYS_pkey_alloc,
            libc::c_ulong::from(flags),
            libc::c_ulong::from(access_rights),
        )
    };
    if key < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(key).map_err(|_| io::Error::other(format!("pkey_alloc returned {key}")))
}

/// `pkey_free(key)`. Memory still tagged with `key` keeps the tag: a later `pkey_alloc` may
/// return the same key, which is why [`crate::Domains`] scrubs and re-tags before freeing.
pub fn pkey_free(key: u32) -> io::Result<()> {
    // SAFETY: pkey_free reads no memory of ours; an unallocated key is EINVAL.
    let rc = unsafe { libc::syscall(libc::SYS_pkey_free, libc::c_ulong::from(key)) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `pkey_mprotect(addr, len, prot, key)`: sets the protection of whole pages and tags them
/// with `key`.
///
/// # Safety
///
/// `addr..addr + len` must be page-aligned memory this program owns (an `mmap` it made), and
/// nothing may rely on accessing it with other protections or from threads whose PKRU now
/// denies `key` (Rust code touching it would fault instead of reading).
pub unsafe fn pkey_mprotect(addr: *mut u8, len: usize, prot: i32, key: u32) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is ours and that changing its protection breaks
    // no reference into it; the kernel checks alignment and the key.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pkey_mprotect,
            addr,
            len,
            libc::c_ulong::from(prot as u32),
            libc::c_ulong::from(key),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
