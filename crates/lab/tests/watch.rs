//! `cargo lab watch` on a tiny two-step lab, driven by real file changes (the
//! OS watcher) and scripted keys on its event channel: no terminal, no hands.

#[path = "../../../tests/support/fixture.rs"]
mod fixture;

use std::sync::mpsc;
use std::time::Duration;

use fixture::{Shared, TinyLab};
use lab::cli::watch::{Event, run_loop, watch_files};
use lab::workspace::Workspace;

const TWO_STEP_TOML: &str = "title = \"Adding\"\nround = \"Warm-up\"\n\n[[steps]]\ntitle = \"Addition\"\nhints = [\"Use +.\"]\n\n[[steps]]\ntitle = \"Subtraction\"\nhints = [\"Use -.\", \"Really, a - b.\"]\n";
const TWO_STEP_SKELETON: &str = "pub fn add(a: u32, b: u32) -> u32 {\n    // TODO(step 1)\n    todo!(\"step 1\")\n}\n\npub fn sub(a: u32, b: u32) -> u32 {\n    // TODO(step 2)\n    todo!(\"step 2\")\n}\n";
const STEP_ONE_DONE: &str = "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\npub fn sub(a: u32, b: u32) -> u32 {\n    // TODO(step 2)\n    todo!(\"step 2\")\n}\n";
const TWO_STEP_SPEC: &str = "/// Sums.\n#[test]\nfn step1_adds() {\n    assert_eq!(adder::add(2, 3), 5);\n}\n\n/// Differences.\n#[test]\nfn step2_subtracts() {\n    assert_eq!(adder::sub(5, 3), 2);\n}\n";

/// A save re-runs the step within three seconds, and a green step moves the
/// loop on to the next one; `h` shows a hint and `q` ends it.
#[test]
fn a_save_reruns_the_step_and_a_green_step_moves_on() {
    let lab_dir = TinyLab::new("watch");
    lab_dir.write("exercises/adder/exercise.toml", TWO_STEP_TOML);
    lab_dir.write("exercises/adder/src/lib.rs", TWO_STEP_SKELETON);
    lab_dir.write("exercises/adder/tests/spec.rs", TWO_STEP_SPEC);
    let workspace = Workspace::at(&lab_dir.root)
        .expect("the fixture is a lab")
        .with_target_dir(Some(lab_dir.target_dir()))
        .with_state_path(Some(lab_dir.state_file()));

    let (tx, rx) = mpsc::channel();
    let _watcher = watch_files(&lab_dir.path("exercises/adder/src"), tx.clone())
        .expect("inotify works on this machine");
    let out = Shared::default();
    let mut loop_out = out.clone();
    let looping = std::thread::spawn(move || {
        run_loop(&workspace, "adder", rx, &mut loop_out).expect("the watch loop runs")
    });

    // The first run builds the tiny lab from nothing; then step 1 fails.
    out.wait_for("First failure (step 1)", Duration::from_secs(180));
    tx.send(Event::Hint).expect("the loop listens");
    out.wait_for("hint 1/1: Use +.", Duration::from_secs(10));

    lab_dir.write("exercises/adder/src/lib.rs", STEP_ONE_DONE);
    let noticed = out.wait_for(
        "change detected: re-running step 1",
        Duration::from_secs(10),
    );
    assert!(
        noticed < Duration::from_secs(3),
        "the re-run began {noticed:?} after the save"
    );
    out.wait_for("→ on to step 2: Subtraction", Duration::from_secs(120));
    out.wait_for("First failure (step 2)", Duration::from_secs(120));
    assert!(out.text().contains("■□ 1/2 steps"), "{}", out.text());

    tx.send(Event::Quit).expect("the loop listens");
    looping.join().expect("the loop ends on q");
    assert!(
        out.text().ends_with("Stopped watching adder.\n"),
        "{}",
        out.text()
    );
}
