//! Where the lab lives on disk.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cargo::TestCommand;
use crate::exercise::Exercise;

/// The lab's root directory and what is in it.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
    target_dir: Option<PathBuf>,
    state_path: Option<PathBuf>,
    verify_dir: Option<PathBuf>,
}

impl Workspace {
    pub fn at(root: impl Into<PathBuf>) -> anyhow::Result<Workspace> {
        let root = root.into();
        if !is_lab_root(&root) {
            bail!(
                "{} is not a backend-lab checkout (expected a Cargo.toml and an exercises/ directory)",
                root.display()
            );
        }
        Ok(Workspace::new(root))
    }

    fn new(root: PathBuf) -> Workspace {
        Workspace {
            root,
            target_dir: None,
            state_path: None,
            verify_dir: None,
        }
    }

    /// Keep verify's scratch copy here instead of `LAB_VERIFY_DIR`/the cache.
    pub fn with_verify_dir(mut self, dir: Option<PathBuf>) -> Workspace {
        self.verify_dir = dir;
        self
    }

    /// `cargo test -p <package>` in this workspace, building into its target
    /// directory. Every test run the lab makes starts here.
    /// `cargo <args>` at this lab's root, on its target directory, captured and
    /// stopped after `timeout` (see [`crate::cargo::run_bounded`]).
    pub fn cargo_bounded(
        &self,
        args: &[String],
        timeout: std::time::Duration,
    ) -> anyhow::Result<crate::cargo::Bounded> {
        crate::cargo::run_bounded(
            &self.root,
            args,
            Some(&self.target_dir()),
            &[],
            timeout,
            &|_| {},
        )
    }

    pub fn test_command(&self, package: &str) -> TestCommand {
        let mut command = TestCommand::new(&self.root, package);
        command.target_dir = Some(self.target_dir());
        command
    }

    /// Where `lab verify` keeps its scratch copy of the workspace and that copy's
    /// target directory: `--verify-dir`, `LAB_VERIFY_DIR`, else
    /// `$XDG_CACHE_HOME/backend-lab/verify` (`~/.cache/…`), else under the target
    /// directory. Deliberately *not* derived from the checkout's path: every clone
    /// on a machine (CI makes a fresh one per run) shares one warm scratch build.
    pub fn verify_dir(&self) -> PathBuf {
        if let Some(dir) = &self.verify_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("LAB_VERIFY_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        match lab_cache_dir() {
            Some(cache) => cache.join("verify"),
            None => self.target_dir().join("lab-verify"),
        }
    }

    /// `path` relative to the lab's root, `/`-separated whatever the platform:
    /// how the lab shows a path, and how git names it (`rev:./path`).
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Build into this target directory instead of `CARGO_TARGET_DIR`/`target/`.
    pub fn with_target_dir(mut self, dir: Option<PathBuf>) -> Workspace {
        self.target_dir = dir;
        self
    }

    /// Keep progress in this file instead of `LAB_STATE`/`.lab-state.json`.
    pub fn with_state_path(mut self, path: Option<PathBuf>) -> Workspace {
        self.state_path = path;
        self
    }

    /// `LAB_ROOT` if set; else the nearest directory above the current one with
    /// a `Cargo.toml` and an `exercises/` directory.
    pub fn discover() -> anyhow::Result<Workspace> {
        if let Some(root) = std::env::var_os("LAB_ROOT") {
            return Workspace::at(PathBuf::from(root));
        }
        let cwd = std::env::current_dir().context("reading the current directory")?;
        for dir in cwd.ancestors() {
            if is_lab_root(dir) {
                return Ok(Workspace::new(dir.to_path_buf()));
            }
        }
        bail!(
            "no backend-lab checkout above {}: run `cargo lab` from inside the lab (or set LAB_ROOT)",
            cwd.display()
        )
    }

    /// Every exercise, in the order the lab presents them.
    pub fn exercises(&self) -> anyhow::Result<Vec<Exercise>> {
        let dir = self.root.join("exercises");
        let mut exercises = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.join("exercise.toml").is_file() {
                exercises.push(Exercise::load(self, &path)?);
            }
        }
        exercises.sort_by(|a, b| (a.meta.order, &a.name).cmp(&(b.meta.order, &b.name)));
        Ok(exercises)
    }

    /// One exercise by name; the error lists the ones that exist.
    pub fn exercise(&self, name: &str) -> anyhow::Result<Exercise> {
        let all = self.exercises()?;
        let names: Vec<String> = all.iter().map(|e| e.name.clone()).collect();
        all.into_iter().find(|e| e.name == name).with_context(|| {
            format!(
                "no exercise named {name:?}; the exercises are: {}",
                names.join(", ")
            )
        })
    }

    /// Where progress is kept: `--state-file`, `LAB_STATE`, else
    /// `.lab-state.json` at the root (listed in `.gitignore`).
    pub fn state_path(&self) -> PathBuf {
        if let Some(path) = &self.state_path {
            return path.clone();
        }
        std::env::var_os("LAB_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join(".lab-state.json"))
    }

    /// Cargo's target directory for this lab (`--target-dir`, `CARGO_TARGET_DIR`
    /// or `target/`).
    pub fn target_dir(&self) -> PathBuf {
        if let Some(dir) = &self.target_dir {
            return dir.clone();
        }
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    self.root.join(p)
                }
            })
            .unwrap_or_else(|| self.root.join("target"))
    }
}

/// `$XDG_CACHE_HOME/backend-lab`, else `~/.cache/backend-lab`: where the lab
/// keeps what belongs to the machine rather than to one checkout (verify's
/// scratch copy, reset's backups). labkit-locate's services directory follows
/// the same rule.
pub fn lab_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|cache| cache.join("backend-lab"))
}

fn is_lab_root(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("exercises").is_dir()
}
