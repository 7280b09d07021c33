//! The domain heap that CPython's allocators are routed to: blocks in their domain, found by
//! address, zeroed when freed, reused only by their own domain, kept in it when they grow.
//! Needs PKU (skips without, fails under `MPK_REQUIRE=1`).

use std::sync::Arc;

use mpk::{DomainHeap, Domains, ProtectionMask};

#[test]
fn blocks_live_in_their_domain_and_are_zeroed_when_freed() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Arc::new(Domains::new().expect("domains"));
    let (a, b) = (domains.create("a"), domains.create("b"));
    let heap = DomainHeap::new(Arc::clone(&domains));
    mpk::allow(ProtectionMask::all());

    let gate = domains.enter(a).expect("enter a");
    // SAFETY: inside a's gate.
    let p = unsafe { heap.alloc(a, 40) };
    assert!(!p.is_null() && (p as usize).is_multiple_of(16));
    // SAFETY: 40 bytes of a's memory, its key open.
    unsafe { p.copy_from_nonoverlapping(b"Jane Roe, 555-0100".as_ptr(), 18) };
    gate.leave().expect("a's own memory");
    assert!(heap.owns(p) && !heap.owns(Box::into_raw(Box::new(0u64)).cast()));
    assert_eq!(heap.live_blocks(), 1);

    // Another domain cannot read it.
    let gate = domains.enter(b).expect("enter b");
    // SAFETY: a valid address (a's block); the read faults and is let through.
    let first = unsafe { p.read_volatile() };
    let err = gate.leave().expect_err("b read a's block");
    assert_eq!(err.touched.as_deref(), Some("a"));
    assert_eq!(first, b'J');

    // Growing keeps the block in a (from a thread outside any domain); the payload moves.
    // SAFETY: a live block of this heap.
    let q = unsafe { heap.realloc(p, 4000) };
    assert!(heap.owns(q) && q != p);
    // SAFETY: every key is open here; 18 bytes of the grown block.
    let moved = unsafe { std::slice::from_raw_parts(q, 18) };
    assert_eq!(moved, b"Jane Roe, 555-0100");
    let gate = domains.enter(b).expect("enter b");
    // SAFETY: as above.
    let _ = unsafe { q.read_volatile() };
    let err = gate.leave().expect_err("the grown block is still a's");
    assert_eq!(err.touched.as_deref(), Some("a"));

    // Freed from a thread in b's domain (a collection would do that): zeroed, and a's next
    // block of that class is the same memory, reading zeros.
    let gate = domains.enter(b).expect("enter b");
    // SAFETY: a live block, not used after.
    unsafe { heap.free(q) };
    gate.leave()
        .expect("free opens the owner's key itself: no violation");
    let gate = domains.enter(a).expect("enter a");
    // SAFETY: inside a's gate.
    let r = unsafe { heap.alloc(a, 4000) };
    assert_eq!(r, q, "a reuses its freed block");
    // SAFETY: 4000 bytes of a's memory.
    let reused = unsafe { std::slice::from_raw_parts(r, 4000) };
    assert!(reused.iter().all(|&x| x == 0));
    gate.leave().expect("a's own memory");

    // b's blocks never come from a's free lists.
    let gate = domains.enter(b).expect("enter b");
    // SAFETY: inside b's gate.
    let s = unsafe { heap.alloc(b, 40) };
    // SAFETY: b's own block.
    unsafe { s.write(1) };
    gate.leave().expect("b's own memory");
    assert_ne!(s, p);
}

/// `Domains::unprotected` runs the same heap where PKU is absent (here natively): blocks in
/// their domain, found by address (also through a snapshot), keys multiplexed, nothing
/// tagged, no PKRU written.
#[test]
fn unprotected_domains_run_the_heap_without_keys() {
    let domains = Arc::new(Domains::unprotected(1));
    assert!(!domains.enforced());
    let (a, b) = (domains.create("a"), domains.create("b"));
    let heap = DomainHeap::new(Arc::clone(&domains));
    let gate = domains.enter(a).expect("enter a");
    // SAFETY: inside a's gate (nothing is enforced).
    let p = unsafe { heap.alloc(a, 40) };
    gate.leave().expect("no violation without keys");
    let owners = heap.owners();
    let outside = Box::into_raw(Box::new(0u64));
    assert_eq!(owners.owner(p), heap.owner(p));
    assert!(owners.owner(p).is_some() && owners.owner(outside.cast()).is_none());
    // One key, two domains: b takes a's.
    let gate = domains.enter(b).expect("enter b");
    // SAFETY: b's gate; an unprotected domain's memory is reachable from anywhere.
    let q = unsafe { heap.alloc(b, 40) };
    gate.leave().expect("no violation");
    assert_eq!(domains.recycled(), 1);
    assert_ne!(heap.owner(q), heap.owner(p));
    // A snapshot does not see chunks made after it; q's chunk is new (b's first).
    assert!(owners.owner(q).is_none() && heap.owners().owner(q).is_some());
    // SAFETY: live blocks of this heap, not used after.
    unsafe {
        heap.free(p);
        heap.free(q);
        drop(Box::from_raw(outside));
    }
    assert_eq!(heap.live_blocks(), 0);
}

/// A heap whose caller serializes its calls (CPython's GIL, for the mem and object
/// allocators) keeps the same books as the locked one: blocks by domain, found by address,
/// counted per domain, zeroed and reused when freed.
#[test]
fn a_serialized_heap_keeps_the_same_books() {
    let domains = Arc::new(Domains::unprotected(2));
    let (a, b) = (domains.create("a"), domains.create("b"));
    // SAFETY: this test is the heap's only user, on one thread: no two calls overlap.
    let heap = unsafe { DomainHeap::new_serialized(Arc::clone(&domains)) };
    // SAFETY: unprotected domains: every domain's memory is reachable from here.
    let (p, q, r) = unsafe { (heap.alloc(a, 40), heap.alloc(a, 5000), heap.alloc(b, 40)) };
    assert_eq!(heap.owner(p), heap.owner(q));
    assert_ne!(heap.owner(p), heap.owner(r));
    assert_eq!(
        (
            heap.live_blocks(),
            heap.live_blocks_of(a),
            heap.live_blocks_of(b)
        ),
        (3, 2, 1)
    );
    // SAFETY: 40 bytes of a live block.
    unsafe { p.copy_from_nonoverlapping(b"Jane Roe".as_ptr(), 8) };
    // SAFETY: live blocks of this heap, not used after.
    unsafe {
        heap.free(p);
        heap.free(q);
    }
    assert_eq!((heap.live_blocks_of(a), heap.live_blocks_of(b)), (0, 1));
    // SAFETY: as above; a's next block of p's class is p's memory, zeroed.
    let again = unsafe { heap.alloc(a, 40) };
    assert_eq!(again, p);
    // SAFETY: 8 bytes of a live block.
    assert_eq!(unsafe { std::slice::from_raw_parts(again, 8) }, [0; 8]);
    // SAFETY: live blocks, not used after.
    unsafe {
        heap.free(again);
        heap.free(r);
    }
    assert_eq!(heap.live_blocks(), 0);
}
