//! `cargo lab` with no command: every exercise, your progress, the services, what next.

use std::io::Write;
use std::process::ExitCode;

use labkit_locate::Sources;

use crate::services;
use crate::state::{State, StepProgress};
use crate::workspace::Workspace;

pub(super) fn dashboard(workspace: &Workspace, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let state = State::load(&workspace.state_path())?;
    let exercises = workspace.exercises()?;
    writeln!(
        out,
        "backend-lab — backend interview exercises you solve by making real tests pass\n"
    )?;
    let width = exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let round_width = exercises
        .iter()
        .map(|e| e.meta.round.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 34);
    writeln!(
        out,
        "  {:width$}  {:round_width$}  {:16}  next",
        "exercise", "round", "progress"
    )?;
    for exercise in &exercises {
        let progress = state.exercises.get(&exercise.name);
        let steps = exercise.step_count();
        let (bar, next) = match progress {
            None => (
                "not started".to_string(),
                format!("cargo lab check {}", exercise.name),
            ),
            Some(p) => {
                let done = p.steps_done();
                let bar: String = (1..=steps)
                    .map(|n| {
                        if p.steps.get(&n).is_some_and(StepProgress::done) {
                            '■'
                        } else {
                            '□'
                        }
                    })
                    .collect();
                let next = match p.next_step(steps) {
                    Some(n) => format!(
                        "step {n}: {}",
                        exercise.step(n).map(|s| s.title.as_str()).unwrap_or("")
                    ),
                    None => format!(
                        "done: `cargo lab check {}` lists follow-up questions",
                        exercise.name
                    ),
                };
                (format!("{bar} {done}/{steps}"), next)
            }
        };
        writeln!(
            out,
            "  {:width$}  {:round_width$}  {bar:16}  {next}",
            exercise.name,
            truncate(&exercise.meta.round, round_width)
        )?;
    }
    writeln!(
        out,
        "\nServices, found the way the tests will find them (`cargo lab services status`):"
    )?;
    let docker = services::docker_socket_present();
    for status in services::statuses(&Sources::from_process()) {
        writeln!(out, "  {:9} {}", status.service.name(), status.line(docker))?;
    }
    writeln!(
        out,
        "\nNext:  cargo lab check <exercise>     run its tests; progress per step, the first failure\n\
         Loop:  cargo lab watch <exercise>     the same, again each time you save\n\
         Stuck: cargo lab hint <exercise>      one more hint for your current step\n\
         Also:  cargo lab list · cargo test -p <exercise> step1 · README.md"
    )?;
    Ok(ExitCode::SUCCESS)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}
