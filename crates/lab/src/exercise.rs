//! An exercise and its `exercise.toml`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::workspace::Workspace;

/// `exercises/<name>/exercise.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub title: String,
    /// Which interview round it prepares for.
    pub round: String,
    /// Services the tests need: "postgres", "redis", "kafka", "mysql".
    #[serde(default)]
    pub services: Vec<String>,
    /// What else the tests need on the machine, in a sentence (the Postgres
    /// server binaries, for the exercises that start their own clusters).
    #[serde(default)]
    pub requires: Option<String>,
    /// Position on the dashboard (then by name).
    #[serde(default)]
    pub order: u32,
    pub steps: Vec<StepMeta>,
    /// Tests allowed to pass on the skeleton, each with the reason. A test that
    /// passes on `todo!()` usually proves nothing, so this should stay empty.
    #[serde(default)]
    pub skeleton_may_pass: Vec<Exemption>,
    /// Follow-up questions an interviewer asks once the steps are done.
    #[serde(default)]
    pub follow_ups: Vec<String>,
    /// The time box of the round it models, for `cargo lab interview`.
    #[serde(default)]
    pub minutes: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMeta {
    pub title: String,
    #[serde(default)]
    pub services: Vec<String>,
    /// Progressive hints, gentlest first.
    pub hints: Vec<String>,
    /// Debrief questions about this step, for `grade` and `interview`: asked
    /// when the step is weak, and (the first one) to go deeper when it is strong.
    #[serde(default)]
    pub follow_ups: Vec<String>,
    /// What each rating of this step looks like, for the reviewer reading the
    /// code; the rating itself is the grader's (see `grade::Rating`).
    #[serde(default)]
    pub rubric: Option<Rubric>,
}

/// A step's anchored rubric, one description per rating.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    pub strong: String,
    pub leaning_strong: String,
    pub needs_improvement: String,
    pub poor: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub test: String,
    pub why: String,
}

/// An exercise: its candidate package, its reference package, its metadata.
#[derive(Clone, Debug)]
pub struct Exercise {
    pub name: String,
    pub dir: PathBuf,
    pub solution_dir: PathBuf,
    pub meta: Meta,
}

impl Exercise {
    pub fn load(workspace: &Workspace, dir: &Path) -> anyhow::Result<Exercise> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("exercise directory without a UTF-8 name")?
            .to_string();
        let path = dir.join("exercise.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let meta: Meta =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        anyhow::ensure!(!meta.steps.is_empty(), "{} lists no steps", path.display());
        Ok(Exercise {
            solution_dir: workspace.root.join("solutions").join(&name),
            dir: dir.to_path_buf(),
            name,
            meta,
        })
    }

    /// The exercise's README, which the learner reads first.
    pub fn readme(&self) -> PathBuf {
        self.dir.join("README.md")
    }

    /// The interview question: the README's `> **The question.** …` block, the
    /// one place it is written (the dashboard, `list` and `check` quote it).
    pub fn question(&self) -> anyhow::Result<String> {
        let path = self.readme();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        question_in(&text).with_context(|| {
            format!(
                "{} has no `> **The question.** …` block under its title",
                path.display()
            )
        })
    }

    /// The README's link for step `n`: its path and the anchor GitHub gives the
    /// step's heading (`## Step 2 — …`), e.g. `exercises/x/README.md#step-2--sliding-window`.
    pub fn step_link(&self, workspace: &Workspace, n: u32) -> String {
        let path = self.readme();
        let shown = workspace.relative(&path);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let prefix = format!("step {n}");
        let heading = text.lines().find_map(|line| {
            let title = line.strip_prefix("## ")?.trim();
            let lower = title.to_lowercase();
            (lower.starts_with(&prefix)
                && !lower[prefix.len()..].starts_with(|c: char| c.is_ascii_digit()))
            .then(|| title.to_string())
        });
        match heading {
            Some(title) => format!("{shown}#{}", github_anchor(&title)),
            None => shown,
        }
    }

    /// Files under `src/` the learner must not edit: each starts with a
    /// `// PROVIDED` line (the one mark both the learner and the lab read).
    /// Paths relative to the exercise's directory, sorted.
    pub fn provided_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        collect_rs_files(&self.dir.join("src"), &mut files);
        let mut provided: Vec<PathBuf> = files
            .into_iter()
            .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.starts_with(PROVIDED_MARK)))
            .filter_map(|f| f.strip_prefix(&self.dir).ok().map(Path::to_path_buf))
            .collect();
        provided.sort();
        provided
    }

    /// The candidate's package (`cargo test -p <this>`).
    pub fn package(&self) -> &str {
        &self.name
    }

    /// The reference's package.
    pub fn solution_package(&self) -> String {
        format!("{}_solution", self.name)
    }

    pub fn mutants_dir(&self) -> PathBuf {
        self.solution_dir.join("mutants")
    }

    /// Hidden tests: graded, run by verify, never in a take-home bundle. They are
    /// the reference's `hidden` test target (`solutions/<name>/hidden/main.rs`).
    pub fn hidden_dir(&self) -> PathBuf {
        self.solution_dir.join("hidden")
    }

    pub fn has_hidden_tests(&self) -> bool {
        self.hidden_dir().join("main.rs").is_file()
    }

    /// Where `cargo lab verify` keeps this exercise's committed record.
    pub fn record_path(&self) -> PathBuf {
        self.solution_dir.join("verified.toml")
    }

    /// The reference's integration-test targets (`[[test]] name = …` in its
    /// Cargo.toml). A mutant runs only these: building the crate's unit-test
    /// harness as well would compile the patched crate twice for nothing.
    pub fn test_targets(&self) -> anyhow::Result<Vec<String>> {
        let path = self.solution_dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let manifest: toml::Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let targets = manifest
            .get("test")
            .and_then(|t| t.as_array())
            .map(|tests| {
                tests
                    .iter()
                    .filter_map(|t| t.get("name")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(targets)
    }

    pub fn step(&self, number: u32) -> Option<&StepMeta> {
        self.meta.steps.get((number as usize).checked_sub(1)?)
    }

    /// `n` is one of this exercise's steps, or an error saying which exist.
    pub fn require_step(&self, n: u32) -> anyhow::Result<&StepMeta> {
        self.step(n)
            .with_context(|| format!("{} has steps 1 to {}", self.name, self.step_count()))
    }

    pub fn step_count(&self) -> u32 {
        self.meta.steps.len() as u32
    }

    /// Test functions in the order the spec declares them (files by name, then
    /// line by line): the order the README teaches, which is the order a learner
    /// should meet failures in. Keyed by function name.
    pub fn test_order(&self) -> std::collections::HashMap<String, usize> {
        let mut files = Vec::new();
        collect_rs_files(&self.dir.join("tests"), &mut files);
        files.sort();
        let mut order = std::collections::HashMap::new();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for line in text.lines() {
                let line = line.trim_start();
                let Some(rest) = line
                    .strip_prefix("fn ")
                    .or_else(|| line.strip_prefix("async fn "))
                else {
                    continue;
                };
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if step_of(&name).is_some() {
                    let next = order.len();
                    order.entry(name).or_insert(next);
                }
            }
        }
        order
    }
}

impl Exercise {
    /// Each test's one-line purpose: the `///` lines right above its `fn`
    /// (attributes in between are skipped), joined. Keyed by function name.
    pub fn test_docs(&self) -> std::collections::HashMap<String, String> {
        let mut files = Vec::new();
        collect_rs_files(&self.dir.join("tests"), &mut files);
        let mut docs = std::collections::HashMap::new();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let mut doc: Vec<String> = Vec::new();
            for line in text.lines() {
                let line = line.trim_start();
                if let Some(rest) = line.strip_prefix("///") {
                    doc.push(rest.trim().to_string());
                    continue;
                }
                if line.starts_with("#[") || line.starts_with("#![") {
                    continue;
                }
                let name = line
                    .strip_prefix("fn ")
                    .or_else(|| line.strip_prefix("async fn "))
                    .map(|rest| {
                        rest.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    });
                if let Some(name) = name
                    && !doc.is_empty()
                {
                    docs.insert(name, doc.join(" "));
                }
                doc.clear();
            }
        }
        docs
    }
}

fn collect_rs_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// How a provided file begins.
pub const PROVIDED_MARK: &str = "// PROVIDED";

/// The text of a `> **The question.** …` blockquote, joined into one line.
pub fn question_in(readme: &str) -> Option<String> {
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("> **The question.**"));
    let first = lines
        .next()?
        .trim_start_matches("> **The question.**")
        .trim();
    let mut words = vec![first.to_string()];
    for line in lines {
        let Some(rest) = line.strip_prefix('>') else {
            break;
        };
        words.push(rest.trim().to_string());
    }
    let joined = words
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// The anchor GitHub makes from a heading: lower case, punctuation other than
/// `-` and `_` dropped, each space a `-`.
pub fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Hidden tests live in modules named `stepN_hidden`, so a full test name says
/// which kind it is (`step3_hidden::step3_…`).
pub fn is_hidden_test(test_name: &str) -> bool {
    test_name
        .split("::")
        .next()
        .is_some_and(|module| module.ends_with("_hidden"))
}

/// The step a test belongs to: test names (or their module) start `stepN_`.
pub fn step_of(test_name: &str) -> Option<u32> {
    test_name
        .rsplit("::")
        .chain(test_name.split("::").take(1))
        .find_map(|segment| {
            let rest = segment.strip_prefix("step")?;
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() || !rest[digits.len()..].starts_with('_') {
                return None;
            }
            digits.parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The question is the README's blockquote, over several lines, in one line.
    #[test]
    fn the_question_is_read_from_the_readme_blockquote() {
        let readme = "# T\n\n> **The question.** Design a\n> counter.\n\nMore text.\n";
        assert_eq!(question_in(readme).as_deref(), Some("Design a counter."));
        assert_eq!(question_in("# T\n\nNo question here.\n"), None);
    }

    /// Anchors match GitHub's: em dashes and backticks dropped, spaces to dashes.
    #[test]
    fn step_anchors_match_githubs() {
        assert_eq!(
            github_anchor("Step 4 — axum middleware: 429, `Retry-After`"),
            "step-4--axum-middleware-429-retry-after"
        );
    }

    /// Steps are read from the test's own name, or else from its module.
    #[test]
    fn a_tests_step_comes_from_its_name_or_module() {
        assert_eq!(step_of("step3_redis::step3_keys_expire"), Some(3));
        assert_eq!(step_of("step12_x::helper_named_oddly"), Some(12));
        assert_eq!(step_of("step2_fast"), Some(2));
        assert_eq!(step_of("stepping_stone"), None);
        assert_eq!(step_of("module::unrelated"), None);
    }
}
