//! Grade's diagnosis, checked against every curated mutant of the exercises
//! whose verify record is `--thorough` (each mutant's whole failing set, as a
//! real run of it recorded): a submission failing exactly what a mutant fails
//! is diagnosed as that mutant, first, and alone. A pure function of the
//! committed records — it runs nothing, so it holds every mutant in seconds;
//! that the records match real runs is what `verify --thorough` proved.

use std::collections::BTreeMap;

use lab::grade::score::{diagnose, score};
use lab::libtest::Outcome;
use lab::record::Record;
use lab::workspace::Workspace;

fn workspace() -> Workspace {
    Workspace::at(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).expect("the lab")
}

/// Mistakes no honest test can tell apart, with why: a submission making one
/// may be named as the other (alone, or as one finding with it), and reading
/// the code says which. Any mutant not listed here must be named alone.
const SAME_BEHAVIOUR: &[(&str, &[&str], &str)] = &[(
    "kafka_at_least_once",
    &["auto_offset_store", "store_before_effect"],
    "both store the offset as the record arrives, before its effect: one by leaving \
     librdkafka's automatic store on, one by calling store_offset too early; what is \
     committed when, and what a crash loses, is the same (a randomised crash test may \
     catch one and not the other in a given run)",
)];

/// The mutants `mutant` may be named as: itself, and those it is declared to
/// behave like.
fn acceptable(name: &str, mutant: &str) -> Vec<String> {
    SAME_BEHAVIOUR
        .iter()
        .find(|(exercise, group, _)| *exercise == name && group.contains(&mutant))
        .map(|(_, group, _)| group.iter().map(|m| m.to_string()).collect())
        .unwrap_or_else(|| vec![mutant.to_string()])
}

fn check(name: &str) {
    let workspace = workspace();
    let exercise = workspace.exercise(name).expect("the exercise");
    let record = Record::load(&exercise.record_path()).expect("a verify record");
    assert!(
        record.thorough,
        "{name}'s record is not --thorough: run `cargo lab verify {name} --thorough` \
         (the diagnosis ranks by each mutant's whole failing set)"
    );
    let mut wrong = Vec::new();
    for mutant in &record.mutants {
        let outcomes: BTreeMap<String, Outcome> = record
            .tests
            .iter()
            .map(|t| {
                let outcome = if mutant.killed_by.contains(t) {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                };
                (t.clone(), outcome)
            })
            .collect();
        let steps = score(&exercise, Some(&record), &outcomes);
        let found = diagnose(&workspace, &exercise, Some(&record), &outcomes, &steps);
        let ok = acceptable(name, &mutant.name);
        match found.first() {
            Some(first)
                if ok.contains(&first.mutant)
                    && first.alike.iter().all(|a| ok.contains(&a.mutant)) => {}
            Some(first) => wrong.push(format!(
                "{}: diagnosed as {} (alike: {:?})",
                mutant.name,
                first.mutant,
                first.alike.iter().map(|a| &a.mutant).collect::<Vec<_>>()
            )),
            None => wrong.push(format!("{}: no diagnosis", mutant.name)),
        }
    }
    assert!(
        wrong.is_empty(),
        "{name}: {} of {} mutants are not diagnosed as themselves — two mutants with the \
         same failing set need a test that tells them apart:\n{}",
        wrong.len(),
        record.mutants.len(),
        wrong.join("\n")
    );
}

/// Every rate_limiter mutant is named first, and alone, by its own failures.
#[test]
fn every_rate_limiter_mistake_is_diagnosed_as_itself() {
    check("rate_limiter");
}

/// Every kafka_at_least_once mutant is named first, and alone, by its own failures.
#[test]
fn every_kafka_mistake_is_diagnosed_as_itself() {
    check("kafka_at_least_once");
}
