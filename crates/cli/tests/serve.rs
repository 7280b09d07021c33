//! `faastlane serve` driven by the real AWS clients: a pytest suite (tests/serve/) using
//! boto3 and the AWS CLI from a cached virtualenv that scripts/ensure-aws-clients.sh makes.

use std::path::Path;
use std::process::Command;

#[test]
fn step_functions_api_with_boto3_and_the_aws_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = Command::new(root.join("scripts/ensure-aws-clients.sh"))
        .output()
        .expect("scripts/ensure-aws-clients.sh runs");
    assert!(
        venv.status.success(),
        "scripts/ensure-aws-clients.sh failed: {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let venv = String::from_utf8_lossy(&venv.stdout).trim().to_string();
    let mut pytest = Command::new(Path::new(&venv).join("bin/python"));
    pytest
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/serve",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("FAASTLANE_BIN", env!("CARGO_BIN_EXE_faastlane"));
    if let Ok(filter) = std::env::var("SERVE_TESTS") {
        pytest.args(["-k", &filter]);
    }
    let out = pytest.output().expect("pytest runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(
        out.status.success(),
        "the serve test suite failed:\n{report}"
    );
}
