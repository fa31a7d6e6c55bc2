//! `cargo lab hint <name> [step]`: one more hint, remembered.

use std::io::Write;
use std::process::ExitCode;

use crate::state::State;
use crate::workspace::Workspace;

pub(super) fn hint(
    workspace: &Workspace,
    name: &str,
    step: Option<u32>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    let mut state = State::load(&workspace.state_path())?;
    let record = state.exercise_mut(name);
    let n = step
        .or_else(|| record.next_step(exercise.step_count()))
        .unwrap_or(1);
    let meta = exercise.require_step(n)?;
    let shown = record.hints_shown.entry(n).or_insert(0);
    let total = meta.hints.len();
    let now_shown = (*shown + 1).min(total);
    *shown = now_shown;
    writeln!(out, "{name}, step {n}: {}\n", meta.title)?;
    for (i, text) in meta.hints.iter().take(now_shown).enumerate() {
        writeln!(out, "  hint {}/{total}: {text}\n", i + 1)?;
    }
    if now_shown == total {
        // A take-home bundle has no reference to point at.
        if exercise.solution_dir.is_dir() {
            writeln!(
                out,
                "That was the last hint for this step. The reference is in solutions/{name}/ (spoilers)."
            )?;
        } else {
            writeln!(out, "That was the last hint for this step.")?;
        }
    } else {
        writeln!(
            out,
            "Run `cargo lab hint {name} {n}` again for the next one."
        )?;
    }
    state.save(&workspace.state_path())?;
    Ok(ExitCode::SUCCESS)
}
