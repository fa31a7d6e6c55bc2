//! `cargo lab reset <name> [--step N]`: the skeleton back, the learner's files kept.
//!
//! The files come from git, as the lab shipped them ([`crate::git::baseline`]).
//! Before anything is overwritten, the learner's current versions are copied to
//! a backup directory in the user's cache (outside the checkout, so no `git
//! clean` can take them), and the command says where.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::state::State;
use crate::workspace::Workspace;

pub(super) fn reset(
    workspace: &Workspace,
    name: &str,
    step: Option<u32>,
    yes: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    if let Some(n) = step {
        exercise.require_step(n)?;
    }
    let root = &workspace.root;
    let mut state = State::load(&workspace.state_path())?;
    let rev = crate::git::baseline(root, &mut state).context(
        "reset restores the skeleton from git, and this lab is not a git checkout (or git \
         is not installed); fetch a fresh copy of the exercise instead",
    )?;
    state.save(&workspace.state_path())?;
    let src = workspace.relative(&exercise.dir.join("src"));
    let marker = step.map(|n| format!("TODO(step {n})"));
    // Every shipped file of src/, or with --step only those that mark that step.
    let mut chosen = Vec::new();
    for path in crate::git::files(root, &rev, &src) {
        let Some(shipped) = crate::git::show(root, &rev, &path) else {
            continue;
        };
        if let Some(marker) = &marker
            && !String::from_utf8_lossy(&shipped).contains(marker.as_str())
        {
            continue;
        }
        let current = std::fs::read(root.join(&path)).ok();
        if current.as_deref() != Some(shipped.as_slice()) {
            chosen.push((path, shipped, current));
        }
    }
    if chosen.is_empty() {
        writeln!(
            out,
            "Nothing to reset: {name}'s files{} are as shipped ({}).",
            step.map_or(String::new(), |n| format!(" for step {n}")),
            crate::git::short(&rev)
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "These files of {name} go back to the skeleton (commit {}):",
        crate::git::short(&rev)
    )?;
    let mut steps_reset: Vec<u32> = step.into_iter().collect();
    for (path, shipped, _) in &chosen {
        let text = String::from_utf8_lossy(shipped);
        let (also, others) = other_steps(&text, step);
        steps_reset.extend(others);
        writeln!(out, "  {path}{also}")?;
    }
    let backup = backup_dir(name)?;
    writeln!(out, "Your versions are kept in {}.", backup.display())?;
    if !yes && !confirm(out)? {
        writeln!(out, "Nothing changed.")?;
        return Ok(ExitCode::FAILURE);
    }
    for (path, shipped, current) in &chosen {
        if let Some(current) = current {
            let kept = backup.join(path);
            if let Some(dir) = kept.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&kept, current)
                .with_context(|| format!("writing {}", kept.display()))?;
        }
        std::fs::write(root.join(path), shipped).with_context(|| format!("restoring {path}"))?;
    }
    // Progress of the reset steps is no longer true; the next check recounts.
    let record = state.exercise_mut(name);
    match step {
        // The step asked for, and every other step whose files went back too.
        Some(_) => {
            for n in &steps_reset {
                record.steps.remove(n);
            }
        }
        None => record.steps.clear(),
    }
    state.save(&workspace.state_path())?;
    writeln!(
        out,
        "Reset {} file(s). `cargo lab check {name}` shows where you stand.",
        chosen.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// "  (it also holds step 4, 5: those go too)" when a file marks other steps
/// than the one reset, and those steps.
fn other_steps(text: &str, step: Option<u32>) -> (String, Vec<u32>) {
    let Some(step) = step else {
        return (String::new(), Vec::new());
    };
    let mut others: Vec<u32> = text
        .match_indices("TODO(step ")
        .filter_map(|(i, m)| {
            let digits: String = text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .filter(|n| *n != step)
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() {
        (String::new(), others)
    } else {
        let list: Vec<String> = others.iter().map(u32::to_string).collect();
        let note = format!("  (it also holds step {}: those go too)", list.join(", "));
        (note, others)
    }
}

/// `~/.cache/backend-lab/backups/<name>-<seconds>`.
fn backup_dir(name: &str) -> anyhow::Result<PathBuf> {
    let cache = crate::workspace::lab_cache_dir()
        .context("no HOME or XDG_CACHE_HOME to keep a backup in")?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(cache.join("backups").join(format!("{name}-{stamp}")))
}

fn confirm(out: &mut dyn Write) -> anyhow::Result<bool> {
    write!(out, "Reset them? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer)?;
    if read == 0 {
        bail!("no answer on stdin; run with --yes to reset without asking");
    }
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
