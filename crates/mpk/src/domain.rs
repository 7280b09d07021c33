//! Protection domains: named memory arenas, each reachable only while a thread is inside the
//! domain's [`Gate`], with more domains than the CPU has keys.
//!
//! A domain owns arenas (anonymous mappings, whole pages) tagged with its key. Entering it
//! sets the thread's PKRU to "key 0 (the shared domain) + this domain's key"; every other
//! domain is access-disabled. Leaving restores the PKRU the thread had.
//!
//! Keys are few (15 usable on x86, fewer if the process uses some elsewhere), so they are
//! multiplexed. One extra key is the *parking* key, never granted to any thread: a domain
//! without a key has its arenas tagged with it. Entering such a domain takes a free key, or
//! the key of the least recently entered domain nobody is inside, whose arenas are first
//! re-tagged to the parking key; then this domain's arenas are re-tagged to the key. So the
//! new holder of a recycled key never reaches the previous holder's pages: they now carry
//! another tag.
//!
//! Destroying a domain scrubs its arenas (`MADV_DONTNEED`: a private anonymous page reads
//! back as zeros), parks them and keeps them for the next domain that needs one. A recycled
//! arena therefore reads as zeros: the leak of reusing a key (or memory) without scrubbing,
//! which the Faastlane prototype had, cannot happen.
//!
//! Arenas are bump-allocated: [`Domains::alloc`] never reuses memory inside a live domain;
//! it is all returned when the domain is destroyed.

use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use crate::violation::{self, Faults, Watch};
use crate::{Error, ProtectionKey, ProtectionMask, allow, current_mask, tag};

/// Size of an ordinary arena; a larger allocation gets an arena of its own.
pub const ARENA_BYTES: usize = 64 * 1024;
const PAGE: usize = 4096;
/// [`Domains::reset`] zeroes up to this many used bytes in place, and drops the pages above.
const ZERO_IN_PLACE: usize = 16 * 1024;

/// Names a domain of one [`Domains`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DomainId(pub(crate) usize);

/// A domain touched memory it may not reach.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "domain '{domain}' {} {} at {addr:#x} (protection key {key})",
    if *write { "wrote" } else { "read" },
    touched.as_deref().map_or_else(|| "memory of no domain".to_string(), |t| format!("the memory of domain '{t}'"))
)]
pub struct Violation {
    /// The domain that was running.
    pub domain: String,
    /// The domain whose memory it touched, if the address is in one of this registry's arenas.
    pub touched: Option<String>,
    /// The first faulting access.
    pub addr: usize,
    pub key: u32,
    pub write: bool,
    /// Faulting accesses in all.
    pub count: u32,
    /// The first faulting instruction.
    pub ip: usize,
    /// Whether some faulting write stayed (more pages than [`violation::UNDO_PAGES`]); else
    /// every faulting write was undone when the gate was left.
    pub writes_kept: bool,
}

struct Arena {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: an arena is an anonymous mapping owned by the registry, reached through raw
// pointers only; the registry's mutex serialises changes to it.
unsafe impl Send for Arena {}

impl Arena {
    fn map(len: usize) -> Result<Arena, Error> {
        let len = len.div_ceil(PAGE) * PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches
        // no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::Syscall {
                call: "mmap",
                source: std::io::Error::last_os_error(),
            });
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Error::Syscall {
            call: "mmap",
            source: std::io::Error::other("null mapping"),
        })?;
        Ok(Arena { ptr, len })
    }

    fn contains(&self, addr: usize) -> bool {
        let start = self.ptr.as_ptr() as usize;
        (start..start + self.len).contains(&addr)
    }

    fn retag(&self, key: u32) -> Result<(), Error> {
        if key >= UNENFORCED {
            return Ok(());
        }
        // SAFETY: the arena is our own mapping, reached only through raw pointers handed out
        // by `Domains::alloc`, whose users know its access depends on the thread's PKRU.
        unsafe { tag(self.ptr.as_ptr(), self.len, key) }
    }

    /// Zeroes the arena without touching it: private anonymous pages dropped with
    /// `MADV_DONTNEED` read back as zeros.
    fn scrub(&self) -> Result<(), Error> {
        // SAFETY: our own mapping; its contents are discarded, which every holder of a
        // pointer into it was told (the domain is being destroyed).
        let rc = unsafe { libc::madvise(self.ptr.as_ptr().cast(), self.len, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(Error::Syscall {
                call: "madvise",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and no longer reachable through the registry.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

struct Domain {
    name: String,
    /// Index into `Registry::keys` while the domain holds a key.
    slot: Option<usize>,
    arenas: Vec<Arena>,
    /// Bytes used in the last arena.
    used: usize,
    /// Gates open on it (on any thread): it keeps its key while > 0.
    inside: u32,
    last_entered: u64,
}

/// A domain's key: a hardware key, or (in [`Domains::unprotected`]) a number that tags
/// nothing.
enum Key {
    Hardware(ProtectionKey),
    Unenforced(u32),
}

impl Key {
    fn id(&self) -> u32 {
        match self {
            Key::Hardware(key) => key.id(),
            Key::Unenforced(id) => *id,
        }
    }
}

/// The first number an unenforced key gets: past the 16 hardware keys, so it never names one.
const UNENFORCED: u32 = 16;

struct Slot {
    key: Key,
    owner: Option<usize>,
}

// Fields drop in order: the arenas are unmapped before their keys are freed, so no key is
// handed out again while pages still carry it.
struct Registry {
    domains: Vec<Option<Domain>>,
    /// Scrubbed, parked arenas of destroyed domains.
    spare: Vec<Arena>,
    slots: Vec<Slot>,
    parking: Key,
    tick: u64,
    /// How many times a key changed domain.
    recycled: u64,
}

/// A set of protection domains sharing this process's protection keys.
pub struct Domains {
    registry: Mutex<Registry>,
    /// Whether the keys are hardware keys (else [`Domains::unprotected`]).
    enforced: bool,
}

impl Domains {
    /// Takes every key the kernel still has (one of them for parking).
    pub fn new() -> Result<Domains, Error> {
        Domains::with_max_keys(15)
    }

    /// As [`Domains::new`], with at most `max_keys` keys for domains (plus the parking key):
    /// fewer keys make multiplexing observable with few domains.
    pub fn with_max_keys(max_keys: usize) -> Result<Domains, Error> {
        violation::install()?;
        let parking = ProtectionKey::alloc()?;
        let mut slots = Vec::new();
        while slots.len() < max_keys {
            match ProtectionKey::alloc() {
                Ok(key) => slots.push(Slot {
                    key: Key::Hardware(key),
                    owner: None,
                }),
                Err(Error::NoKeys) => break,
                Err(e) => return Err(e),
            }
        }
        if slots.is_empty() {
            return Err(Error::NoKeys);
        }
        Ok(Domains::with_keys(slots, Key::Hardware(parking), true))
    }

    /// Domains that protect nothing, where protection keys may be absent: the same arenas,
    /// allocation, key multiplexing and scrubbing, but no page is tagged and entering a
    /// domain writes no PKRU. For measuring and testing what is built on domains (the
    /// Python heap, the hand-off copy) on a machine without PKU; never for isolation.
    pub fn unprotected(max_keys: usize) -> Domains {
        let slots = (0..max_keys.clamp(1, 15) as u32)
            .map(|i| Slot {
                key: Key::Unenforced(UNENFORCED + 1 + i),
                owner: None,
            })
            .collect();
        Domains::with_keys(slots, Key::Unenforced(UNENFORCED), false)
    }

    fn with_keys(slots: Vec<Slot>, parking: Key, enforced: bool) -> Domains {
        Domains {
            registry: Mutex::new(Registry {
                slots,
                parking,
                domains: Vec::new(),
                spare: Vec::new(),
                tick: 0,
                recycled: 0,
            }),
            enforced,
        }
    }

    /// Whether entering a domain really denies the others (false for
    /// [`Domains::unprotected`]).
    pub fn enforced(&self) -> bool {
        self.enforced
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new, empty domain.
    pub fn create(&self, name: impl Into<String>) -> DomainId {
        let mut r = self.registry();
        r.domains.push(Some(Domain {
            name: name.into(),
            slot: None,
            arenas: Vec::new(),
            used: 0,
            inside: 0,
            last_entered: 0,
        }));
        DomainId(r.domains.len() - 1)
    }

    /// How many hardware keys domains share (the parking key not counted).
    pub fn keys(&self) -> usize {
        self.registry().slots.len()
    }

    /// How many times a key was taken from one domain for another.
    pub fn recycled(&self) -> u64 {
        self.registry().recycled
    }

    /// The hardware key `id` holds now, if any.
    pub fn key_of(&self, id: DomainId) -> Option<u32> {
        let r = self.registry();
        let slot = r.domains.get(id.0)?.as_ref()?.slot?;
        Some(r.slots[slot].key.id())
    }

    /// `size` bytes (8-byte aligned) of `id`'s memory. The memory is reachable only inside
    /// the domain's gate; it lives until the domain is destroyed.
    pub fn alloc(&self, id: DomainId, size: usize) -> Result<NonNull<u8>, Error> {
        let mut r = self.registry();
        let key = r.key_for_arenas(id)?;
        let size = size.max(1).next_multiple_of(8);
        let domain = r.domain_mut(id)?;
        let fits = domain
            .arenas
            .last()
            .is_some_and(|a| domain.used + size <= a.len);
        if !fits {
            let arena = match r.spare.pop() {
                Some(a) if a.len >= size => a,
                other => {
                    if let Some(a) = other {
                        r.spare.push(a);
                    }
                    Arena::map(size.max(ARENA_BYTES))?
                }
            };
            arena.retag(key)?;
            let domain = r.domain_mut(id)?;
            domain.arenas.push(arena);
            domain.used = 0;
        }
        let domain = r.domain_mut(id)?;
        let arena = domain.arenas.last().ok_or(Error::UnknownDomain(id.0))?;
        // SAFETY: `used + size <= len`, so the pointer stays inside the arena.
        let ptr = unsafe { arena.ptr.add(domain.used) };
        domain.used += size;
        Ok(ptr)
    }

    /// Enters `id` on the calling thread: its memory and the shared domain's become
    /// reachable, every other domain's is denied. The key may be taken from the least
    /// recently entered domain that no thread is inside.
    pub fn enter(&self, id: DomainId) -> Result<Gate<'_>, Error> {
        self.enter_with(id, false)
    }

    /// [`Domains::enter`] an emptied domain, as [`Domains::reset`] leaves it, with the
    /// zeroing done inside the gate (its key is open there anyway: two `WRPKRU` fewer). A
    /// domain another thread is inside is entered as it is.
    pub fn enter_fresh(&self, id: DomainId) -> Result<Gate<'_>, Error> {
        self.enter_with(id, true)
    }

    fn enter_with(&self, id: DomainId, fresh: bool) -> Result<Gate<'_>, Error> {
        let (key, zero) = {
            let mut r = self.registry();
            // A domain another thread is inside is shared as it is (concurrent calls of one
            // function, on thread lanes): its memory is in use.
            let zero = if fresh && r.domain_mut(id)?.inside == 0 {
                r.empty(id)?
            } else {
                None
            };
            let slot = r.take_key(id)?;
            r.tick += 1;
            let tick = r.tick;
            let domain = r.domain_mut(id)?;
            domain.inside += 1;
            domain.last_entered = tick;
            (r.slots[slot].key.id(), zero)
        };
        let previous = current_mask();
        let watch = violation::watch();
        if self.enforced {
            allow(ProtectionMask::shared_only().or(key));
        }
        if let Some((ptr, used)) = zero {
            // SAFETY: `used` bytes from the start of the domain's first arena, inside it; its
            // key is open on this thread and no other thread is inside the domain.
            unsafe { ptr.as_ptr().write_bytes(0, used) };
        }
        Ok(Gate {
            domains: self,
            id,
            previous,
            watch: Some(watch),
            _thread: std::marker::PhantomData,
        })
    }

    /// Empties `id`: its memory reads back as zeros and is allocated again from the start;
    /// the domain keeps its first arena (and its key), the others go to the spare arenas.
    /// What a function left in its domain then does not reach its next call.
    pub fn reset(&self, id: DomainId) -> Result<(), Error> {
        let mut r = self.registry();
        if r.domain_mut(id)?.inside > 0 {
            return Err(Error::DomainInUse(r.domain_mut(id)?.name.clone()));
        }
        let key = r.key_for_arenas(id)?;
        if let Some((ptr, used)) = r.empty(id)? {
            let mask = current_mask();
            if self.enforced {
                allow(mask.or(key));
            }
            // SAFETY: as in `enter_with`: inside the first arena, its key open here (or no
            // key enforced), no thread inside the domain.
            unsafe { ptr.as_ptr().write_bytes(0, used) };
            if self.enforced {
                allow(mask);
            }
        }
        Ok(())
    }

    /// Destroys `id`: its arenas are zeroed and kept for other domains, its key freed.
    pub fn destroy(&self, id: DomainId) -> Result<(), Error> {
        let mut r = self.registry();
        let parking = r.parking.id();
        let domain = r.domain_mut(id)?;
        if domain.inside > 0 {
            return Err(Error::DomainInUse(domain.name.clone()));
        }
        let Some(domain) = r.domains[id.0].take() else {
            return Err(Error::UnknownDomain(id.0));
        };
        if let Some(slot) = domain.slot {
            r.slots[slot].owner = None;
        }
        for arena in domain.arenas {
            arena.scrub()?;
            arena.retag(parking)?;
            r.spare.push(arena);
        }
        Ok(())
    }

    fn violation(&self, id: DomainId, faults: Faults) -> Violation {
        let fault = faults.first;
        let r = self.registry();
        let name = |d: &Domain| d.name.clone();
        Violation {
            domain: r
                .domains
                .get(id.0)
                .and_then(Option::as_ref)
                .map_or_else(String::new, name),
            touched: r
                .domains
                .iter()
                .flatten()
                .find(|d| d.arenas.iter().any(|a| a.contains(fault.addr)))
                .map(name),
            addr: fault.addr,
            key: fault.key,
            write: fault.write,
            ip: fault.ip,
            count: faults.count,
            writes_kept: faults.writes_kept,
        }
    }
}

impl Registry {
    fn domain_mut(&mut self, id: DomainId) -> Result<&mut Domain, Error> {
        self.domains
            .get_mut(id.0)
            .and_then(Option::as_mut)
            .ok_or(Error::UnknownDomain(id.0))
    }

    /// Empties `id` for [`Domains::reset`]: extra arenas parked and spared, allocation back
    /// at the start. Returns the bytes the caller must still zero with the key open (a few
    /// pages: cheaper than dropping them and faulting them in again); larger uses are
    /// dropped here (`MADV_DONTNEED`).
    fn empty(&mut self, id: DomainId) -> Result<Option<(NonNull<u8>, usize)>, Error> {
        let parking = self.parking.id();
        let domain = self.domain_mut(id)?;
        if domain.arenas.is_empty() {
            return Ok(None);
        }
        let mut extra = domain.arenas.split_off(1);
        let used = std::mem::take(&mut domain.used);
        let first = &domain.arenas[0];
        let zero = if extra.is_empty() && used <= ZERO_IN_PLACE {
            Some((first.ptr, used))
        } else {
            first.scrub()?;
            None
        };
        for arena in &extra {
            arena.scrub()?;
            arena.retag(parking)?;
        }
        self.spare.append(&mut extra);
        Ok(zero.filter(|(_, used)| *used > 0))
    }

    /// The key new arenas of `id` get: its own, or the parking key.
    fn key_for_arenas(&mut self, id: DomainId) -> Result<u32, Error> {
        let slot = self.domain_mut(id)?.slot;
        Ok(slot.map_or(self.parking.id(), |s| self.slots[s].key.id()))
    }

    /// Gives `id` a key slot: its own, a free one, or the least recently entered domain's
    /// that no thread is inside (whose arenas are parked first).
    fn take_key(&mut self, id: DomainId) -> Result<usize, Error> {
        if let Some(slot) = self.domain_mut(id)?.slot {
            return Ok(slot);
        }
        let free = self.slots.iter().position(|s| s.owner.is_none());
        let slot = match free {
            Some(slot) => slot,
            None => {
                let victim = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| {
                        let owner = s.owner?;
                        let d = self.domains[owner].as_ref()?;
                        (d.inside == 0).then_some((d.last_entered, i, owner))
                    })
                    .min();
                let Some((_, slot, owner)) = victim else {
                    return Err(Error::AllKeysInUse);
                };
                let parking = self.parking.id();
                if let Some(d) = self.domains[owner].as_mut() {
                    for arena in &d.arenas {
                        arena.retag(parking)?;
                    }
                    d.slot = None;
                }
                self.recycled += 1;
                slot
            }
        };
        let key = self.slots[slot].key.id();
        let domain = self.domain_mut(id)?;
        for arena in &domain.arenas {
            arena.retag(key)?;
        }
        domain.slot = Some(slot);
        self.slots[slot].owner = Some(id.0);
        Ok(slot)
    }
}

/// A thread inside a domain. Leaving restores the thread's previous PKRU. Not `Send`: PKRU
/// and the fault watch belong to the thread that entered.
#[must_use = "leaving the gate reports a violation"]
pub struct Gate<'d> {
    domains: &'d Domains,
    id: DomainId,
    previous: ProtectionMask,
    watch: Option<Watch>,
    _thread: std::marker::PhantomData<*const ()>,
}

impl Gate<'_> {
    pub fn domain(&self) -> DomainId {
        self.id
    }

    /// Leaves the domain; the first access outside it made meanwhile, if any.
    pub fn leave(mut self) -> Result<(), Violation> {
        let fault = self.close();
        match fault {
            Some(fault) => Err(self.domains.violation(self.id, fault)),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> Option<Faults> {
        let fault = self.watch.take().and_then(Watch::finish);
        if self.domains.enforced {
            allow(self.previous);
        }
        let mut r = self.domains.registry();
        if let Ok(d) = r.domain_mut(self.id) {
            d.inside = d.inside.saturating_sub(1);
        }
        fault
    }
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        if self.watch.is_some() {
            self.close();
        }
    }
}
