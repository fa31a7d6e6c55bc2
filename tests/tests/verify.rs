//! `lab verify` on tiny generated labs: it must pass a sound exercise and name
//! every kind of hole in an unsound one. (Runs nested `cargo test`s on a crate
//! with no dependencies: a few seconds each.)

#[path = "../support/fixture.rs"]
mod fixture;

use std::process::ExitCode;

use fixture::{REFERENCE, SPEC, SURVIVOR, TinyLab};

fn verify(lab: &TinyLab) -> (ExitCode, String) {
    lab.run(&["verify"])
}

/// A sound exercise: reference passes, skeleton fails, the mutant is killed by
/// the test its header names. Exit 0 and "No holes".
#[test]
fn a_sound_exercise_has_no_holes() {
    let lab = TinyLab::new("sound");
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(
        out.contains("2/2 pass") && out.contains("2/2 fail") && out.contains("1/1 killed"),
        "{out}"
    );
    assert!(
        out.contains("plus_one") && out.contains("killed by") && out.contains("No holes"),
        "{out}"
    );
    let real = std::fs::read_to_string(lab.path("solutions/adder/src/lib.rs")).unwrap();
    assert_eq!(real, REFERENCE, "verify must never patch the real tree");

    // Mutants build in the scratch copy's own target directory. Cargo names
    // path-package artifacts by their path within the workspace, so a shared
    // target would let a mutant's build stand in for the real reference.
    assert!(
        lab.verify_dir().join("target/debug").is_dir(),
        "verify builds its scratch copy in its own target directory"
    );
    assert!(
        !lab.target_dir().join("lab-verify").exists(),
        "the scratch copy no longer lives under the checkout's target directory"
    );
    let after =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&lab.root)
            .env("CARGO_TARGET_DIR", lab.target_dir())
            .args(["test", "-q", "-p", "adder_solution"])
            .output()
            .expect("cargo runs");
    assert!(
        after.status.success(),
        "after verify, the real reference must still pass:\n{}",
        String::from_utf8_lossy(&after.stdout)
    );
}

/// A mutant no test notices is a hole, named, and the exit code says so.
#[test]
fn a_surviving_mutant_is_a_hole() {
    let lab = TinyLab::new("survivor");
    lab.write("solutions/adder/mutants/commuted.patch", SURVIVOR);
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(out.contains("mutant commuted survived every test"), "{out}");
    assert!(out.contains("1/2 killed"), "{out}");
}

/// A test that passes on the skeleton proves nothing: a hole.
#[test]
fn a_test_passing_on_the_skeleton_is_a_hole() {
    let lab = TinyLab::new("stub-pass");
    lab.write(
        "exercises/adder/tests/spec.rs",
        &format!("{SPEC}\n/// Proves nothing.\n#[test]\nfn step1_always_true() {{\n    assert!(true);\n}}\n"),
    );
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("step1_always_true passes on the skeleton"),
        "{out}"
    );
}

/// A reference that fails a test is a hole.
#[test]
fn a_failing_reference_is_a_hole() {
    let lab = TinyLab::new("bad-ref");
    lab.write(
        "solutions/adder/src/lib.rs",
        &REFERENCE.replace("a + b", "a * b"),
    );
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("the reference fails step1_adds_small_numbers"),
        "{out}"
    );
}

/// A mutant expected to be killed by a test that passes on it is a hole: the
/// test does not do what its author thought.
#[test]
fn a_mutant_missed_by_its_named_killer_is_a_hole() {
    let lab = TinyLab::new("wrong-killer");
    // Multiplying breaks 2+3 but not 7+0... and the header claims the zero test kills it.
    lab.write(
        "solutions/adder/mutants/times.patch",
        "mutant: multiplies\nkilled-by: step1_zero_changes_nothing\n\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,4 +1,4 @@\n /// Add two numbers.\n pub fn add(a: u32, b: u32) -> u32 {\n-    a + b\n+    if b == 0 { a } else { a * b }\n }\n",
    );
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("expected to be killed by step1_zero_changes_nothing, which passed"),
        "{out}"
    );
}

/// A skeleton that does not compile is a hole (candidates must start from
/// something that builds).
#[test]
fn a_skeleton_that_does_not_compile_is_a_hole() {
    let lab = TinyLab::new("broken-skeleton");
    lab.write(
        "exercises/adder/src/lib.rs",
        "pub fn add(a: u32, b: u32) -> u32 { todo!( }\n",
    );
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(out.contains("the skeleton must compile"), "{out}");
}

/// `--mutant` with a name no mutant has is a hole, not a clean run of nothing.
#[test]
fn an_unknown_mutant_name_is_a_hole() {
    let lab = TinyLab::new("unknown-mutant");
    let (code, out) = lab.run(&["verify", "--mutant", "plus_two"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("there is no mutant \"plus_two\"; the mutants are: plus_one"),
        "{out}"
    );
}

/// Give the tiny lab's reference a hidden test target with `body` as its only
/// test module (`step1_hidden`).
fn with_hidden(lab: &TinyLab, body: &str) {
    lab.write("solutions/adder/hidden/main.rs", "mod step1_hidden;\n");
    lab.write("solutions/adder/hidden/step1_hidden.rs", body);
    let manifest = std::fs::read_to_string(lab.path("solutions/adder/Cargo.toml"))
        .expect("the fixture has a solution manifest");
    lab.write(
        "solutions/adder/Cargo.toml",
        &format!("{manifest}\n[[test]]\nname = \"hidden\"\npath = \"hidden/main.rs\"\n"),
    );
    lab.lock();
}

/// Hidden tests count like the visible ones (the reference passes them, the
/// skeleton fails them), and a mutant that only they kill is named as such.
#[test]
fn hidden_tests_are_verified_and_what_only_they_kill_is_named() {
    let lab = TinyLab::new("hidden");
    with_hidden(
        &lab,
        "/// Large numbers add up too.\n#[test]\nfn step1_adds_large_numbers() {\n    assert_eq!(adder::add(2_000_000_000, 2_000_000_000), 4_000_000_000);\n}\n",
    );
    // Wrong only past a billion: the visible tests use small numbers.
    lab.write(
        "solutions/adder/mutants/wraps_past_a_billion.patch",
        "mutant: adds in a narrower type, so large sums come out wrong
killed-by: step1_hidden::step1_adds_large_numbers

--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,4 @@
 /// Add two numbers.
 pub fn add(a: u32, b: u32) -> u32 {
-    a + b
+    if a > 1_000_000_000 { a } else { a + b }
 }
",
    );
    let (code, out) = verify(&lab);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(
        out.contains("3/3 pass") && out.contains("3/3 fail"),
        "{out}"
    );
    assert!(
        out.contains("adder: 1 hidden test(s)")
            && out.contains("mutants only hidden tests kill: wraps_past_a_billion"),
        "{out}"
    );
    assert!(
        out.contains("step1_hidden::step1_adds_large_numbers (hidden)"),
        "{out}"
    );
    // The learner's own package never runs them.
    let manifest = std::fs::read_to_string(lab.path("exercises/adder/Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("hidden"),
        "verify leaves the real exercise manifest alone"
    );
}

/// A hidden test that passes on the skeleton is a hole, like a visible one.
#[test]
fn a_hidden_test_passing_on_the_skeleton_is_a_hole() {
    let lab = TinyLab::new("hidden-weak");
    with_hidden(
        &lab,
        "/// Proves nothing.\n#[test]\nfn step1_always_true() {\n    assert!(true);\n}\n",
    );
    let (code, out) = lab.run(&["verify", "--skip-mutants"]);
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(
        out.contains("step1_hidden::step1_always_true passes on the skeleton"),
        "{out}"
    );
}
