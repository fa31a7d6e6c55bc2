//! Running `cargo test` for the lab: captured, bounded in time, with progress.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::libtest::{self, TestRun};

/// One `cargo test -p <package> --no-fail-fast` invocation. Build one with
/// [`crate::workspace::Workspace::test_command`], which fills in the directory
/// and the target directory.
#[derive(Clone, Debug)]
pub struct TestCommand {
    /// Directory to run in; its workspace is the one tested.
    pub dir: PathBuf,
    pub package: String,
    /// Only tests whose name contains this (libtest's filter).
    pub filter: Option<String>,
    /// Only these tests, by full name (libtest's `--exact` filters). Empty: all.
    pub exact: Vec<String>,
    /// Only these integration-test targets (`--test NAME`). Empty: cargo's
    /// default set (lib unit tests, every test target, doc tests).
    pub test_targets: Vec<String>,
    pub target_dir: Option<PathBuf>,
    /// Extra environment for cargo and the tests it runs.
    pub env: Vec<(String, String)>,
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
            exact: Vec::new(),
            test_targets: Vec::new(),
            target_dir: None,
            env: Vec::new(),
            timeout: TestCommand::default_timeout(),
            no_run: false,
        }
    }

    /// The arguments after `cargo`.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["test", "--package", &self.package, "--no-fail-fast"]
            .map(String::from)
            .to_vec();
        args.extend(["--color".into(), "never".into()]);
        for target in &self.test_targets {
            args.extend(["--test".into(), target.clone()]);
        }
        if self.no_run {
            args.push("--no-run".into());
        }
        args.extend(["--".into(), "--color".into(), "never".into()]);
        if !self.exact.is_empty() {
            args.push("--exact".into());
            args.extend(self.exact.iter().cloned());
        } else if let Some(filter) = &self.filter {
            args.push(filter.clone());
        }
        args
    }

    /// The command as a person would type it, for messages.
    pub fn display(&self) -> String {
        format!("cargo {}", self.args().join(" "))
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
    let output = run_bounded(
        &command.dir,
        &command.args(),
        command.target_dir.as_deref(),
        &command.env,
        command.timeout,
        progress,
    )
    .with_context(|| format!("starting `cargo test -p {}`", command.package))?;
    Ok(TestOutput {
        run: libtest::parse(&output.stdout),
        success: output.success,
        timed_out: output.timed_out,
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

/// What a bounded cargo command left: its output, whether it succeeded, and
/// whether it was stopped at its bound.
#[derive(Clone, Debug)]
pub struct Bounded {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    pub timed_out: bool,
}

impl Bounded {
    /// The last `n` non-empty lines of stderr, joined: why it failed, briefly.
    pub fn stderr_tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        lines[lines.len().saturating_sub(n)..].join(" / ")
    }
}

/// `cargo <args>` in `dir`, captured, killed with everything it started once
/// `timeout` has passed. `run_tests` is this plus libtest's parsing; `grade`
/// runs clippy and the benches through it too.
pub fn run_bounded(
    dir: &Path,
    args: &[String],
    target_dir: Option<&Path>,
    env: &[(String, String)],
    timeout: Duration,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> anyhow::Result<Bounded> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir).args(args);
    if let Some(target) = target_dir {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    // Backtraces bury the one line that matters (the panic message); the lab
    // shows the message and tells people how to get the backtrace if they want it.
    cmd.env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    // Its own process group, so a timeout can stop cargo *and* the test binary it
    // started (and anything that binary spawned): killing cargo alone leaves a
    // hung test process holding ports, locks and databases.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);

    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting cargo {}", args.join(" ")))?;
    // Being in its own group, the run does not get the terminal's Ctrl-C; the
    // lab's handler ([`stop_running_tests`]) passes it on.
    RUNNING_GROUP.store(child.id(), Ordering::SeqCst);
    let _clear = ClearOnDrop;
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
                // Whatever cargo leaves behind (a test's stray child holding the
                // pipes open) goes with it, or the readers above never finish.
                Ok(Some(status)) => {
                    kill_tree(&mut child);
                    return (Some(status), false);
                }
                Ok(None) if started.elapsed() > timeout => {
                    kill_tree(&mut child);
                    let _ = child.wait();
                    return (None, true);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => {
                    kill_tree(&mut child);
                    let _ = child.wait();
                    return (None, false);
                }
            }
        }
    });

    let stdout = std::mem::take(&mut *out_text.lock().unwrap_or_else(|p| p.into_inner()));
    let stderr = std::mem::take(&mut *err_text.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Bounded {
        success: status.is_some_and(|s| s.success()),
        timed_out,
        stdout,
        stderr,
    })
}

/// The process group of the test run in progress (0: none).
static RUNNING_GROUP: AtomicU32 = AtomicU32::new(0);

struct ClearOnDrop;

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        RUNNING_GROUP.store(0, Ordering::SeqCst);
    }
}

/// Stop the test run in progress, if any, with everything it started: what the
/// binary does on Ctrl-C, so that quitting `watch` or `check` that way leaves no
/// `cargo test` (and no test holding a port or a database) behind.
pub fn stop_running_tests() {
    let group = RUNNING_GROUP.swap(0, Ordering::SeqCst);
    if group != 0 {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{group}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Kill the child's whole process group (it leads one, see `run_bounded`).
fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // `kill -KILL -- -PGID` signals every process in the group; the lab
        // keeps `unsafe` out, so this goes through kill(1) rather than libc.
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact names win over a filter and come after `--exact`; targets are `--test`.
    #[test]
    fn the_arguments_name_targets_and_exact_tests() {
        let mut command = TestCommand::new("/lab", "adder_solution");
        command.filter = Some("step1_".into());
        assert_eq!(
            command.display(),
            "cargo test --package adder_solution --no-fail-fast --color never -- --color never step1_"
        );
        command.exact = vec!["a::step1_x".into(), "step1_y".into()];
        command.test_targets = vec!["spec".into()];
        assert_eq!(
            command.display(),
            "cargo test --package adder_solution --no-fail-fast --color never --test spec \
             -- --color never --exact a::step1_x step1_y"
        );
    }

    /// A run that outlives its bound is stopped together with what it started.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_timed_out_run_kills_its_whole_process_group() {
        use std::os::unix::process::CommandExt;
        let marker = std::env::temp_dir().join(format!("lab-kill-tree-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        // A "cargo" whose child outlives it unless the whole group is killed.
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .spawn()
            .expect("sh starts");
        let grandchild = loop {
            if let Ok(text) = std::fs::read_to_string(&marker)
                && let Ok(pid) = text.trim().parse::<u32>()
            {
                break pid;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        kill_tree(&mut child);
        let _ = child.wait();
        // Gone, or a zombie waiting to be reaped by whoever inherited it.
        let alive = || {
            std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .ok()
                .and_then(|stat| {
                    let state = stat.rsplit_once(") ")?.1.chars().next()?;
                    Some(state != 'Z' && state != 'X')
                })
                .unwrap_or(false)
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&marker);
        assert!(!alive(), "the grandchild {grandchild} survived the kill");
    }
}
