//! `cargo lab check <name>`: run the tests, record progress per step, show the first failure.

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cargo::{self, Progress};
use crate::exercise::step_of;
use crate::libtest::{self, Outcome};
use crate::state::{State, StepProgress};
use crate::workspace::Workspace;

use super::spinner;

pub(super) fn check(
    workspace: &Workspace,
    name: &str,
    step: Option<u32>,
    verbose: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    if let Some(n) = step {
        exercise.require_step(n)?;
    }
    let mut command = workspace.test_command(exercise.package());
    command.filter = step.map(|n| format!("step{n}_"));
    if verbose {
        command
            .env
            .push(("RUST_BACKTRACE".to_string(), "1".to_string()));
    }
    let spinner = spinner(&format!("building {name}…"));
    let output = cargo::run_tests(&command, &|p| match p {
        Progress::Compiling(what) => spinner.set_message(format!("compiling {what}")),
        Progress::TestFinished { name, .. } => spinner.set_message(format!("tested {name}")),
    })?;
    spinner.finish_and_clear();

    writeln!(out, "{} — {}", exercise.name, exercise.meta.title)?;
    warn_about_provided_files(workspace, &exercise, out)?;
    if output.timed_out {
        writeln!(
            out,
            "\nThe test run was stopped after {:?}. Run `cargo test -p {name}` to see where it stalls.",
            command.timeout
        )?;
        return Ok(ExitCode::FAILURE);
    }
    if output.build_failed() {
        writeln!(
            out,
            "\nYour code does not compile yet:\n\n{}\n",
            output.compiler_errors(40)
        )?;
        writeln!(
            out,
            "Fix the first error, then run `cargo lab check {name}` again."
        )?;
        return Ok(ExitCode::FAILURE);
    }

    // Progress per step; a step-filtered run only updates that step.
    let mut state = State::load(&workspace.state_path())?;
    let record = state.exercise_mut(name);
    let steps: Vec<u32> = match step {
        Some(n) => vec![n],
        None => (1..=exercise.step_count()).collect(),
    };
    writeln!(out)?;
    let title_width = exercise
        .meta
        .steps
        .iter()
        .map(|s| s.title.chars().count())
        .max()
        .unwrap_or(0);
    for n in &steps {
        let in_step: Vec<(&String, &Outcome)> = output
            .run
            .outcomes
            .iter()
            .filter(|(t, _)| step_of(t) == Some(*n))
            .collect();
        let passed = in_step
            .iter()
            .filter(|(_, o)| **o == Outcome::Passed)
            .count();
        let progress = StepProgress {
            passed,
            total: in_step.len(),
        };
        record.steps.insert(*n, progress);
        let mark = if progress.done() { "✓" } else { "✗" };
        let title = exercise.step(*n).map(|s| s.title.as_str()).unwrap_or("");
        writeln!(
            out,
            "  {mark} step {n}  {title:title_width$}  {passed:>3}/{}",
            in_step.len()
        )?;
    }
    record.checked_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    let next = record.next_step(exercise.step_count());
    state.save(&workspace.state_path())?;

    // The first failure, in step order: the one to fix next.
    let order = exercise.test_order();
    let position = |t: &str| {
        order
            .get(t.rsplit("::").next().unwrap_or(t))
            .copied()
            .unwrap_or(usize::MAX)
    };
    let mut failed: Vec<&str> = output.run.failed().collect();
    failed.sort_by_key(|t| (step_of(t).unwrap_or(u32::MAX), position(t), t.to_string()));
    match failed.first() {
        None => {
            match (step, next) {
                (Some(n), _) => writeln!(out, "\nStep {n} passes.")?,
                (None, None) => {
                    if exercise.solution_dir.is_dir() {
                        writeln!(
                            out,
                            "\nEvery step passes. Compare with the reference in solutions/{name}/."
                        )?;
                    } else {
                        writeln!(out, "\nEvery step passes.")?;
                    }
                    if !exercise.meta.follow_ups.is_empty() {
                        writeln!(
                            out,
                            "\nInterviewers follow up with questions like these; have an answer ready:"
                        )?;
                        for question in &exercise.meta.follow_ups {
                            writeln!(out, "  - {question}")?;
                        }
                    }
                }
                (None, Some(n)) => writeln!(
                    out,
                    "\nAll tests that ran pass; step {n} still has none passing."
                )?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(first) => {
            let n = step_of(first).unwrap_or(0);
            writeln!(out, "\nFirst failure (step {n}): {first}")?;
            let function = first.rsplit("::").next().unwrap_or(first);
            if let Some(purpose) = exercise.test_docs().get(function) {
                writeln!(out, "  It checks: {purpose}")?;
            }
            writeln!(out)?;
            let printed = output
                .run
                .output
                .get(*first)
                .map(String::as_str)
                .unwrap_or("");
            let shown = if verbose {
                printed.trim_end().to_string()
            } else {
                libtest::essence(printed, 25)
            };
            for line in shown.lines() {
                writeln!(out, "    {line}")?;
            }
            let hints_total = exercise.step(n).map_or(0, |s| s.hints.len());
            let hints_seen = state
                .exercises
                .get(name)
                .and_then(|e| e.hints_shown.get(&n))
                .copied()
                .unwrap_or(0)
                .min(hints_total);
            let hints_left = match hints_total - hints_seen {
                0 => "no hints left for this step".to_string(),
                1 => "1 hint left for this step".to_string(),
                left => format!("{left} hints left for this step"),
            };
            writeln!(
                out,
                "\nRead: {}\nRun just this test: cargo test -p {name} {first} -- --exact\n\
                 Stuck? cargo lab hint {name} {n}   ({hints_left})",
                exercise.step_link(workspace, n)
            )?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Name each provided file that differs from what the lab shipped: the spec
/// relies on them, so an edit there can make a test pass or fail for the wrong
/// reason. Which files are provided is read from the shipped versions (their
/// `// PROVIDED` first line), so editing or deleting the mark hides nothing.
fn warn_about_provided_files(
    workspace: &Workspace,
    exercise: &crate::exercise::Exercise,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut state = State::load(&workspace.state_path())?;
    let Some(rev) = crate::git::baseline(&workspace.root, &mut state) else {
        return Ok(());
    };
    state.save(&workspace.state_path())?;
    let src = workspace.relative(&exercise.dir.join("src"));
    let short = crate::git::short(&rev);
    for relative in crate::git::files(&workspace.root, &rev, &src) {
        let Some(shipped) = crate::git::show(&workspace.root, &rev, &relative) else {
            continue;
        };
        if !shipped.starts_with(crate::exercise::PROVIDED_MARK.as_bytes()) {
            continue;
        }
        let now = std::fs::read(workspace.root.join(&relative)).ok();
        if now.as_deref() == Some(shipped.as_slice()) {
            continue;
        }
        let what = if now.is_none() {
            "is missing"
        } else {
            "differs from the lab's"
        };
        writeln!(
            out,
            "\nwarning: {relative} is a provided file (the tests rely on it as it is), and \
             it {what} (commit {short}). Restore it with\n  \
             git checkout {short} -- {relative}\nor `cargo lab reset {}` (keeps a backup).",
            exercise.name
        )?;
    }
    Ok(())
}
