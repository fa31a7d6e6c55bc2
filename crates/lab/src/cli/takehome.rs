//! `cargo lab takehome <name> --out DIR`: a bundle to hand a candidate.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::takehome::{self, Options};
use crate::workspace::Workspace;

pub(super) fn takehome(
    workspace: &Workspace,
    name: &str,
    out_dir: &Path,
    options: &Options,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    takehome::write_bundle(workspace, &exercise, out_dir, options)?;
    let steps = options.steps.clone().unwrap_or(1..=exercise.step_count());
    writeln!(
        out,
        "Wrote a take-home of {name} (steps {}–{}) to {}.\n\
         It holds the skeleton, the visible spec, labkit and the lab CLI, and its README.md\n\
         tells the candidate what to do; no reference, no mutants, {}.\n\
         Try it as the candidate will:  cd {} && cargo lab check {name}",
        steps.start(),
        steps.end(),
        out_dir.display(),
        if options.hints {
            "every hint"
        } else {
            "one hint per step"
        },
        out_dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
