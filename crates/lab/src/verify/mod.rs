//! The maintainers' gate: tests must be honest.
//!
//! For each exercise, one phase per function:
//! 1. [`reference_phase`]: the reference solution passes every test, and every
//!    step has tests;
//! 2. [`skeleton_phase`]: the skeleton compiles and fails every test (a test that
//!    passes on `todo!()` proves nothing), except those listed in
//!    `skeleton_may_pass`;
//! 3. [`mutant_phase`]: every curated mutant compiles and is killed by the tests
//!    its `killed-by:` header names. By default only those tests run on it
//!    (alone: a mutant is a claim about *those* tests); `--thorough`
//!    runs the whole suite and so counts every killer;
//! 4. the record ([`crate::record`]), written by the CLI when there is no hole.
//!
//! Anything else is a *hole*, and `lab verify` exits non-zero.
//!
//! Skeleton and mutant runs set `LAB_KEEP_FAILED=0`: their tests are meant to
//! fail, and labkit would otherwise keep every failed test's database.

mod classify;
mod render;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cargo::{self, Progress, TestCommand, TestOutput};
use crate::exercise::{Exercise, step_of};
use crate::libtest::Outcome;
use crate::mutant::{self, Mutant, Scratch};
use crate::workspace::Workspace;

pub use classify::{MutantOutcome, Selection, classify};
use render::indent;
pub use render::render;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Skip mutants (a quicker check while writing tests).
    pub skip_mutants: bool,
    /// Only this mutant.
    pub only_mutant: Option<String>,
    /// Run the whole suite on each mutant, not only the tests its header names.
    pub thorough: bool,
}

impl Options {
    /// Every mutant runs (no `--skip-mutants`, no `--mutant`): only such a run
    /// may stand for the exercise later, in a record.
    pub fn runs_every_mutant(&self) -> bool {
        !self.skip_mutants && self.only_mutant.is_none()
    }
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

#[derive(Clone, Debug)]
pub struct MutantResult {
    pub name: String,
    pub mistake: String,
    pub outcome: MutantOutcome,
    /// Tests that failed on the mutant (of those that ran on it).
    pub failed_tests: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub exercise: String,
    pub reference: RunSummary,
    pub skeleton: RunSummary,
    /// Every test the reference ran, by full name.
    pub tests: Vec<String>,
    pub mutants: Vec<MutantResult>,
    pub mutants_skipped: bool,
    /// Set when the mutants were not run now because a current record stands
    /// for them: "recorded at <commit>, <date>".
    pub mutants_recorded: Option<String>,
    pub thorough: bool,
    pub holes: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.holes.is_empty()
    }

    fn hole(&mut self, text: impl Into<String>) {
        self.holes.push(text.into());
    }
}

/// Bound on one mutant's test run: a mutant that makes a test hang has found a
/// missing timeout, which is a hole in its own right.
const MUTANT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// labkit's switch for a failed test's database and keys (`labkit::cleanup`;
/// the lab depends on no service crate, so the name is repeated here, and the
/// lab's self-tests check the two agree).
pub const KEEP_FAILED_VAR: &str = "LAB_KEEP_FAILED";

/// What skeleton and mutant runs tell labkit: drop a failed test's resources.
fn expected_to_fail(mut command: TestCommand) -> TestCommand {
    command.env.push((KEEP_FAILED_VAR.into(), "0".into()));
    command
}

/// A test run in the scratch copy. Without debug info: nobody reads a mutant's
/// backtrace (panic messages keep their file and line without it), and it makes
/// the build and link that every mutant pays for a good deal cheaper. The scratch
/// copy has a target directory of its own, so this never mixes with the real
/// tree's builds.
fn scratch_command(copy: &Workspace, package: &str) -> TestCommand {
    let mut command = copy.test_command(package);
    command
        .env
        .push(("CARGO_PROFILE_DEV_DEBUG".into(), "false".into()));
    command
}

/// Verify one exercise: every phase. `log` receives one line per phase.
pub fn verify(
    workspace: &Workspace,
    exercise: &Exercise,
    options: &Options,
    log: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Report> {
    let mut report = Report {
        exercise: exercise.name.clone(),
        mutants_skipped: options.skip_mutants,
        thorough: options.thorough,
        ..Report::default()
    };
    log(&format!(
        "{}: running the reference ({})",
        exercise.name,
        exercise.solution_package()
    ));
    if !reference_phase(workspace, exercise, &mut report)? {
        return Ok(report);
    }
    log(&format!(
        "{}: running the skeleton ({})",
        exercise.name,
        exercise.package()
    ));
    let tests = report.tests.clone();
    skeleton_phase(workspace, exercise, &tests, &mut report)?;
    if !options.skip_mutants {
        mutant_phase(workspace, exercise, options, log, &mut report)?;
    }
    Ok(report)
}

/// Phase 1: the reference passes everything, and every test belongs to a step.
/// Returns false when it did not even build or run (nothing else can be judged).
pub fn reference_phase(
    workspace: &Workspace,
    exercise: &Exercise,
    report: &mut Report,
) -> anyhow::Result<bool> {
    let reference = cargo::run_tests(
        &workspace.test_command(&exercise.solution_package()),
        &|_| {},
    )?;
    report.reference = RunSummary::of(&reference);
    report.tests = reference.run.outcomes.keys().cloned().collect();
    if reference.build_failed() || reference.timed_out {
        report.hole(format!(
            "the reference does not build or run:\n{}",
            indent(&reference.compiler_errors(30))
        ));
        return Ok(false);
    }
    if reference.run.outcomes.is_empty() {
        report.hole("the reference ran no tests at all");
    }
    if !reference.success && reference.run.failed().next().is_none() {
        // Cargo failed, yet no test did: a test binary crashed (or was killed)
        // and the tests it had not reported yet are missing from the list.
        report.hole(format!(
            "cargo test failed on the reference without a failing test (a crashed test binary?):\n{}",
            indent(&reference.compiler_errors(15))
        ));
    }
    for (name, outcome) in &reference.run.outcomes {
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed => report.hole(format!("the reference fails {name}")),
            Outcome::Ignored => report.hole(format!(
                "{name} is ignored: a test that never runs proves nothing"
            )),
        }
        match step_of(name) {
            Some(step) if exercise.step(step).is_some() => {}
            _ => report.hole(format!(
                "{name} belongs to no step of exercise.toml (names start `stepN_`, N from 1 to {})",
                exercise.step_count()
            )),
        }
    }
    for step in 1..=exercise.step_count() {
        if !report.tests.iter().any(|n| step_of(n) == Some(step)) {
            report.hole(format!("step {step} has no tests"));
        }
    }
    Ok(true)
}

/// Phase 2: the skeleton compiles and fails every test the reference runs
/// (`tests`: from the reference run, or from the record that stands for it).
pub fn skeleton_phase(
    workspace: &Workspace,
    exercise: &Exercise,
    tests: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut skeleton = cargo::run_tests(
        &expected_to_fail(workspace.test_command(exercise.package())),
        &|_| {},
    )?;
    if exercise.has_hidden_tests() && !skeleton.build_failed() && !skeleton.timed_out {
        let hidden = hidden_on_skeleton(workspace, exercise)?;
        if hidden.build_failed() || hidden.timed_out {
            report.hole(format!(
                "the hidden tests do not build (or finish) against the skeleton:\n{}",
                indent(&hidden.compiler_errors(30))
            ));
            return Ok(());
        }
        skeleton.run.outcomes.extend(hidden.run.outcomes);
    }
    report.skeleton = RunSummary::of(&skeleton);
    if skeleton.timed_out {
        report.hole(format!(
            "the skeleton's tests did not finish within {:?}: a test waits on a todo!() \
             without a bound",
            TestCommand::default_timeout()
        ));
        return Ok(());
    }
    if skeleton.build_failed() {
        report.hole(format!(
            "the skeleton must compile, and does not:\n{}",
            indent(&skeleton.compiler_errors(30))
        ));
        return Ok(());
    }
    let exempt: BTreeSet<&str> = exercise
        .meta
        .skeleton_may_pass
        .iter()
        .map(|e| e.test.as_str())
        .collect();
    for name in tests {
        match skeleton.run.outcomes.get(name) {
            Some(Outcome::Failed) => {}
            Some(_) if exempt.contains(name.as_str()) => {}
            Some(_) => report.hole(format!(
                "{name} passes on the skeleton: it cannot tell a stub from a solution"
            )),
            None => report.hole(format!(
                "{name} runs on the reference but not on the skeleton"
            )),
        }
    }
    for name in skeleton.run.outcomes.keys() {
        if !tests.contains(name) {
            report.hole(format!(
                "{name} runs on the skeleton but not on the reference"
            ));
        }
    }
    for name in &exempt {
        if skeleton.run.outcomes.get(*name) != Some(&Outcome::Passed) {
            report.hole(format!(
                "skeleton_may_pass lists {name}, which does not pass on the skeleton: remove it"
            ));
        }
    }
    Ok(())
}

/// The hidden tests against the skeleton. The skeleton's package has no hidden
/// target (a learner's `cargo test` must not run them), so this runs in the
/// scratch copy, whose exercise manifest gets one for the run and is then put
/// back as the real tree has it.
fn hidden_on_skeleton(workspace: &Workspace, exercise: &Exercise) -> anyhow::Result<TestOutput> {
    let scratch = Scratch::prepare(workspace)?;
    let copy = scratch.workspace();
    scratch.add_hidden_target(workspace, exercise, "lab verify")?;
    let mut command = expected_to_fail(scratch_command(&copy, exercise.package()));
    command.test_targets = vec!["hidden".to_string()];
    let output = cargo::run_tests(&command, &|_| {});
    scratch.restore(workspace)?;
    output
}

/// Phase 3: every mutant, on a scratch copy of the workspace, is killed by the
/// tests its header names.
pub fn mutant_phase(
    workspace: &Workspace,
    exercise: &Exercise,
    options: &Options,
    log: &(dyn Fn(&str) + Sync),
    report: &mut Report,
) -> anyhow::Result<()> {
    let mutants = mutant::load_all(exercise)?;
    if mutants.is_empty() {
        report.hole("no mutants: add curated wrong answers under solutions/<name>/mutants/");
        return Ok(());
    }
    let scratch = Scratch::prepare(workspace)?;
    let copy = scratch.workspace();
    // Build the unchanged reference in the scratch copy first, under the long
    // build bound: the first build there compiles every dependency (librdkafka
    // from C), which must not eat into the first mutant's bound on its *tests*.
    log(&format!(
        "{}: building the scratch copy for the mutants ({})",
        exercise.name,
        scratch.root.display()
    ));
    let test_targets = exercise.test_targets()?;
    let mut warm = scratch_command(&copy, &exercise.solution_package());
    warm.test_targets = test_targets.clone();
    warm.no_run = true;
    let warmed = cargo::run_tests(&warm, &|_: Progress<'_>| {})?;
    if warmed.timed_out || !warmed.success {
        report.hole(format!(
            "the reference does not build in the scratch copy: {}",
            warmed.compiler_errors(15)
        ));
        return Ok(());
    }
    if let Some(only) = &options.only_mutant
        && !mutants.iter().any(|m| m.name == *only)
    {
        let names: Vec<&str> = mutants.iter().map(|m| m.name.as_str()).collect();
        report.hole(format!(
            "there is no mutant {only:?}; the mutants are: {}",
            names.join(", ")
        ));
        return Ok(());
    }
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
        let result = run_mutant(
            workspace,
            exercise,
            (&scratch, &copy),
            &test_targets,
            &m,
            options,
            report,
        )?;
        report.mutants.push(result);
    }
    scratch.restore(workspace)?;
    Ok(())
}

/// Apply one mutant to the scratch copy, run its tests, and record any hole.
fn run_mutant(
    workspace: &Workspace,
    exercise: &Exercise,
    (scratch, copy): (&Scratch, &Workspace),
    test_targets: &[String],
    m: &Mutant,
    options: &Options,
    report: &mut Report,
) -> anyhow::Result<MutantResult> {
    let known: BTreeSet<String> = report.tests.iter().cloned().collect();
    let mut named_missing = false;
    for expected in &m.killed_by {
        if !known.contains(expected) {
            named_missing = true;
            report.hole(format!(
                "mutant {} names killed-by {expected}, which is not a test",
                m.name
            ));
        }
    }
    scratch.restore(workspace)?;
    let package = exercise.solution_package();
    // The named tests alone, unless told to be thorough (or the header names
    // none, or names one that does not exist: then all of them).
    let fast = !options.thorough && !m.killed_by.is_empty() && !named_missing;
    let timeout = MUTANT_TIMEOUT.min(TestCommand::default_timeout());
    let (outcome, failed_tests) = match m.apply(&scratch.solution_dir(workspace, exercise)?) {
        Err(e) => (MutantOutcome::DidNotApply(format!("{e:#}")), Vec::new()),
        Ok(_) => {
            // Never the real workspace's target directory: cargo names the
            // artifacts of path packages by their path *within* the workspace, so
            // the scratch copy's builds would land in the very slots of the real
            // ones, and mtime-based freshness could then run a mutant as the
            // reference (or the reference as a mutant).
            let mut command = expected_to_fail(scratch_command(copy, &package));
            command.test_targets = test_targets.to_vec();
            if fast {
                command.exact = m.killed_by.clone();
            }
            // Dependencies are built (above): this bounds an incremental build
            // of the mutant and its test run.
            command.timeout = timeout;
            let output = cargo::run_tests(&command, &|_| {})?;
            let expected = if fast { m.killed_by.len() } else { known.len() };
            classify(
                &output,
                &Selection {
                    package: &package,
                    expected,
                },
            )
        }
    };
    match &outcome {
        MutantOutcome::Killed => {
            for expected in &m.killed_by {
                if known.contains(expected) && !failed_tests.contains(expected) {
                    report.hole(format!(
                        "mutant {} was expected to be killed by {expected}, which passed on it",
                        m.name
                    ));
                }
            }
        }
        MutantOutcome::Survived if fast => {
            for expected in &m.killed_by {
                report.hole(format!(
                    "mutant {} was expected to be killed by {expected}, which passed on it",
                    m.name
                ));
            }
            report.hole(format!(
                "mutant {} survived the tests its header names: {} \
                 (`cargo lab verify {} --thorough --mutant {}` tries every test)",
                m.name, m.mistake, exercise.name, m.name
            ));
        }
        MutantOutcome::Survived => report.hole(format!(
            "mutant {} survived every test: {}",
            m.name, m.mistake
        )),
        MutantOutcome::DidNotApply(e) => {
            report.hole(format!("mutant {} does not apply: {e}", m.name))
        }
        MutantOutcome::DidNotBuild(e) => report.hole(format!(
            "mutant {} does not compile, so it models no answer a candidate could hand in:\n{}",
            m.name,
            indent(e)
        )),
        MutantOutcome::TimedOut => report.hole(format!(
            "the tests hung on mutant {} (over {timeout:?}): some wait has no timeout",
            m.name
        )),
        MutantOutcome::Incomplete(e) => report.hole(format!(
            "the tests did not all finish on mutant {} (a crashed test process?):\n{}",
            m.name,
            indent(e)
        )),
    }
    Ok(MutantResult {
        name: m.name.clone(),
        mistake: m.mistake.clone(),
        outcome,
        failed_tests,
    })
}
