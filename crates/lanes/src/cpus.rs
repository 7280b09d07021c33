//! How many CPUs this process may use: the smaller of its affinity mask and its cgroup's CPU
//! quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, on the process's own
//! cgroup and every ancestor up to the mount point). A container limited to 2 CPUs on a
//! 64-core host must plan for 2.

use std::path::{Path, PathBuf};

/// What the CPU count was derived from.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuReport {
    /// CPUs in the affinity mask.
    pub affinity: usize,
    /// The tightest cgroup quota, in CPUs (1.5 for `150000 100000`); `None`: no quota.
    pub quota: Option<f64>,
    /// `min(affinity, ceil(quota))`, at least 1.
    pub usable: usize,
}

/// The CPUs this process may use, from `/proc` and `/sys/fs/cgroup`.
pub fn usable() -> CpuReport {
    let affinity = rustix::thread::sched_getaffinity(None)
        .map(|set| set.count() as usize)
        .ok()
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1);
    report_at(Path::new("/"), affinity)
}

/// [`usable`] with `/proc` and `/sys` read under `root` (tests use fixture trees).
pub fn report_at(root: &Path, affinity: usize) -> CpuReport {
    let read = |p: &str| std::fs::read_to_string(root.join(p.trim_start_matches('/'))).ok();
    let quota = match (read("/proc/self/cgroup"), read("/proc/self/mountinfo")) {
        (Some(cgroup), Some(mountinfo)) => cgroup_quota(root, &cgroup, &mountinfo),
        _ => None,
    };
    CpuReport {
        affinity,
        quota,
        usable: combine(affinity, quota),
    }
}

/// `min(affinity, ceil(quota))`, at least 1. A fractional quota rounds up: 1.5 CPUs of time
/// still let two processes make progress at once.
pub fn combine(affinity: usize, quota: Option<f64>) -> usize {
    let by_quota = quota.map_or(usize::MAX, |q| (q.ceil() as usize).max(1));
    affinity.min(by_quota).max(1)
}

/// A cgroup v2 `cpu.max` line: `max 100000` (no limit) or `150000 100000` (1.5 CPUs).
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then(|| quota / period)
}

/// cgroup v1 `cpu.cfs_quota_us` (`-1`: no limit) and `cpu.cfs_period_us`.
pub fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: i64 = period.trim().parse().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// The process's cgroup paths from `/proc/self/cgroup`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupPaths {
    /// The unified (v2) hierarchy's path (`0::/path`).
    pub unified: Option<String>,
    /// The v1 hierarchy that has the `cpu` controller.
    pub cpu_v1: Option<String>,
}

pub fn parse_proc_cgroup(text: &str) -> CgroupPaths {
    let mut out = CgroupPaths::default();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            out.unified = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "cpu") {
            out.cpu_v1 = Some(path.to_string());
        }
    }
    out
}

/// A cgroup filesystem mount: the hierarchy path it shows (`root`) and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub root: String,
    pub mount_point: String,
}

/// The cgroup2 mount and the v1 mount carrying the `cpu` controller, from
/// `/proc/self/mountinfo`.
pub fn parse_mountinfo(text: &str) -> (Option<Mount>, Option<Mount>) {
    let (mut v2, mut v1) = (None, None);
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        let mount = Mount {
            root: unescape(left[3]),
            mount_point: unescape(left[4]),
        };
        match right[0] {
            "cgroup2" if v2.is_none() => v2 = Some(mount),
            "cgroup" if v1.is_none() && right[2].split(',').any(|o| o == "cpu") => v1 = Some(mount),
            _ => {}
        }
    }
    (v2, v1)
}

/// mountinfo escapes spaces and the like as `\040`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(code) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of cgroup `path` under `mount`, or `None` when the path is outside what
/// the mount shows.
fn cgroup_dir(root: &Path, mount: &Mount, path: &str) -> Option<PathBuf> {
    let relative = if mount.root == "/" {
        path
    } else {
        path.strip_prefix(mount.root.as_str())?
    };
    let mut dir = root.join(mount.mount_point.trim_start_matches('/'));
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
    }
    Some(dir)
}

/// The tightest quota along `dir` and its ancestors up to the mount point.
fn tightest(dir: PathBuf, stop: &Path, read: impl Fn(&Path) -> Option<f64>) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut at = Some(dir.as_path());
    while let Some(d) = at {
        if let Some(q) = read(d) {
            best = Some(best.map_or(q, |b| b.min(q)));
        }
        if d == stop {
            break;
        }
        at = d.parent().filter(|p| p.starts_with(stop));
    }
    best
}

fn cgroup_quota(root: &Path, cgroup: &str, mountinfo: &str) -> Option<f64> {
    let paths = parse_proc_cgroup(cgroup);
    let (v2, v1) = parse_mountinfo(mountinfo);
    let mut quotas = Vec::new();
    if let (Some(path), Some(mount)) = (&paths.unified, &v2)
        && let Some(dir) = cgroup_dir(root, mount, path)
    {
        let stop = root.join(mount.mount_point.trim_start_matches('/'));
        quotas.extend(tightest(dir, &stop, |d| {
            std::fs::read_to_string(d.join("cpu.max"))
                .ok()
                .and_then(|t| parse_cpu_max(&t))
        }));
    }
    if let (Some(path), Some(mount)) = (&paths.cpu_v1, &v1)
        && let Some(dir) = cgroup_dir(root, mount, path)
    {
        let stop = root.join(mount.mount_point.trim_start_matches('/'));
        quotas.extend(tightest(dir, &stop, |d| {
            let quota = std::fs::read_to_string(d.join("cpu.cfs_quota_us")).ok()?;
            let period = std::fs::read_to_string(d.join("cpu.cfs_period_us")).ok()?;
            parse_cfs(&quota, &period)
        }));
    }
    quotas.into_iter().reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_lines() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("200000 100000"), Some(2.0));
        assert_eq!(parse_cpu_max("50000"), Some(0.5));
        assert_eq!(parse_cpu_max("garbage"), None);
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn cfs_quota_and_period() {
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("250000\n", "100000\n"), Some(2.5));
        assert_eq!(parse_cfs("x", "100000"), None);
    }

    #[test]
    fn quota_rounds_up_and_affinity_caps() {
        assert_eq!(combine(8, Some(1.5)), 2);
        assert_eq!(combine(8, Some(0.2)), 1);
        assert_eq!(combine(2, Some(16.0)), 2);
        assert_eq!(combine(4, None), 4);
        assert_eq!(combine(0, None), 1);
    }

    #[test]
    fn proc_cgroup_lines() {
        let v1 = "12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/\n";
        assert_eq!(
            parse_proc_cgroup(v1),
            CgroupPaths {
                unified: Some("/".into()),
                cpu_v1: Some("/docker/abc".into())
            }
        );
        assert_eq!(parse_proc_cgroup("0::/user.slice/x.scope\n").cpu_v1, None);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }
}
