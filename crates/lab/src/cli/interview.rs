//! `cargo lab interview <name> [--minutes N]`: a timed mock of the round the
//! exercise models, for a candidate practising alone.
//!
//! The question and the time box first; then the `watch` loop, with the time
//! left after every run and a transcript of runs, hints and finished steps;
//! when time is up (or on `q`) the debrief questions one at a time, the answers
//! typed kept in the transcript; then the grade of the attempt, visible and
//! hidden tests, which has been running meanwhile.

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
    let watcher = watch::watch_files(&exercise.dir.join("src"), tx.clone()).ok();
    watch::read_keys(std::io::BufReader::new(std::io::stdin()), tx.clone());
    let grading = (!no_grade).then(grade::Options::default);
    let transcript = run(workspace, name, minutes, &rx, tx, grading, out)?;
    drop(watcher);
    let saved = save(workspace, &transcript)?;
    writeln!(out, "\nTranscript: {}", saved.display())?;
    Ok(ExitCode::SUCCESS)
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
    let minutes = minutes.unwrap_or(f64::from(exercise.meta.minutes.unwrap_or(DEFAULT_MINUTES)));
    introduce(&exercise, minutes, out)?;
    let mut transcript = Transcript::start(name, &exercise.meta.round, minutes);
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
            "\n{}\nThe debrief: answer each question as you would aloud (one line, \
             Enter), or press Enter to skip; q skips the rest.",
            "─".repeat(60)
        )?;
        transcript.answers = ask(&questions(workspace, &exercise)?, events, out)?;
        match job {
            Some(job) => {
                writeln!(out, "\nGrading the attempt (visible and hidden tests)…")?;
                out.flush()?;
                let graded = job
                    .join()
                    .map_err(|_| anyhow::anyhow!("the grader panicked"))??;
                Ok(Some(graded))
            }
            None => Ok(None),
        }
    })?;
    if let Some(graded) = graded {
        write!(out, "\n{}", report::markdown(&graded))?;
        let dir = transcripts_dir(workspace);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}-{}-grade.html", transcript.started_at));
        std::fs::write(&path, report::html(&graded))?;
        writeln!(out, "\nGrade report: {}", path.display())?;
    }
    Ok(transcript)
}

fn introduce(exercise: &Exercise, minutes: f64, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} — a mock {} round, {minutes} minutes.\n\n{}\n\n\
         The steps are the round's agenda: {}.\n\
         As in the room, take hints only when stuck: each one is written down. \
         Save a file to re-run the current step. Keys (then Enter): h hint · r re-run · \
         q finish early.",
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
    Ok(())
}

/// The debrief, from how far the visible tests got: every question of a step
/// not finished, the first of a finished one (to go deeper), then the
/// exercise's own. (The report's list, picked with the hidden tests and the
/// diagnosis, follows with the grade.)
fn questions(workspace: &Workspace, exercise: &Exercise) -> anyhow::Result<Vec<FollowUp>> {
    let state = State::load(&workspace.state_path())?;
    let progress = state
        .exercises
        .get(&exercise.name)
        .cloned()
        .unwrap_or_default();
    let mut asked = Vec::new();
    for (i, step) in exercise.meta.steps.iter().enumerate() {
        let n = i as u32 + 1;
        let done = progress.steps.get(&n).is_some_and(|p| p.done());
        let (why, take) = if done {
            (format!("step {n} passes: going deeper"), 1)
        } else {
            (format!("step {n} is not finished"), step.follow_ups.len())
        };
        asked.extend(step.follow_ups.iter().take(take).map(|q| FollowUp {
            question: q.clone(),
            why: why.clone(),
        }));
    }
    asked.extend(exercise.meta.follow_ups.iter().map(|q| FollowUp {
        question: q.clone(),
        why: "the exercise as a whole".to_string(),
    }));
    Ok(asked)
}

/// One question at a time; the lines typed until an empty one are the answer.
fn ask(
    questions: &[FollowUp],
    events: &Receiver<Event>,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<Answer>> {
    let mut answers = Vec::new();
    'questions: for (i, q) in questions.iter().enumerate() {
        writeln!(
            out,
            "\nQuestion {}/{}: {}\n  ({})",
            i + 1,
            questions.len(),
            q.question,
            q.why
        )?;
        out.flush()?;
        let mut answer: Vec<String> = Vec::new();
        loop {
            match events.recv() {
                Ok(Event::Line(text)) => answer.push(text),
                Ok(Event::Rerun) => break,
                Ok(Event::Quit) | Err(_) => break 'questions,
                // File changes, a late timer, a stray `h`: not an answer.
                Ok(_) => {}
            }
        }
        answers.push(Answer {
            question: q.question.clone(),
            why: q.why.clone(),
            answer: answer.join(" "),
        });
    }
    Ok(answers)
}

/// Beside the progress file: the learner's, not the repository's.
fn transcripts_dir(workspace: &Workspace) -> PathBuf {
    let state = workspace.state_path();
    state
        .parent()
        .map(|p| p.join(".lab-interviews"))
        .unwrap_or_else(|| PathBuf::from(".lab-interviews"))
}

/// The transcript as JSON and Markdown; the Markdown's path.
pub fn save(workspace: &Workspace, transcript: &Transcript) -> anyhow::Result<PathBuf> {
    let dir = transcripts_dir(workspace);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let base = dir.join(format!("{}-{}", transcript.exercise, transcript.started_at));
    std::fs::write(
        base.with_extension("json"),
        serde_json::to_string_pretty(transcript)?,
    )?;
    let md = base.with_extension("md");
    std::fs::write(&md, transcript.markdown())?;
    Ok(md)
}
