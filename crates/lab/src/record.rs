//! The committed record of a verify run: `solutions/<name>/verified.toml`.
//!
//! Running every mutant of every exercise on every submission does not scale: a
//! mutant costs a rebuild and a test run, and twelve exercises hold well over a
//! hundred. But a mutant's verdict can only change when something it is built
//! from changes. So a successful `lab verify <name>` writes down a content hash
//! of everything that can change the outcome, with the figures and the killers;
//! `lab verify --changed` re-runs the mutants of exactly the exercises whose hash
//! no longer matches, and names the record that stands for each of the others.
//!
//! What the hash covers ([`inputs_hash`]): the exercise's directory, its
//! solution's directory (mutants included, this record excluded), labkit's
//! and labkit-locate's manifests and sources, the workspace manifest, the part of
//! `Cargo.lock` the exercise's two packages reach ([`crate::lockfile`]: a new
//! exercise, or another's new dependency, stales no other record),
//! `.cargo/config.toml`, the sources of any other crate under `crates/` the
//! exercise reaches (labkit-cluster, for the exercises that start clusters) and
//! the toolchain (`rustc -V`). Not the lab CLI itself: a change to verify's
//! own logic is proven by the lab's self-tests, and re-running every mutant for
//! it would bring back the cost this record exists to avoid (`lab verify` with
//! no `--changed` still runs everything).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exercise::Exercise;
use crate::verify::{MutantOutcome, MutantResult, Report};
use crate::workspace::Workspace;

/// One exercise's verify record, as committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub exercise: String,
    /// `sha256:<hex>` over every input (see the module docs).
    pub inputs: String,
    pub toolchain: String,
    /// The commit the run started from, and whether inputs differed from it.
    pub commit: String,
    pub dirty: bool,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date: String,
    /// True when every test ran on every mutant (`--thorough`); false when each
    /// mutant ran only the tests its header names.
    pub thorough: bool,
    pub reference_passed: usize,
    pub skeleton_failed: usize,
    /// Every test of the spec, by full name (the skeleton is checked against
    /// this list when the record stands for the reference run).
    pub tests: Vec<String>,
    pub mutants: Vec<MutantRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutantRecord {
    pub name: String,
    pub mistake: String,
    /// The tests that failed on it.
    pub killed_by: Vec<String>,
}

/// What `--changed` finds for one exercise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The record matches the inputs: it stands for the mutant run.
    Current(Record),
    /// The inputs changed since the record was written.
    Stale { recorded: String, now: String },
    /// No record file.
    Missing,
    /// A record file that cannot be read as one: a hole.
    Unreadable(String),
}

impl Record {
    /// "recorded at 51df2cb on 2026-12-01".
    pub fn summary(&self) -> String {
        format!(
            "recorded at {}{} on {}",
            short(&self.commit),
            if self.dirty { "+changes" } else { "" },
            self.date.get(..10).unwrap_or(&self.date)
        )
    }

    /// The record's mutants as verify results, for the matrix.
    pub fn mutant_results(&self) -> Vec<MutantResult> {
        self.mutants
            .iter()
            .map(|m| MutantResult {
                name: m.name.clone(),
                mistake: m.mistake.clone(),
                outcome: MutantOutcome::Killed,
                failed_tests: m.killed_by.clone(),
            })
            .collect()
    }

    /// The record of a verify report with no hole, for the inputs as they were
    /// when the run started (`before`). Refused if they changed during the run:
    /// the verdict would then vouch for files it never tested.
    pub fn of(
        workspace: &Workspace,
        exercise: &Exercise,
        before: &Snapshot,
        report: &Report,
    ) -> anyhow::Result<Record> {
        anyhow::ensure!(report.ok(), "a report with holes is not recorded");
        let after = inputs_hash(workspace, exercise)?;
        anyhow::ensure!(
            after == before.inputs,
            "{}'s inputs changed while verify ran, so no record was written; run it again",
            exercise.name
        );
        Ok(Record {
            exercise: exercise.name.clone(),
            inputs: before.inputs.clone(),
            toolchain: toolchain(&workspace.root),
            commit: before.commit.clone(),
            dirty: before.dirty,
            date: before.date.clone(),
            thorough: report.thorough,
            reference_passed: report.reference.passed,
            skeleton_failed: report.skeleton.failed,
            tests: report.tests.clone(),
            mutants: report
                .mutants
                .iter()
                .map(|m| MutantRecord {
                    name: m.name.clone(),
                    mistake: m.mistake.clone(),
                    killed_by: m.failed_tests.clone(),
                })
                .collect(),
        })
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let body = toml::to_string(self).context("writing the verify record as TOML")?;
        let text = format!(
            "# Written by `cargo lab verify {}` after a run with no hole. Do not edit:\n\
             # `cargo lab verify --changed` re-runs this exercise when `inputs` no longer\n\
             # matches the files it covers (see crates/lab/src/record.rs).\n\n{body}",
            self.exercise
        );
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    pub fn load(path: &Path) -> anyhow::Result<Record> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// The inputs and the commit as a verify run starts.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub inputs: String,
    pub commit: String,
    pub dirty: bool,
    pub date: String,
}

impl Snapshot {
    pub fn take(workspace: &Workspace, exercise: &Exercise) -> anyhow::Result<Snapshot> {
        let (commit, dirty) = git_commit(workspace, exercise);
        Ok(Snapshot {
            inputs: inputs_hash(workspace, exercise)?,
            commit,
            dirty,
            date: utc_now(),
        })
    }
}

/// Does the exercise's record still stand?
pub fn standing(workspace: &Workspace, exercise: &Exercise) -> anyhow::Result<Standing> {
    let path = exercise.record_path();
    if !path.exists() {
        return Ok(Standing::Missing);
    }
    let record = match Record::load(&path) {
        Ok(record) if record.exercise == exercise.name => record,
        Ok(record) => {
            return Ok(Standing::Unreadable(format!(
                "{} is the record of {:?}, not of {}",
                path.display(),
                record.exercise,
                exercise.name
            )));
        }
        Err(e) => return Ok(Standing::Unreadable(format!("{e:#}"))),
    };
    let now = inputs_hash(workspace, exercise)?;
    if record.inputs == now {
        Ok(Standing::Current(record))
    } else {
        Ok(Standing::Stale {
            recorded: record.inputs,
            now,
        })
    }
}

/// The files and directories whose content can change an exercise's verdict.
pub fn inputs(workspace: &Workspace, exercise: &Exercise) -> Vec<PathBuf> {
    let root = &workspace.root;
    let mut inputs = vec![
        exercise.dir.clone(),
        exercise.solution_dir.clone(),
        root.join("crates/labkit/Cargo.toml"),
        root.join("crates/labkit/src"),
        root.join("crates/labkit-locate/Cargo.toml"),
        root.join("crates/labkit-locate/src"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join(".cargo/config.toml"),
    ];
    // Any other crate of the lab's own that the exercise builds on
    // (labkit-cluster): only the records of the exercises that reach it.
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).ok();
    let solution = exercise.solution_package();
    let reached =
        crate::lockfile::path_packages(lock.as_deref(), &[exercise.package(), solution.as_str()])
            .unwrap_or_default();
    for name in reached {
        let dir = root.join("crates").join(&name);
        if dir.join("Cargo.toml").is_file() && !inputs.contains(&dir.join("src")) {
            inputs.push(dir);
        }
    }
    inputs
}

/// `sha256:<hex>` over the toolchain and every input file: each file's path
/// relative to the root, its length and its bytes, in path order. Build output,
/// version control and the record itself are left out.
pub fn inputs_hash(workspace: &Workspace, exercise: &Exercise) -> anyhow::Result<String> {
    let record = exercise.record_path();
    let inputs = inputs(workspace, exercise);
    let mut files = match git_files(workspace, &inputs) {
        Some(files) => files,
        None => {
            let mut files = Vec::new();
            for input in &inputs {
                collect_files(input, &mut files)?;
            }
            files
        }
    };
    let lock = workspace.root.join("Cargo.lock");
    files.retain(|f| *f != record && *f != lock);
    let mut relative: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let name = f
                .strip_prefix(&workspace.root)
                .unwrap_or(&f)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (name, f)
        })
        .collect();
    relative.sort();
    relative.dedup();
    let mut hasher = Sha256::new();
    hasher.update(format!("toolchain {}\n", toolchain(&workspace.root)));
    let lock_text = std::fs::read_to_string(&lock).ok();
    let solution = exercise.solution_package();
    let closure = crate::lockfile::closure(
        lock_text.as_deref(),
        &[exercise.package(), solution.as_str()],
    )?;
    hasher.update(format!("lock closure {}\n", closure.len()));
    hasher.update(&closure);
    for (name, path) in relative {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        hasher.update(format!("file {name} {}\n", bytes.len()));
        hasher.update(&bytes);
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// In a git checkout, the files a commit of the tree would hold: tracked ones
/// and untracked ones git does not ignore. So a fresh clone (CI's) hashes the
/// same set as the tree the record was written in, whatever build output or
/// scratch files lie around. `None` outside git: then every file counts.
fn git_files(workspace: &Workspace, inputs: &[PathBuf]) -> Option<Vec<PathBuf>> {
    let toplevel = Command::new("git")
        .arg("-C")
        .arg(&workspace.root)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let toplevel = PathBuf::from(String::from_utf8_lossy(&toplevel.stdout).trim());
    // Only when the lab is the repository's root: elsewhere paths would not line up.
    if toplevel.canonicalize().ok()? != workspace.root.canonicalize().ok()? {
        return None;
    }
    let mut command = Command::new("git");
    command.arg("-C").arg(&workspace.root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
    ]);
    for input in inputs {
        command.arg(input.strip_prefix(&workspace.root).unwrap_or(input));
    }
    let listed = command.output().ok().filter(|o| o.status.success())?;
    let mut files: Vec<PathBuf> = listed
        .stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| workspace.root.join(String::from_utf8_lossy(name).as_ref()))
        // Deleted in the tree but still in the index: not an input any more.
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files.dedup();
    Some(files)
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    if !path.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_str(), Some("target" | ".git" | ".lab-state.json")) {
            continue;
        }
        collect_files(&entry.path(), files)?;
    }
    Ok(())
}

/// `rustc -V` as run in the lab's root (where a rust-toolchain file would
/// apply), or "unknown" (which then never matches a real record).
pub fn toolchain(root: &Path) -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .current_dir(root)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// HEAD's commit, and whether the exercise's inputs differ from it.
fn git_commit(workspace: &Workspace, exercise: &Exercise) -> (String, bool) {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&workspace.root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "HEAD"]) else {
        return ("unknown".into(), true);
    };
    let mut status = vec!["status".to_string(), "--porcelain".into(), "--".into()];
    for input in inputs(workspace, exercise) {
        if let Ok(relative) = input.strip_prefix(&workspace.root) {
            status.push(relative.to_string_lossy().into_owned());
        }
    }
    let status: Vec<&str> = status.iter().map(String::as_str).collect();
    let record = exercise
        .record_path()
        .strip_prefix(&workspace.root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dirty = git(&status).is_none_or(|out| {
        out.lines()
            .any(|line| !line.trim_end().ends_with(record.as_str()))
    });
    (commit, dirty)
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// Now, in UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_timestamp(secs)
}

/// Seconds since the epoch as a UTC timestamp (the civil-from-days algorithm:
/// shift the year to start in March so the leap day falls last).
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known instants, a leap day among them, print as their calendar dates.
    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_796_115_661), "2026-12-01T09:01:01Z");
    }

    /// A record survives a save and a load unchanged.
    #[test]
    fn a_record_round_trips_through_its_file() {
        let record = Record {
            exercise: "adder".into(),
            inputs: "sha256:00".into(),
            toolchain: "rustc 1.95.0".into(),
            commit: "0123456789abcdef".into(),
            dirty: false,
            date: "2026-12-01T09:14:21Z".into(),
            thorough: false,
            reference_passed: 2,
            skeleton_failed: 2,
            tests: vec!["step1_a".into(), "step1_b".into()],
            mutants: vec![MutantRecord {
                name: "plus_one".into(),
                mistake: "adds one too many".into(),
                killed_by: vec!["step1_a".into()],
            }],
        };
        let path = std::env::temp_dir().join(format!("lab-record-{}.toml", std::process::id()));
        record.save(&path).unwrap();
        assert_eq!(Record::load(&path).unwrap(), record);
        assert_eq!(record.summary(), "recorded at 0123456 on 2026-12-01");
        std::fs::remove_file(&path).unwrap();
    }
}
