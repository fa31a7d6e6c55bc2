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
    /// The interview question, in the lab's own words.
    pub question: String,
    /// Which interview round it prepares for.
    pub round: String,
    /// Services the tests need: "postgres", "redis", "kafka".
    #[serde(default)]
    pub services: Vec<String>,
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
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMeta {
    pub title: String,
    #[serde(default)]
    pub services: Vec<String>,
    /// Progressive hints, gentlest first.
    pub hints: Vec<String>,
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
