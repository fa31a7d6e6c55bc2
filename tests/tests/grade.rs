//! `lab grade` on the tiny generated lab: the reference grades strong, the
//! skeleton poor, a known mistake is named, a build script is refused, and a
//! submission that hangs is graded within its bound.

#[path = "../support/fixture.rs"]
mod fixture;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use fixture::{REFERENCE, SKELETON, TinyLab};

/// A mistake only one of the two step-1 tests sees.
const ZERO_BREAKS: &str = "mutant: adding zero is treated as a special case and gets one added
killed-by: step1_zero_changes_nothing

--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,4 @@
 /// Add two numbers.
 pub fn add(a: u32, b: u32) -> u32 {
-    a + b
+    if b == 0 { a + 1 } else { a + b }
 }
";

/// A tiny lab with a verify record (grade reads the mutants' telling tests from it).
fn verified_lab(label: &str) -> TinyLab {
    let lab = TinyLab::new(label);
    lab.write("solutions/adder/mutants/zero_breaks.patch", ZERO_BREAKS);
    let (code, out) = lab.run(&["verify"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    lab
}

/// A submission directory holding `lib` as the candidate's src/lib.rs.
fn submission(lab: &TinyLab, name: &str, lib: &str) -> std::path::PathBuf {
    lab.write(&format!("{name}/exercises/adder/src/lib.rs"), lib);
    lab.write(
        &format!("{name}/exercises/adder/Cargo.toml"),
        &std::fs::read_to_string(lab.path("exercises/adder/Cargo.toml")).expect("the manifest"),
    );
    lab.path(name)
}

/// Grade `dir`: what it printed, the JSON report (as text: the lab's tests add
/// no JSON parser to the lock, which every verify record hashes), the HTML.
fn grade(lab: &TinyLab, dir: &std::path::Path, extra: &[&str]) -> (String, String, String) {
    let report = lab.path("report.html");
    let mut args = vec!["grade", dir.to_str().expect("utf-8"), "--exercise", "adder"];
    args.extend(["--out", report.to_str().expect("utf-8")]);
    args.extend(extra);
    let (code, out) = lab.run(&args);
    assert_eq!(
        code,
        ExitCode::SUCCESS,
        "grading itself must not fail:\n{out}"
    );
    let json = std::fs::read_to_string(report.with_extension("json")).expect("a JSON report");
    let html = std::fs::read_to_string(&report).expect("an HTML report");
    (out, json, html)
}

/// The reference: every step strong, no mistake named; the HTML stands alone.
#[test]
fn the_reference_grades_strong_with_no_diagnosis() {
    let lab = verified_lab("grade-reference");
    let dir = submission(&lab, "sub", REFERENCE);
    let (out, json, html) = grade(&lab, &dir, &[]);
    assert!(json.contains("\"rating\": \"strong\""), "{json}");
    assert!(
        out.contains("| 1 Addition | 2/2 | 0/0 | **strong** |"),
        "{out}"
    );
    assert!(json.contains("\"diagnosis\": []"), "{json}");
    assert!(
        out.contains("step 1 **strong**: Adds, and zero changes nothing."),
        "the step's rubric at its rating: {out}"
    );
    assert!(
        out.contains(
            "What should happen when the sum overflows? (step 1 was rated strong: to go deeper)"
        ),
        "{out}"
    );
    assert!(out.contains("- clippy warnings: 0"), "{out}");
    for external in ["http://", "https://", "src=", "<link", "@import"] {
        assert!(
            !html.contains(external),
            "the report refers outside itself: {external}"
        );
    }
    assert!(html.contains("<td class=\"strong\">"), "{html}");
}

/// The skeleton: poor, and no mistake named where nothing works yet.
#[test]
fn the_skeleton_grades_poor() {
    let lab = verified_lab("grade-skeleton");
    let dir = submission(&lab, "sub", SKELETON);
    let (out, json, _) = grade(&lab, &dir, &[]);
    assert!(
        out.contains("| 1 Addition | 0/2 | 0/0 | **poor** |"),
        "{out}"
    );
    assert!(json.contains("\"diagnosis\": []"), "{json}");
}

/// A submission that makes a known mistake is told which, and only that one.
#[test]
fn a_known_mistake_is_named_by_the_tests_it_fails() {
    let lab = verified_lab("grade-mutant");
    let dir = submission(
        &lab,
        "sub",
        "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    if b == 0 { a + 1 } else { a + b }\n}\n",
    );
    // A patch's leftover is not the candidate's code: neither copied nor counted.
    lab.write("sub/exercises/adder/src/lib.rs.orig", REFERENCE);
    let (out, json, _) = grade(&lab, &dir, &[]);
    assert!(!out.contains("lib.rs.orig"), "{out}");
    assert!(
        out.contains("| 1 Addition | 1/2 | 0/0 | **needs improvement** |"),
        "{out}"
    );
    assert_eq!(
        json.matches("\"mutant\":").count(),
        1,
        "one mistake named: {json}"
    );
    assert!(out.contains("behaves like `zero_breaks`"), "{out}");
    assert!(
        out.contains("step 1 **needs improvement**: One of the two sums is wrong.")
            && out.contains("step 1 strong would be: Adds, and zero changes nothing."),
        "{out}"
    );
    assert!(
        out.contains(
            "What should happen when the sum overflows? (step 1 was rated needs \
             improvement and behaves like `zero_breaks`)"
        ),
        "the debrief asks about the weak step, and says why: {out}"
    );
}

/// Clippy's warnings in the candidate's own files are counted, by lint.
#[test]
fn clippy_warnings_in_the_candidates_files_are_counted() {
    let lab = verified_lab("grade-clippy");
    let dir = submission(
        &lab,
        "sub",
        "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    return a + b;\n}\n",
    );
    let (out, json, _) = grade(&lab, &dir, &[]);
    assert!(
        out.contains("- clippy warnings: 1 (`clippy::needless_return` ×1)"),
        "{out}"
    );
    assert!(json.contains("\"clippy::needless_return\": 1"), "{json}");
}

/// A build script would run before any bound: refused, with the reason, and
/// nothing run.
#[test]
fn a_submission_with_a_build_script_is_refused() {
    let lab = verified_lab("grade-build-rs");
    let dir = submission(&lab, "sub", REFERENCE);
    lab.write("sub/exercises/adder/build.rs", "fn main() {}\n");
    let (out, json, _) = grade(&lab, &dir, &[]);
    assert!(
        out.contains("Refused, nothing ran") && out.contains("build.rs"),
        "{out}"
    );
    assert!(json.contains("\"ran\": []"), "{json}");
}

/// A submission whose code never returns is graded within its bound, and the
/// report says the tests were stopped.
#[test]
fn a_submission_that_hangs_is_graded_within_its_bound() {
    let lab = verified_lab("grade-hang");
    let dir = submission(
        &lab,
        "sub",
        "/// Add two numbers.\npub fn add(_a: u32, _b: u32) -> u32 {\n    loop {\n        std::thread::park();\n    }\n}\n",
    );
    let started = Instant::now();
    let (out, _, _) = grade(&lab, &dir, &["--timeout", "20"]);
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
    assert!(out.contains("stopped after 20s: a test hung"), "{out}");
    assert!(out.contains("**poor**"), "{out}");
}

/// A submission that is not there is a failure of grading, not a grade: exit 1.
#[test]
fn grading_that_cannot_start_exits_1_with_the_reason() {
    let lab = verified_lab("grade-missing");
    let (code, out) = lab.run(&["grade", "/nonexistent/sub", "--exercise", "adder"]);
    assert_eq!(code, ExitCode::from(1), "{out}");
    assert!(out.contains("Grading failed:"), "{out}");
}

/// A bench that times `adder::add` itself and reports the way criterion does.
const FAKE_BENCH: &str = r#"fn main() {
    let started = std::time::Instant::now();
    let mut sum = 0u32;
    for i in 0..200 {
        sum = sum.wrapping_add(adder::add(i, 1));
    }
    std::hint::black_box(sum);
    let ns = started.elapsed().as_nanos() as f64 / 200.0;
    println!("add/one                 time:   [{ns:.4} ns {ns:.4} ns {ns:.4} ns]");
}
"#;

/// The benches run on the reference and on the submission in the same grade,
/// and the report gives the ratio: a submission a thousand times slower says so.
#[test]
fn the_benches_compare_the_submission_with_the_reference() {
    let lab = TinyLab::new("grade-bench");
    lab.write("exercises/adder/benches/adding.rs", FAKE_BENCH);
    for (manifest, path) in [
        ("exercises/adder/Cargo.toml", "benches/adding.rs"),
        (
            "solutions/adder/Cargo.toml",
            "../../exercises/adder/benches/adding.rs",
        ),
    ] {
        let text = std::fs::read_to_string(lab.path(manifest)).expect("the manifest");
        lab.write(
            manifest,
            &format!("{text}\n[[bench]]\nname = \"adding\"\npath = \"{path}\"\nharness = false\n"),
        );
    }
    let (code, out) = lab.run(&["verify"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    let dir = submission(
        &lab,
        "sub",
        "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    std::thread::sleep(std::time::Duration::from_micros(100));\n    a + b\n}\n",
    );
    let (out, json, _) = grade(&lab, &dir, &[]);
    assert!(out.contains("| `add/one` |"), "{out}");
    assert!(out.contains("Geometric mean of the ratios"), "{out}");
    let ratio: f64 = json
        .split("\"mean_ratio\": ")
        .nth(1)
        .and_then(|rest| rest.split([',', '\n']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a mean ratio in {json}"));
    assert!(
        ratio > 10.0,
        "100 µs of sleep per call is far slower than an addition: {ratio}"
    );

    // Wrong code is not timed.
    let wrong = submission(
        &lab,
        "wrong",
        "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b + 1\n}\n",
    );
    let (out, _, _) = grade(&lab, &wrong, &[]);
    assert!(
        out.contains("Not run: not every visible test passes"),
        "{out}"
    );
}

/// A record written before the exercise changed is not trusted: the grade
/// says it is stale and names no mistake.
#[test]
fn a_stale_record_names_no_mistake() {
    let lab = verified_lab("grade-stale");
    let spec = std::fs::read_to_string(lab.path("exercises/adder/tests/spec.rs")).expect("spec");
    lab.write(
        "exercises/adder/tests/spec.rs",
        &format!("{spec}\n// A change after verify ran.\n"),
    );
    let dir = submission(
        &lab,
        "sub",
        "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    if b == 0 { a + 1 } else { a + b }\n}\n",
    );
    let (out, json, _) = grade(&lab, &dir, &[]);
    assert!(out.contains("Verify record: stale"), "{out}");
    assert!(json.contains("\"diagnosis\": []"), "{json}");
}
