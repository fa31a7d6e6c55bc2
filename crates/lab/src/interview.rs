//! What `cargo lab interview` keeps of an attempt: every test run, hint and
//! finished step with the time it happened, the answers given to the debrief
//! questions, and how it ended. Written as JSON (for tools) and Markdown (to
//! read back, or to send to whoever is coaching you).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::state::StepProgress;

/// One thing that happened, `at_secs` after the start.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entry {
    pub at_secs: f64,
    pub step: u32,
    pub what: String,
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
        }
    }

    fn push(&mut self, step: u32, what: String) {
        self.entries.push(Entry {
            at_secs: self.started.elapsed().as_secs_f64(),
            step,
            what,
        });
    }

    /// A test run of `step` and where it left the step.
    pub fn ran(&mut self, step: u32, progress: StepProgress) {
        self.push(
            step,
            format!("ran: {}/{} passing", progress.passed, progress.total),
        );
        let already = self
            .entries
            .iter()
            .any(|e| e.step == step && e.what == "step done");
        if progress.done() && !already {
            self.push(step, "step done".to_string());
        }
    }

    pub fn hint(&mut self, step: u32) {
        self.push(step, "hint".to_string());
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
            match entry.what.as_str() {
                "hint" => t.hints += 1,
                "step done" => {
                    t.done = true;
                    t.secs = entry.at_secs - since;
                    since = entry.at_secs;
                }
                _ => t.runs += 1,
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
            text.push_str(&format!(
                "- {} step {}: {}\n",
                clock(e.at_secs),
                e.step,
                e.what
            ));
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

    fn entry(at_secs: f64, step: u32, what: &str) -> Entry {
        Entry {
            at_secs,
            step,
            what: what.to_string(),
        }
    }

    /// A step's time runs from the previous step's finish to its own; the
    /// unfinished step gets the rest; runs and hints are counted per step.
    #[test]
    fn time_per_step_runs_from_one_finish_to_the_next() {
        let mut t = Transcript::start("adder", "Warm-up", 1.0);
        t.entries = vec![
            entry(5.0, 1, "ran: 0/2 passing"),
            entry(20.0, 1, "hint"),
            entry(30.0, 1, "ran: 2/2 passing"),
            entry(30.0, 1, "step done"),
            entry(31.0, 2, "ran: 0/1 passing"),
            entry(50.0, 2, "ran: 0/1 passing"),
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
        let done = t.entries.iter().filter(|e| e.what == "step done").count();
        assert_eq!(done, 1, "{:?}", t.entries);
    }
}
