//! The import of a workflow's Python modules, timed on their own: what a cold start spends on
//! the workflow's code rather than on faastlane. Each sample is a fresh `python3 -X importtime`
//! importing the module from its directory; the sample is the module's cumulative import time
//! as CPython reports it (its own code and everything it imports that was not loaded yet).

use std::path::Path;
use std::process::Command;

use super::PlatformBenchError;

/// `runs` import times of `module`, in microseconds, and the interpreter's version and path.
pub(super) struct ImportTimes {
    pub version: String,
    /// `sys.executable`: the interpreter itself, not a wrapper such as pyenv's shim.
    pub executable: String,
    pub samples: Vec<f64>,
}

/// The interpreter the bench runs; the same `python3` the build embedded when it is first on
/// the `PATH` (the report names its version).
const PYTHON: &str = "python3";

pub(super) fn import_times(
    dir: &Path,
    module: &str,
    runs: usize,
) -> Result<ImportTimes, PlatformBenchError> {
    let mut samples = Vec::with_capacity(runs);
    let mut version = String::new();
    let mut executable = String::new();
    for _ in 0..runs.max(1) {
        let output = Command::new(PYTHON)
            .args(["-X", "importtime", "-c"])
            .arg(format!(
                "import sys; import {module}; print(sys.version.split()[0]); print(sys.executable)"
            ))
            .current_dir(dir)
            .output()
            .map_err(|source| PlatformBenchError::Spawn {
                program: PYTHON.to_owned(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(PlatformBenchError::Protocol(format!(
                "{PYTHON} could not import {module} from {}: {stderr}",
                dir.display()
            )));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut lines = stdout.lines();
        version = lines.next().unwrap_or_default().trim().to_owned();
        executable = lines.next().unwrap_or_default().trim().to_owned();
        let cumulative = cumulative_us(&stderr, module).ok_or_else(|| {
            PlatformBenchError::Protocol(format!(
                "{PYTHON} -X importtime printed no line for {module}"
            ))
        })?;
        samples.push(cumulative);
    }
    Ok(ImportTimes {
        version,
        executable,
        samples,
    })
}

/// `runs` wall times, in microseconds, of `EXECUTABLE -c pass` from spawn to exit: what the
/// interpreter's own start costs on this machine (faastlane's Python cold start embeds one).
pub(super) fn interpreter_starts(
    executable: &str,
    runs: usize,
) -> Result<Vec<f64>, PlatformBenchError> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = std::time::Instant::now();
        let status = Command::new(executable)
            .args(["-c", "pass"])
            .status()
            .map_err(|source| PlatformBenchError::Spawn {
                program: executable.to_owned(),
                source,
            })?;
        if !status.success() {
            return Err(PlatformBenchError::Protocol(format!(
                "{executable} -c pass failed: {status}"
            )));
        }
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(samples)
}

/// The cumulative microseconds of `module` in `-X importtime`'s report, whose lines read
/// `import time: <self us> | <cumulative us> | <indented name>`.
fn cumulative_us(report: &str, module: &str) -> Option<f64> {
    report.lines().find_map(|line| {
        let mut fields = line.strip_prefix("import time:")?.split('|');
        let _self_us = fields.next()?;
        let cumulative = fields.next()?.trim().parse().ok()?;
        (fields.next()?.trim() == module).then_some(cumulative)
    })
}

#[cfg(test)]
mod tests {
    use super::cumulative_us;

    #[test]
    fn the_module_s_cumulative_time_is_read_from_its_own_line() {
        let report = "import time: self [us] | cumulative | imported package\n\
                      import time:       310 |        310 |   json.decoder\n\
                      import time:        91 |        401 | json\n\
                      import time:        52 |        453 | noop\n";
        assert_eq!(cumulative_us(report, "noop"), Some(453.0));
        assert_eq!(cumulative_us(report, "json"), Some(401.0));
        assert_eq!(cumulative_us(report, "decoder"), None);
    }
}
