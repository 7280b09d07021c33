//! The same API as `enabled.rs` for targets without protection keys (not x86-64 Linux):
//! detection says no, keys cannot be allocated, masks change nothing.

use crate::{Error, Support, pkru};

pub fn support() -> &'static Support {
    &Support::NotX86Linux
}

pub fn is_supported() -> bool {
    false
}

#[derive(Debug)]
pub struct ProtectionKey(u32);

impl ProtectionKey {
    pub fn alloc() -> Result<ProtectionKey, Error> {
        Err(Error::Unsupported(Support::NotX86Linux))
    }

    pub fn id(&self) -> u32 {
        self.0
    }

    /// # Safety
    ///
    /// None needed: never reached (no key can be allocated).
    pub unsafe fn protect(&self, _addr: *mut u8, _len: usize) -> Result<(), Error> {
        Err(Error::Unsupported(Support::NotX86Linux))
    }
}

/// # Safety
///
/// None needed: it does nothing.
pub(crate) unsafe fn tag(_addr: *mut u8, _len: usize, _key: u32) -> Result<(), Error> {
    Err(Error::Unsupported(Support::NotX86Linux))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtectionMask(pub(crate) u32);

impl ProtectionMask {
    pub const fn shared_only() -> Self {
        ProtectionMask(pkru::DENY_ALL_BUT_ZERO)
    }
    pub const fn all() -> Self {
        ProtectionMask(0)
    }
    pub const fn or(self, key: u32) -> Self {
        ProtectionMask(self.0 & !pkru::bits(key))
    }
    pub const fn allows(self, key: u32) -> bool {
        self.0 & (pkru::DISABLE_ACCESS << (2 * key)) == 0
    }
    pub const fn pkru(self) -> u32 {
        self.0
    }
}

pub fn allow(_mask: ProtectionMask) {}

pub fn current_mask() -> ProtectionMask {
    ProtectionMask::shared_only()
}
