//! A `malloc` over domain memory, for a foreign allocator to route to (CPython's, through
//! `PyMem_SetAllocator`): blocks in a domain's arenas, freed blocks zeroed and reused.
//!
//! Unlike [`Domains::alloc`] (bump, returned only when the domain is reset), a block here
//! lives until it is freed, whatever domain the thread that frees it is in: objects a
//! function keeps (a module global, an entry of a cache) stay valid, in their domain.
//!
//! Layout: power-of-two size classes from 32 bytes; each block starts with a 16-byte header
//! (class, owning domain), the caller's pointer follows it (16-byte aligned). Blocks are
//! carved from 1 MiB chunks of the domain ([`Domains::alloc`], an arena each); a block of
//! half a chunk or more gets a chunk of its own. A freed block is zeroed at once (a later
//! owner of the same memory reads zeros, not the previous function's data) and goes on its
//! domain's free list for its class: memory is reused within a domain, never across.
//! [`DomainHeap::owns`] tells a pointer of this heap from any other with a binary search
//! over the chunks (a read lock), so a foreign allocator can send every other pointer to
//! its usual `free`. The chunk list is read with one atomic load and no lock or
//! reference count: CPython frees through the hooks all the time, most of it memory that is
//! not this heap's (with `arc-swap`'s load instead, 5% of the healthcare example's time under
//! domains went to that load's atomics alone). A new chunk list is a new version; every
//! version is kept until the heap is dropped, so a reader's pointer stays valid (chunks are
//! 1 MiB: a 1 GiB heap has kept ~12 MB of versions).
//!
//! Free and realloc may be called on any thread, in any domain: they open every key for
//! the few instructions that read the header and zero the block (two `WRPKRU` when the
//! thread's PKRU denies some key, none otherwise), so the owner's memory is reached even
//! from a thread that cannot see it; `free_in`/`realloc_in` skip that for a block of the
//! domain the thread is inside (the common case: a function freeing its own objects).
//!
//! The lists are behind a mutex ([`DomainHeap::new`]), or behind the caller's own lock
//! ([`DomainHeap::new_serialized`]: CPython's GIL, which every call of its object and mem
//! allocators holds): the mutex's two atomic instructions per alloc and per free were ~40%
//! of what domains added to a healthcare call natively (+0.10-0.12 ms against +0.05-0.07
//! ms without them). The caller of `alloc` must be inside `id`'s gate or
//! have every key open.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{DomainId, Domains, ProtectionMask, allow, current_mask};

const HEADER: usize = 16;
const MIN_CLASS: u32 = 5;
/// Blocks up to 1 TiB.
const MAX_CLASS: u32 = 40;
const CLASSES: usize = (MAX_CLASS - MIN_CLASS + 1) as usize;
const CHUNK: usize = 1 << 20;

/// `(start, end, owning domain)` of chunks, sorted by start.
type ChunkList = Vec<(usize, usize, usize)>;

/// Blocks in domains' memory.
pub struct DomainHeap {
    domains: Arc<Domains>,
    lists: Guarded,
    /// `(start, end, owning domain)` of every chunk, sorted: the last of `Lists::versions`.
    /// A version is replaced (under `lists`' lock), never changed in place.
    chunks: AtomicPtr<ChunkList>,
}

/// The lists, and what keeps two calls from changing them at once.
enum Guarded {
    Locked(Mutex<Lists>),
    /// The caller serializes every call ([`DomainHeap::new_serialized`]).
    Serialized(UnsafeCell<Lists>),
}

enum ListsGuard<'a> {
    Locked(MutexGuard<'a, Lists>),
    Serialized(&'a mut Lists),
}

impl Deref for ListsGuard<'_> {
    type Target = Lists;
    fn deref(&self) -> &Lists {
        match self {
            ListsGuard::Locked(g) => g,
            ListsGuard::Serialized(l) => l,
        }
    }
}

impl DerefMut for ListsGuard<'_> {
    fn deref_mut(&mut self) -> &mut Lists {
        match self {
            ListsGuard::Locked(g) => g,
            ListsGuard::Serialized(l) => l,
        }
    }
}

// SAFETY: `Locked` is a mutex; `Serialized` is reached only by calls its constructor's caller
// promised never overlap (`DomainHeap::new_serialized`), from whatever thread. Every other
// field is `Sync` already.
unsafe impl Sync for DomainHeap {}

/// The lists of the domains.
struct Lists {
    /// By domain (its index): freed (zeroed) blocks by class, the chunk small blocks are
    /// carved from (next free byte, end), and the blocks handed out and not freed yet.
    of: Vec<DomainLists>,
    /// Blocks handed out and not freed yet, in all domains.
    live: usize,
    /// Every chunk list there was, the current one last (see the module's comment).
    versions: Vec<Arc<ChunkList>>,
}

#[derive(Default)]
struct DomainLists {
    free: Vec<Vec<usize>>,
    bump: (usize, usize),
    live: usize,
}

impl Lists {
    fn domain(&mut self, id: usize) -> &mut DomainLists {
        if self.of.len() <= id {
            self.of.resize_with(id + 1, DomainLists::default);
        }
        &mut self.of[id]
    }
}

impl DomainLists {
    fn free_list(&mut self, class: u32) -> &mut Vec<usize> {
        if self.free.is_empty() {
            self.free.resize_with(CLASSES, Vec::new);
        }
        &mut self.free[(class - MIN_CLASS) as usize]
    }
}

fn class_of(size: usize) -> Option<u32> {
    let total = size.checked_add(HEADER)?;
    let class = total
        .checked_next_power_of_two()?
        .trailing_zeros()
        .max(MIN_CLASS);
    (class <= MAX_CLASS).then_some(class)
}

impl DomainHeap {
    pub fn new(domains: Arc<Domains>) -> DomainHeap {
        DomainHeap::with(domains, |lists| Guarded::Locked(Mutex::new(lists)))
    }

    /// A heap whose calls the caller serializes instead of a mutex.
    ///
    /// # Safety
    ///
    /// No two calls of this heap's methods overlap in time, whatever threads make them (for
    /// CPython's object and mem allocators: every call holds the GIL).
    pub unsafe fn new_serialized(domains: Arc<Domains>) -> DomainHeap {
        DomainHeap::with(domains, |lists| Guarded::Serialized(UnsafeCell::new(lists)))
    }

    fn with(domains: Arc<Domains>, guard: impl FnOnce(Lists) -> Guarded) -> DomainHeap {
        let first = Arc::new(Vec::new());
        DomainHeap {
            domains,
            chunks: AtomicPtr::new(Arc::as_ptr(&first).cast_mut()),
            lists: guard(Lists {
                of: Vec::new(),
                live: 0,
                versions: vec![first],
            }),
        }
    }

    /// The lists, for the length of one call (never two at once: no method takes them while
    /// holding them).
    fn lists(&self) -> ListsGuard<'_> {
        match &self.lists {
            Guarded::Locked(m) => {
                ListsGuard::Locked(m.lock().unwrap_or_else(PoisonError::into_inner))
            }
            // SAFETY: calls on this heap never overlap (`new_serialized`'s contract), and
            // within one call the lists are taken once: this is the only reference.
            Guarded::Serialized(cell) => ListsGuard::Serialized(unsafe { &mut *cell.get() }),
        }
    }

    pub fn domains(&self) -> &Arc<Domains> {
        &self.domains
    }

    /// Blocks allocated and not freed.
    pub fn live_blocks(&self) -> usize {
        self.lists().live
    }

    /// Blocks of `id` allocated and not freed: none means nothing anywhere can point into
    /// its memory (every block it had was given back).
    pub fn live_blocks_of(&self, id: DomainId) -> usize {
        self.lists().of.get(id.0).map_or(0, |d| d.live)
    }

    /// Whether `ptr` points into this heap's memory.
    pub fn owns(&self, ptr: *const u8) -> bool {
        self.owner(ptr).is_some()
    }

    /// The domain whose memory `ptr` points into, if it is this heap's.
    pub fn owner(&self, ptr: *const u8) -> Option<DomainId> {
        owner_in(self.chunks(), ptr)
    }

    fn chunks(&self) -> &[(usize, usize, usize)] {
        // SAFETY: the pointer is that of a version in `Lists::versions`, which holds each
        // version until the heap is dropped and never changes one; published with `Release`
        // after it was built.
        unsafe { &*self.chunks.load(Ordering::Acquire) }
    }

    /// The chunks as they are now, for many [`Owners::owner`] lookups.
    pub fn owners(&self) -> Owners {
        let lists = self.lists();
        Owners(lists.versions.last().cloned().unwrap_or_default())
    }

    /// `size` bytes of zeroed memory in domain `id` (null when the domain's memory cannot
    /// grow), 16-byte aligned.
    ///
    /// # Safety
    ///
    /// The calling thread is inside `id`'s gate or has every key open: the header is written
    /// here.
    pub unsafe fn alloc(&self, id: DomainId, size: usize) -> *mut u8 {
        let Some(class) = class_of(size) else {
            return std::ptr::null_mut();
        };
        let Some(block) = self.block(id, class) else {
            return std::ptr::null_mut();
        };
        let header = block as *mut u64;
        // SAFETY: `block` is the start of a block of `1 << class >= 32` bytes of `id`'s
        // memory, 16-byte aligned, which the caller can write (its key is open).
        unsafe {
            header.write(u64::from(class));
            header.add(1).write(id.0 as u64);
        }
        (block + HEADER) as *mut u8
    }

    /// A zeroed block of `id` of class `class`: reused, carved from the domain's chunk, or a
    /// chunk of its own.
    fn block(&self, id: DomainId, class: u32) -> Option<usize> {
        let bytes = 1usize << class;
        let mut guard = self.lists();
        let lists = &mut *guard;
        lists.live += 1;
        let domain = lists.domain(id.0);
        domain.live += 1;
        if let Some(block) = domain.free_list(class).pop() {
            return Some(block);
        }
        let (next, end) = domain.bump;
        let block = if bytes >= CHUNK / 2 {
            self.chunk(&mut lists.versions, id, bytes)
        } else if next + bytes <= end {
            lists.domain(id.0).bump = (next + bytes, end);
            Some(next)
        } else {
            let start = self.chunk(&mut lists.versions, id, CHUNK);
            if let Some(start) = start {
                lists.domain(id.0).bump = (start + bytes, start + CHUNK);
            }
            start
        };
        if block.is_none() {
            lists.live -= 1;
            lists.domain(id.0).live -= 1;
        }
        block
    }

    /// A new chunk of `id`'s memory, added to a new version of the chunk list (`versions`
    /// is `lists`' own: this runs with it locked).
    fn chunk(
        &self,
        versions: &mut Vec<Arc<ChunkList>>,
        id: DomainId,
        bytes: usize,
    ) -> Option<usize> {
        let start = self.domains.alloc(id, bytes).ok()?.as_ptr() as usize;
        let mut chunks = self.chunks().to_vec();
        let i = chunks.partition_point(|&(s, _, _)| s < start);
        chunks.insert(i, (start, start + bytes, id.0));
        let chunks = Arc::new(chunks);
        self.chunks
            .store(Arc::as_ptr(&chunks).cast_mut(), Ordering::Release);
        versions.push(chunks);
        Some(start)
    }

    /// Frees a block of this heap: zeroed, then kept for its domain's next allocation of its
    /// class.
    ///
    /// # Safety
    ///
    /// `ptr` came from [`DomainHeap::alloc`] or [`DomainHeap::realloc`] of this heap and was
    /// not freed since; nothing uses it after this call.
    pub unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: forwarded; no domain is known to be open.
        unsafe { self.free_in(ptr, None) }
    }

    /// [`DomainHeap::free`] by a thread inside `open`'s gate: a block of `open` is freed
    /// without touching PKRU (a function frees its own blocks all the time, and each PKRU
    /// write costs; under QEMU a TLB flush).
    ///
    /// # Safety
    ///
    /// As [`DomainHeap::free`]; `open`, if given, is a domain whose key this thread has open.
    pub unsafe fn free_in(&self, ptr: *mut u8, open: Option<DomainId>) {
        let block = ptr as usize - HEADER;
        let own = open.is_some() && self.owner(ptr) == open;
        let (class, owner) = with_every_key_unless(own, || {
            let header = block as *mut u64;
            // SAFETY: a live block of this heap (the caller's contract): its header is the 16
            // bytes before `ptr`, readable with every key open; the block is `1 << class`
            // bytes, all of which the block's owner gave up, so zeroing it is ours to do.
            unsafe {
                let class = header.read() as u32;
                let owner = header.add(1).read() as usize;
                header.write_bytes(0, (1usize << class) / 8);
                (class, owner)
            }
        });
        let mut lists = self.lists();
        lists.live = lists.live.saturating_sub(1);
        let domain = lists.domain(owner);
        domain.live = domain.live.saturating_sub(1);
        domain.free_list(class).push(block);
    }

    /// Resizes a block of this heap, keeping it in its owner's domain (a structure that grows
    /// stays where it was); null, with the block untouched, if the domain cannot grow.
    ///
    /// # Safety
    ///
    /// As [`DomainHeap::free`] for `ptr`; on success the caller uses the returned pointer
    /// instead.
    pub unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // SAFETY: forwarded; no domain is known to be open.
        unsafe { self.realloc_in(ptr, size, None) }
    }

    /// [`DomainHeap::realloc`] by a thread inside `open`'s gate (see [`DomainHeap::free_in`]).
    ///
    /// # Safety
    ///
    /// As [`DomainHeap::free_in`].
    pub unsafe fn realloc_in(&self, ptr: *mut u8, size: usize, open: Option<DomainId>) -> *mut u8 {
        let block = ptr as usize - HEADER;
        let own = open.is_some() && self.owner(ptr) == open;
        let (class, owner) = with_every_key_unless(own, || {
            // SAFETY: a live block's header, as in `free`.
            unsafe {
                let header = block as *const u64;
                (header.read() as u32, header.add(1).read() as usize)
            }
        });
        if class_of(size).is_some_and(|c| c <= class) {
            return ptr;
        }
        let owner = DomainId(owner);
        let grown = with_every_key_unless(own, || {
            // SAFETY: every key is open on this thread (the contract of `alloc`); the new block
            // holds `size > (1 << class) - HEADER` bytes, so the old block's payload fits.
            unsafe {
                let grown = self.alloc(owner, size);
                if !grown.is_null() {
                    grown.copy_from_nonoverlapping(ptr, (1usize << class) - HEADER);
                }
                grown
            }
        });
        if !grown.is_null() {
            // SAFETY: forwarded from the caller; the payload now lives in `grown`.
            unsafe { self.free_in(ptr, open) };
        }
        grown
    }
}

/// Which domain a pointer's block belongs to, as [`DomainHeap::owners`] found the heap: a
/// lock-free lookup for walks over many objects (the Python hand-off copy). Chunks are never
/// given back, so every block that existed when the snapshot was taken is classified right;
/// a chunk added since is not in it.
#[derive(Clone, Default)]
pub struct Owners(Arc<ChunkList>);

impl Owners {
    /// The domain whose memory `ptr` points into, if it was this heap's then.
    #[inline]
    pub fn owner(&self, ptr: *const u8) -> Option<DomainId> {
        owner_in(&self.0, ptr)
    }
}

fn owner_in(chunks: &[(usize, usize, usize)], ptr: *const u8) -> Option<DomainId> {
    let addr = ptr as usize;
    // Chunks do not overlap: the last starts last and ends last. Most pointers asked about
    // are not the heap's; many fall outside its whole span.
    match (chunks.first(), chunks.last()) {
        (Some(first), Some(last)) if first.0 <= addr && addr < last.1 => {}
        _ => return None,
    }
    let i = chunks.partition_point(|&(start, _, _)| start <= addr);
    (i > 0 && addr < chunks[i - 1].1).then(|| DomainId(chunks[i - 1].2))
}

/// Runs `f` with every protection key open on this thread, then restores its PKRU; or just
/// `f` when `open` (the keys `f` needs are open already).
fn with_every_key_unless<R>(open: bool, f: impl FnOnce() -> R) -> R {
    // Without protection keys (unprotected domains) every page is reachable anyway.
    if open || !crate::is_supported() {
        return f();
    }
    let mask = current_mask();
    if mask == ProtectionMask::all() {
        return f();
    }
    allow(ProtectionMask::all());
    let out = f();
    allow(mask);
    out
}
