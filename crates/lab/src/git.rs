//! The few git questions the lab asks: what did the lab ship for this file?
//!
//! "What the lab shipped" is the upstream branch when the checkout has one
//! (`origin/HEAD`), so a learner who commits their work still gets the skeleton
//! back from `reset` and a true answer from `check`'s provided-file warning;
//! else `HEAD`. Without git, the lab says so and does without.

use std::path::Path;
use std::process::{Command, Stdio};

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

/// The revision that holds the lab as shipped, and how it is named.
pub fn baseline(root: &Path) -> Option<String> {
    ["origin/HEAD", "HEAD"]
        .into_iter()
        .find(|rev| git(root, &["rev-parse", "--verify", "--quiet", rev]).is_some())
        .map(str::to_string)
}

/// A file's content at `rev`; `path` is relative to the lab's root.
pub fn show(root: &Path, rev: &str, path: &str) -> Option<Vec<u8>> {
    git(root, &["show", &format!("{rev}:{path}")])
}

/// Files under `dir` (relative to the root) at `rev`.
pub fn files(root: &Path, rev: &str, dir: &str) -> Vec<String> {
    git(root, &["ls-tree", "-r", "--name-only", rev, "--", dir])
        .map(|out| {
            String::from_utf8_lossy(&out)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
