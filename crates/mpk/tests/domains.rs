//! Protection domains on real protection keys. They need a CPU with PKU: on one without,
//! they skip, unless `MPK_REQUIRE=1` (set by `scripts/test-mpk-qemu.sh` inside its QEMU
//! guest, whose emulated CPU has PKU), where a missing PKU fails them.

use std::ptr::NonNull;

use mpk::{Domains, ProtectionKey, ProtectionMask, Violation};

fn write(ptr: NonNull<u8>, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        // SAFETY: the tests write inside allocations at least `bytes.len()` long.
        unsafe { ptr.as_ptr().add(i).write_volatile(*b) };
    }
}

fn read(ptr: NonNull<u8>, len: usize) -> Vec<u8> {
    // SAFETY: the tests read inside allocations at least `len` long.
    (0..len)
        .map(|i| unsafe { ptr.as_ptr().add(i).read_volatile() })
        .collect()
}

#[test]
fn detection_agrees_with_key_allocation() {
    let _lock = mpk::keys_lock();
    let key = ProtectionKey::alloc();
    assert_eq!(key.is_ok(), mpk::is_supported(), "{key:?}");
    if let Ok(key) = key {
        assert!((1..16).contains(&key.id()));
    }
}

#[test]
fn a_domain_reaches_its_own_and_shared_memory() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let a = domains.create("a");
    let p = domains.alloc(a, 16).expect("alloc");
    let shared = vec![7u8; 16];
    let gate = domains.enter(a).expect("enter");
    write(p, b"secret of a");
    assert_eq!(read(p, 11), b"secret of a");
    assert_eq!(std::hint::black_box(&shared)[3], 7);
    gate.leave().expect("no violation");
    let gate = domains.enter(a).expect("enter again");
    assert_eq!(read(p, 11), b"secret of a");
    gate.leave().expect("no violation");
}

#[test]
fn cross_domain_read_and_write_are_violations() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let (a, b) = (domains.create("detect_phi"), domains.create("analytics"));
    let secret = domains.alloc(a, 64).expect("alloc");
    let gate = domains.enter(a).expect("enter a");
    write(secret, b"Jane Roe 555-0100");
    gate.leave().expect("a's own writes");

    let key_a = domains.key_of(a).expect("a has a key");
    let gate = domains.enter(b).expect("enter b");
    let stolen = read(secret, 8);
    let err = gate.leave().expect_err("reading a's memory from b");
    assert_ne!(err.ip, 0, "the faulting instruction is recorded");
    assert_eq!(
        err,
        Violation {
            domain: "analytics".into(),
            touched: Some("detect_phi".into()),
            addr: secret.as_ptr() as usize,
            key: key_a,
            write: false,
            // One fault per byte read: the key is closed again after each access.
            count: 8,
            ip: err.ip,
            writes_kept: false,
        }
    );
    assert!(
        err.to_string()
            .contains("domain 'analytics' read the memory of domain 'detect_phi' at 0x"),
        "{err}"
    );
    // Each access was let through (see `violation`): the result is what the gate's owner
    // must throw away.
    assert_eq!(stolen, b"Jane Roe");

    let gate = domains.enter(b).expect("enter b");
    write(secret.map_addr(|p| p.saturating_add(4)), b"Doe!");
    let err = gate.leave().expect_err("writing a's memory from b");
    assert_eq!(err.addr, secret.as_ptr() as usize + 4);
    assert!(err.write);
    assert_eq!(err.count, 4);
    assert!(!err.writes_kept);
    assert_eq!(err.touched.as_deref(), Some("detect_phi"));

    // The next gate starts clean, and the key b was granted by the handler is closed again.
    let gate = domains.enter(b).expect("enter b");
    assert!(!mpk::current_mask().allows(key_a));
    gate.leave().expect("nothing touched");
    // b's write was undone when b left its gate.
    let gate = domains.enter(a).expect("enter a");
    assert_eq!(read(secret, 17), b"Jane Roe 555-0100");
    gate.leave().expect("a's own reads");
}

#[test]
fn writes_past_the_undo_buffer_are_reported_as_kept() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let (a, b) = (domains.create("a"), domains.create("b"));
    let pages = mpk::violation::UNDO_PAGES + 1;
    let p = domains.alloc(a, pages * 4096).expect("alloc");
    domains
        .enter(b)
        .expect("b")
        .leave()
        .expect("nothing touched");
    let gate = domains.enter(b).expect("enter b");
    for i in 0..pages {
        write(p.map_addr(|a| a.saturating_add(i * 4096)), b"w");
    }
    let err = gate.leave().expect_err("writes to a");
    assert!(err.write);
    assert_eq!(err.count as usize, pages);
    assert!(err.writes_kept, "one page more than the undo buffer holds");
    let gate = domains.enter(a).expect("enter a");
    let first: Vec<u8> = (0..pages)
        .map(|i| read(p.map_addr(|a| a.saturating_add(i * 4096)), 1)[0])
        .collect();
    gate.leave().expect("own memory");
    // The first UNDO_PAGES pages were restored, the last write stayed.
    let mut expected = vec![0u8; pages];
    expected[pages - 1] = b'w';
    assert_eq!(first, expected);
}

#[test]
fn seventeen_domains_share_the_keys() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    assert!(domains.keys() < 17, "{} keys", domains.keys());
    let ids: Vec<_> = (0..17).map(|i| domains.create(format!("f{i}"))).collect();
    let ptrs: Vec<_> = ids
        .iter()
        .map(|&id| domains.alloc(id, 32).expect("alloc"))
        .collect();
    for (i, (&id, &p)) in ids.iter().zip(&ptrs).enumerate() {
        let gate = domains.enter(id).expect("enter");
        write(p, format!("secret {i:02}").as_bytes());
        gate.leave().expect("own memory");
    }
    assert!(domains.recycled() >= 2, "recycled {}", domains.recycled());
    // Every domain still finds its own data, whichever key it holds now...
    for (i, (&id, &p)) in ids.iter().zip(&ptrs).enumerate() {
        let gate = domains.enter(id).expect("enter");
        assert_eq!(read(p, 9), format!("secret {i:02}").as_bytes());
        gate.leave().expect("own memory");
    }
    // ...and none reaches another's, parked or keyed.
    for (i, &id) in ids.iter().enumerate() {
        let other = ptrs[(i + 1) % ptrs.len()];
        let gate = domains.enter(id).expect("enter");
        let _ = read(other, 1);
        let err = gate.leave().expect_err("another domain's memory");
        assert_eq!(err.touched, Some(format!("f{}", (i + 1) % ptrs.len())));
    }
}

#[test]
fn a_recycled_key_and_arena_read_back_as_zeros() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    // One key: the second domain must get the first one's key.
    let domains = Domains::with_max_keys(1).expect("domains");
    let a = domains.create("a");
    let p = domains.alloc(a, 4096).expect("alloc");
    let gate = domains.enter(a).expect("enter");
    write(p, b"leftover of a");
    gate.leave().expect("own memory");
    let key_a = domains.key_of(a);
    domains.destroy(a).expect("destroy");

    let b = domains.create("b");
    let q = domains.alloc(b, 4096).expect("alloc");
    let gate = domains.enter(b).expect("enter");
    // Same key, same pages: without scrubbing b would read a's leftovers here.
    assert_eq!(domains.key_of(b), key_a);
    assert_eq!(q, p);
    assert_eq!(read(q, 13), vec![0u8; 13]);
    // Reading it through the old pointer is b's own memory now, and zero too.
    assert_eq!(read(p, 4096), vec![0u8; 4096]);
    gate.leave().expect("b's own memory");
}

#[test]
fn a_reset_domain_reads_back_as_zeros() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let a = domains.create("a");
    let p = domains.alloc(a, 16).expect("alloc");
    let big = domains
        .alloc(a, 3 * mpk::ARENA_BYTES)
        .expect("a second arena");
    let gate = domains.enter(a).expect("enter");
    write(p, b"call 1 secret");
    write(big, b"more");
    gate.leave().expect("own memory");
    domains.reset(a).expect("reset");
    // Allocation starts again at the first arena, which reads as zeros.
    assert_eq!(domains.alloc(a, 16).expect("alloc"), p);
    let gate = domains.enter(a).expect("enter");
    assert_eq!(read(p, 13), vec![0u8; 13]);
    gate.leave().expect("own memory");
    // The second arena went back to the spares: parked, no longer a's.
    let gate = domains.enter(a).expect("enter");
    let _ = read(big, 1);
    let err = gate.leave().expect_err("a spare arena");
    assert_eq!(err.touched, None);
}

#[test]
fn a_fresh_entry_zeroes_unless_another_thread_is_inside() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let a = domains.create("a");
    let p = domains.alloc(a, 8).expect("alloc");
    let gate = domains.enter(a).expect("enter");
    write(p, b"in use");
    let addr = p.as_ptr() as usize;
    std::thread::scope(|s| {
        s.spawn(|| {
            // Another thread is inside a: entered as it is, nothing zeroed under it.
            let inner = domains.enter_fresh(a).expect("enter fresh");
            let p = NonNull::new(addr as *mut u8).expect("non-null");
            assert_eq!(read(p, 6), b"in use");
            inner.leave().expect("own memory");
        });
    });
    gate.leave().expect("own memory");
    let gate = domains.enter_fresh(a).expect("enter fresh");
    assert_eq!(read(p, 6), vec![0u8; 6]);
    gate.leave().expect("own memory");
}

#[test]
fn an_evicted_domain_is_parked_not_shared() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::with_max_keys(1).expect("domains");
    let (a, b) = (domains.create("a"), domains.create("b"));
    let p = domains.alloc(a, 8).expect("alloc");
    let gate = domains.enter(a).expect("enter");
    write(p, b"aaaa");
    gate.leave().expect("own memory");
    let key = domains.key_of(a);
    let gate = domains.enter(b).expect("enter b takes a's key");
    assert_eq!(domains.key_of(b), key);
    assert_eq!(domains.key_of(a), None);
    let _ = read(p, 1);
    let err = gate.leave().expect_err("a's parked memory");
    assert_eq!(err.touched.as_deref(), Some("a"));
    assert_ne!(Some(err.key), key, "a's pages carry the parking key");
    let gate = domains.enter(a).expect("a again");
    assert_eq!(read(p, 4), b"aaaa");
    gate.leave().expect("own memory");
}

#[test]
fn both_gates_of_a_key_cannot_be_taken() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::with_max_keys(1).expect("domains");
    let (a, b) = (domains.create("a"), domains.create("b"));
    let gate = domains.enter(a).expect("enter a");
    assert!(matches!(domains.enter(b), Err(mpk::Error::AllKeysInUse)));
    assert!(matches!(
        domains.destroy(a),
        Err(mpk::Error::DomainInUse(_))
    ));
    gate.leave().expect("nothing touched");
    domains
        .enter(b)
        .expect("a left")
        .leave()
        .expect("nothing touched");
}

#[test]
fn a_fork_child_keeps_the_domain_and_its_keys() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let (a, b) = (domains.create("a"), domains.create("b"));
    let pa = domains.alloc(a, 8).expect("alloc");
    let pb = domains.alloc(b, 8).expect("alloc");
    domains
        .enter(b)
        .expect("b")
        .leave()
        .expect("nothing touched");
    let gate = domains.enter(a).expect("enter a");
    write(pa, b"a");
    let mask = mpk::current_mask();
    // SAFETY: the child only reads memory, reads PKRU and watches for a fault (no locks, no
    // allocation) before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut code = 0;
        if mpk::current_mask() != mask {
            code |= 1;
        }
        // SAFETY: an 8-byte allocation of domain a.
        if unsafe { pa.as_ptr().read_volatile() } != b'a' {
            code |= 2;
        }
        let watch = mpk::violation::watch();
        // SAFETY: an 8-byte allocation of domain b: faults, and the handler lets it through.
        let _ = unsafe { pb.as_ptr().read_volatile() };
        if watch.finish().map(|f| f.first.addr) != Some(pb.as_ptr() as usize) {
            code |= 4;
        }
        // SAFETY: `_exit` ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    gate.leave().expect("nothing touched");
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: PKRU, 2: own memory, 4: fault"
    );
}

#[test]
fn a_fault_outside_a_gate_still_kills() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let a = domains.create("a");
    let p = domains.alloc(a, 8).expect("alloc");
    domains
        .enter(a)
        .expect("a")
        .leave()
        .expect("nothing touched");
    mpk::allow(ProtectionMask::shared_only());
    // SAFETY: the child touches a's memory outside any gate and dies of it.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: an 8-byte allocation; the access faults.
        let _ = unsafe { p.as_ptr().read_volatile() };
        // SAFETY: `_exit` is always sound.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        "child status {status:#x}"
    );
}

#[test]
fn a_stack_overflow_still_reaches_rusts_handler() {
    let _lock = mpk::keys_lock();
    if !mpk::required_or_skip() {
        return;
    }
    let _domains = Domains::new().expect("domains: the handler is installed");
    #[allow(unconditional_recursion, reason = "the point: overflow the stack")]
    fn deep(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 64]);
        deep(pad[3] + 1) + pad[7]
    }
    // SAFETY: the child overflows its stack and dies of it; it takes no lock first.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let _ = deep(0);
        // SAFETY: `_exit` is always sound.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    // Rust's handler recognises its guard page and aborts; without the chaining the child
    // would die of SIGSEGV.
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
        "child status {status:#x}"
    );
}
