//! Usable-CPU detection against fixture trees shaped like `/proc` and `/sys/fs/cgroup`.

use std::path::{Path, PathBuf};

use lanes::cpus::{CpuReport, report_at};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(name)
}

#[test]
fn v2_quota_is_the_tightest_along_the_path() {
    assert_eq!(
        report_at(&fixture("v2-quota"), 8),
        CpuReport {
            affinity: 8,
            quota: Some(1.5),
            usable: 2
        }
    );
}

#[test]
fn v2_max_means_no_limit() {
    let r = report_at(&fixture("v2-max"), 6);
    assert_eq!((r.quota, r.usable), (None, 6));
}

#[test]
fn v2_namespaced_root() {
    assert_eq!(report_at(&fixture("v2-namespaced"), 16).usable, 2);
}

#[test]
fn v1_cfs_quota() {
    let r = report_at(&fixture("v1-quota"), 32);
    assert_eq!((r.quota, r.usable), (Some(3.0), 3));
}

#[test]
fn v1_unlimited_and_affinity_wins() {
    let r = report_at(&fixture("v1-unlimited"), 2);
    assert_eq!((r.quota, r.usable), (None, 2));
}

#[test]
fn missing_files_fall_back_to_affinity() {
    assert_eq!(report_at(Path::new("/nonexistent"), 3).usable, 3);
}

#[test]
fn this_machine() {
    let r = lanes::cpus::usable();
    assert!(r.usable >= 1 && r.usable <= r.affinity);
}
