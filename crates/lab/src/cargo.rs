//! Running `cargo test` for the lab: captured, bounded in time, with progress.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::libtest::{self, TestRun};

/// One `cargo test -p <package> --no-fail-fast` invocation.
#[derive(Clone, Debug)]
pub struct TestCommand {
    /// Directory to run in; its workspace is the one tested.
    pub dir: PathBuf,
    pub package: String,
    /// Only tests whose name contains this (libtest's filter).
    pub filter: Option<String>,
    pub target_dir: Option<PathBuf>,
    /// The whole run, build included, is killed after this.
    pub timeout: Duration,
    /// Build the tests without running them (`--no-run`).
    pub no_run: bool,
}

impl TestCommand {
    /// Default bound on one run: generous for a cold build of the heavy
    /// dependencies (librdkafka compiles from C), but a bound. `LAB_TEST_TIMEOUT`
    /// (seconds) overrides it.
    pub fn default_timeout() -> Duration {
        std::env::var("LAB_TEST_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(45 * 60))
    }

    pub fn new(dir: impl Into<PathBuf>, package: impl Into<String>) -> TestCommand {
        TestCommand {
            dir: dir.into(),
            package: package.into(),
            filter: None,
            target_dir: None,
            timeout: TestCommand::default_timeout(),
            no_run: false,
        }
    }
}

/// What came back.
#[derive(Clone, Debug)]
pub struct TestOutput {
    pub run: TestRun,
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    pub timed_out: bool,
}

impl TestOutput {
    /// Nothing ran and cargo failed: the code did not compile (or cargo itself
    /// could not start the tests).
    pub fn build_failed(&self) -> bool {
        !self.success && self.run.binaries == 0
    }

    /// The compiler's errors, without the progress lines.
    pub fn compiler_errors(&self, max_lines: usize) -> String {
        let interesting: Vec<&str> = self
            .stderr
            .lines()
            .skip_while(|l| !(l.starts_with("error") || l.starts_with("warning: unused")))
            .filter(|l| {
                !l.trim_start().starts_with("Compiling ") && !l.trim_start().starts_with("Running ")
            })
            .collect();
        let lines = if interesting.is_empty() {
            self.stderr
                .lines()
                .rev()
                .take(max_lines)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect()
        } else {
            interesting.into_iter().take(max_lines).collect::<Vec<_>>()
        };
        lines.join("\n")
    }
}

/// What a progress callback is told.
pub enum Progress<'a> {
    Compiling(&'a str),
    TestFinished { name: &'a str, passed: bool },
}

/// Run the tests, reporting progress, and parse the results.
pub fn run_tests(
    command: &TestCommand,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> anyhow::Result<TestOutput> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&command.dir).args([
        "test",
        "--package",
        &command.package,
        "--no-fail-fast",
        "--color",
        "never",
    ]);
    if command.no_run {
        cmd.arg("--no-run");
    }
    cmd.arg("--").args(["--color", "never"]);
    if let Some(filter) = &command.filter {
        cmd.arg(filter);
    }
    if let Some(target) = &command.target_dir {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    // Backtraces bury the one line that matters (the panic message); the lab
    // shows the message and tells people how to get the backtrace if they want it.
    cmd.env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never");
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());

    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting `cargo test -p {}`", command.package))?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let out_text = Arc::new(Mutex::new(String::new()));
    let err_text = Arc::new(Mutex::new(String::new()));

    let started = Instant::now();
    let (status, timed_out) = std::thread::scope(|scope| {
        let out_sink = out_text.clone();
        scope.spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("test ")
                    && let Some((name, outcome)) = rest.rsplit_once(" ... ")
                {
                    progress(Progress::TestFinished {
                        name,
                        passed: outcome == "ok",
                    });
                }
                let mut sink = out_sink.lock().unwrap_or_else(|p| p.into_inner());
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        let err_sink = err_text.clone();
        scope.spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(what) = line.trim_start().strip_prefix("Compiling ") {
                    progress(Progress::Compiling(what));
                }
                let mut sink = err_sink.lock().unwrap_or_else(|p| p.into_inner());
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return (Some(status), false),
                Ok(None) if started.elapsed() > command.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return (None, true);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => return (None, false),
            }
        }
    });

    let stdout = std::mem::take(&mut *out_text.lock().unwrap_or_else(|p| p.into_inner()));
    let stderr = std::mem::take(&mut *err_text.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(TestOutput {
        run: libtest::parse(&stdout),
        success: status.is_some_and(|s| s.success()),
        timed_out,
        stdout,
        stderr,
    })
}
