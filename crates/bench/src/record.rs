//! What the suite reports: one [`Record`] per (suite, case, mode).

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// Which part of the suite a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Function interaction latency (one function returns, the next starts) by state size.
    Interaction,
    /// Parallel and Map states of N trivial branches.
    Fanout,
    /// End-to-end latency and throughput of the example applications.
    Apps,
}

impl Suite {
    pub const ALL: [Suite; 3] = [Suite::Interaction, Suite::Fanout, Suite::Apps];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Interaction => "interaction",
            Suite::Fanout => "fanout",
            Suite::Apps => "apps",
        }
    }
}

/// How the functions of a workflow run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// faastlane: every function a call in this process, state handed over as the same object.
    Faastlane,
    /// faastlane with Parallel/Map branches in forked process lanes.
    FaastlaneProcess,
    /// One long-lived process per function (a warm container), state through Redis.
    BaselineWarm,
    /// A fresh process per invocation (a cold container), state through Redis.
    BaselineCold,
}

impl Mode {
    pub const ALL: [Mode; 4] = [
        Mode::Faastlane,
        Mode::FaastlaneProcess,
        Mode::BaselineWarm,
        Mode::BaselineCold,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Faastlane => "faastlane",
            Mode::FaastlaneProcess => "faastlane-process",
            Mode::BaselineWarm => "baseline-warm",
            Mode::BaselineCold => "baseline-cold",
        }
    }

    pub fn is_baseline(self) -> bool {
        matches!(self, Mode::BaselineWarm | Mode::BaselineCold)
    }
}

/// Whether a case produced numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Not run, with the reason in `note` (a mode that is not available yet).
    Skipped,
    /// Ran and failed, with the error in `note`.
    Failed,
}

/// One measured case. Times are microseconds; `None` fields are JSON `null`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub suite: Suite,
    pub case: String,
    pub mode: Mode,
    /// The size of the state handed between functions (interaction suite).
    pub payload_bytes: Option<u64>,
    /// Branches of the fan-out (fanout suite; the FINRA variants).
    pub branches: Option<usize>,
    /// Executions measured (after warm-up).
    pub runs: usize,
    pub median_us: Option<f64>,
    pub p90_us: Option<f64>,
    /// Executions per second over the measured runs (`None` for the interaction suite).
    pub throughput_per_s: Option<f64>,
    /// Peak resident memory of every process of the mode (see `memory.rs`).
    pub peak_rss_kb: Option<u64>,
    /// Clients executing at once (1: sequential).
    pub clients: usize,
    pub status: Status,
    /// Why a case was skipped or failed; what else a reader should know.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Record {
    /// A record with no numbers yet.
    pub fn new(suite: Suite, case: impl Into<String>, mode: Mode) -> Record {
        Record {
            suite,
            case: case.into(),
            mode,
            payload_bytes: None,
            branches: None,
            runs: 0,
            median_us: None,
            p90_us: None,
            throughput_per_s: None,
            peak_rss_kb: None,
            clients: 1,
            status: Status::Ok,
            note: String::new(),
        }
    }

    pub fn with_summary(mut self, summary: &Summary) -> Record {
        self.runs = summary.runs;
        self.median_us = Some(summary.median_us);
        self.p90_us = Some(summary.p90_us);
        self
    }

    pub fn skipped(mut self, why: impl Into<String>) -> Record {
        self.status = Status::Skipped;
        self.note = why.into();
        self
    }

    pub fn failed(mut self, why: impl Into<String>) -> Record {
        self.status = Status::Failed;
        self.note = why.into();
        self
    }
}

/// Records as a pretty JSON array.
pub fn to_json(records: &[Record]) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_record_has_the_documented_fields() {
        let summary = crate::stats::summarize(&[10.0, 20.0, 30.0]).expect("samples");
        let mut record =
            Record::new(Suite::Interaction, "1 MB", Mode::BaselineWarm).with_summary(&summary);
        record.payload_bytes = Some(1 << 20);
        record.peak_rss_kb = Some(4096);
        let json = serde_json::to_value(&record).expect("serializable");
        let object = json.as_object().expect("an object");
        for field in [
            "suite",
            "case",
            "mode",
            "payload_bytes",
            "branches",
            "runs",
            "median_us",
            "p90_us",
            "throughput_per_s",
            "peak_rss_kb",
            "clients",
            "status",
        ] {
            assert!(object.contains_key(field), "missing {field}: {json}");
        }
        assert_eq!(json["suite"], "interaction");
        assert_eq!(json["mode"], "baseline-warm");
        assert_eq!(json["payload_bytes"], 1_048_576);
        assert_eq!(json["branches"], serde_json::Value::Null);
        assert_eq!(json["runs"], 3);
        assert_eq!(json["median_us"], 20.0);
        assert_eq!(json["p90_us"], 30.0);
        assert_eq!(json["status"], "ok");
        assert!(!object.contains_key("note"), "empty notes are left out");
        let back: Record = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, record);
    }

    #[test]
    fn skipped_records_say_why() {
        let record = Record::new(Suite::Fanout, "parallel 2", Mode::FaastlaneProcess)
            .skipped("process lanes not available");
        let json = serde_json::to_value(&record).expect("serializable");
        assert_eq!(json["status"], "skipped");
        assert_eq!(json["note"], "process lanes not available");
        assert_eq!(json["median_us"], serde_json::Value::Null);
    }

    #[test]
    fn mode_names_match_their_json() {
        for mode in Mode::ALL {
            let json = serde_json::to_value(mode).expect("serializable");
            assert_eq!(json, mode.name());
        }
        for suite in Suite::ALL {
            assert_eq!(
                serde_json::to_value(suite).expect("serializable"),
                suite.name()
            );
        }
    }
}
