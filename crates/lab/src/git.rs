//! The few git questions the lab asks: what did the lab ship for this file?
//!
//! "What the lab shipped" is the commit the checkout was at the first time the
//! learner ran a command that needs it (recorded in the progress file), so a
//! learner who commits their work — or pushes it to a fork — still gets the
//! skeleton back from `reset` and a true answer from `check`'s provided-file
//! warning. `LAB_BASELINE=<rev>` names another (after pulling a newer lab, say).
//! Without git, the lab says so and does without.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::state::State;

fn git(root: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

/// The revision that holds the lab as shipped (see the module docs): the one
/// recorded in `state`, else `HEAD`'s commit, which is then recorded (the
/// caller saves `state`).
pub fn baseline(root: &Path, state: &mut State) -> Option<String> {
    if let Ok(rev) = std::env::var("LAB_BASELINE")
        && !rev.trim().is_empty()
    {
        return commit_of(root, rev.trim());
    }
    if let Some(rev) = &state.baseline
        && commit_of(root, rev).is_some()
    {
        return Some(rev.clone());
    }
    let head = commit_of(root, "HEAD")?;
    state.baseline = Some(head.clone());
    Some(head)
}

fn commit_of(root: &Path, rev: &str) -> Option<String> {
    let out = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )?;
    let sha = String::from_utf8_lossy(&out).trim().to_string();
    (!sha.is_empty()).then_some(sha)
}

/// The short form of a commit, for messages.
pub fn short(rev: &str) -> &str {
    &rev[..rev.len().min(10)]
}

/// A file's content at `rev`; `path` is relative to the lab's root.
pub fn show(root: &Path, rev: &str, path: &str) -> Option<Vec<u8>> {
    // `rev:./path` is relative to the current directory (the lab's root), which
    // need not be the repository's top level.
    git(root, &["show", &format!("{rev}:./{path}")])
}

/// Files under `dir` (relative to the root) at `rev`.
pub fn files(root: &Path, rev: &str, dir: &str) -> Vec<String> {
    // Paths come back relative to the lab's root, as `show` takes them.
    git(root, &["ls-tree", "-r", "--name-only", rev, "--", dir])
        .map(|out| {
            String::from_utf8_lossy(&out)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
