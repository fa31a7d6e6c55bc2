//! `cargo lab takehome` on a real exercise: the bundle stands alone, its tests
//! fail untouched, and nothing of the reference, its hidden tests or a mutant
//! is in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lab::cargo::{TestCommand, run_tests};
use lab::exercise::Exercise;
use lab::takehome::{Options, parse_steps, write_bundle};
use lab::workspace::Workspace;

fn workspace() -> Workspace {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the lab's root");
    Workspace::at(root).expect("the lab's root")
}

struct Bundle(PathBuf);

impl Bundle {
    /// `label` keeps parallel tests of the same exercise apart.
    fn write(name: &str, label: &str, options: &Options) -> (Bundle, Exercise) {
        let dir = std::env::temp_dir().join(format!(
            "lab-takehome-{name}-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let workspace = workspace();
        let exercise = workspace.exercise(name).expect("the exercise exists");
        write_bundle(&workspace, &exercise, &dir, options).expect("the bundle is written");
        (Bundle(dir), exercise)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                files_under(&path, found);
            }
        } else {
            found.push(path);
        }
    }
}

fn trimmed_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim)
}

/// Lines long enough to be telling (short ones like `}` or `Ok(())` are shared
/// by any two Rust files).
fn telling(line: &str) -> bool {
    line.len() >= 24
}

/// The bundle holds no line of the reference, of a hidden test or of a mutant that the skeleton
/// does not already hold, no other exercise, and no path that leads out of it.
#[test]
fn a_takehome_holds_nothing_of_the_reference_and_no_path_out() {
    let (bundle, exercise) = Bundle::write("rate_limiter", "secrets", &Options::default());
    let root = &bundle.0;
    assert!(!root.join("solutions").exists());
    let exercises: Vec<_> = std::fs::read_dir(root.join("exercises"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(exercises.len(), 1, "one exercise only");

    let mut skeleton_files = Vec::new();
    files_under(&exercise.dir, &mut skeleton_files);
    let skeleton: BTreeSet<String> = skeleton_files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| trimmed_lines(&t).map(str::to_string).collect::<Vec<_>>())
        .collect();
    let mut secret: BTreeSet<String> = BTreeSet::new();
    let mut reference_files = Vec::new();
    files_under(&exercise.solution_dir.join("src"), &mut reference_files);
    if exercise.has_hidden_tests() {
        files_under(&exercise.hidden_dir(), &mut reference_files);
    }
    for file in reference_files {
        let text = std::fs::read_to_string(&file).unwrap();
        secret.extend(
            trimmed_lines(&text)
                .filter(|l| telling(l))
                .map(str::to_string),
        );
    }
    for patch in std::fs::read_dir(exercise.mutants_dir()).unwrap().flatten() {
        let text = std::fs::read_to_string(patch.path()).unwrap();
        secret.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix('+'))
                .filter(|l| !l.starts_with("++"))
                .map(str::trim)
                .filter(|l| telling(l))
                .map(str::to_string),
        );
    }
    secret.retain(|l| !skeleton.contains(l));
    assert!(
        secret.len() > 100,
        "the reference has lines of its own to look for"
    );

    let mut bundled = Vec::new();
    files_under(root, &mut bundled);
    for file in &bundled {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in trimmed_lines(&text) {
            assert!(
                !secret.contains(line),
                "{} holds a line of the reference or a mutant: {line}",
                file.display()
            );
        }
        // Paths written in the bundle's files stay inside it.
        let base = file.parent().unwrap();
        for (i, _) in text.match_indices("path = \"") {
            let rest = &text[i + 8..];
            let Some(end) = rest.find('"') else { continue };
            let target = base.join(&rest[..end]);
            let resolved = std::fs::canonicalize(&target)
                .unwrap_or_else(|_| panic!("{}: {} does not exist", file.display(), &rest[..end]));
            assert!(
                resolved.starts_with(std::fs::canonicalize(root).unwrap()),
                "{} points out of the bundle: {}",
                file.display(),
                &rest[..end]
            );
        }
    }

    let meta: toml::Table = toml::from_str(
        &std::fs::read_to_string(root.join("exercises/rate_limiter/exercise.toml")).unwrap(),
    )
    .unwrap();
    assert!(
        meta.get("follow_ups").is_none(),
        "the debrief's questions stay with the interviewer"
    );
    for step in meta["steps"].as_array().unwrap() {
        assert_eq!(
            step["hints"].as_array().unwrap().len(),
            1,
            "one hint per step"
        );
        assert!(
            step.get("rubric").is_none() && step.get("follow_ups").is_none(),
            "a step's rubric and debrief questions stay with the interviewer: {step:?}"
        );
    }
    // Nor does their text turn up anywhere else in the bundle.
    let source = &exercise;
    let mut interviewer_only: Vec<String> = source.meta.follow_ups.clone();
    for step in &source.meta.steps {
        interviewer_only.extend(step.follow_ups.iter().cloned());
        if let Some(r) = &step.rubric {
            interviewer_only.extend([
                r.strong.clone(),
                r.leaning_strong.clone(),
                r.needs_improvement.clone(),
                r.poor.clone(),
            ]);
        }
    }
    for file in &bundled {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in &interviewer_only {
            assert!(
                !text.contains(line.as_str()),
                "{} holds interviewer-only text: {line}",
                file.display()
            );
        }
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&exercise.question().unwrap()), "{readme}");
}

/// `--steps 1-2` keeps only those steps' spec modules and metadata.
#[test]
fn a_takehome_of_some_steps_drops_the_later_ones() {
    let options = Options {
        steps: Some(parse_steps("1-2").unwrap()),
        due: Some("72h".into()),
        hints: true,
    };
    let (bundle, _) = Bundle::write("column_migration", "steps", &options);
    let spec = bundle.0.join("exercises/column_migration/tests/spec");
    let main = std::fs::read_to_string(spec.join("main.rs")).unwrap();
    assert!(main.contains("mod step2_dual_write;") && !main.contains("mod step3_backfill;"));
    assert!(!spec.join("step3_backfill.rs").exists());
    let meta: toml::Table = toml::from_str(
        &std::fs::read_to_string(bundle.0.join("exercises/column_migration/exercise.toml"))
            .unwrap(),
    )
    .unwrap();
    let steps = meta["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert!(
        steps[0]["hints"].as_array().unwrap().len() > 1,
        "--hints keeps them all"
    );
    let readme = std::fs::read_to_string(bundle.0.join("README.md")).unwrap();
    assert!(
        readme.contains("**72h**") && readme.contains("steps 1 to 2"),
        "{readme}"
    );
}

/// The bundle builds on its own, and every visible test fails on it untouched.
#[test]
fn a_takehome_builds_alone_and_its_tests_fail_untouched() {
    let (bundle, exercise) = Bundle::write("rate_limiter", "build", &Options::default());
    // Its own target directory: a workspace with the lab's layout must not share
    // one with the lab (cargo would take one's artifacts for the other's). Kept
    // between runs, beside the lab's, so only the first run builds from cold.
    let target = workspace().target_dir().join("takehome-selftest");
    let mut command = TestCommand::new(&bundle.0, "rate_limiter");
    command.target_dir = Some(target);
    let output = run_tests(&command, &|_| {}).expect("cargo runs");
    assert!(
        !output.build_failed(),
        "the bundle does not build:\n{}",
        output.stderr
    );
    let failed = output.run.failed().count();
    let passed = output.run.passed().count();
    assert_eq!(passed, 0, "tests that pass on the untouched skeleton");
    assert_eq!(
        failed,
        exercise.test_order().len(),
        "every visible test runs, and fails"
    );
}

/// An exercise built on another crate of the lab's (failover_fencing on
/// labkit-cluster) takes that crate along: the bundle's manifest lists it, and
/// the exercise's path to it resolves inside the bundle.
#[test]
fn a_takehome_carries_the_helper_crates_its_exercise_uses() {
    let (bundle, _) = Bundle::write("failover_fencing", "helpers", &Options::default());
    let root = &bundle.0;
    assert!(root.join("crates/labkit-cluster/Cargo.toml").is_file());
    assert!(root.join("crates/labkit-cluster/src/pg.rs").is_file());
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\"crates/labkit-cluster\""),
        "the bundle's workspace lists labkit-cluster:\n{manifest}"
    );
    let exercise = root.join("exercises/failover_fencing");
    let text = std::fs::read_to_string(exercise.join("Cargo.toml")).unwrap();
    assert!(text.contains("../../crates/labkit-cluster"));
    assert!(exercise.join("../../crates/labkit-cluster").is_dir());
    // An exercise that does not use it does not get it.
    let (other, _) = Bundle::write("rate_limiter", "no-helpers", &Options::default());
    assert!(!other.0.join("crates/labkit-cluster").exists());
}
