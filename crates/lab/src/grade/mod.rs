//! `cargo lab grade`: a candidate's submission, run against the visible and the
//! hidden tests, scored per step, and compared with the known mistakes.
//!
//! Grading runs the candidate's code. It takes only their editable files (never
//! their tests, manifests or provided files), in a scratch copy of the lab of
//! its own (a [`Scratch`] beside verify's), with a wall-clock bound on each run
//! of their code (each suite, clippy, each bench run), so a hung or crashing
//! submission never hangs the grader. One phase per function below:
//! [`locate`], [`refusal`], [`prepare`], [`run_suites`], then
//! [`score::score`], [`score::diagnose`], [`score::follow_ups`], the code
//! [`signals`] and the [`bench`] comparison.

pub mod bench;
pub mod report;
pub mod score;
mod signals;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cargo::{self, TestCommand};
use crate::exercise::{Exercise, Rubric};
use crate::libtest::Outcome;
use crate::mutant::Scratch;
use crate::record::{self, Standing};
use crate::workspace::Workspace;

#[derive(Clone, Debug)]
pub struct Options {
    /// Bound on each run of the candidate's code: one suite's tests (the
    /// build before them is bounded apart), clippy, one bench run.
    pub timeout: Duration,
    /// Accept a submission whose manifest changes dependencies (and use it).
    pub allow_deps: bool,
    /// Run the exercise's benches on the submission and the reference.
    pub bench: bool,
    /// Count clippy's warnings in the candidate's files.
    pub clippy: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(15 * 60),
            allow_deps: false,
            bench: true,
            clippy: true,
        }
    }
}

/// The anchored rating of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rating {
    /// Every visible and every hidden test of the step passes.
    Strong,
    /// Every visible test passes; some hidden test does not.
    LeaningStrong,
    /// At least half of the step's tests pass.
    NeedsImprovement,
    /// Fewer than half pass.
    Poor,
}

impl Rating {
    pub fn label(self) -> &'static str {
        match self {
            Rating::Strong => "strong",
            Rating::LeaningStrong => "leaning strong",
            Rating::NeedsImprovement => "needs improvement",
            Rating::Poor => "poor",
        }
    }

    /// What the rating is anchored to, for the report.
    pub fn anchor(self) -> &'static str {
        match self {
            Rating::Strong => "every visible and hidden test of the step passes",
            Rating::LeaningStrong => "every visible test passes, some hidden test fails",
            Rating::NeedsImprovement => "at least half of the step's tests pass",
            Rating::Poor => "fewer than half of the step's tests pass",
        }
    }

    /// This rating's description in a step's rubric.
    pub fn of(self, rubric: &Rubric) -> &str {
        match self {
            Rating::Strong => &rubric.strong,
            Rating::LeaningStrong => &rubric.leaning_strong,
            Rating::NeedsImprovement => &rubric.needs_improvement,
            Rating::Poor => &rubric.poor,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub passed: usize,
    pub total: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepGrade {
    pub step: u32,
    pub title: String,
    pub visible: Count,
    pub hidden: Count,
    pub rating: Rating,
    /// The step's rubric at this rating (`exercise.toml`), for the reviewer.
    pub looks_like: Option<String>,
    /// The rubric's "strong", when the step is not.
    pub strong_looks_like: Option<String>,
    pub failed: Vec<String>,
}

/// A known mistake whose telling tests all fail on the submission.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    pub mutant: String,
    pub mistake: String,
    /// The tests that catch this mistake (its `killed-by`, or with a
    /// `--thorough` record every test it fails), all failing here.
    pub tests: Vec<String>,
    /// Those tests over every test failing here: 1.0 is the same failures.
    pub closeness: f64,
    /// Other known mistakes with exactly the same recorded failures: the tests
    /// cannot tell them apart from this one.
    pub alike: Vec<Alike>,
    pub step: u32,
    pub readme: String,
}

/// A known mistake the tests cannot tell from the one named.
#[derive(Clone, Debug, Serialize)]
pub struct Alike {
    pub mutant: String,
    pub mistake: String,
}

/// A question for the debrief, and why the grade asks it.
#[derive(Clone, Debug, Serialize)]
pub struct FollowUp {
    pub question: String,
    pub why: String,
}

impl FollowUp {
    /// The exercise's own questions, asked after the steps'.
    pub fn of_the_exercise(exercise: &Exercise) -> impl Iterator<Item = FollowUp> + '_ {
        exercise.meta.follow_ups.iter().map(|q| FollowUp {
            question: q.clone(),
            why: "about the exercise as a whole".to_string(),
        })
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FileChange {
    pub file: String,
    pub added: usize,
    pub removed: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Signals {
    /// Lines with `unsafe` in the candidate's files.
    pub unsafe_lines: usize,
    /// `.unwrap()` calls outside `#[cfg(test)]` modules.
    pub unwraps: usize,
    /// Clippy's warnings in the candidate's files, by lint (`None`: not run).
    pub clippy: Option<BTreeMap<String, usize>>,
    pub changes: Vec<FileChange>,
}

/// One command the grader ran, and under which bound.
#[derive(Clone, Debug, Serialize)]
pub struct Ran {
    pub what: String,
    pub command: String,
    pub timeout_secs: u64,
    pub elapsed_secs: f64,
    pub outcome: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Grade {
    pub exercise: String,
    pub submission: String,
    /// Set when the submission was refused before anything ran.
    pub refused: Option<String>,
    pub built: bool,
    /// Every suite ran to its end: none hung, none crashed.
    pub finished: bool,
    pub compiler_errors: Option<String>,
    /// Which verify record the scores and the diagnosis rest on: "current"
    /// (and whether `--thorough`), or why there is none to trust.
    pub record: String,
    pub ran: Vec<Ran>,
    pub steps: Vec<StepGrade>,
    pub diagnosis: Vec<Diagnosis>,
    pub signals: Signals,
    /// The benches, the submission's and the reference's in the same run.
    pub bench: Option<bench::Comparison>,
    /// Why the benches did not run, when they were asked for and did not.
    pub bench_skipped: Option<String>,
    pub follow_ups: Vec<FollowUp>,
}

/// Grade `submission` (a directory) as an answer to `exercise`.
pub fn grade(
    workspace: &Workspace,
    exercise: &Exercise,
    submission: &Path,
    options: &Options,
) -> anyhow::Result<Grade> {
    let src = locate(exercise, submission)?;
    let mut grade = Grade {
        exercise: exercise.name.clone(),
        submission: submission.display().to_string(),
        refused: None,
        built: false,
        finished: false,
        compiler_errors: None,
        record: String::new(),
        ran: Vec::new(),
        steps: Vec::new(),
        diagnosis: Vec::new(),
        signals: signals::read(exercise, &src),
        bench: None,
        bench_skipped: None,
        follow_ups: Vec::new(),
    };
    if let Some(why) = refusal(exercise, &src, options) {
        grade.refused = Some(why);
        return Ok(grade);
    }
    // A scratch copy of grade's own, locked like verify's: a second grade
    // waits rather than overwriting the first one's submission mid-run.
    let scratch = Scratch::prepare_in(workspace, workspace.verify_dir().join("grade"))?;
    prepare(workspace, exercise, &src, &scratch, options)?;
    let outcomes = run_suites(&scratch.workspace(), exercise, options, &mut grade)?;
    // A stale record names tests that may no longer exist (a renamed test
    // would count as failed) and kill signatures that no longer hold: score
    // on what ran, and name no mistake, rather than trust it.
    let record = match record::standing(workspace, exercise)? {
        Standing::Current(record) => {
            grade.record = if record.thorough {
                "current, --thorough".to_string()
            } else {
                "current (each mutant's named tests only)".to_string()
            };
            Some(record)
        }
        Standing::Stale { .. } => {
            grade.record = format!(
                "stale: the exercise changed since it was verified, so no mistake is named \
                 (run `cargo lab verify {} --thorough`)",
                exercise.name
            );
            None
        }
        Standing::Missing | Standing::Unreadable(_) => {
            grade.record = format!(
                "none: no mistake is named (run `cargo lab verify {} --thorough`)",
                exercise.name
            );
            None
        }
    };
    grade.steps = score::score(exercise, record.as_ref(), &outcomes);
    grade.diagnosis = score::diagnose(
        workspace,
        exercise,
        record.as_ref(),
        &outcomes,
        &grade.steps,
    );
    grade.follow_ups = score::follow_ups(exercise, &grade.steps, &grade.diagnosis);
    if grade.built && options.clippy {
        let copy = scratch.workspace();
        let (counts, ran) = signals::clippy(&copy, exercise, &src, options);
        grade.signals.clippy = counts;
        grade.ran.push(ran);
    }
    if options.bench && bench::available(exercise) {
        let all_visible = grade
            .steps
            .iter()
            .all(|s| s.visible.passed == s.visible.total);
        // The benches run the candidate's code again, and time it: not after
        // it hung, and not while it is wrong (a ratio for wrong code misleads).
        if !grade.finished {
            grade.bench_skipped =
                Some("a suite hung or crashed, so its code is not run again".into());
        } else if !all_visible {
            grade.bench_skipped = Some(
                "not every visible test passes, and the speed of wrong code means nothing".into(),
            );
        } else {
            let (comparison, ran) = bench::compare(&scratch.workspace(), exercise, options);
            grade.bench = comparison;
            grade.ran.extend(ran);
        }
    }
    Ok(grade)
}

/// The submission's crate directory: `exercises/<name>` inside a take-home
/// bundle or a lab checkout, or the directory itself if it is the crate.
fn locate(exercise: &Exercise, submission: &Path) -> anyhow::Result<PathBuf> {
    for candidate in [
        submission.join("exercises").join(&exercise.name),
        submission.to_path_buf(),
    ] {
        if candidate.join("src").is_dir() {
            return Ok(candidate);
        }
    }
    bail!(
        "{} holds no exercises/{}/src/ and no src/: not a submission of {}",
        submission.display(),
        exercise.name,
        exercise.name
    )
}

/// Why the submission cannot be graded as it is, if it cannot: a build script
/// (it would run at build time, before any bound applies) or a manifest whose
/// dependencies or library kind differ from the exercise's.
fn refusal(exercise: &Exercise, crate_dir: &Path, options: &Options) -> Option<String> {
    if crate_dir.join("build.rs").exists() {
        return Some(
            "the submission adds a build script (build.rs): it would run code at build \
             time, before any bound applies"
                .to_string(),
        );
    }
    if options.allow_deps {
        return None;
    }
    let theirs = std::fs::read_to_string(crate_dir.join("Cargo.toml")).ok()?;
    let ours = std::fs::read_to_string(exercise.dir.join("Cargo.toml")).ok()?;
    let (Ok(theirs), Ok(ours)) = (
        toml::from_str::<toml::Table>(&theirs),
        toml::from_str::<toml::Table>(&ours),
    ) else {
        return Some("the submission's Cargo.toml does not parse".to_string());
    };
    for table in [
        "dependencies",
        "dev-dependencies",
        "build-dependencies",
        "lib",
        "features",
    ] {
        if theirs.get(table) != ours.get(table) {
            return Some(format!(
                "the submission's Cargo.toml changes [{table}] (a dependency, a feature or a \
                 proc-macro library); grade it anyway with --allow-deps"
            ));
        }
    }
    None
}

/// Files of `src/` the candidate may change: its Rust and SQL sources (not an
/// editor's backup or a patch's `.orig`), minus the provided ones.
pub(super) fn editable(exercise: &Exercise, crate_dir: &Path) -> Vec<PathBuf> {
    let provided = exercise.provided_files();
    let mut files = Vec::new();
    collect(&crate_dir.join("src"), &mut files);
    files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs" || e == "sql"))
        .filter_map(|f| f.strip_prefix(crate_dir).ok().map(Path::to_path_buf))
        .filter(|relative| !provided.contains(relative))
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Into the scratch copy: the candidate's editable files over the skeleton's
/// (and, with `--allow-deps`, their manifest), and the hidden tests as a target
/// of the exercise's package.
fn prepare(
    workspace: &Workspace,
    exercise: &Exercise,
    crate_dir: &Path,
    scratch: &Scratch,
    options: &Options,
) -> anyhow::Result<()> {
    let target_crate = scratch.exercise_dir(workspace, exercise)?;
    for file in editable(exercise, crate_dir) {
        let to = target_crate.join(&file);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(crate_dir.join(&file), &to)
            .with_context(|| format!("copying the submission's {}", file.display()))?;
    }
    if options.allow_deps && crate_dir.join("Cargo.toml").is_file() {
        std::fs::copy(
            crate_dir.join("Cargo.toml"),
            target_crate.join("Cargo.toml"),
        )?;
    }
    if exercise.has_hidden_tests() {
        scratch.add_hidden_target(workspace, exercise, "lab grade")?;
    }
    Ok(())
}

/// The build first, bounded like any cold build; then the visible spec and
/// the hidden tests, each run (the build already done) bounded by
/// `--timeout`: a bound that stops a run names a hang, not a slow compiler.
fn run_suites(
    copy: &Workspace,
    exercise: &Exercise,
    options: &Options,
    grade: &mut Grade,
) -> anyhow::Result<BTreeMap<String, Outcome>> {
    let mut outcomes = BTreeMap::new();
    let mut targets = vec!["spec"];
    if exercise.has_hidden_tests() {
        targets.push("hidden");
    }
    let suite = |target: &str| {
        let mut command = copy.test_command(exercise.package());
        command.test_targets = vec![target.to_string()];
        command
            .env
            .push((crate::verify::KEEP_FAILED_VAR.into(), "0".into()));
        command
    };
    let mut build = suite("spec");
    build.test_targets = targets.iter().map(|t| t.to_string()).collect();
    build.no_run = true;
    let started = Instant::now();
    let output = cargo::run_tests(&build, &|_| {})?;
    grade.built = output.success;
    grade.ran.push(Ran {
        what: "build".to_string(),
        command: describe(&build),
        timeout_secs: build.timeout.as_secs(),
        elapsed_secs: started.elapsed().as_secs_f64(),
        outcome: if output.timed_out {
            format!("stopped after {}s", build.timeout.as_secs())
        } else if output.success {
            "built".to_string()
        } else {
            "did not build".to_string()
        },
    });
    if !grade.built {
        grade.compiler_errors = Some(output.compiler_errors(40));
        return Ok(outcomes);
    }
    grade.finished = true;
    for target in targets {
        let mut command = suite(target);
        command.timeout = options.timeout;
        let started = Instant::now();
        let output = cargo::run_tests(&command, &|_| {})?;
        let outcome = if output.timed_out {
            grade.finished = false;
            format!("stopped after {}s: a test hung", options.timeout.as_secs())
        } else if !output.success && output.run.failed().next().is_none() {
            grade.finished = false;
            "a test binary crashed".to_string()
        } else {
            format!(
                "{} passed, {} failed",
                output.run.passed().count(),
                output.run.failed().count()
            )
        };
        let what = if target == "spec" {
            "visible"
        } else {
            "hidden"
        };
        grade.ran.push(Ran {
            what: format!("{what} tests"),
            command: describe(&command),
            timeout_secs: options.timeout.as_secs(),
            elapsed_secs: started.elapsed().as_secs_f64(),
            outcome,
        });
        outcomes.extend(output.run.outcomes);
    }
    Ok(outcomes)
}

fn describe(command: &TestCommand) -> String {
    format!(
        "cargo {} (in a scratch copy; LAB_KEEP_FAILED=0)",
        command.args().join(" ")
    )
}
