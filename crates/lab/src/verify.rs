//! The maintainers' gate: tests must be honest.
//!
//! For each exercise:
//! 1. the reference solution passes every test;
//! 2. the skeleton compiles and fails every test (a test that passes on
//!    `todo!()` proves nothing), except those listed in `skeleton_may_pass`;
//! 3. every curated mutant compiles and is killed by at least one test, including
//!    the tests its header names.
//!
//! Anything else is a *hole*, and `lab verify` exits non-zero.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cargo::{self, Progress, TestCommand, TestOutput};
use crate::exercise::{Exercise, step_of};
use crate::libtest::Outcome;
use crate::mutant::{self, Scratch};
use crate::workspace::Workspace;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Skip mutants (a quicker check while writing tests).
    pub skip_mutants: bool,
    /// Only this mutant.
    pub only_mutant: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub build_failed: bool,
}

impl RunSummary {
    fn of(output: &TestOutput) -> RunSummary {
        RunSummary {
            total: output.run.outcomes.len(),
            passed: output.run.passed().count(),
            failed: output.run.failed().count(),
            build_failed: output.build_failed(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutantOutcome {
    Killed,
    Survived,
    DidNotApply(String),
    DidNotBuild(String),
    TimedOut,
    /// No test failed, yet not every test reported a result (the test process
    /// crashed or was killed): neither a kill nor a survival.
    Incomplete(String),
}

#[derive(Clone, Debug)]
pub struct MutantResult {
    pub name: String,
    pub mistake: String,
    pub outcome: MutantOutcome,
    /// Tests that failed on the mutant.
    pub failed_tests: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub exercise: String,
    pub reference: RunSummary,
    pub skeleton: RunSummary,
    pub mutants: Vec<MutantResult>,
    pub mutants_skipped: bool,
    pub holes: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.holes.is_empty()
    }
}

/// Bound on one mutant's test run: a mutant that makes a test hang has found a
/// missing timeout, which is a hole in its own right.
const MUTANT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Verify one exercise. `log` receives one line per phase.
pub fn verify(
    workspace: &Workspace,
    exercise: &Exercise,
    options: &Options,
    log: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Report> {
    let mut report = Report {
        exercise: exercise.name.clone(),
        mutants_skipped: options.skip_mutants,
        ..Report::default()
    };
    let quiet = |_: Progress<'_>| {};

    // 1. The reference passes everything.
    log(&format!(
        "{}: running the reference ({})",
        exercise.name,
        exercise.solution_package()
    ));
    let in_workspace = |package: &str| {
        let mut command = TestCommand::new(&workspace.root, package);
        command.target_dir = Some(workspace.target_dir());
        command
    };
    let reference = cargo::run_tests(&in_workspace(&exercise.solution_package()), &quiet)?;
    report.reference = RunSummary::of(&reference);
    if reference.build_failed() || reference.timed_out {
        report.holes.push(format!(
            "the reference does not build or run:\n{}",
            indent(&reference.compiler_errors(30))
        ));
        return Ok(report);
    }
    if reference.run.outcomes.is_empty() {
        report
            .holes
            .push("the reference ran no tests at all".into());
    }
    for (name, outcome) in &reference.run.outcomes {
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed => report.holes.push(format!("the reference fails {name}")),
            Outcome::Ignored => report.holes.push(format!(
                "{name} is ignored: a test that never runs proves nothing"
            )),
        }
        match step_of(name) {
            Some(step) if exercise.step(step).is_some() => {}
            _ => report.holes.push(format!(
                "{name} belongs to no step of exercise.toml (names start `stepN_`, N from 1 to {})",
                exercise.step_count()
            )),
        }
    }
    for step in 1..=exercise.step_count() {
        if !reference
            .run
            .outcomes
            .keys()
            .any(|n| step_of(n) == Some(step))
        {
            report.holes.push(format!("step {step} has no tests"));
        }
    }

    // 2. The skeleton compiles and fails everything.
    log(&format!(
        "{}: running the skeleton ({})",
        exercise.name,
        exercise.package()
    ));
    let skeleton = cargo::run_tests(&in_workspace(exercise.package()), &quiet)?;
    report.skeleton = RunSummary::of(&skeleton);
    if skeleton.build_failed() || skeleton.timed_out {
        report.holes.push(format!(
            "the skeleton must compile, and does not:\n{}",
            indent(&skeleton.compiler_errors(30))
        ));
    } else {
        let exempt: BTreeSet<&str> = exercise
            .meta
            .skeleton_may_pass
            .iter()
            .map(|e| e.test.as_str())
            .collect();
        for name in reference.run.outcomes.keys() {
            match skeleton.run.outcomes.get(name) {
                Some(Outcome::Failed) => {}
                Some(_) if exempt.contains(name.as_str()) => {}
                Some(_) => report.holes.push(format!(
                    "{name} passes on the skeleton: it cannot tell a stub from a solution"
                )),
                None => report.holes.push(format!(
                    "{name} runs on the reference but not on the skeleton"
                )),
            }
        }
        for name in skeleton.run.outcomes.keys() {
            if !reference.run.outcomes.contains_key(name) {
                report.holes.push(format!(
                    "{name} runs on the skeleton but not on the reference"
                ));
            }
        }
        for name in &exempt {
            if skeleton.run.outcomes.get(*name) != Some(&Outcome::Passed) {
                report.holes.push(format!(
                    "skeleton_may_pass lists {name}, which does not pass on the skeleton: remove it"
                ));
            }
        }
    }

    // 3. Every mutant is killed.
    if options.skip_mutants {
        return Ok(report);
    }
    let mutants = mutant::load_all(exercise)?;
    if mutants.is_empty() {
        report
            .holes
            .push("no mutants: add curated wrong answers under solutions/<name>/mutants/".into());
        return Ok(report);
    }
    let scratch = Scratch::prepare(workspace)?;
    // Build the unchanged reference in the scratch copy first, under the long
    // build bound: the first build there compiles every dependency (librdkafka
    // from C), which must not eat into the first mutant's bound on its *tests*.
    log(&format!(
        "{}: building the scratch copy for the mutants",
        exercise.name
    ));
    scratch.restore(workspace)?;
    let mut warm = TestCommand::new(&scratch.root, exercise.solution_package());
    warm.target_dir = Some(scratch.target_dir.clone());
    warm.no_run = true;
    let warmed = cargo::run_tests(&warm, &quiet)?;
    if warmed.timed_out || !warmed.success {
        report.holes.push(format!(
            "the reference does not build in the scratch copy: {}",
            warmed.compiler_errors(15)
        ));
        return Ok(report);
    }
    let known: BTreeSet<&String> = reference.run.outcomes.keys().collect();
    for m in mutants {
        if options
            .only_mutant
            .as_ref()
            .is_some_and(|only| *only != m.name)
        {
            continue;
        }
        log(&format!(
            "{}: mutant {} — {}",
            exercise.name, m.name, m.mistake
        ));
        for expected in &m.killed_by {
            if !known.contains(expected) {
                report.holes.push(format!(
                    "mutant {} names killed-by {expected}, which is not a test",
                    m.name
                ));
            }
        }
        scratch.restore(workspace)?;
        let outcome_and_failures = match m.apply(&scratch.solution_dir(workspace, exercise)?) {
            Err(e) => (MutantOutcome::DidNotApply(format!("{e:#}")), Vec::new()),
            Ok(_) => {
                let mut command = TestCommand::new(&scratch.root, exercise.solution_package());
                // Never the real workspace's target directory: cargo names the
                // artifacts of path packages by their path *within* the workspace,
                // so the scratch copy's builds would land in the very slots of the
                // real ones, and mtime-based freshness could then run a mutant as
                // the reference (or the reference as a mutant). The scratch target
                // builds the dependencies once and keeps them.
                command.target_dir = Some(scratch.target_dir.clone());
                // Dependencies are built (above): this bounds an incremental
                // build of the mutant and its test run.
                command.timeout = MUTANT_TIMEOUT.min(TestCommand::default_timeout());
                let output = cargo::run_tests(&command, &quiet)?;
                let failed: Vec<String> = output.run.failed().map(str::to_string).collect();
                let outcome = if output.timed_out {
                    MutantOutcome::TimedOut
                } else if output.build_failed() {
                    MutantOutcome::DidNotBuild(output.compiler_errors(15))
                } else if failed.is_empty()
                    && (!output.success || output.run.passed().count() < known.len())
                {
                    MutantOutcome::Incomplete(format!(
                        "{} of {} tests reported; cargo test {}:\n{}",
                        output.run.outcomes.len(),
                        known.len(),
                        if output.success {
                            "succeeded"
                        } else {
                            "failed"
                        },
                        output.compiler_errors(15)
                    ))
                } else if failed.is_empty()
                    && !output
                        .stderr
                        .contains(&format!("Compiling {} v", exercise.solution_package()))
                {
                    // Every test passed, but on a build cargo judged fresh: the
                    // binary may predate the patch. Not a verdict on the tests.
                    MutantOutcome::Incomplete(format!(
                        "cargo did not rebuild {} after the patch, so the tests may have run an older build",
                        exercise.solution_package()
                    ))
                } else if failed.is_empty() {
                    MutantOutcome::Survived
                } else {
                    MutantOutcome::Killed
                };
                (outcome, failed)
            }
        };
        let (outcome, failed_tests) = outcome_and_failures;
        match &outcome {
            MutantOutcome::Killed => {
                for expected in &m.killed_by {
                    if known.contains(expected) && !failed_tests.contains(expected) {
                        report.holes.push(format!(
                            "mutant {} was expected to be killed by {expected}, which passed on it",
                            m.name
                        ));
                    }
                }
            }
            MutantOutcome::Survived => report.holes.push(format!(
                "mutant {} survived every test: {}",
                m.name, m.mistake
            )),
            MutantOutcome::DidNotApply(e) => report
                .holes
                .push(format!("mutant {} does not apply: {e}", m.name)),
            MutantOutcome::DidNotBuild(e) => report.holes.push(format!(
                "mutant {} does not compile, so it models no answer a candidate could hand in:\n{}",
                m.name,
                indent(e)
            )),
            MutantOutcome::TimedOut => report.holes.push(format!(
                "the tests hung on mutant {} (over {MUTANT_TIMEOUT:?}): some wait has no timeout",
                m.name
            )),
            MutantOutcome::Incomplete(e) => report.holes.push(format!(
                "the tests did not all finish on mutant {} (a crashed test process?):\n{}",
                m.name,
                indent(e)
            )),
        }
        report.mutants.push(MutantResult {
            name: m.name,
            mistake: m.mistake,
            outcome,
            failed_tests,
        });
    }
    scratch.restore(workspace)?;
    Ok(report)
}

/// The matrix, then the mutants and their killers, then the holes.
pub fn render(reports: &[Report]) -> String {
    let mut text = String::new();
    let width = reports
        .iter()
        .map(|r| r.exercise.len())
        .max()
        .unwrap_or(8)
        .max(8);
    text.push_str(&format!(
        "{:width$}  {:16}  {:16}  {:16}  verdict\n",
        "exercise", "reference", "skeleton", "mutants"
    ));
    for r in reports {
        let reference = if r.reference.build_failed {
            "does not build".to_string()
        } else {
            format!("{}/{} pass", r.reference.passed, r.reference.total)
        };
        let skeleton = if r.skeleton.build_failed {
            "does not build".to_string()
        } else {
            format!("{}/{} fail", r.skeleton.failed, r.skeleton.total)
        };
        let mutants = if r.mutants_skipped {
            "skipped".to_string()
        } else {
            let killed = r
                .mutants
                .iter()
                .filter(|m| m.outcome == MutantOutcome::Killed)
                .count();
            format!("{killed}/{} killed", r.mutants.len())
        };
        let verdict = if r.ok() {
            "ok".to_string()
        } else {
            format!("{} hole(s)", r.holes.len())
        };
        text.push_str(&format!(
            "{:width$}  {reference:16}  {skeleton:16}  {mutants:16}  {verdict}\n",
            r.exercise
        ));
    }
    for r in reports {
        if !r.mutants.is_empty() {
            text.push_str(&format!(
                "\n{} — mutants and the tests that kill them\n",
                r.exercise
            ));
            for m in &r.mutants {
                let verdict = match &m.outcome {
                    MutantOutcome::Killed => format!("killed by {}", m.failed_tests.join(", ")),
                    MutantOutcome::Survived => "SURVIVED".to_string(),
                    MutantOutcome::DidNotApply(_) => "DOES NOT APPLY".to_string(),
                    MutantOutcome::DidNotBuild(_) => "DOES NOT BUILD".to_string(),
                    MutantOutcome::TimedOut => "TESTS HUNG".to_string(),
                    MutantOutcome::Incomplete(_) => "TESTS DID NOT FINISH".to_string(),
                };
                text.push_str(&format!("  {:34} {verdict}\n", m.name));
            }
        }
        if !r.holes.is_empty() {
            text.push_str(&format!("\n{} — holes\n", r.exercise));
            for hole in &r.holes {
                text.push_str(&format!("  - {}\n", hole.replace('\n', "\n    ")));
            }
        }
    }
    text
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
