//! `cargo lab grade <DIR | git URL> --exercise <name>`: grade a submission.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::grade::{self, Options, report};
use crate::workspace::Workspace;

/// Exit 0 whatever the grade (the grade is in the report); 1 when grading
/// itself failed, with the reason, so a script can tell the two apart.
pub(super) fn grade(
    workspace: &Workspace,
    submission: &str,
    name: &str,
    report_path: Option<&Path>,
    options: &Options,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let graded = (|| -> anyhow::Result<()> {
        let exercise = workspace.exercise(name)?;
        let started = Instant::now();
        let (dir, _clone) = fetch(submission)?;
        let graded = grade::grade(workspace, &exercise, &dir, options)?;
        let markdown = report::markdown(&graded);
        write!(out, "{markdown}")?;
        let html_path = report_path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(format!("grade-{name}.html")));
        std::fs::write(&html_path, report::html(&graded))
            .with_context(|| format!("writing {}", html_path.display()))?;
        std::fs::write(html_path.with_extension("md"), &markdown)?;
        std::fs::write(html_path.with_extension("json"), report::json(&graded)?)?;
        writeln!(
            out,
            "\nGraded in {:.0} s. Reports: {} (and .md, .json beside it).",
            started.elapsed().as_secs_f64(),
            html_path.display()
        )?;
        Ok(())
    })();
    match graded {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            writeln!(out, "Grading failed: {e:#}")?;
            Ok(ExitCode::from(1))
        }
    }
}

/// A directory as it is, or a git URL cloned (shallow, bounded) into a
/// temporary directory removed afterwards.
fn fetch(submission: &str) -> anyhow::Result<(PathBuf, Option<TempDir>)> {
    let path = Path::new(submission);
    if path.is_dir() {
        return Ok((path.to_path_buf(), None));
    }
    let looks_like_git = submission.contains("://") || submission.ends_with(".git");
    if !looks_like_git {
        bail!("{submission} is neither a directory nor a git URL");
    }
    let dir = std::env::temp_dir().join(format!("lab-grade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = std::process::Command::new("timeout")
        .args(["300", "git", "clone", "-q", "--depth", "1", submission])
        .arg(&dir)
        .status()
        .context("running git clone")?;
    if !status.success() {
        bail!("git clone {submission} failed ({status})");
    }
    Ok((dir.clone(), Some(TempDir(dir))))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
