//! The verify record and `lab verify --changed`, on tiny generated labs: a
//! record stands only while its inputs are unchanged, and nothing is skipped
//! without saying so.

#[path = "../support/fixture.rs"]
mod fixture;

use std::process::ExitCode;

use fixture::{PLUS_ONE, REFERENCE, SKELETON, SPEC, TinyLab};

fn lab_run(lab: &TinyLab, args: &[&str]) -> (ExitCode, String) {
    let mut out = Vec::new();
    let code = lab::cli::run(lab.args(args), &mut out).expect("lab verify runs");
    (code, String::from_utf8_lossy(&out).into_owned())
}

/// A second exercise, `twin`, the same as `adder` under another name.
fn add_twin(lab: &TinyLab) {
    let twin = |text: &str| text.replace("adder", "twin");
    lab.write(
        "exercises/twin/Cargo.toml",
        "[package]\nname = \"twin\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ndoctest = false\n\n[[test]]\nname = \"spec\"\npath = \"tests/spec.rs\"\n",
    );
    lab.write(
        "exercises/twin/exercise.toml",
        "title = \"Twin\"\nquestion = \"Add two numbers again.\"\nround = \"Warm-up\"\n\n[[steps]]\ntitle = \"Addition\"\nhints = [\"Use +.\"]\n",
    );
    lab.write("exercises/twin/src/lib.rs", SKELETON);
    lab.write("exercises/twin/tests/spec.rs", &twin(SPEC));
    lab.write(
        "solutions/twin/Cargo.toml",
        "[package]\nname = \"twin_solution\"\nversion = \"0.1.0\"\nedition = \"2024\"\nautotests = false\n\n[lib]\nname = \"twin\"\npath = \"src/lib.rs\"\ndoc = false\ndoctest = false\n\n[[test]]\nname = \"spec\"\npath = \"../../exercises/twin/tests/spec.rs\"\n",
    );
    lab.write("solutions/twin/src/lib.rs", REFERENCE);
    lab.write("solutions/twin/mutants/plus_one.patch", PLUS_ONE);
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
    let (code, out) = lab_run(&lab, &["verify"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
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
    let (code, out) = lab_run(&lab, &["verify"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    std::fs::remove_dir_all(lab.verify_dir()).expect("the first run made a scratch copy");

    let (code, out) = lab_run(&lab, &["verify", "--changed"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
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

/// After one solution file changes, `--changed` re-runs that exercise alone.
#[test]
fn a_changed_input_makes_the_record_stale_and_reruns_only_that_exercise() {
    let lab = TinyLab::new("record-stale");
    add_twin(&lab);
    lab.lock();
    let (code, out) = lab_run(&lab, &["verify"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    let before = record_text(&lab, "adder");

    lab.write(
        "solutions/adder/src/lib.rs",
        &format!("{REFERENCE}// a comment changes the inputs\n"),
    );
    let (code, out) = lab_run(&lab, &["verify", "--changed"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    let adder = judged(&out, "adder");
    assert!(
        adder.contains("inputs changed") && adder.contains("verified now"),
        "{adder}"
    );
    let twin = judged(&out, "twin");
    assert!(
        twin.contains("recorded at") && twin.contains("no mutant ran"),
        "{twin}"
    );
    assert_ne!(
        record_text(&lab, "adder"),
        before,
        "the stale record is rewritten"
    );
}

/// A record whose hash was edited by hand no longer matches the content: it
/// is reported as such and the exercise is verified again.
#[test]
fn a_hand_edited_hash_is_reported_and_the_exercise_rerun() {
    let lab = TinyLab::new("record-edited");
    let (code, out) = lab_run(&lab, &["verify"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    let record = record_text(&lab, "adder");
    let start = record.find("sha256:").expect("a hash") + "sha256:".len();
    let mut edited = record.clone();
    edited.replace_range(start..start + 12, "000000000000");
    lab.write("solutions/adder/verified.toml", &edited);

    let (code, out) = lab_run(&lab, &["verify", "--changed"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
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
    let (code, out) = lab_run(&lab, &["verify", "--changed"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("solutions/adder/verified.toml is missing"),
        "{out}"
    );
    assert!(judged(&out, "adder").contains("no record at"), "{out}");
    assert!(record_text(&lab, "adder").contains("reference_passed = 2"));

    lab.write("solutions/adder/verified.toml", "this is = not [a record");
    let (code, out) = lab_run(&lab, &["verify", "--changed"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(out.contains("is not a verify record"), "{out}");
}

/// A run during which an input changes writes no record (here Cargo.lock,
/// which the first build of a lab without one creates).
#[test]
fn inputs_that_change_during_the_run_write_no_record() {
    let lab = TinyLab::new("record-moving");
    std::fs::remove_file(lab.path("Cargo.lock")).expect("the fixture has a lock");
    let (code, out) = lab_run(&lab, &["verify"]);
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
    let (code, out) = lab_run(&lab, &["verify"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(!lab.path("solutions/adder/verified.toml").exists(), "{out}");
}
