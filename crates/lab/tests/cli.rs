//! The `lab` binary end to end, on a tiny generated lab (see
//! `tests/support/fixture.rs`): what a learner types, what they see.

#[path = "../../../tests/support/fixture.rs"]
mod fixture;

use std::process::{Command, Output};

use fixture::{REFERENCE, TinyLab};

fn lab(args: Vec<std::ffi::OsString>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(&args[1..])
        .env_remove("LAB_ROOT")
        .env_remove("LAB_STATE")
        .output()
        .expect("the lab binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `--help` lists the commands and exits 0.
#[test]
fn help_lists_the_commands() {
    let lab_dir = TinyLab::new("help");
    let output = lab(lab_dir.args(&["--help"]));
    assert!(output.status.success());
    let text = stdout(&output);
    for command in ["list", "check", "hint", "verify"] {
        assert!(text.contains(command), "{text}");
    }
}

/// The dashboard shows every exercise and what to do first.
#[test]
fn the_dashboard_shows_each_exercise_and_the_next_command() {
    let lab_dir = TinyLab::new("dashboard");
    let output = lab(lab_dir.args(&[]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    assert!(
        text.contains("adder")
            && text.contains("not started")
            && text.contains("cargo lab check adder"),
        "{text}"
    );
    assert!(text.contains("Services"), "{text}");
}

/// `check` on the skeleton: exit 1, per-step progress, the first failure with its
/// `todo!` message, where to read and how to get a hint; progress is recorded and
/// shows on the dashboard.
#[test]
fn check_shows_progress_and_the_first_failure_then_records_it() {
    let lab_dir = TinyLab::new("check");
    let output = lab(lab_dir.args(&["check", "adder"]));
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("✗ step 1") && text.contains("0/2"), "{text}");
    assert!(
        text.contains("First failure (step 1): step1_adds_small_numbers"),
        "first failure in spec order:\n{text}"
    );
    assert!(text.contains("not yet implemented: step 1"), "{text}");
    assert!(text.contains("It checks: Small numbers add up."), "{text}");
    assert!(
        text.contains("Read: exercises/adder/README.md#step-1--addition"),
        "{text}"
    );
    assert!(
        text.contains("cargo lab hint adder 1   (2 hints left for this step)"),
        "{text}"
    );
    assert!(
        !text.contains("stack backtrace"),
        "backtraces bury the message:\n{text}"
    );

    let dashboard = stdout(&lab(lab_dir.args(&[])));
    assert!(
        dashboard.contains("□ 0/1") && dashboard.contains("step 1: Addition"),
        "{dashboard}"
    );

    lab_dir.write("exercises/adder/src/lib.rs", REFERENCE);
    let solved = lab(lab_dir.args(&["check", "adder"]));
    let text = stdout(&solved);
    assert!(solved.status.success(), "{text}");
    assert!(
        text.contains("✓ step 1") && text.contains("Every step passes"),
        "{text}"
    );
    let dashboard = stdout(&lab(lab_dir.args(&[])));
    assert!(dashboard.contains("■ 1/1"), "{dashboard}");
}

/// A compile error is shown as such, not as failing tests.
#[test]
fn check_reports_a_compile_error_clearly() {
    let lab_dir = TinyLab::new("compile-error");
    lab_dir.write(
        "exercises/adder/src/lib.rs",
        "pub fn add(a: u32, b: u32) -> u32 { a + }\n",
    );
    let output = lab(lab_dir.args(&["check", "adder"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text.contains("does not compile") && text.contains("error"),
        "{text}"
    );
}

/// Hints come one more at a time, are remembered, and say when they run out.
#[test]
fn hints_are_progressive_and_remembered() {
    let lab_dir = TinyLab::new("hints");
    let first = stdout(&lab(lab_dir.args(&["hint", "adder"])));
    assert!(
        first.contains("hint 1/2: Use +.") && !first.contains("hint 2/2"),
        "{first}"
    );
    let second = stdout(&lab(lab_dir.args(&["hint", "adder"])));
    assert!(
        second.contains("hint 1/2") && second.contains("hint 2/2: Really, a + b."),
        "{second}"
    );
    assert!(second.contains("last hint"), "{second}");
    let state = std::fs::read_to_string(lab_dir.state_file()).expect("the state file was written");
    assert!(state.contains("hints_shown"), "{state}");
}

/// A wrong exercise name fails with the list of real ones; exit code 2.
#[test]
fn an_unknown_exercise_is_an_error_naming_the_real_ones() {
    let lab_dir = TinyLab::new("unknown");
    let output = lab(lab_dir.args(&["check", "nope"]));
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("no exercise named \"nope\"") && err.contains("adder"),
        "{err}"
    );
}

/// Outside a lab, the error says how to get into one.
#[test]
fn outside_a_lab_the_error_says_where_to_run() {
    let output = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("list")
        .current_dir(std::env::temp_dir())
        .env_remove("LAB_ROOT")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("no backend-lab checkout") && err.contains("LAB_ROOT"),
        "{err}"
    );
}

/// A lab checked into git, as a learner gets it: reset and the provided-file
/// warning compare against what it shipped.
fn committed(lab_dir: &TinyLab) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=lab",
            "-c",
            "user.email=lab@example.org",
            "commit",
            "-qm",
            "lab",
        ][..],
    ] {
        let status = Command::new("git")
            .current_dir(&lab_dir.root)
            .args(args)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }
}

/// `reset --yes` puts the skeleton back and keeps the learner's file in a backup
/// outside the checkout; the next run says there is nothing to reset.
#[test]
fn reset_restores_the_skeleton_and_keeps_a_backup() {
    let lab_dir = TinyLab::new("reset");
    committed(&lab_dir);
    lab_dir.write("exercises/adder/src/lib.rs", REFERENCE);
    let cache = lab_dir.path("cache");
    let output = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(&lab_dir.args(&["reset", "adder", "--yes"])[1..])
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .expect("the lab binary runs");
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert_eq!(
        std::fs::read_to_string(lab_dir.path("exercises/adder/src/lib.rs")).unwrap(),
        fixture::SKELETON
    );
    let backups: Vec<_> = std::fs::read_dir(cache.join("backend-lab/backups"))
        .expect("a backup directory")
        .flatten()
        .collect();
    assert_eq!(backups.len(), 1, "{text}");
    assert_eq!(
        std::fs::read_to_string(backups[0].path().join("exercises/adder/src/lib.rs")).unwrap(),
        REFERENCE
    );
    let again = stdout(&lab(lab_dir.args(&["reset", "adder", "--yes"])));
    assert!(again.contains("Nothing to reset"), "{again}");
}

/// `check` names a provided file the learner edited, and how to restore it.
#[test]
fn check_names_an_edited_provided_file() {
    let lab_dir = TinyLab::new("provided");
    lab_dir.write(
        "exercises/adder/src/given.rs",
        "// PROVIDED: the tests rely on this file as it is.\npub const LIMIT: u32 = 10;\n",
    );
    committed(&lab_dir);
    let clean = stdout(&lab(lab_dir.args(&["check", "adder"])));
    assert!(!clean.contains("provided file"), "{clean}");
    lab_dir.write(
        "exercises/adder/src/given.rs",
        "// PROVIDED: the tests rely on this file as it is.\npub const LIMIT: u32 = 99;\n",
    );
    let text = stdout(&lab(lab_dir.args(&["check", "adder"])));
    assert!(
        text.contains("warning: exercises/adder/src/given.rs is a provided file"),
        "{text}"
    );
    assert!(
        text.contains(" -- exercises/adder/src/given.rs\n"),
        "{text}"
    );
    // Rewriting the mark away hides nothing: the shipped version says what is provided.
    lab_dir.write(
        "exercises/adder/src/given.rs",
        "pub const LIMIT: u32 = 99;\n",
    );
    let unmarked = stdout(&lab(lab_dir.args(&["check", "adder"])));
    assert!(
        unmarked.contains("given.rs is a provided file"),
        "{unmarked}"
    );
    // A commit of the edit does not make it the lab's.
    committed(&lab_dir);
    let committed_edit = stdout(&lab(lab_dir.args(&["check", "adder"])));
    assert!(
        committed_edit.contains("given.rs is a provided file"),
        "{committed_edit}"
    );
}

/// Ctrl-C on `check` stops the test run it started, even a hung one (the run
/// sits in a process group of its own, out of the terminal's reach).
#[test]
fn ctrl_c_on_check_stops_the_test_run_it_started() {
    let lab_dir = TinyLab::new("ctrlc");
    let marker = lab_dir.path("hung.pid");
    lab_dir.write(
        "exercises/adder/tests/spec.rs",
        "/// Hangs, after saying where.\n#[test]\nfn step1_hangs() {\n    let path = std::env::var(\"HUNG_PID_FILE\").unwrap();\n    std::fs::write(path, std::process::id().to_string()).unwrap();\n    loop {\n        std::thread::park();\n    }\n}\n",
    );
    let mut check = {
        use std::os::unix::process::CommandExt;
        Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(&lab_dir.args(&["check", "adder"])[1..])
            .env("HUNG_PID_FILE", &marker)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // Its own group, so the signal below reaches the lab alone, as a
            // terminal's Ctrl-C reaches only the foreground group.
            .process_group(0)
            .spawn()
            .expect("the lab binary runs")
    };
    let started = std::time::Instant::now();
    let hung: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(180),
            "the hung test never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let status = Command::new("kill")
        .args(["-INT", &check.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exited = check.wait().expect("the lab exits");
    assert_eq!(exited.code(), Some(130), "exits as interrupted");
    let gone = std::time::Instant::now();
    while std::fs::read_to_string(format!("/proc/{hung}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    }) {
        assert!(
            gone.elapsed() < std::time::Duration::from_secs(10),
            "the hung test (pid {hung}) outlived the lab's Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `reset --step 2` restores only the files that mark step 2, keeps the
/// learner's step-1 work, and forgets step 2's progress.
#[test]
fn reset_of_one_step_restores_only_that_steps_files() {
    let lab_dir = TinyLab::new("reset-step");
    lab_dir.write(
        "exercises/adder/exercise.toml",
        "title = \"Adding\"\nround = \"Warm-up\"\n\n[[steps]]\ntitle = \"Addition\"\nhints = [\"+\"]\n\n[[steps]]\ntitle = \"Subtraction\"\nhints = [\"-\"]\n",
    );
    lab_dir.write(
        "exercises/adder/src/lib.rs",
        "pub mod sub;\n\npub fn add(a: u32, b: u32) -> u32 {\n    // TODO(step 1)\n    todo!(\"step 1\")\n}\n",
    );
    let sub_skeleton =
        "pub fn sub(a: u32, b: u32) -> u32 {\n    // TODO(step 2)\n    todo!(\"step 2\")\n}\n";
    lab_dir.write("exercises/adder/src/sub.rs", sub_skeleton);
    lab_dir.write(
        "exercises/adder/tests/spec.rs",
        "/// Sums.\n#[test]\nfn step1_adds() {\n    assert_eq!(adder::add(2, 3), 5);\n}\n\n/// Differences.\n#[test]\nfn step2_subtracts() {\n    assert_eq!(adder::sub::sub(5, 3), 2);\n}\n",
    );
    committed(&lab_dir);
    let solved_lib = "pub mod sub;\n\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n";
    lab_dir.write("exercises/adder/src/lib.rs", solved_lib);
    lab_dir.write(
        "exercises/adder/src/sub.rs",
        "pub fn sub(a: u32, b: u32) -> u32 {\n    a - b\n}\n",
    );
    let solved = lab(lab_dir.args(&["check", "adder"]));
    assert!(solved.status.success(), "{}", stdout(&solved));

    let reset = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(&lab_dir.args(&["reset", "adder", "--step", "2", "--yes"])[1..])
        .env("XDG_CACHE_HOME", lab_dir.path("cache"))
        .output()
        .expect("the lab binary runs");
    let text = stdout(&reset);
    assert!(reset.status.success(), "{text}");
    assert!(text.contains("exercises/adder/src/sub.rs"), "{text}");
    assert!(
        !text.contains("src/lib.rs"),
        "step 1's file is not touched:\n{text}"
    );
    let read = |p: &str| std::fs::read_to_string(lab_dir.path(p)).unwrap();
    assert_eq!(read("exercises/adder/src/sub.rs"), sub_skeleton);
    assert_eq!(read("exercises/adder/src/lib.rs"), solved_lib);
    let dashboard = stdout(&lab(lab_dir.args(&[])));
    assert!(
        dashboard.contains("■□ 1/2") && dashboard.contains("step 2: Subtraction"),
        "{dashboard}"
    );
}
