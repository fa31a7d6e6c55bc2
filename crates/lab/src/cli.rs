//! `cargo lab`: the learner's dashboard and the maintainers' gate.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cargo::{self, Progress, TestCommand};
use crate::exercise::{Exercise, step_of};
use crate::libtest::{self, Outcome};
use crate::services;
use crate::state::{State, StepProgress};
use crate::verify;
use crate::workspace::Workspace;

#[derive(Parser, Debug)]
#[command(
    name = "cargo lab",
    about = "backend-lab: backend interview exercises you solve by making real tests pass",
    after_help = "With no command, shows the dashboard: every exercise, your progress, what to do next."
)]
pub struct Cli {
    /// The lab's root directory (default: found from the current directory, or LAB_ROOT).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Cargo target directory (default: CARGO_TARGET_DIR, else target/).
    #[arg(long, global = true)]
    pub target_dir: Option<PathBuf>,
    /// Progress file (default: LAB_STATE, else .lab-state.json at the root).
    #[arg(long, global = true)]
    pub state_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the exercises.
    List,
    /// Run an exercise's tests and show progress per step and the first failure.
    Check {
        /// Exercise name, e.g. rate_limiter.
        name: String,
        /// Only this step's tests.
        #[arg(long)]
        step: Option<u32>,
    },
    /// Show the next hint for a step (the first unfinished one by default).
    Hint { name: String, step: Option<u32> },
    /// Maintainers: reference passes all, skeleton fails all, every mutant killed.
    Verify {
        /// Exercises to verify (default: all).
        names: Vec<String>,
        /// Skip the mutants (quicker, while writing tests).
        #[arg(long)]
        skip_mutants: bool,
        /// Only this mutant.
        #[arg(long)]
        mutant: Option<String>,
    },
}

/// Parse `args` and run; everything meant for the user goes to `out`.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            write!(out, "{e}")?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => anyhow::bail!("{e}"),
    };
    let workspace = match &cli.root {
        Some(root) => Workspace::at(root)?,
        None => Workspace::discover()?,
    }
    .with_target_dir(cli.target_dir.clone())
    .with_state_path(cli.state_file.clone());
    match cli.command {
        None => dashboard(&workspace, out),
        Some(Command::List) => list(&workspace, out),
        Some(Command::Check { name, step }) => check(&workspace, &name, step, out),
        Some(Command::Hint { name, step }) => hint(&workspace, &name, step, out),
        Some(Command::Verify {
            names,
            skip_mutants,
            mutant,
        }) => verify_all(&workspace, &names, skip_mutants, mutant, out),
    }
}

fn dashboard(workspace: &Workspace, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let state = State::load(&workspace.state_path())?;
    let exercises = workspace.exercises()?;
    writeln!(
        out,
        "backend-lab — backend interview exercises you solve by making real tests pass\n"
    )?;
    let width = exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let round_width = exercises
        .iter()
        .map(|e| e.meta.round.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 34);
    writeln!(
        out,
        "  {:width$}  {:round_width$}  {:16}  next",
        "exercise", "round", "progress"
    )?;
    for exercise in &exercises {
        let progress = state.exercises.get(&exercise.name);
        let steps = exercise.step_count();
        let (bar, next) = match progress {
            None => (
                "not started".to_string(),
                format!("cargo lab check {}", exercise.name),
            ),
            Some(p) => {
                let done = p.steps_done();
                let bar: String = (1..=steps)
                    .map(|n| {
                        if p.steps.get(&n).is_some_and(StepProgress::done) {
                            '■'
                        } else {
                            '□'
                        }
                    })
                    .collect();
                let next = match p.next_step(steps) {
                    Some(n) => format!(
                        "step {n}: {}",
                        exercise.step(n).map(|s| s.title.as_str()).unwrap_or("")
                    ),
                    None => format!(
                        "done: `cargo lab check {}` lists follow-up questions",
                        exercise.name
                    ),
                };
                (format!("{bar} {done}/{steps}"), next)
            }
        };
        writeln!(
            out,
            "  {:width$}  {:round_width$}  {bar:16}  {next}",
            exercise.name,
            truncate(&exercise.meta.round, round_width)
        )?;
    }
    writeln!(
        out,
        "\nServices (the tests look for an environment URL first, then Docker):"
    )?;
    let docker = services::docker_socket_present();
    for s in services::statuses() {
        let line = match (&s.value, s.reachable) {
            (Some(value), Some(true)) => format!("{}={value}  (answers)", s.variable),
            (Some(value), _) => format!(
                "{}={value}  (NOT answering: start it, or unset the variable)",
                s.variable
            ),
            (None, _) if docker => format!(
                "{} not set; a Docker socket is present, so tests will start a container",
                s.variable
            ),
            (None, _) => format!(
                "{} not set and no Docker: tests that need {} will fail fast and say so",
                s.variable, s.name
            ),
        };
        writeln!(out, "  {:9} {line}", s.name)?;
    }
    writeln!(
        out,
        "\nNext:  cargo lab check <exercise>     run its tests; progress per step, the first failure\n\
         Stuck: cargo lab hint <exercise>      one more hint for your current step\n\
         Also:  cargo lab list · cargo test -p <exercise> step1 · README.md"
    )?;
    Ok(ExitCode::SUCCESS)
}

fn list(workspace: &Workspace, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    for exercise in workspace.exercises()? {
        let services = if exercise.meta.services.is_empty() {
            "no services".to_string()
        } else {
            exercise.meta.services.join(", ")
        };
        writeln!(out, "{} — {}", exercise.name, exercise.meta.title)?;
        writeln!(out, "  question: {}", exercise.meta.question)?;
        writeln!(
            out,
            "  round: {} · {} steps · {services}",
            exercise.meta.round,
            exercise.step_count()
        )?;
        for (i, step) in exercise.meta.steps.iter().enumerate() {
            writeln!(out, "    step {}: {}", i + 1, step.title)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(
    workspace: &Workspace,
    name: &str,
    step: Option<u32>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    if let Some(n) = step {
        anyhow::ensure!(
            exercise.step(n).is_some(),
            "{name} has steps 1 to {}",
            exercise.step_count()
        );
    }
    let mut command = TestCommand::new(&workspace.root, exercise.package());
    command.target_dir = Some(workspace.target_dir());
    command.filter = step.map(|n| format!("step{n}_"));
    let spinner = spinner(&format!("building {name}…"));
    let output = cargo::run_tests(&command, &|p| match p {
        Progress::Compiling(what) => spinner.set_message(format!("compiling {what}")),
        Progress::TestFinished { name, .. } => spinner.set_message(format!("tested {name}")),
    })?;
    spinner.finish_and_clear();

    writeln!(out, "{} — {}", exercise.name, exercise.meta.title)?;
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
                    writeln!(
                        out,
                        "\nEvery step passes. Compare with the reference in solutions/{name}/."
                    )?;
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
            writeln!(out, "\nFirst failure (step {n}): {first}\n")?;
            let essence = libtest::essence(
                output
                    .run
                    .output
                    .get(*first)
                    .map(String::as_str)
                    .unwrap_or(""),
                25,
            );
            for line in essence.lines() {
                writeln!(out, "    {line}")?;
            }
            writeln!(
                out,
                "\nRead README.md, step {n}. Run just this test: cargo test -p {name} {first} -- --exact\n\
                 Stuck? cargo lab hint {name} {n}"
            )?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn hint(
    workspace: &Workspace,
    name: &str,
    step: Option<u32>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    let mut state = State::load(&workspace.state_path())?;
    let record = state.exercise_mut(name);
    let n = step
        .or_else(|| record.next_step(exercise.step_count()))
        .unwrap_or(1);
    let meta = exercise
        .step(n)
        .with_context(|| format!("{name} has steps 1 to {}", exercise.step_count()))?;
    let shown = record.hints_shown.entry(n).or_insert(0);
    let total = meta.hints.len();
    let now_shown = (*shown + 1).min(total);
    *shown = now_shown;
    writeln!(out, "{name}, step {n}: {}\n", meta.title)?;
    for (i, text) in meta.hints.iter().take(now_shown).enumerate() {
        writeln!(out, "  hint {}/{total}: {text}\n", i + 1)?;
    }
    if now_shown == total {
        writeln!(
            out,
            "That was the last hint for this step. The reference is in solutions/{name}/ (spoilers)."
        )?;
    } else {
        writeln!(
            out,
            "Run `cargo lab hint {name} {n}` again for the next one."
        )?;
    }
    state.save(&workspace.state_path())?;
    Ok(ExitCode::SUCCESS)
}

fn verify_all(
    workspace: &Workspace,
    names: &[String],
    skip_mutants: bool,
    mutant: Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercises: Vec<Exercise> = if names.is_empty() {
        workspace.exercises()?
    } else {
        names
            .iter()
            .map(|n| workspace.exercise(n))
            .collect::<anyhow::Result<_>>()?
    };
    let options = verify::Options {
        skip_mutants,
        only_mutant: mutant,
    };
    let spinner = spinner("verifying…");
    let mut reports = Vec::new();
    for exercise in &exercises {
        let report = verify::verify(workspace, exercise, &options, &|line| {
            if spinner.is_hidden() {
                // Not a terminal (CI): plain lines, so a long run is never silent.
                eprintln!("{line}");
            } else {
                spinner.println(line);
                spinner.set_message(line.to_string());
            }
        })?;
        reports.push(report);
    }
    spinner.finish_and_clear();
    write!(out, "{}", verify::render(&reports))?;
    if reports.iter().all(verify::Report::ok) {
        writeln!(out, "\nNo holes.")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "\nHoles found: the tests cannot be trusted until they are fixed."
        )?;
        Ok(ExitCode::FAILURE)
    }
}

/// A spinner on stderr; hidden when stderr is not a terminal (CI logs, tests).
fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}
