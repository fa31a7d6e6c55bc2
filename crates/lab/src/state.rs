//! The learner's progress: steps passed per exercise and hints already shown.
//! Kept in a small JSON file outside version control (see
//! [`crate::workspace::Workspace::state_path`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub exercises: BTreeMap<String, ExerciseState>,
    /// The commit the lab was at when the learner started (see [`crate::git`]).
    #[serde(default)]
    pub baseline: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExerciseState {
    /// Tests passed and total, per step, from the last `lab check`.
    #[serde(default)]
    pub steps: BTreeMap<u32, StepProgress>,
    /// Seconds since the UNIX epoch of the last `lab check`.
    #[serde(default)]
    pub checked_at: Option<u64>,
    /// How many hints of each step have been shown.
    #[serde(default)]
    pub hints_shown: BTreeMap<u32, usize>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub passed: usize,
    pub total: usize,
}

impl StepProgress {
    pub fn done(&self) -> bool {
        self.total > 0 && self.passed == self.total
    }
}

impl ExerciseState {
    /// The first step not fully passing, if any step was ever checked.
    pub fn next_step(&self, step_count: u32) -> Option<u32> {
        (1..=step_count).find(|n| !self.steps.get(n).is_some_and(StepProgress::done))
    }

    pub fn steps_done(&self) -> usize {
        self.steps.values().filter(|s| s.done()).count()
    }
}

impl State {
    /// Read the state file; a missing file is an empty state. A corrupt one is an
    /// error that says how to start over, rather than silently losing progress.
    pub fn load(path: &Path) -> anyhow::Result<State> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid lab progress; delete it to start over",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Write atomically (temp file, then rename), so an interrupted write never
    /// leaves half a file.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
    }

    pub fn exercise_mut(&mut self, name: &str) -> &mut ExerciseState {
        self.exercises.entry(name.to_string()).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next step is the first one not fully passing.
    #[test]
    fn next_step_is_the_first_unfinished_one() {
        let mut state = ExerciseState::default();
        assert_eq!(state.next_step(3), Some(1));
        state.steps.insert(
            1,
            StepProgress {
                passed: 4,
                total: 4,
            },
        );
        state.steps.insert(
            2,
            StepProgress {
                passed: 1,
                total: 4,
            },
        );
        assert_eq!(state.next_step(3), Some(2));
        state.steps.insert(
            2,
            StepProgress {
                passed: 4,
                total: 4,
            },
        );
        state.steps.insert(
            3,
            StepProgress {
                passed: 2,
                total: 2,
            },
        );
        assert_eq!(state.next_step(3), None);
    }

    /// State survives a save and load; a missing file is empty state.
    #[test]
    fn state_round_trips_through_its_file() {
        let path = std::env::temp_dir().join(format!("lab-state-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        assert!(State::load(&path).unwrap().exercises.is_empty());
        let mut state = State::default();
        state.exercise_mut("x").hints_shown.insert(2, 1);
        state.save(&path).unwrap();
        assert_eq!(
            State::load(&path).unwrap().exercises["x"].hints_shown[&2],
            1
        );
        let _ = std::fs::remove_file(&path);
    }
}
