//! Reading libtest's plain output.
//!
//! libtest's JSON output is unstable (nightly-only), so the lab reads the plain
//! format every stable toolchain prints:
//!
//! ```text
//! test step1_x::step1_a ... ok
//! test step1_x::step1_b ... FAILED
//!
//! failures:
//!
//! ---- step1_x::step1_b stdout ----
//! thread 'step1_x::step1_b' panicked at src/lib.rs:3:5:
//! not yet implemented: step 1 …
//! ```

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Ignored,
}

/// Everything one `cargo test` run reported.
#[derive(Clone, Debug, Default)]
pub struct TestRun {
    /// Every test's outcome, by full name.
    pub outcomes: BTreeMap<String, Outcome>,
    /// Captured output of failed tests, by full name.
    pub output: BTreeMap<String, String>,
    /// How many `running N tests` headers were seen (0 means nothing ran).
    pub binaries: usize,
}

impl TestRun {
    pub fn passed(&self) -> impl Iterator<Item = &str> {
        self.with(Outcome::Passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &str> {
        self.with(Outcome::Failed)
    }

    fn with(&self, outcome: Outcome) -> impl Iterator<Item = &str> {
        self.outcomes
            .iter()
            .filter(move |(_, o)| **o == outcome)
            .map(|(n, _)| n.as_str())
    }
}

/// Parse the stdout of `cargo test` (any number of test binaries).
pub fn parse(stdout: &str) -> TestRun {
    let mut run = TestRun::default();
    let mut capturing: Option<(String, Vec<&str>)> = None;
    for line in stdout.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            finish(&mut run, capturing.take());
            capturing = Some((name.to_string(), Vec::new()));
            continue;
        }
        if let Some((_, lines)) = capturing.as_mut() {
            // A captured section ends at the summary list of failures.
            if line == "failures:" || line.starts_with("test result:") {
                finish(&mut run, capturing.take());
            } else {
                lines.push(line);
                continue;
            }
        }
        if line.starts_with("running ") && line.ends_with(" tests") || line == "running 1 test" {
            run.binaries += 1;
        } else if let Some((name, outcome)) = line
            .strip_prefix("test ")
            .and_then(|rest| rest.rsplit_once(" ... "))
        {
            let name = name.trim_end_matches(" - should panic").to_string();
            let outcome = match outcome.trim() {
                "ok" => Outcome::Passed,
                "FAILED" => Outcome::Failed,
                o if o.starts_with("ignored") => Outcome::Ignored,
                _ => continue,
            };
            run.outcomes.insert(name, outcome);
        }
    }
    finish(&mut run, capturing);
    run
}

fn finish(run: &mut TestRun, section: Option<(String, Vec<&str>)>) {
    if let Some((name, lines)) = section {
        let text = lines.join("\n").trim().to_string();
        run.output.insert(name, text);
    }
}

/// The useful part of a failed test's output: the panic and its message,
/// without backtraces and harness notes.
pub fn essence(output: &str, max_lines: usize) -> String {
    let mut kept = Vec::new();
    let mut in_backtrace = false;
    for line in output.lines() {
        if line.starts_with("stack backtrace:") {
            in_backtrace = true;
            continue;
        }
        if in_backtrace {
            if line.starts_with("  ") || line.trim().is_empty() {
                continue;
            }
            in_backtrace = false;
        }
        if line.starts_with("note: run with `RUST_BACKTRACE")
            || line.starts_with("note: Some details are omitted")
        {
            continue;
        }
        kept.push(line);
    }
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let total = kept.len();
    let mut text = kept
        .into_iter()
        .take(max_lines)
        .collect::<Vec<_>>()
        .join("\n");
    if total > max_lines {
        text.push_str(&format!(
            "\n… ({} more lines: run the test yourself to see them)",
            total - max_lines
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "
running 3 tests
test step1_a::step1_passes ... ok
test step2_b::step2_fails ... FAILED
test step2_b::step2_skipped ... ignored, needs Kafka

failures:

---- step2_b::step2_fails stdout ----

thread 'step2_b::step2_fails' panicked at src/lib.rs:9:5:
not yet implemented: step 2: do it
stack backtrace:
   0: rust_begin_unwind
             at /rustc/x/library/std/src/panicking.rs:1:1
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.

failures:
    step2_b::step2_fails

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

";

    /// Outcomes, captured output and binaries are all read from plain output.
    #[test]
    fn plain_output_is_parsed_into_outcomes_and_captured_output() {
        let run = parse(SAMPLE);
        assert_eq!(run.binaries, 1);
        assert_eq!(run.outcomes["step1_a::step1_passes"], Outcome::Passed);
        assert_eq!(run.outcomes["step2_b::step2_fails"], Outcome::Failed);
        assert_eq!(run.outcomes["step2_b::step2_skipped"], Outcome::Ignored);
        let output = &run.output["step2_b::step2_fails"];
        assert!(output.contains("not yet implemented: step 2"), "{output}");
        assert!(!output.contains("test result"), "{output}");
    }

    /// The essence of a failure keeps the panic and drops the backtrace.
    #[test]
    fn essence_drops_backtraces_and_notes() {
        let run = parse(SAMPLE);
        let text = essence(&run.output["step2_b::step2_fails"], 10);
        assert!(text.contains("panicked at src/lib.rs:9:5"), "{text}");
        assert!(
            text.contains("not yet implemented: step 2: do it"),
            "{text}"
        );
        assert!(
            !text.contains("rust_begin_unwind") && !text.contains("RUST_BACKTRACE"),
            "{text}"
        );
    }

    /// Output from a run where nothing compiled has no tests and no binaries.
    #[test]
    fn a_run_that_never_started_has_no_binaries() {
        let run = parse("");
        assert_eq!(run.binaries, 0);
        assert!(run.outcomes.is_empty());
    }
}
