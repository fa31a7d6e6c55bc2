//! `cargo lab interview <name> [--minutes N]`: a timed mock of the round the
//! exercise models, for a candidate practising alone.
//!
//! The question and the time box first; then the `watch` loop, with the time
//! left after every run and a transcript of runs, hints and finished steps;
//! when time is up (or on `q`) the debrief questions one at a time, the answers
//! typed kept in the transcript; then the grade of the attempt, visible and
//! hidden tests, which has been running meanwhile. The transcript is written
//! after every change, so an interview cut short keeps what happened.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use anyhow::Context;

use super::watch::{self, Ended, Event};
use crate::exercise::Exercise;
use crate::grade::{self, FollowUp, Grade, report};
use crate::interview::{Answer, Transcript};
use crate::state::State;
use crate::workspace::Workspace;

/// A round's time box when `exercise.toml` names none: a technical screen's.
const DEFAULT_MINUTES: u32 = 60;

pub(super) fn interview(
    workspace: &Workspace,
    name: &str,
    minutes: Option<f64>,
    no_grade: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercise = workspace.exercise(name)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let watcher = watch::watch_or_say(&exercise.dir.join("src"), tx.clone(), out)?;
    watch::read_keys(std::io::BufReader::new(std::io::stdin()), tx.clone());
    // The interview's grade is the tests and clippy; the benches (a release
    // build, minutes) are `cargo lab grade`'s.
    let grading = (!no_grade).then(|| grade::Options {
        bench: false,
        ..grade::Options::default()
    });
    let transcript = run(workspace, name, minutes, &rx, tx, grading, out)?;
    drop(watcher);
    if let Some(path) = transcript.markdown_path() {
        writeln!(out, "\nTranscript: {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The time box: `--minutes`, else the round's in `exercise.toml`, else a
/// technical screen's.
pub fn time_box(minutes: Option<f64>, exercise: &Exercise) -> f64 {
    minutes.unwrap_or(f64::from(exercise.meta.minutes.unwrap_or(DEFAULT_MINUTES)))
}

/// `--minutes`: a finite number of minutes, more than none and at most a day.
pub fn parse_minutes(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(m) if m.is_finite() && m > 0.0 && m <= 24.0 * 60.0 => Ok(m),
        _ => Err(format!(
            "{text:?} is not a time box: give minutes, more than 0 and at most 1440"
        )),
    }
}

/// The whole interview on any event source (the lab's tests script one).
/// `timer` receives [`Event::TimeUp`] when the time box is over.
pub fn run(
    workspace: &Workspace,
    name: &str,
    minutes: Option<f64>,
    events: &Receiver<Event>,
    timer: Sender<Event>,
    grading: Option<grade::Options>,
    out: &mut dyn Write,
) -> anyhow::Result<Transcript> {
    let exercise = workspace.exercise(name)?;
    let minutes = time_box(minutes, &exercise);
    introduce(workspace, &exercise, minutes, out)?;
    let mut transcript = Transcript::start(name, &exercise.meta.round, minutes);
    transcript
        .keep_in(&transcripts_dir(workspace))
        .context("writing the interview's transcript")?;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(minutes * 60.0));
        let _ = timer.send(Event::TimeUp);
    });
    let ended = watch::run_session(workspace, name, events, out, Some(&mut transcript))?;
    transcript.end(match ended {
        Ended::TimeUp => "time is up",
        Ended::Quit => "finished early",
    });
    // The grade runs while the questions are asked: it takes minutes (it
    // builds and runs the hidden tests too), and the answers take as long.
    let graded = std::thread::scope(|scope| -> anyhow::Result<Option<Grade>> {
        let attempt = &exercise;
        let job = grading.map(|options| {
            scope.spawn(move || grade::grade(workspace, attempt, &workspace.root, &options))
        });
        writeln!(
            out,
            "\n{}\nThe debrief. Answer each question as you would aloud, on one line, then \
             Enter; an empty line skips it, q skips the rest.",
            "─".repeat(60)
        )?;
        let questions = questions(&exercise, &transcript);
        ask(&questions, events, &mut transcript, out)?;
        let Some(job) = job else {
            return Ok(None);
        };
        writeln!(
            out,
            "\nGrading the attempt: the visible and the hidden tests, and clippy, in a scratch \
             copy of the lab (the first grade builds it: minutes)…"
        )?;
        out.flush()?;
        match job.join() {
            Ok(Ok(graded)) => Ok(Some(graded)),
            // The transcript is saved already: a grade that failed is said, not fatal.
            Ok(Err(e)) => {
                writeln!(out, "Grading failed: {e:#}")?;
                Ok(None)
            }
            Err(_) => {
                writeln!(out, "Grading failed: the grader panicked")?;
                Ok(None)
            }
        }
    })?;
    if let Some(graded) = graded {
        write!(out, "\n{}", report::markdown(&graded))?;
        let path =
            transcripts_dir(workspace).join(format!("{name}-{}-grade.html", transcript.started_at));
        std::fs::write(&path, report::html(&graded))?;
        writeln!(out, "\nGrade report: {}", path.display())?;
    }
    Ok(transcript)
}

fn introduce(
    workspace: &Workspace,
    exercise: &Exercise,
    minutes: f64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} — a mock {} round, {minutes} minutes.\n\n{}\n\n\
         The steps are the round's agenda: {}.\n\
         As in the room, take hints only when stuck: each one is written down. \
         Save a file to re-run the current step. Keys (then Enter): h hint · r re-run · \
         q finish early and go to the debrief.",
        exercise.meta.title,
        exercise.meta.round,
        exercise.question().unwrap_or_default(),
        exercise
            .meta
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{} {}", i + 1, s.title))
            .collect::<Vec<_>>()
            .join(" · ")
    )?;
    let done = State::load(&workspace.state_path())?
        .exercises
        .get(&exercise.name)
        .map(|p| p.steps_done())
        .unwrap_or(0);
    if done > 0 {
        writeln!(
            out,
            "You start from your saved progress ({done} step(s) done); for a fresh attempt, \
             quit and run `cargo lab reset {}` first.",
            exercise.name
        )?;
    }
    Ok(())
}

/// The debrief, from what this attempt did: for each step worked on, every
/// question if it is not finished, the first one (to go deeper) if it is; then
/// the exercise's own. Steps never reached ask nothing. (The grade's list,
/// picked with the hidden tests and the diagnosis, follows in its report.)
fn questions(exercise: &Exercise, transcript: &Transcript) -> Vec<FollowUp> {
    let mut asked = Vec::new();
    for (i, step) in exercise.meta.steps.iter().enumerate() {
        let n = i as u32 + 1;
        if !transcript.reached(n, false) {
            continue;
        }
        let (why, take) = if transcript.reached(n, true) {
            (format!("step {n} passes: to go deeper"), 1)
        } else {
            (format!("step {n} is not finished"), step.follow_ups.len())
        };
        asked.extend(step.follow_ups.iter().take(take).map(|q| FollowUp {
            question: q.clone(),
            why: why.clone(),
        }));
    }
    asked.extend(FollowUp::of_the_exercise(exercise));
    asked
}

/// One question at a time, each answered by one line (an empty one skips
/// it); after `q` the rest are recorded as skipped.
fn ask(
    questions: &[FollowUp],
    events: &Receiver<Event>,
    transcript: &mut Transcript,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut stopped = false;
    for (i, q) in questions.iter().enumerate() {
        let mut answer = String::new();
        if !stopped {
            writeln!(
                out,
                "\nQuestion {}/{}: {}\n  ({})",
                i + 1,
                questions.len(),
                q.question,
                q.why
            )?;
            out.flush()?;
            loop {
                match events.recv() {
                    Ok(Event::Line(text)) => {
                        answer = text;
                        break;
                    }
                    Ok(Event::Rerun) => break,
                    Ok(Event::Quit) | Err(_) => {
                        stopped = true;
                        break;
                    }
                    // A file saved, the timer, `h`: not an answer.
                    Ok(Event::Changed | Event::TimeUp | Event::Hint) => {}
                }
            }
        }
        transcript.answer(Answer {
            question: q.question.clone(),
            why: q.why.clone(),
            answer,
        });
    }
    Ok(())
}

/// Beside the progress file: the learner's, not the repository's.
pub fn transcripts_dir(workspace: &Workspace) -> PathBuf {
    let state = workspace.state_path();
    state
        .parent()
        .map(|p| p.join(".lab-interviews"))
        .unwrap_or_else(|| PathBuf::from(".lab-interviews"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time box is a positive, finite number of minutes up to a day.
    #[test]
    fn minutes_must_be_a_real_time_box() {
        assert_eq!(parse_minutes("45"), Ok(45.0));
        assert_eq!(parse_minutes("0.5"), Ok(0.5));
        for bad in ["0", "-5", "NaN", "inf", "1441", "soon"] {
            assert!(parse_minutes(bad).is_err(), "{bad} was accepted");
        }
    }
}
