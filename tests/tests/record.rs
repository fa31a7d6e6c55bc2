//! The verify record and `lab verify --changed`, on tiny generated labs: a
//! record stands only while its inputs are unchanged, and nothing is skipped
//! without saying so.

#[path = "../support/fixture.rs"]
mod fixture;

use std::process::ExitCode;

use fixture::{REFERENCE, SPEC, TinyLab};

/// Run the CLI and require a clean exit: the output.
fn ok(lab: &TinyLab, args: &[&str]) -> String {
    let (code, out) = lab.run(args);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    out
}

fn record_text(lab: &TinyLab, name: &str) -> String {
    std::fs::read_to_string(lab.path(&format!("solutions/{name}/verified.toml")))
        .unwrap_or_else(|e| panic!("{name} has no record: {e}"))
}

/// The summary line `--changed` prints for one exercise.
fn judged(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.trim_start().starts_with(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no summary line for {name}:\n{out}"))
        .to_string()
}

/// A run with no hole writes a record with the inputs hash, the figures and
/// the test that killed each mutant.
#[test]
fn a_successful_verify_writes_the_exercises_record() {
    let lab = TinyLab::new("record-written");
    let out = ok(&lab, &["verify"]);
    let record = record_text(&lab, "adder");
    for field in [
        "inputs = \"sha256:",
        "toolchain = \"rustc ",
        "reference_passed = 2",
        "skeleton_failed = 2",
        "name = \"plus_one\"",
        "killed_by = [\"step1_adds_small_numbers\"]",
    ] {
        assert!(record.contains(field), "missing {field:?} in:\n{record}");
    }
    assert!(out.contains("record written to"), "{out}");
}

/// On an unchanged tree `--changed` runs no mutant (the scratch copy is never
/// even made), runs the skeleton, and names the record that stands instead.
#[test]
fn an_unchanged_exercise_runs_no_mutant_and_names_its_record() {
    let lab = TinyLab::new("record-stands");
    ok(&lab, &["verify"]);
    std::fs::remove_dir_all(lab.verify_dir()).expect("the first run made a scratch copy");

    let out = ok(&lab, &["verify", "--changed"]);
    let line = judged(&out, "adder");
    assert!(
        line.contains("recorded at") && line.contains("no mutant ran"),
        "{line}"
    );
    assert!(out.contains("2/2 fail"), "the skeleton still runs:\n{out}");
    assert!(
        !lab.verify_dir().exists(),
        "no mutant may run when the record stands"
    );
}

/// After one input changes — a solution file, or the spec the exercise owns —
/// `--changed` re-runs that exercise alone and rewrites its record.
#[test]
fn a_changed_input_makes_the_record_stale_and_reruns_only_that_exercise() {
    let lab = TinyLab::new("record-stale");
    lab.add_exercise("twin");
    lab.lock();
    ok(&lab, &["verify"]);
    for (file, content) in [
        (
            "solutions/adder/src/lib.rs",
            format!("{REFERENCE}// a comment changes the inputs\n"),
        ),
        (
            "exercises/adder/tests/spec.rs",
            format!("{SPEC}// so does one in the spec\n"),
        ),
    ] {
        let before = record_text(&lab, "adder");
        lab.write(file, &content);
        let out = ok(&lab, &["verify", "--changed"]);
        let adder = judged(&out, "adder");
        assert!(
            adder.contains("inputs changed") && adder.contains("verified now"),
            "after changing {file}: {adder}"
        );
        let twin = judged(&out, "twin");
        assert!(
            twin.contains("recorded at") && twin.contains("no mutant ran"),
            "after changing {file}: {twin}"
        );
        assert_ne!(
            record_text(&lab, "adder"),
            before,
            "after changing {file}, the stale record is rewritten"
        );
    }
}

/// A record whose hash was edited by hand no longer matches the content: it
/// is reported as such and the exercise is verified again.
#[test]
fn a_hand_edited_hash_is_reported_and_the_exercise_rerun() {
    let lab = TinyLab::new("record-edited");
    ok(&lab, &["verify"]);
    let record = record_text(&lab, "adder");
    let start = record.find("sha256:").expect("a hash") + "sha256:".len();
    let mut edited = record.clone();
    edited.replace_range(start..start + 12, "000000000000");
    lab.write("solutions/adder/verified.toml", &edited);

    let out = ok(&lab, &["verify", "--changed"]);
    let line = judged(&out, "adder");
    assert!(
        line.contains("inputs changed since its record (000000000000 there"),
        "{line}"
    );
    assert!(line.contains("verified now"), "{line}");
}

/// No record, or one that does not parse, is a hole; the exercise is still
/// verified, so the record to commit is written.
#[test]
fn a_missing_or_unreadable_record_is_a_hole() {
    let lab = TinyLab::new("record-missing");
    let (code, out) = lab.run(&["verify", "--changed"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("solutions/adder/verified.toml is missing"),
        "{out}"
    );
    assert!(judged(&out, "adder").contains("no record at"), "{out}");
    assert!(record_text(&lab, "adder").contains("reference_passed = 2"));

    lab.write("solutions/adder/verified.toml", "this is = not [a record");
    let (code, out) = lab.run(&["verify", "--changed"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(out.contains("is not a verify record"), "{out}");
}

/// A run during which an input changes writes no record (here Cargo.lock,
/// which the first build of a lab without one creates).
#[test]
fn inputs_that_change_during_the_run_write_no_record() {
    let lab = TinyLab::new("record-moving");
    std::fs::remove_file(lab.path("Cargo.lock")).expect("the fixture has a lock");
    let (code, out) = lab.run(&["verify"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(out.contains("inputs changed while verify ran"), "{out}");
    assert!(!lab.path("solutions/adder/verified.toml").exists(), "{out}");
}

/// A run with holes writes no record: a record vouches for a clean matrix.
#[test]
fn a_run_with_holes_writes_no_record() {
    let lab = TinyLab::new("record-holes");
    lab.write(
        "solutions/adder/src/lib.rs",
        &REFERENCE.replace("a + b", "a * b"),
    );
    let (code, out) = lab.run(&["verify"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(!lab.path("solutions/adder/verified.toml").exists(), "{out}");
}
