//! `cargo lab watch <name>`: save a file, see the result.
//!
//! The loop runs the current step's tests, shows the step's progress and the
//! first failure exactly as `check` does, then waits for something to happen:
//! a change under the exercise's `src/` (debounced, so an editor's burst of
//! writes is one run), or a key. When the step goes green it moves on to the
//! next one and runs that at once, so the learner always sees the next thing to
//! fix. Keys are read a line at a time (type the letter, then Enter): raw
//! terminal mode would need a terminal library, and a line is enough here.
//!
//! Everything the loop reacts to arrives as an [`Event`] on one channel, so the
//! lab's tests drive it with real file changes and scripted keys, no terminal.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use crate::interview::Transcript;
use crate::state::{State, StepProgress};
use crate::workspace::Workspace;

/// What the watch loop reacts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A file under `src/` changed.
    Changed,
    /// `h`: the next hint for the current step.
    Hint,
    /// `r` or a bare Enter: run again now.
    Rerun,
    /// `q`, or the end of input.
    Quit,
    /// The interview's time box is over.
    TimeUp,
    /// Any other line typed (an interview's answers are read this way).
    Line(String),
}

/// Why a watch session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Quit,
    TimeUp,
}

/// Writes that land within this of each other are one change.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Watch `src/` of `name`, sending [`Event::Changed`] to `events`. The watcher
/// stops when the returned handle is dropped. `Err` says why file watching is
/// unavailable (the loop then re-runs on Enter only).
pub fn watch_files(
    dir: &Path,
    events: Sender<Event>,
) -> Result<notify::RecommendedWatcher, String> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        if let Ok(event) = result
            && (event.kind.is_modify() || event.kind.is_create() || event.kind.is_remove())
            // Editors' swap and backup files are not the learner's code.
            && event.paths.iter().any(|p| p.extension().is_some_and(|e| e == "rs" || e == "sql"))
        {
            let _ = events.send(Event::Changed);
        }
    })
    .map_err(|e| e.to_string())?;
    watcher
        .watch(dir, notify::RecursiveMode::Recursive)
        .map_err(|e| format!("watching {}: {e}", dir.display()))?;
    Ok(watcher)
}

/// [`watch_files`], or `None` after saying why watching is unavailable (the
/// loop then re-runs on Enter only).
pub fn watch_or_say(
    dir: &Path,
    events: Sender<Event>,
    out: &mut dyn Write,
) -> anyhow::Result<Option<notify::RecommendedWatcher>> {
    match watch_files(dir, events) {
        Ok(handle) => Ok(Some(handle)),
        Err(why) => {
            writeln!(
                out,
                "File watching is unavailable here ({why}); press Enter to re-run instead."
            )?;
            Ok(None)
        }
    }
}

/// Turn lines of input into events: `h`, `r` (or empty), `q`; end of input quits.
pub fn read_keys(input: impl BufRead + Send + 'static, events: Sender<Event>) {
    std::thread::spawn(move || {
        for line in input.lines() {
            let line_text = line
                .as_deref()
                .map(str::trim)
                .unwrap_or_default()
                .to_string();
            let event = match line.map(|l| l.trim().to_lowercase()) {
                Ok(l) if l.is_empty() || l == "r" => Event::Rerun,
                Ok(l) if l == "h" => Event::Hint,
                Ok(l) if l == "q" => Event::Quit,
                Ok(_) => Event::Line(line_text.clone()),
                Err(_) => Event::Quit,
            };
            if events.send(event).is_err() {
                return;
            }
        }
        let _ = events.send(Event::Quit);
    });
}

/// The command: the real file watcher, keys from stdin.
pub(super) fn watch(
    workspace: &Workspace,
    name: &str,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let watcher = watch_or_say(&exercise.dir.join("src"), tx.clone(), out)?;
    read_keys(std::io::BufReader::new(std::io::stdin()), tx);
    let code = run_loop(workspace, name, rx, out);
    drop(watcher);
    code
}

/// The loop itself, on any event source (the lab's tests give it their own).
pub fn run_loop(
    workspace: &Workspace,
    name: &str,
    events: Receiver<Event>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    run_session(workspace, name, &events, out, None)?;
    writeln!(out, "Stopped watching {name}.")?;
    Ok(ExitCode::SUCCESS)
}

/// The watch loop, with an interview's transcript when there is one: every
/// run, hint and finished step is written to it, and the time left is shown.
pub fn run_session(
    workspace: &Workspace,
    name: &str,
    events: &Receiver<Event>,
    out: &mut dyn Write,
    mut transcript: Option<&mut Transcript>,
) -> anyhow::Result<Ended> {
    let exercise = workspace.exercise(name)?;
    let steps = exercise.step_count();
    let mut step = State::load(&workspace.state_path())?
        .exercises
        .get(name)
        .and_then(|p| p.next_step(steps))
        .unwrap_or(1);
    // In an interview `q` ends the session and the debrief follows.
    let quit = if transcript.is_some() {
        "q finish"
    } else {
        "q quit"
    };
    writeln!(
        out,
        "Watching {} — save a file to re-run step {step}. Keys (then Enter): h hint · r re-run · {quit}",
        exercise.dir.join("src").display()
    )?;
    let mut run_now = true;
    let mut pending = None;
    loop {
        if run_now {
            run_now = false;
            writeln!(out, "\n── running step {step} ──")?;
            super::check::check(workspace, name, Some(step), false, out)?;
            let progress = State::load(&workspace.state_path())?;
            let record = progress.exercises.get(name).cloned().unwrap_or_default();
            writeln!(out, "progress: {}", bar(&record.steps, steps))?;
            let now = record.steps.get(&step).copied().unwrap_or_default();
            if let Some(t) = transcript.as_deref_mut() {
                t.ran(step, now);
                writeln!(out, "time left: {}", t.left())?;
            }
            if now.done() {
                match record.next_step(steps) {
                    Some(next) => {
                        writeln!(
                            out,
                            "\n→ on to step {next}: {}",
                            exercise.step(next).map_or("", |s| s.title.as_str())
                        )?;
                        step = next;
                        run_now = true;
                        continue;
                    }
                    None if transcript.is_some() => writeln!(
                        out,
                        "\nEvery step passes. q goes on to the debrief, or keep improving \
                         until the time is up."
                    )?,
                    None => writeln!(
                        out,
                        "\nEvery step passes. `cargo lab check {name}` lists the follow-up \
                         questions; q quits."
                    )?,
                }
            }
            out.flush()?;
        }
        let next = match pending.take() {
            Some(event) => Ok(event),
            None => events.recv(),
        };
        match next {
            Ok(Event::Changed) => {
                pending = settle(events);
                if pending == Some(Event::Quit) {
                    break;
                }
                writeln!(out, "\nchange detected: re-running step {step}")?;
                run_now = true;
            }
            Ok(Event::Rerun) => run_now = true,
            Ok(Event::Hint) => {
                super::hint::hint(workspace, name, Some(step), out)?;
                if let Some(t) = transcript.as_deref_mut() {
                    t.hint(step);
                }
            }
            Ok(Event::Line(_)) => {}
            Ok(Event::TimeUp) => {
                writeln!(out, "\nTime is up.")?;
                return Ok(Ended::TimeUp);
            }
            Ok(Event::Quit) | Err(_) => break,
        }
        out.flush()?;
    }
    Ok(Ended::Quit)
}

/// Swallow the rest of a burst of changes: return once none has come for
/// [`DEBOUNCE`] (or after two seconds of constant writing), handing back a key
/// pressed meanwhile so that it is not lost.
fn settle(events: &Receiver<Event>) -> Option<Event> {
    let started = Instant::now();
    loop {
        match events.recv_timeout(DEBOUNCE) {
            Ok(Event::Changed) if started.elapsed() < Duration::from_secs(2) => continue,
            Ok(Event::Changed) | Err(_) => return None,
            Ok(other) => return Some(other),
        }
    }
}

fn bar(progress: &std::collections::BTreeMap<u32, StepProgress>, steps: u32) -> String {
    let marks: String = (1..=steps)
        .map(|n| {
            if progress.get(&n).is_some_and(StepProgress::done) {
                '■'
            } else {
                '□'
            }
        })
        .collect();
    let done = (1..=steps)
        .filter(|n| progress.get(n).is_some_and(StepProgress::done))
        .count();
    format!("{marks} {done}/{steps} steps")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are read a line at a time: h, r or a bare Enter, q; other lines
    /// are passed on as typed (watch ignores them, an interview reads answers),
    /// and the end of input quits (the Enter-only fallback relies on it).
    #[test]
    fn lines_of_input_become_events_and_the_end_of_input_quits() {
        let (tx, rx) = std::sync::mpsc::channel();
        read_keys(std::io::Cursor::new("h\n\nR\n  an answer \n"), tx);
        let events: Vec<Event> = rx.iter().collect();
        assert_eq!(
            events,
            vec![
                Event::Hint,
                Event::Rerun,
                Event::Rerun,
                Event::Line("an answer".into()),
                Event::Quit
            ]
        );
    }
}
