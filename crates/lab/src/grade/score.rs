//! From test outcomes to a grade: per-step scores and ratings, the known
//! mistakes the failures look like, and the debrief questions they call for.
//! Pure functions of the record and the outcomes, so the lab's tests can check
//! the diagnosis against every recorded mutant without running one.

use std::collections::{BTreeMap, BTreeSet};

use super::{Alike, Count, Diagnosis, FollowUp, Rating, StepGrade};
use crate::exercise::{Exercise, is_hidden_test, step_of};
use crate::libtest::Outcome;
use crate::record::Record;
use crate::workspace::Workspace;

/// Per step, visible and hidden apart. The tests expected are the record's
/// (everything the reference ran); a test that never reported — its binary
/// hung or crashed — counts as failed.
pub fn score(
    exercise: &Exercise,
    record: Option<&Record>,
    outcomes: &BTreeMap<String, Outcome>,
) -> Vec<StepGrade> {
    let expected: Vec<String> = match record {
        Some(r) => r.tests.clone(),
        None => outcomes.keys().cloned().collect(),
    };
    (1..=exercise.step_count())
        .map(|n| {
            let mut visible = Count::default();
            let mut hidden = Count::default();
            let mut failed = Vec::new();
            for test in expected.iter().filter(|t| step_of(t) == Some(n)) {
                let count = if is_hidden_test(test) {
                    &mut hidden
                } else {
                    &mut visible
                };
                count.total += 1;
                if outcomes.get(test) == Some(&Outcome::Passed) {
                    count.passed += 1;
                } else {
                    failed.push(test.clone());
                }
            }
            let rating = rate(&visible, &hidden);
            let meta = exercise.step(n);
            let rubric = meta.and_then(|s| s.rubric.as_ref());
            StepGrade {
                step: n,
                title: meta.map(|s| s.title.clone()).unwrap_or_default(),
                visible,
                hidden,
                rating,
                looks_like: rubric.map(|r| rating.of(r).to_string()),
                strong_looks_like: rubric
                    .filter(|_| rating != Rating::Strong)
                    .map(|r| r.strong.clone()),
                failed,
            }
        })
        .collect()
}

/// The anchors of [`Rating`], applied.
fn rate(visible: &Count, hidden: &Count) -> Rating {
    let passed = visible.passed + hidden.passed;
    let total = visible.total + hidden.total;
    if passed == total && total > 0 {
        Rating::Strong
    } else if visible.passed == visible.total && visible.total > 0 {
        Rating::LeaningStrong
    } else if total > 0 && passed * 2 >= total {
        Rating::NeedsImprovement
    } else {
        Rating::Poor
    }
}

/// Known mistakes whose telling tests (as recorded by verify) all fail here,
/// where the work was attempted: something passes at the mistake's step or a
/// later one (a skeleton, or steps not started, are no mistake to name). Closest first: by how much of the
/// submission's failures the mistake's recorded failures cover, over both
/// (Jaccard). A `--thorough` record holds each mutant's whole failing set, so
/// the closest is usually the mistake itself; a default record holds only the
/// tests each header names, and the ranking then favours the mistakes that
/// fail the most of them. Mistakes the tests cannot tell apart (the same
/// recorded failures) are one finding, the others listed as `alike`.
pub fn diagnose(
    workspace: &Workspace,
    exercise: &Exercise,
    record: Option<&Record>,
    outcomes: &BTreeMap<String, Outcome>,
    steps: &[StepGrade],
) -> Vec<Diagnosis> {
    let Some(record) = record else {
        return Vec::new();
    };
    // Only tests seen failing: a test that never reported (its suite hung or
    // crashed) is a failure for the score, but no evidence of a mistake.
    let failing = |t: &String| outcomes.get(t) == Some(&Outcome::Failed);
    let failed: BTreeSet<&String> = record.tests.iter().filter(|t| failing(t)).collect();
    let mut found: Vec<Diagnosis> = record
        .mutants
        .iter()
        .filter(|m| !m.killed_by.is_empty() && m.killed_by.iter().all(failing))
        .filter_map(|m| {
            let step = m.killed_by.iter().filter_map(|t| step_of(t)).min()?;
            // Work not done yet is no mistake: name one only where something
            // passes at its step or after it. (Not at its step alone: a
            // mistake can fail every test of its own step, and the later
            // steps passing show the work was done.)
            let attempted = steps
                .iter()
                .filter(|s| s.step >= step)
                .any(|s| s.visible.passed + s.hidden.passed > 0);
            if !attempted {
                return None;
            }
            let signature: BTreeSet<&String> = m.killed_by.iter().collect();
            let union = failed.union(&signature).count().max(1);
            Some(Diagnosis {
                mutant: m.name.clone(),
                mistake: m.mistake.clone(),
                tests: m.killed_by.clone(),
                closeness: signature.len() as f64 / union as f64,
                alike: Vec::new(),
                step,
                readme: exercise.step_link(workspace, step),
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.closeness
            .total_cmp(&a.closeness)
            .then(a.mutant.cmp(&b.mutant))
    });
    let mut merged: Vec<Diagnosis> = Vec::new();
    for d in found {
        let mut tests = d.tests.clone();
        tests.sort();
        match merged.iter_mut().find(|m| {
            let mut theirs = m.tests.clone();
            theirs.sort();
            theirs == tests
        }) {
            Some(same) => same.alike.push(Alike {
                mutant: d.mutant,
                mistake: d.mistake,
            }),
            None => merged.push(d),
        }
    }
    merged
}

/// The debrief, in step order: every question of a step that is not strong
/// (with why it is asked: the rating, and the mistake the step behaves like),
/// the first question of a strong step (to go deeper), then the exercise's own.
pub fn follow_ups(
    exercise: &Exercise,
    steps: &[StepGrade],
    diagnosis: &[Diagnosis],
) -> Vec<FollowUp> {
    let mut asked = Vec::new();
    for grade in steps {
        let Some(meta) = exercise.step(grade.step) else {
            continue;
        };
        let mut why = format!("step {} was rated {}", grade.step, grade.rating.label());
        if let Some(d) = diagnosis.iter().find(|d| d.step == grade.step) {
            why.push_str(&format!(" and behaves like `{}`", d.mutant));
        }
        let questions = if grade.rating == Rating::Strong {
            why.push_str(": to go deeper");
            &meta.follow_ups[..meta.follow_ups.len().min(1)]
        } else {
            &meta.follow_ups[..]
        };
        asked.extend(questions.iter().map(|q| FollowUp {
            question: q.clone(),
            why: why.clone(),
        }));
    }
    asked.extend(FollowUp::of_the_exercise(exercise));
    asked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(passed: usize, total: usize) -> Count {
        Count { passed, total }
    }

    /// The anchors, at their edges: every test for strong; every visible one
    /// for leaning strong; exactly half for needs improvement; one short of
    /// half for poor; a step with no tests is poor, never strong.
    #[test]
    fn ratings_follow_their_anchors_at_the_boundaries() {
        assert_eq!(rate(&count(3, 3), &count(2, 2)), Rating::Strong);
        assert_eq!(rate(&count(3, 3), &count(0, 0)), Rating::Strong);
        assert_eq!(rate(&count(3, 3), &count(1, 2)), Rating::LeaningStrong);
        assert_eq!(rate(&count(3, 3), &count(0, 3)), Rating::LeaningStrong);
        assert_eq!(rate(&count(2, 3), &count(1, 1)), Rating::NeedsImprovement);
        assert_eq!(rate(&count(1, 2), &count(1, 2)), Rating::NeedsImprovement);
        assert_eq!(rate(&count(1, 3), &count(0, 0)), Rating::Poor);
        assert_eq!(rate(&count(1, 2), &count(0, 1)), Rating::Poor);
        assert_eq!(rate(&count(0, 0), &count(0, 0)), Rating::Poor);
    }
}
