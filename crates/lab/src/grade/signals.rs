//! What reading the code would show first: `unsafe`, `unwrap()` outside test
//! modules, how much of each skeleton file changed, and clippy's warnings.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use super::{FileChange, Options, Ran, Signals, editable};
use crate::exercise::Exercise;
use crate::workspace::Workspace;

/// The signals a read of the candidate's files gives, without building.
pub fn read(exercise: &Exercise, crate_dir: &Path) -> Signals {
    let mut signals = Signals::default();
    for file in editable(exercise, crate_dir) {
        let Ok(theirs) = std::fs::read_to_string(crate_dir.join(&file)) else {
            continue;
        };
        let code = theirs.split("#[cfg(test)]").next().unwrap_or(&theirs);
        for line in code.lines().map(str::trim) {
            if line.starts_with("//") {
                continue;
            }
            signals.unsafe_lines += usize::from(line.contains("unsafe "));
            signals.unwraps += line.matches(".unwrap()").count();
        }
        let ours = std::fs::read_to_string(exercise.dir.join(&file)).unwrap_or_default();
        let patch = diffy::create_patch(&ours, &theirs).to_string();
        let added = patch
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count();
        let removed = patch
            .lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .count();
        if added + removed > 0 {
            signals.changes.push(FileChange {
                file: file.display().to_string(),
                added,
                removed,
            });
        }
    }
    signals.changes.sort_by(|a, b| a.file.cmp(&b.file));
    signals
}

/// `cargo clippy` on the submission's library in the scratch copy, bounded
/// like the tests, counting the warnings whose primary place is one of the
/// candidate's files (not a provided one), by lint. The skeleton's own
/// `#![expect(...)]` going unfulfilled is the skeleton's doing, not theirs,
/// and is not counted.
pub fn clippy(
    copy: &Workspace,
    exercise: &Exercise,
    crate_dir: &Path,
    options: &Options,
) -> (Option<BTreeMap<String, usize>>, Ran) {
    let args: Vec<String> = [
        "clippy",
        "--package",
        exercise.package(),
        "--lib",
        "--message-format=json",
        "--color",
        "never",
    ]
    .map(String::from)
    .to_vec();
    let started = Instant::now();
    let result = copy.cargo_bounded(&args, options.timeout);
    let mut ran = Ran {
        what: "clippy".to_string(),
        command: format!("cargo {} (in the scratch copy)", args.join(" ")),
        timeout_secs: options.timeout.as_secs(),
        elapsed_secs: 0.0,
        outcome: String::new(),
    };
    let counts = match result {
        Ok(output) if output.timed_out => {
            ran.outcome = format!("stopped after {}s", options.timeout.as_secs());
            None
        }
        Ok(output) if !output.success => {
            ran.outcome = format!("clippy failed: {}", output.stderr_tail(3));
            None
        }
        Ok(output) => {
            let dir = copy
                .exercise(&exercise.name)
                .map(|e| e.dir)
                .unwrap_or_else(|_| copy.root.join("exercises").join(&exercise.name));
            let theirs: Vec<String> = editable(exercise, crate_dir)
                .iter()
                .map(|f| copy.relative(&dir.join(f)))
                .collect();
            let counts = count_warnings(&output.stdout, &theirs);
            ran.outcome = format!(
                "{} warning(s) in the candidate's files",
                counts.values().sum::<usize>()
            );
            Some(counts)
        }
        Err(e) => {
            ran.outcome = format!("could not run clippy: {e}");
            None
        }
    };
    ran.elapsed_secs = started.elapsed().as_secs_f64();
    (counts, ran)
}

/// Warnings in cargo's JSON messages whose primary span is in one of `files`
/// (paths relative to the workspace root, as cargo names them), by lint.
pub fn count_warnings(json_lines: &str, files: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in json_lines.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message" || message["message"]["level"] != "warning" {
            continue;
        }
        let lint = message["message"]["code"]["code"]
            .as_str()
            .unwrap_or("warning")
            .to_string();
        if lint == "unfulfilled_lint_expectations" {
            continue;
        }
        let ours = message["message"]["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|span| span["is_primary"] == true)
            .any(|span| {
                span["file_name"]
                    .as_str()
                    .is_some_and(|f| files.iter().any(|mine| mine == f))
            });
        if ours {
            *counts.entry(lint).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only warnings placed in the candidate's files count, by lint; errors,
    /// other files and the skeleton's unfulfilled expectations do not.
    #[test]
    fn warnings_are_counted_by_lint_in_the_candidates_files_only() {
        let message = |level: &str, code: &str, file: &str| {
            serde_json::json!({
                "reason": "compiler-message",
                "message": {
                    "level": level,
                    "code": {"code": code},
                    "spans": [{"file_name": file, "is_primary": true}],
                }
            })
            .to_string()
        };
        let lines = [
            message(
                "warning",
                "clippy::needless_return",
                "exercises/x/src/lib.rs",
            ),
            message(
                "warning",
                "clippy::needless_return",
                "exercises/x/src/lib.rs",
            ),
            message("warning", "unused_variables", "exercises/x/src/lib.rs"),
            message("warning", "unused_variables", "exercises/x/src/provided.rs"),
            message("error", "E0308", "exercises/x/src/lib.rs"),
            message(
                "warning",
                "unfulfilled_lint_expectations",
                "exercises/x/src/lib.rs",
            ),
            r#"{"reason":"build-finished","success":true}"#.to_string(),
            "not json".to_string(),
        ]
        .join("\n");
        let counts = count_warnings(&lines, &["exercises/x/src/lib.rs".to_string()]);
        assert_eq!(
            counts,
            BTreeMap::from([
                ("clippy::needless_return".to_string(), 2),
                ("unused_variables".to_string(), 1),
            ])
        );
    }
}
