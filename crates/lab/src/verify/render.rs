//! The verify matrix as text.

use super::{MutantOutcome, Report};
use crate::exercise::is_hidden_test;

/// The matrix, then the mutants and their killers, then the holes.
pub fn render(reports: &[Report]) -> String {
    let mut text = String::new();
    let width = reports
        .iter()
        .map(|r| r.exercise.len())
        .max()
        .unwrap_or(8)
        .max(8);
    text.push_str(&format!(
        "{:width$}  {:16}  {:16}  {:16}  verdict\n",
        "exercise", "reference", "skeleton", "mutants"
    ));
    for r in reports {
        let reference = if r.reference.build_failed {
            "does not build".to_string()
        } else {
            format!("{}/{} pass", r.reference.passed, r.reference.total)
        };
        let skeleton = if r.skeleton.build_failed {
            "does not build".to_string()
        } else {
            format!("{}/{} fail", r.skeleton.failed, r.skeleton.total)
        };
        let mutants = if r.mutants_skipped {
            "skipped".to_string()
        } else {
            let killed = r
                .mutants
                .iter()
                .filter(|m| m.outcome == MutantOutcome::Killed)
                .count();
            let recorded = if r.mutants_recorded.is_some() {
                " (rec.)"
            } else {
                ""
            };
            format!("{killed}/{} killed{recorded}", r.mutants.len())
        };
        let verdict = if r.ok() {
            "ok".to_string()
        } else {
            format!("{} hole(s)", r.holes.len())
        };
        text.push_str(&format!(
            "{:width$}  {reference:16}  {skeleton:16}  {mutants:16}  {verdict}\n",
            r.exercise
        ));
    }
    for r in reports {
        let hidden = r.tests.iter().filter(|t| is_hidden_test(t)).count();
        if hidden > 0 {
            // A mutant that only hidden tests kill is a mistake the candidate's
            // own run of the visible spec cannot show them: the grade's edge.
            let only_hidden: Vec<&str> = r
                .mutants
                .iter()
                .filter(|m| {
                    m.outcome == MutantOutcome::Killed
                        && !m.failed_tests.is_empty()
                        && m.failed_tests.iter().all(|t| is_hidden_test(t))
                })
                .map(|m| m.name.as_str())
                .collect();
            text.push_str(&format!(
                "\n{}: {hidden} hidden test(s) (in the counts above); mutants only hidden tests kill: {}\n",
                r.exercise,
                if only_hidden.is_empty() {
                    "none".to_string()
                } else {
                    only_hidden.join(", ")
                }
            ));
        }
        if r.thorough && r.mutants_recorded.is_none() {
            text.push_str(&alike(r));
        }
        if !r.mutants.is_empty() {
            let how = match (&r.mutants_recorded, r.thorough) {
                (Some(record), _) => format!(" ({record})"),
                (None, true) => " (every test run on each)".to_string(),
                (None, false) => " (the tests each header names, run alone)".to_string(),
            };
            text.push_str(&format!(
                "\n{} — mutants and the tests that kill them{how}\n",
                r.exercise
            ));
            for m in &r.mutants {
                let verdict = match &m.outcome {
                    MutantOutcome::Killed => {
                        let killers: Vec<String> = m
                            .failed_tests
                            .iter()
                            .map(|t| {
                                if is_hidden_test(t) {
                                    format!("{t} (hidden)")
                                } else {
                                    t.clone()
                                }
                            })
                            .collect();
                        format!("killed by {}", killers.join(", "))
                    }
                    MutantOutcome::Survived => "SURVIVED".to_string(),
                    MutantOutcome::DidNotApply(_) => "DOES NOT APPLY".to_string(),
                    MutantOutcome::DidNotBuild(_) => "DOES NOT BUILD".to_string(),
                    MutantOutcome::TimedOut => "TESTS HUNG".to_string(),
                    MutantOutcome::Incomplete(_) => "TESTS DID NOT FINISH".to_string(),
                };
                text.push_str(&format!("  {:34} {verdict}\n", m.name));
            }
        }
        if !r.holes.is_empty() {
            text.push_str(&format!("\n{} — holes\n", r.exercise));
            for hole in &r.holes {
                text.push_str(&format!("  - {}\n", hole.replace('\n', "\n    ")));
            }
        }
    }
    text
}

pub(super) fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// With every test run on each mutant, the killed mutants whose failing sets
/// are the same: grade cannot tell them apart, so an author learns here that
/// a test separating them is missing (or that they are one mistake).
fn alike(r: &Report) -> String {
    let mut groups: Vec<(Vec<String>, Vec<&str>)> = Vec::new();
    for m in r
        .mutants
        .iter()
        .filter(|m| m.outcome == MutantOutcome::Killed)
    {
        let mut failed = m.failed_tests.clone();
        failed.sort();
        match groups.iter_mut().find(|(set, _)| *set == failed) {
            Some((_, names)) => names.push(&m.name),
            None => groups.push((failed, vec![&m.name])),
        }
    }
    let tied: Vec<String> = groups
        .iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(_, names)| names.join(" = "))
        .collect();
    if tied.is_empty() {
        return String::new();
    }
    format!(
        "\n{}: mutants that fail exactly the same tests (grade names each group as one \
         finding): {}\n",
        r.exercise,
        tied.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::MutantResult;

    fn killed(name: &str, failed: &[&str]) -> MutantResult {
        MutantResult {
            name: name.to_string(),
            mistake: String::new(),
            outcome: MutantOutcome::Killed,
            failed_tests: failed.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// Killed mutants with the same failing set, in any order, are one group;
    /// a mutant with a set of its own is in none.
    #[test]
    fn mutants_failing_the_same_tests_are_grouped() {
        let report = Report {
            exercise: "adder".into(),
            mutants: vec![
                killed("a", &["t1", "t2"]),
                killed("b", &["t2", "t1"]),
                killed("c", &["t1"]),
            ],
            ..Default::default()
        };
        assert_eq!(
            alike(&report),
            "\nadder: mutants that fail exactly the same tests (grade names each group as one \
             finding): a = b\n"
        );
        let apart = Report {
            mutants: vec![killed("a", &["t1"]), killed("c", &["t2"])],
            ..report
        };
        assert_eq!(alike(&apart), "");
    }
}
