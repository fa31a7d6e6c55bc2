//! Judging one mutant run: a pure function of what cargo printed, so every way a
//! run can end is unit-tested without running cargo at all.

use crate::cargo::TestOutput;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutantOutcome {
    Killed,
    Survived,
    DidNotApply(String),
    DidNotBuild(String),
    TimedOut,
    /// No test failed, yet not every selected test reported a result (the test
    /// process crashed or was killed), or cargo did not rebuild the patched
    /// crate: neither a kill nor a survival.
    Incomplete(String),
}

/// Which tests a mutant run was asked to run.
#[derive(Clone, Debug)]
pub struct Selection<'a> {
    /// The package the patch touched: cargo must say it compiled it.
    pub package: &'a str,
    /// How many tests should report a result.
    pub expected: usize,
}

/// The verdict on one mutant from its test run, and the tests that failed.
pub fn classify(output: &TestOutput, selection: &Selection<'_>) -> (MutantOutcome, Vec<String>) {
    let failed: Vec<String> = output.run.failed().map(str::to_string).collect();
    let outcome = if output.timed_out {
        MutantOutcome::TimedOut
    } else if output.build_failed() {
        MutantOutcome::DidNotBuild(output.compiler_errors(15))
    } else if !failed.is_empty() {
        MutantOutcome::Killed
    } else if !output.success || output.run.passed().count() < selection.expected {
        MutantOutcome::Incomplete(format!(
            "{} of {} tests reported; cargo test {}:\n{}",
            output.run.outcomes.len(),
            selection.expected,
            if output.success {
                "succeeded"
            } else {
                "failed"
            },
            output.compiler_errors(15)
        ))
    } else if !output
        .stderr
        .contains(&format!("Compiling {} v", selection.package))
    {
        // Every test passed, but on a build cargo judged fresh: the binary may
        // predate the patch. Not a verdict on the tests.
        MutantOutcome::Incomplete(format!(
            "cargo did not rebuild {} after the patch, so the tests may have run an older build",
            selection.package
        ))
    } else {
        MutantOutcome::Survived
    };
    (outcome, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libtest;

    fn output(stdout: &str, stderr: &str, success: bool, timed_out: bool) -> TestOutput {
        TestOutput {
            run: libtest::parse(stdout),
            stdout: stdout.to_string(),
            stderr: stderr.to_string(),
            success,
            timed_out,
        }
    }

    const COMPILED: &str = "   Compiling adder_solution v0.1.0 (/s/solutions/adder)\n";
    const TWO: Selection<'static> = Selection {
        package: "adder_solution",
        expected: 2,
    };

    /// A failed test kills the mutant, and the failures are listed.
    #[test]
    fn a_failing_test_is_a_kill() {
        let out = output(
            "running 2 tests\ntest step1_a ... FAILED\ntest step1_b ... ok\n",
            COMPILED,
            false,
            false,
        );
        assert_eq!(
            classify(&out, &TWO),
            (MutantOutcome::Killed, vec!["step1_a".to_string()])
        );
    }

    /// Every selected test passing on a fresh build of the patch: a survivor.
    #[test]
    fn every_test_passing_on_a_rebuilt_patch_is_a_survival() {
        let out = output(
            "running 2 tests\ntest step1_a ... ok\ntest step1_b ... ok\n",
            COMPILED,
            true,
            false,
        );
        assert_eq!(classify(&out, &TWO).0, MutantOutcome::Survived);
    }

    /// Passing tests on a build cargo did not redo prove nothing about the patch.
    #[test]
    fn passing_without_a_rebuild_is_incomplete() {
        let out = output(
            "running 2 tests\ntest step1_a ... ok\ntest step1_b ... ok\n",
            "    Finished `test` profile\n",
            true,
            false,
        );
        assert!(matches!(
            classify(&out, &TWO).0,
            MutantOutcome::Incomplete(why) if why.contains("did not rebuild")
        ));
    }

    /// A crashed test binary (fewer results than selected tests) is not a survivor.
    #[test]
    fn missing_results_without_a_failure_are_incomplete() {
        let out = output(
            "running 2 tests\ntest step1_a ... ok\n",
            COMPILED,
            false,
            false,
        );
        assert!(matches!(
            classify(&out, &TWO).0,
            MutantOutcome::Incomplete(why) if why.contains("1 of 2 tests reported")
        ));
    }

    /// A patch that does not compile, and a run that timed out, are named as such.
    #[test]
    fn build_failures_and_timeouts_are_told_apart() {
        let broken = output("", "error[E0308]: mismatched types\n", false, false);
        assert!(matches!(
            classify(&broken, &TWO).0,
            MutantOutcome::DidNotBuild(e) if e.contains("E0308")
        ));
        let hung = output("running 2 tests\n", COMPILED, false, true);
        assert_eq!(classify(&hung, &TWO).0, MutantOutcome::TimedOut);
    }
}
