//! requirements.txt: installed once into a cached virtual environment, offline here.

mod common;

use std::path::Path;
use std::process::Command;

use common::call_json;
use python_runtime::{PipNetwork, PythonOptions, PythonRuntime};
use serde_json::json;

fn workflow(requirements: &str, function: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("requirements.txt"), requirements).expect("write");
    std::fs::write(dir.path().join("f.py"), function).expect("write");
    dir
}

fn options(cache: &Path) -> PythonOptions {
    PythonOptions::default()
        .cache_dir(cache)
        .pip_network(PipNetwork::Offline)
}

/// A workflow whose requirements are a wheel built here (so the tests need no index).
fn workflow_with_wheel(function: &str) -> tempfile::TempDir {
    let python = python_runtime::init().expect("interpreter").executable;
    let wf = workflow("", function);
    let wheel = build_wheel(wf.path(), &python);
    std::fs::write(wf.path().join("requirements.txt"), format!("./{wheel}\n")).expect("write");
    wf
}

#[test]
fn a_requirement_installs_offline_and_is_reused() {
    let cache = tempfile::tempdir().expect("cache");
    let wf = workflow_with_wheel(
        "import faastlane_testpkg\ndef handler(event, context):\n    return faastlane_testpkg.VALUE + event['n']\n",
    );
    let rt = PythonRuntime::with_options(wf.path(), options(cache.path())).expect("install");
    let env = rt.environment().expect("an environment").clone();
    assert!(env.created);
    assert!(env.root.starts_with(cache.path().join("venvs")), "{env:?}");
    assert!(env.root.join(".faastlane-ready").is_file());
    assert!(env.site_packages.is_dir(), "{env:?}");
    let cfg = std::fs::read_to_string(env.root.join("pyvenv.cfg")).expect("pyvenv.cfg");
    assert!(cfg.contains("3.11.7"), "{cfg}");
    assert!(
        cfg.contains("include-system-site-packages = false"),
        "{cfg}"
    );
    assert_eq!(call_json(&rt, "f", json!({"n": 1})), json!(43));
    // Subprocesses a function starts with sys.executable see the environment too.
    std::fs::write(
        wf.path().join("exe.py"),
        "import sys\ndef handler(event, context):\n    return sys.executable\n",
    )
    .expect("write");
    let exe = call_json(&rt, "exe", json!({}));
    assert_eq!(
        exe,
        json!(env.root.join("bin/python").display().to_string())
    );

    // Same requirements, even from another directory: the cached environment, no pip.
    let wf2 = workflow_with_wheel("def handler(event, context):\n    return 1\n");
    let rt2 = PythonRuntime::with_options(wf2.path(), options(cache.path())).expect("reuse");
    let env2 = rt2.environment().expect("an environment");
    assert!(!env2.created);
    assert_eq!(env2.root, env.root);
}

/// Regression (issue 9, item 11): `jmespath` is in the interpreter's global site-packages
/// (boto3 needs it), not in the workflow's requirements: importing it must fail, as it
/// would on Lambda, and no global site-packages directory may be on `sys.path`.
#[test]
fn a_package_only_the_interpreter_has_is_not_importable() {
    let global = Command::new(python_runtime::init().expect("interpreter").executable)
        .args([
            "-c",
            "import jmespath, site; print(site.getsitepackages()[0]); print(jmespath.__file__)",
        ])
        .output()
        .expect("run python");
    let text = String::from_utf8_lossy(&global.stdout).to_string();
    let mut lines = text.lines();
    let (Some(site_dir), Some(file)) = (lines.next(), lines.next()) else {
        panic!(
            "the base interpreter must have jmespath globally for this test: {}",
            String::from_utf8_lossy(&global.stderr)
        );
    };
    assert!(file.starts_with(site_dir), "{file} is not in {site_dir}");

    let cache = tempfile::tempdir().expect("cache");
    let wf = workflow_with_wheel("import sys\ndef handler(event, context):\n    return sys.path\n");
    std::fs::write(
        wf.path().join("uses_global.py"),
        "import jmespath\ndef handler(event, context):\n    return 1\n",
    )
    .expect("write");
    let rt = PythonRuntime::with_options(wf.path(), options(cache.path())).expect("install");
    let path = call_json(&rt, "f", json!({}));
    let path: Vec<&str> = path
        .as_array()
        .expect("sys.path")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(
        !path.iter().any(|p| p.starts_with(site_dir)),
        "{site_dir} is on sys.path: {path:?}"
    );
    let env = rt.environment().expect("environment");
    assert!(
        path.contains(&env.site_packages.to_str().expect("utf-8")),
        "{path:?}"
    );
    let errors = engine::Runtime::prepare(&rt, &["uses_global"]);
    let [error] = errors.as_slice() else {
        panic!("jmespath must not be importable from the workflow: {errors:?}");
    };
    assert!(
        error.message.contains("No module named 'jmespath'"),
        "{}",
        error.message
    );
}

/// A wheel built here, so the test needs no index.
fn build_wheel(dir: &Path, python: &Path) -> String {
    let script = r#"
import base64, hashlib, sys, zipfile
out = sys.argv[1]
files = {
    "faastlane_testpkg/__init__.py": b"VALUE = 42\n",
    "faastlane_testpkg-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: faastlane-testpkg\nVersion: 0.1\n",
    "faastlane_testpkg-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: faastlane-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
    for name, data in files.items():
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append("faastlane_testpkg-0.1.dist-info/RECORD,,")
    z.writestr("faastlane_testpkg-0.1.dist-info/RECORD", "\n".join(record) + "\n")
"#;
    let name = "faastlane_testpkg-0.1-py3-none-any.whl";
    let status = Command::new(python)
        .args(["-c", script])
        .arg(dir.join(name))
        .status()
        .expect("run python");
    assert!(status.success());
    name.to_string()
}

#[test]
fn a_local_wheel_installs_into_the_environment_and_is_importable() {
    let cache = tempfile::tempdir().expect("cache");
    let wf = workflow_with_wheel(
        "import faastlane_testpkg\ndef handler(event, context):\n    return {'value': faastlane_testpkg.VALUE, 'file': faastlane_testpkg.__file__}\n",
    );
    let rt = PythonRuntime::with_options(wf.path(), options(cache.path())).expect("install");
    let env = rt.environment().expect("environment");
    let out = call_json(&rt, "f", json!({}));
    assert_eq!(out["value"], json!(42));
    let file = out["file"].as_str().expect("file");
    assert!(
        Path::new(file).starts_with(&env.site_packages),
        "{file} is not in {}",
        env.site_packages.display()
    );
}

#[test]
fn a_failed_install_leaves_nothing_in_the_cache() {
    let cache = tempfile::tempdir().expect("cache");
    let wf = workflow(
        "faastlane-no-such-package-xyz==1.0\n",
        "def main(a):\n    return a\n",
    );
    let err =
        PythonRuntime::with_options(wf.path(), options(cache.path())).expect_err("cannot install");
    assert!(err.to_string().contains("pip install"), "{err}");
    let left: Vec<_> = std::fs::read_dir(cache.path().join("venvs"))
        .expect("venvs")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_unfinished_environment_is_rebuilt_not_used() {
    let cache = tempfile::tempdir().expect("cache");
    let wf = workflow_with_wheel("def main(a):\n    return a\n");
    // What a crash of a non-atomic installer would leave: the directory without the marker.
    let first = PythonRuntime::with_options(wf.path(), options(cache.path())).expect("install");
    let root = first.environment().expect("environment").root.clone();
    std::fs::remove_file(root.join(".faastlane-ready")).expect("unmark");
    std::fs::write(root.join("half-written"), "").expect("write");
    let again = PythonRuntime::with_options(wf.path(), options(cache.path())).expect("rebuild");
    let env = again.environment().expect("environment");
    assert!(env.created);
    assert_eq!(env.root, root);
    assert!(!root.join("half-written").exists());
}

#[test]
fn requirements_can_be_ignored() {
    let cache = tempfile::tempdir().expect("cache");
    let wf = workflow(
        "faastlane-no-such-package-xyz==1.0\n",
        "def main(a):\n    return a\n",
    );
    let rt =
        PythonRuntime::with_options(wf.path(), options(cache.path()).install_requirements(false))
            .expect("no install");
    assert!(rt.environment().is_none());
    assert!(!cache.path().join("venvs").exists());
}
