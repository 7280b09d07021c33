//! The same API as `enabled.rs` for targets without protection keys (not x86-64 Linux):
//! detection says no, keys cannot be allocated, masks change nothing.

use crate::{Error, ProtectionMask, Support};

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

pub fn allow(_mask: ProtectionMask) {}

pub fn current_mask() -> ProtectionMask {
    ProtectionMask::shared_only()
}
