//! `cargo lab list`: the exercises, their questions and steps.

use std::io::Write;
use std::process::ExitCode;

use crate::workspace::Workspace;

pub(super) fn list(workspace: &Workspace, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    for exercise in workspace.exercises()? {
        let services = if let Some(requires) = &exercise.meta.requires {
            requires
                .split(':')
                .next()
                .unwrap_or(requires)
                .trim()
                .to_string()
        } else if exercise.meta.services.is_empty() {
            "no services".to_string()
        } else {
            exercise.meta.services.join(", ")
        };
        writeln!(out, "{} — {}", exercise.name, exercise.meta.title)?;
        writeln!(out, "  question: {}", exercise.question()?)?;
        writeln!(
            out,
            "  round: {} · {} steps · {services}",
            exercise.meta.round,
            exercise.step_count()
        )?;
        for (i, step) in exercise.meta.steps.iter().enumerate() {
            writeln!(out, "    step {}: {}", i + 1, step.title)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
