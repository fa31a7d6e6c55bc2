//! Every exercise's files must agree with each other. Teaching material drifts:
//! a README step no test checks, a test the reference never runs, a hint for a
//! step that was renumbered, a mutant whose named killer was deleted. These
//! checks read the files; they run in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lab::exercise::{Exercise, step_of};
use lab::workspace::Workspace;

fn workspace() -> Workspace {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the lab's root");
    Workspace::at(root).expect("the lab's root")
}

fn exercises() -> Vec<Exercise> {
    let all = workspace().exercises().expect("every exercise.toml parses");
    assert!(!all.is_empty(), "the lab has no exercises");
    all
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Test functions in the exercise's tests, visible and hidden: name → whether a
/// `///` doc line precedes its attributes.
fn test_functions(exercise: &Exercise) -> BTreeMap<String, bool> {
    let mut tests = BTreeMap::new();
    let mut files = rust_files(&exercise.dir.join("tests"));
    if exercise.has_hidden_tests() {
        files.extend(rust_files(&exercise.hidden_dir()));
    }
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable test file");
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.starts_with("#[test]") || line.starts_with("#[tokio::test")) {
                continue;
            }
            let name = lines[i + 1..]
                .iter()
                .find_map(|l| l.split("fn ").nth(1))
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .unwrap_or_default();
            let documented = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("///") || l.starts_with("#["))
                .any(|l| l.starts_with("///"));
            tests.insert(name, documented);
        }
    }
    tests
}

/// Every test is named `stepN_…` for a step that exists, and says in a `///`
/// line what it proves.
#[test]
fn every_test_belongs_to_a_step_and_documents_what_it_proves() {
    for exercise in exercises() {
        let tests = test_functions(&exercise);
        assert!(!tests.is_empty(), "{}: no tests found", exercise.name);
        for (name, documented) in &tests {
            let step = step_of(name);
            assert!(
                step.is_some_and(|n| exercise.step(n).is_some()),
                "{}: test {name} must start with stepN_ for N in 1..={}",
                exercise.name,
                exercise.step_count()
            );
            assert!(
                documented,
                "{}: test {name} has no /// line saying what it proves",
                exercise.name
            );
        }
    }
}

/// Every step has tests, hints, a README section and a TODO in the skeleton;
/// no TODO or todo! names a step that does not exist.
#[test]
fn every_step_has_tests_hints_a_readme_section_and_a_todo() {
    for exercise in exercises() {
        let tests = test_functions(&exercise);
        let readme = std::fs::read_to_string(exercise.dir.join("README.md"))
            .expect("every exercise has a README.md");
        let skeleton: String = rust_files(&exercise.dir.join("src"))
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("readable source"))
            .collect();
        for n in 1..=exercise.step_count() {
            let step = exercise.step(n).expect("in range");
            assert!(
                tests.keys().any(|t| step_of(t) == Some(n)),
                "{}: step {n} has no tests",
                exercise.name
            );
            assert!(
                !step.hints.is_empty(),
                "{}: step {n} has no hints",
                exercise.name
            );
            assert!(
                readme.contains(&format!("## Step {n}")),
                "{}: README.md has no \"## Step {n}\" section",
                exercise.name
            );
            assert!(
                skeleton.contains(&format!("TODO(step {n})")),
                "{}: the skeleton marks no change site for step {n}",
                exercise.name
            );
        }
        for marker in skeleton
            .split("TODO(step ")
            .skip(1)
            .chain(skeleton.split("todo!(\"step ").skip(1))
        {
            let digits: String = marker.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                continue; // prose such as "marked `TODO(step N)`"
            }
            let n: u32 = digits.parse().expect("digits");
            assert!(
                exercise.step(n).is_some(),
                "{}: the skeleton refers to step {n}, which does not exist",
                exercise.name
            );
        }
        let stubs = skeleton.matches("todo!(").count();
        let stubs_with_step = skeleton.matches("todo!(\"step ").count();
        assert_eq!(
            stubs, stubs_with_step,
            "{}: every todo!() in the skeleton names its step",
            exercise.name
        );
    }
}

fn manifest(path: &Path) -> toml::Table {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn targets(manifest: &toml::Table, kind: &str) -> BTreeSet<String> {
    manifest
        .get(kind)
        .and_then(|t| t.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|t| t.get("path")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn dependency_names(manifest: &toml::Table, table: &str) -> BTreeSet<String> {
    manifest
        .get(table)
        .and_then(|t| t.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// The reference builds as the exercise's library, runs exactly the exercise's
/// test and bench files, and has the same dependencies — so the two packages
/// can never test different things.
#[test]
fn every_reference_runs_the_exercises_own_tests_and_benches() {
    for exercise in exercises() {
        let ex = manifest(&exercise.dir.join("Cargo.toml"));
        let sol = manifest(&exercise.solution_dir.join("Cargo.toml"));
        let package_name = sol
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str());
        assert_eq!(package_name, Some(exercise.solution_package().as_str()));
        let lib_name = sol
            .get("lib")
            .and_then(|l| l.get("name"))
            .and_then(|n| n.as_str());
        assert_eq!(
            lib_name,
            Some(exercise.name.as_str()),
            "{}: the reference's [lib] name",
            exercise.name
        );
        for kind in ["test", "bench"] {
            let from_exercise: BTreeSet<String> = targets(&ex, kind)
                .into_iter()
                .map(|p| format!("../../exercises/{}/{p}", exercise.name))
                .collect();
            // The reference's own hidden target is the one it may add.
            let mut from_reference = targets(&sol, kind);
            from_reference.remove("hidden/main.rs");
            assert_eq!(
                from_exercise, from_reference,
                "{}: [[{kind}]] targets differ between exercise and reference (besides hidden/)",
                exercise.name
            );
        }
        let spec_files = rust_files(&exercise.dir.join("tests"));
        for file in &spec_files {
            let in_root = file.parent() == Some(&exercise.dir.join("tests"));
            let is_main = file.file_name().is_some_and(|n| n == "main.rs");
            if in_root || is_main {
                let relative = file
                    .strip_prefix(&exercise.dir)
                    .expect("under the exercise")
                    .to_string_lossy()
                    .into_owned();
                assert!(
                    targets(&ex, "test").contains(&relative),
                    "{}: {relative} is not a declared [[test]] target",
                    exercise.name
                );
            }
        }
        for table in ["dependencies", "dev-dependencies"] {
            assert_eq!(
                dependency_names(&ex, table),
                dependency_names(&sol, table),
                "{}: [{table}] differ",
                exercise.name
            );
            assert_eq!(
                ex.get(table),
                sol.get(table),
                "{}: [{table}] name the same crates with different versions or features",
                exercise.name
            );
        }
    }
}

/// Each exercise turns on exactly the labkit features of the services its
/// exercise.toml declares: a missing one does not compile, an extra one makes
/// every learner compile a client (librdkafka from C, sqlx) the tests never use.
#[test]
fn every_exercise_builds_labkit_with_just_the_services_it_uses() {
    for exercise in exercises() {
        let ex = manifest(&exercise.dir.join("Cargo.toml"));
        let features: BTreeSet<String> = ex
            .get("dev-dependencies")
            .and_then(|d| d.get("labkit"))
            .and_then(|l| l.get("features"))
            .and_then(|f| f.as_array())
            .map(|f| {
                f.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let services: BTreeSet<String> = features
            .into_iter()
            .filter(|f| ["postgres", "redis", "kafka", "mysql"].contains(&f.as_str()))
            .collect();
        let declared: BTreeSet<String> = exercise.meta.services.iter().cloned().collect();
        assert_eq!(
            services, declared,
            "{}: labkit's service features (dev-dependencies) against exercise.toml's services",
            exercise.name
        );
    }
}

/// Every exercise has a committed verify record that parses and is its own
/// (`cargo lab verify --changed` decides whether it still stands).
#[test]
fn every_exercise_has_a_verify_record() {
    for exercise in exercises() {
        let path = exercise.record_path();
        let record = lab::record::Record::load(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e:#}; run `cargo lab verify {}` and commit the record",
                exercise.name, exercise.name
            )
        });
        assert_eq!(record.exercise, exercise.name, "{}", path.display());
        assert_eq!(
            record.mutants.len(),
            lab::mutant::load_all(&exercise)
                .expect("mutants load")
                .len(),
            "{}: the record and mutants/ list different mutants",
            exercise.name
        );
    }
}

/// The GitHub workflow verifies every exercise in its job matrix.
#[test]
fn the_github_workflow_verifies_every_exercise() {
    let root = workspace().root;
    let workflow = std::fs::read_to_string(root.join(".github/workflows/ci.yml"))
        .expect(".github/workflows/ci.yml exists");
    for exercise in exercises() {
        assert!(
            workflow.contains(&format!("          - {}\n", exercise.name)),
            ".github/workflows/ci.yml: the verify matrix does not list {}",
            exercise.name
        );
    }
}

/// Every mutant says what it models, and the tests it names exist.
#[test]
fn every_mutant_says_what_it_models_and_names_real_tests() {
    for exercise in exercises() {
        let tests = test_functions(&exercise);
        let mutants = lab::mutant::load_all(&exercise).expect("mutants parse");
        assert!(!mutants.is_empty(), "{}: no mutants", exercise.name);
        for mutant in mutants {
            assert!(
                mutant.mistake.len() > 20,
                "{}: mutant {} needs a real description",
                exercise.name,
                mutant.name
            );
            for killer in &mutant.killed_by {
                let function = killer.rsplit("::").next().unwrap_or(killer);
                assert!(
                    tests.contains_key(function),
                    "{}: mutant {} names {killer}, which is not a test",
                    exercise.name,
                    mutant.name
                );
            }
        }
    }
}

/// The lab's README lists every exercise, and CI runs the README's test command
/// and the self-verification.
#[test]
fn the_readme_and_ci_cover_every_exercise() {
    let root = workspace().root;
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md at the root");
    for exercise in exercises() {
        assert!(
            readme.contains(&format!("`{}`", exercise.name)),
            "README.md does not list {}",
            exercise.name
        );
    }
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run exists");
    assert!(
        ci.contains("cargo test"),
        ".ci/run must run the README's test command"
    );
    assert!(
        ci.contains("lab verify"),
        ".ci/run must run the self-verification"
    );
    let alias =
        std::fs::read_to_string(root.join(".cargo/config.toml")).expect(".cargo/config.toml");
    assert!(alias.contains("lab = "), "the `cargo lab` alias is missing");
}

/// verify tells labkit to drop failed tests' databases through the variable
/// labkit actually reads (the lab cannot depend on labkit to share the name).
#[test]
fn verify_and_labkit_agree_on_the_keep_failed_variable() {
    let cleanup = std::fs::read_to_string(workspace().root.join("crates/labkit/src/cleanup.rs"))
        .expect("labkit's cleanup module");
    let declared = format!(
        "pub const KEEP_FAILED_VAR: &str = \"{}\";",
        lab::verify::KEEP_FAILED_VAR
    );
    assert!(
        cleanup.contains(&declared),
        "crates/labkit/src/cleanup.rs does not declare {declared}"
    );
}

/// The files a reference borrows from the skeleton (`#[path = "../../../exercises/…"]`)
/// are exactly the files marked `// PROVIDED`: the mark the learner and `check`
/// read is the truth about what the spec relies on.
#[test]
fn the_files_marked_provided_are_exactly_those_the_reference_borrows() {
    for exercise in exercises() {
        let lib = std::fs::read_to_string(exercise.solution_dir.join("src/lib.rs"))
            .expect("every solution has a lib.rs");
        let prefix = format!("../../../exercises/{}/", exercise.name);
        let mut borrowed: Vec<String> = lib
            .lines()
            .filter_map(|l| l.trim().strip_prefix("#[path = \""))
            .filter_map(|l| l.strip_suffix("\"]"))
            .filter_map(|p| p.strip_prefix(prefix.as_str()).map(str::to_string))
            .collect();
        borrowed.sort();
        let marked: Vec<String> = exercise
            .provided_files()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            marked, borrowed,
            "{}: // PROVIDED marks against the reference's #[path]s",
            exercise.name
        );
    }
}

/// Every README states its question once, where the CLI reads it, and has a
/// heading per step, so `check` can link the exact section of a failing step.
#[test]
fn every_readme_has_its_question_and_a_heading_per_step() {
    let workspace = workspace();
    for exercise in exercises() {
        let question = exercise.question().expect("a `> **The question.**` block");
        assert!(question.len() > 40, "{}: {question:?}", exercise.name);
        for n in 1..=exercise.step_count() {
            let link = exercise.step_link(&workspace, n);
            assert!(
                link.starts_with(&format!("exercises/{}/README.md#step-{n}-", exercise.name)),
                "{}: step {n} links to {link}",
                exercise.name
            );
        }
    }
}

/// Every exercise has at least three hidden tests, in `stepN_hidden` modules of
/// the reference's `hidden` target, each a step of the exercise, and at least
/// three mutants that only hidden tests are named to kill.
#[test]
fn every_exercise_has_hidden_tests_and_mutants_only_they_kill() {
    for exercise in exercises() {
        assert!(
            exercise.has_hidden_tests(),
            "{}: no solutions/{0}/hidden/main.rs",
            exercise.name
        );
        let solution = manifest(&exercise.solution_dir.join("Cargo.toml"));
        assert!(
            targets(&solution, "test").contains("hidden/main.rs"),
            "{}: the reference declares no hidden [[test]] target",
            exercise.name
        );
        let mut hidden = 0;
        for file in rust_files(&exercise.hidden_dir()) {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            if stem == "main" {
                continue;
            }
            assert!(
                stem.ends_with("_hidden")
                    && lab::exercise::step_of(&stem).is_some_and(|n| exercise.step(n).is_some()),
                "{}: hidden module {stem} is not stepN_hidden for a step that exists",
                exercise.name
            );
            let text = std::fs::read_to_string(&file).expect("readable");
            hidden += text.matches("#[test]").count() + text.matches("#[tokio::test").count();
        }
        assert!(hidden >= 3, "{}: {hidden} hidden tests", exercise.name);
        let only_hidden = lab::mutant::load_all(&exercise)
            .expect("mutants parse")
            .into_iter()
            .filter(|m| {
                !m.killed_by.is_empty()
                    && m.killed_by.iter().all(|k| lab::exercise::is_hidden_test(k))
            })
            .count();
        assert!(
            only_hidden >= 3,
            "{}: {only_hidden} mutants for the hidden tests",
            exercise.name
        );
    }
}
