//! What `cargo lab interview` keeps of an attempt: every test run, hint and
//! finished step with the time it happened, the answers given to the debrief
//! questions, and how it ended. Written as JSON (for tools) and Markdown (to
//! read back, or to send to whoever is coaching you).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::state::StepProgress;

/// What happened.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    /// A run of the step's tests, and how many passed.
    Ran {
        passed: usize,
        total: usize,
    },
    Hint,
    /// The step's first green run.
    StepDone,
}

/// One thing that happened, `at_secs` after the start.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub at_secs: f64,
    pub step: u32,
    pub what: What,
}

/// A debrief question and what was typed in answer (empty: skipped).
#[derive(Clone, Debug, Serialize)]
pub struct Answer {
    pub question: String,
    pub why: String,
    pub answer: String,
}

/// A step's share of the attempt.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StepTime {
    pub step: u32,
    /// From the end of the step before (or the start) to this step's first
    /// green run, or to the end for a step not finished.
    pub secs: f64,
    pub runs: usize,
    pub hints: usize,
    pub done: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Transcript {
    pub exercise: String,
    pub round: String,
    pub minutes: f64,
    /// Seconds since the UNIX epoch at the start.
    pub started_at: u64,
    pub entries: Vec<Entry>,
    pub answers: Vec<Answer>,
    /// "time is up" or "finished early".
    pub ended: String,
    pub elapsed_secs: f64,
    #[serde(skip)]
    started: Instant,
    /// Where it is written (JSON and Markdown) after every change, so that an
    /// interrupted interview keeps what happened up to then.
    #[serde(skip)]
    saved_to: Option<PathBuf>,
}

impl Transcript {
    pub fn start(exercise: &str, round: &str, minutes: f64) -> Transcript {
        Transcript {
            exercise: exercise.to_string(),
            round: round.to_string(),
            minutes,
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            entries: Vec::new(),
            answers: Vec::new(),
            ended: String::new(),
            elapsed_secs: 0.0,
            started: Instant::now(),
            saved_to: None,
        }
    }

    /// Keep the transcript in `dir`, as `<exercise>-<start>.json` and `.md`,
    /// rewritten after every change. Returns the Markdown's path.
    pub fn keep_in(&mut self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let base = dir.join(format!("{}-{}", self.exercise, self.started_at));
        self.saved_to = Some(base.clone());
        self.save()?;
        Ok(base.with_extension("md"))
    }

    /// The Markdown's path, once [`Transcript::keep_in`] has chosen one.
    pub fn markdown_path(&self) -> Option<PathBuf> {
        self.saved_to.as_ref().map(|b| b.with_extension("md"))
    }

    /// Write it where [`Transcript::keep_in`] said, if anywhere.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(base) = &self.saved_to else {
            return Ok(());
        };
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(base.with_extension("json"), json)?;
        std::fs::write(base.with_extension("md"), self.markdown())
    }

    fn push(&mut self, step: u32, what: What) {
        self.entries.push(Entry {
            at_secs: self.started.elapsed().as_secs_f64(),
            step,
            what,
        });
        // Best effort: a full disk must not end the interview.
        let _ = self.save();
    }

    /// A test run of `step` and where it left the step.
    pub fn ran(&mut self, step: u32, progress: StepProgress) {
        self.push(
            step,
            What::Ran {
                passed: progress.passed,
                total: progress.total,
            },
        );
        if progress.done() && !self.reached(step, true) {
            self.push(step, What::StepDone);
        }
    }

    pub fn hint(&mut self, step: u32) {
        self.push(step, What::Hint);
    }

    /// Whether `step` was worked on (or, with `done`, finished) in this attempt.
    pub fn reached(&self, step: u32, done: bool) -> bool {
        self.entries
            .iter()
            .any(|e| e.step == step && (!done || e.what == What::StepDone))
    }

    pub fn answer(&mut self, answer: Answer) {
        self.answers.push(answer);
        let _ = self.save();
    }

    /// The time box left, as minutes and seconds.
    pub fn left(&self) -> String {
        let budget = Duration::from_secs_f64(self.minutes * 60.0);
        let left = budget.saturating_sub(self.started.elapsed()).as_secs();
        format!("{}:{:02}", left / 60, left % 60)
    }

    pub fn end(&mut self, why: &str) {
        self.ended = why.to_string();
        self.elapsed_secs = self.started.elapsed().as_secs_f64();
        let _ = self.save();
    }

    /// Time, runs and hints per step, in the order the steps were worked on.
    pub fn step_times(&self) -> Vec<StepTime> {
        let mut times: Vec<StepTime> = Vec::new();
        let mut since = 0.0;
        for entry in &self.entries {
            if !times.iter().any(|t| t.step == entry.step) {
                times.push(StepTime {
                    step: entry.step,
                    secs: 0.0,
                    runs: 0,
                    hints: 0,
                    done: false,
                });
            }
            let t = times
                .iter_mut()
                .find(|t| t.step == entry.step)
                .expect("just added");
            match entry.what {
                What::Hint => t.hints += 1,
                What::StepDone => {
                    t.done = true;
                    t.secs = entry.at_secs - since;
                    since = entry.at_secs;
                }
                What::Ran { .. } => t.runs += 1,
            }
        }
        if let Some(open) = times.iter_mut().find(|t| !t.done) {
            open.secs = (self.elapsed_secs - since).max(0.0);
        }
        times
    }

    pub fn markdown(&self) -> String {
        let mut text = format!(
            "# Interview: {} ({}, {} min)\n\nEnded: {} after {}.\n\n\
             | step | time | test runs | hints | finished |\n|---|---|---|---|---|\n",
            self.exercise,
            self.round,
            self.minutes,
            self.ended,
            clock(self.elapsed_secs)
        );
        for t in self.step_times() {
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                t.step,
                clock(t.secs),
                t.runs,
                t.hints,
                if t.done { "yes" } else { "no" }
            ));
        }
        text.push_str("\n## Timeline\n\n");
        for e in &self.entries {
            let what = match &e.what {
                What::Ran { passed, total } => format!("ran: {passed}/{total} passing"),
                What::Hint => "hint".to_string(),
                What::StepDone => "step done".to_string(),
            };
            text.push_str(&format!("- {} step {}: {what}\n", clock(e.at_secs), e.step));
        }
        if !self.answers.is_empty() {
            text.push_str("\n## Follow-up questions\n\n");
            for a in &self.answers {
                let answer = if a.answer.is_empty() {
                    "(skipped)"
                } else {
                    &a.answer
                };
                text.push_str(&format!("- **{}** ({})\n  {answer}\n", a.question, a.why));
            }
        }
        text
    }
}

/// `m:ss`.
fn clock(secs: f64) -> String {
    let secs = secs.max(0.0) as u64;
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_secs: f64, step: u32, what: What) -> Entry {
        Entry {
            at_secs,
            step,
            what,
        }
    }

    fn ran(passed: usize, total: usize) -> What {
        What::Ran { passed, total }
    }

    /// A step's time runs from the previous step's finish to its own; the
    /// unfinished step gets the rest; runs and hints are counted per step.
    #[test]
    fn time_per_step_runs_from_one_finish_to_the_next() {
        let mut t = Transcript::start("adder", "Warm-up", 1.0);
        t.entries = vec![
            entry(5.0, 1, ran(0, 2)),
            entry(20.0, 1, What::Hint),
            entry(30.0, 1, ran(2, 2)),
            entry(30.0, 1, What::StepDone),
            entry(31.0, 2, ran(0, 1)),
            entry(50.0, 2, ran(0, 1)),
        ];
        t.elapsed_secs = 60.0;
        assert_eq!(
            t.step_times(),
            vec![
                StepTime {
                    step: 1,
                    secs: 30.0,
                    runs: 2,
                    hints: 1,
                    done: true
                },
                StepTime {
                    step: 2,
                    secs: 30.0,
                    runs: 2,
                    hints: 0,
                    done: false
                },
            ]
        );
    }

    /// A green run marks the step done once, however often it runs again.
    #[test]
    fn a_step_is_done_once() {
        let mut t = Transcript::start("adder", "Warm-up", 1.0);
        let green = StepProgress {
            passed: 2,
            total: 2,
        };
        t.ran(1, green);
        t.ran(1, green);
        let done = t
            .entries
            .iter()
            .filter(|e| e.what == What::StepDone)
            .count();
        assert_eq!(done, 1, "{:?}", t.entries);
    }
}
