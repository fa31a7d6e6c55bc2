//! `cargo lab`: the learner's dashboard and the maintainers' gate.
//!
//! This file parses and dispatches; each command lives in a file of its own.

mod check;
mod dashboard;
mod grade;
mod hint;
pub mod interview;
mod list;
mod reset;
mod services;
mod takehome;
mod verify;
pub mod watch;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

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
    /// Where verify keeps its scratch copy (default: LAB_VERIFY_DIR, else
    /// ~/.cache/backend-lab/verify, shared by every clone on the machine).
    #[arg(long, global = true)]
    pub verify_dir: Option<PathBuf>,
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
        /// The failing test's whole output, with a backtrace.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Put an exercise's files back to the skeleton (yours are backed up first).
    Reset {
        name: String,
        /// Only the files that mark this step (`TODO(step N)`).
        #[arg(long)]
        step: Option<u32>,
        /// Do not ask first.
        #[arg(long, short)]
        yes: bool,
    },
    /// Re-run the current step's tests whenever you save a file under the
    /// exercise's src/; move on when the step passes. Keys: h, r, q (then Enter).
    Watch { name: String },
    /// A timed mock interview: the question and the round's time box, the
    /// watch loop with a transcript, the debrief questions, then the grade.
    Interview {
        name: String,
        /// The time box (default: the round's, from exercise.toml).
        #[arg(long, value_parser = interview::parse_minutes)]
        minutes: Option<f64>,
        /// Skip grading the attempt at the end.
        #[arg(long)]
        no_grade: bool,
    },
    /// Show the next hint for a step (the first unfinished one by default).
    Hint { name: String, step: Option<u32> },
    /// Interviewers: write one exercise as a standalone workspace to hand a
    /// candidate (skeleton, visible spec, labkit, the CLI; no reference, no mutants).
    Takehome {
        name: String,
        /// Where to write it (must not exist, or be empty).
        #[arg(long)]
        out: PathBuf,
        /// Only these steps, e.g. 1-4 (from step 1; default: all).
        #[arg(long)]
        steps: Option<String>,
        /// The time budget to state in the candidate's README, e.g. 72h.
        #[arg(long)]
        due: Option<String>,
        /// Every hint, not just the first of each step.
        #[arg(long)]
        hints: bool,
    },
    /// Interviewers: grade a submission (a directory or a git URL) against the
    /// visible and hidden tests; writes an HTML report, with .md and .json beside it.
    /// This runs the candidate's code: do it in a throwaway container or VM.
    Grade {
        submission: String,
        #[arg(long)]
        exercise: String,
        /// The HTML report's path (default: grade-<exercise>.html).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Bound on each run of the submission's code, in seconds: each suite
        /// (after the build, bounded apart), clippy, each bench run.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
        /// Accept a manifest that changes dependencies, and use it.
        #[arg(long)]
        allow_deps: bool,
        /// Skip the benches (they build in release mode: minutes, the first time).
        #[arg(long)]
        no_bench: bool,
        /// Skip counting clippy's warnings.
        #[arg(long)]
        no_clippy: bool,
    },
    /// Start, stop or inspect the services the tests use (Postgres, Redis, Kafka,
    /// MariaDB).
    Services {
        #[command(subcommand)]
        command: services::ServicesCommand,
    },
    /// Maintainers: reference passes all, skeleton fails all, every mutant killed.
    ///
    /// Each mutant runs the tests its `killed-by:` header names; a run with no
    /// hole writes solutions/<name>/verified.toml (commit it).
    Verify {
        /// Exercises to verify (default: all).
        names: Vec<String>,
        /// Skip the mutants (quicker, while writing tests). Writes no record.
        #[arg(long)]
        skip_mutants: bool,
        /// Only this mutant. Writes no record.
        #[arg(long)]
        mutant: Option<String>,
        /// Run the whole suite on every mutant, counting every test that kills it.
        #[arg(long)]
        thorough: bool,
        /// Run the mutants only of exercises whose inputs differ from their
        /// committed record; for the others, run the skeleton and show the record.
        #[arg(long)]
        changed: bool,
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
    .with_state_path(cli.state_file.clone())
    .with_verify_dir(cli.verify_dir.clone());
    match cli.command {
        None => dashboard::dashboard(&workspace, out),
        Some(Command::List) => list::list(&workspace, out),
        Some(Command::Check {
            name,
            step,
            verbose,
        }) => check::check(&workspace, &name, step, verbose, out),
        Some(Command::Reset { name, step, yes }) => reset::reset(&workspace, &name, step, yes, out),
        Some(Command::Hint { name, step }) => hint::hint(&workspace, &name, step, out),
        Some(Command::Watch { name }) => watch::watch(&workspace, &name, out),
        Some(Command::Interview {
            name,
            minutes,
            no_grade,
        }) => interview::interview(&workspace, &name, minutes, no_grade, out),
        Some(Command::Takehome {
            name,
            out: dir,
            steps,
            due,
            hints,
        }) => {
            let options = crate::takehome::Options {
                steps: steps
                    .as_deref()
                    .map(crate::takehome::parse_steps)
                    .transpose()?,
                due,
                hints,
            };
            takehome::takehome(&workspace, &name, &dir, &options, out)
        }
        Some(Command::Grade {
            submission,
            exercise,
            out: report,
            timeout,
            allow_deps,
            no_bench,
            no_clippy,
        }) => grade::grade(
            &workspace,
            &submission,
            &exercise,
            report.as_deref(),
            &crate::grade::Options {
                timeout: Duration::from_secs(timeout),
                allow_deps,
                bench: !no_bench,
                clippy: !no_clippy,
            },
            out,
        ),
        Some(Command::Services { command }) => services::services(&workspace, command, out),
        Some(Command::Verify {
            names,
            skip_mutants,
            mutant,
            thorough,
            changed,
        }) => verify::verify(
            &workspace,
            &names,
            &crate::verify::Options {
                skip_mutants,
                only_mutant: mutant,
                thorough,
            },
            changed,
            out,
        ),
    }
}

/// A spinner on stderr; hidden when stderr is not a terminal (CI logs, tests).
pub(super) fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
