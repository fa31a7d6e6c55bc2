//! Curated wrong answers, and the scratch copy they are applied to.
//!
//! A mutant is a small unified diff against the reference solution's crate, in
//! `solutions/<name>/mutants/<mutant>.patch`, headed by:
//!
//! ```text
//! mutant: GET-then-SET instead of an atomic script: …      (required: the mistake it models)
//! killed-by: step3_redis::step3_instances_on_…             (optional, repeatable)
//!
//! --- a/src/redis_bucket.rs
//! +++ b/src/redis_bucket.rs
//! @@ …
//! ```
//!
//! Mutants are never applied to the real tree. `lab verify` keeps a copy of the
//! workspace in its verify directory, patches the copy, and runs the
//! reference's tests there. Files are only rewritten when their content differs,
//! so cargo rebuilds just the crate a mutant touches.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use diffy::patch_set::{FileOperation, ParseOptions, PatchKind, PatchSet};

use crate::exercise::Exercise;
use crate::workspace::Workspace;

#[derive(Clone, Debug)]
pub struct Mutant {
    pub name: String,
    pub path: PathBuf,
    /// The mistake it models, in one line.
    pub mistake: String,
    /// Tests that are expected to fail on it.
    pub killed_by: Vec<String>,
    pub patch: String,
}

impl Mutant {
    pub fn parse(name: &str, path: &Path, text: &str) -> anyhow::Result<Mutant> {
        let mut mistake = None;
        let mut killed_by = Vec::new();
        for line in text
            .lines()
            .take_while(|l| !l.starts_with("--- ") && !l.starts_with("diff "))
        {
            if let Some(m) = line.strip_prefix("mutant:") {
                mistake = Some(m.trim().to_string());
            } else if let Some(t) = line.strip_prefix("killed-by:") {
                let test = t.trim().to_string();
                // A name listed twice is one test: counting it twice would make
                // a run of the named tests look incomplete.
                if !killed_by.contains(&test) {
                    killed_by.push(test);
                }
            }
        }
        let mistake = mistake.filter(|m| !m.is_empty()).with_context(|| {
            format!(
                "{} has no `mutant: <the mistake it models>` line",
                path.display()
            )
        })?;
        Ok(Mutant {
            name: name.to_string(),
            path: path.to_path_buf(),
            mistake,
            killed_by,
            patch: text.to_string(),
        })
    }

    /// Apply the patch to the crate at `crate_dir`; returns the files changed.
    pub fn apply(&self, crate_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut changed = Vec::new();
        for file in PatchSet::parse(&self.patch, ParseOptions::unidiff()) {
            let file = file.with_context(|| format!("parsing {}", self.path.display()))?;
            let PatchKind::Text(patch) = file.patch() else {
                bail!("{}: binary patches are not supported", self.path.display());
            };
            let target = match file.operation().strip_prefix(1) {
                FileOperation::Modify { modified, .. } => crate_dir.join(&*modified),
                FileOperation::Create(path) => crate_dir.join(&*path),
                other => bail!(
                    "{}: unsupported file operation {other:?}",
                    self.path.display()
                ),
            };
            let original = std::fs::read_to_string(&target).unwrap_or_default();
            let patched = diffy::apply(&original, patch).map_err(|e| {
                anyhow::anyhow!(
                    "{} no longer applies to {}: {e}; regenerate it against the current reference",
                    self.path.display(),
                    target.display()
                )
            })?;
            std::fs::write(&target, patched)
                .with_context(|| format!("writing {}", target.display()))?;
            changed.push(target);
        }
        anyhow::ensure!(
            !changed.is_empty(),
            "{} changes no file",
            self.path.display()
        );
        Ok(changed)
    }
}

/// Every `*.patch` in the exercise's mutants directory, by name.
pub fn load_all(exercise: &Exercise) -> anyhow::Result<Vec<Mutant>> {
    let dir = exercise.mutants_dir();
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut mutants = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "patch") {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            mutants.push(Mutant::parse(&name, &path, &text)?);
        }
    }
    mutants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(mutants)
}

/// A copy of the workspace that mutants may scribble on, with its own target
/// directory (see `verify`: sharing one with the real tree is unsafe).
pub struct Scratch {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// Held while this scratch copy is in use: two `lab verify` runs on one
    /// machine share the copy, so the second waits instead of scribbling on the
    /// first one's mutant.
    _lock: std::fs::File,
}

impl Scratch {
    /// `<verify dir>/{workspace,target}` (see [`Workspace::verify_dir`]): a copy
    /// brought up to date with the real tree, and where it builds. The path does
    /// not depend on the checkout's, so a fresh clone finds the dependencies of
    /// the scratch build already compiled (a cold one takes ~15 min here).
    pub fn prepare(workspace: &Workspace) -> anyhow::Result<Scratch> {
        Scratch::prepare_in(workspace, workspace.verify_dir())
    }

    /// The same, under `base` (`<base>/{workspace,target,lock}`): `lab grade`
    /// keeps a copy of its own there, so grading never waits on verify's.
    pub fn prepare_in(workspace: &Workspace, base: PathBuf) -> anyhow::Result<Scratch> {
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let lock_path = base.join("lock");
        let lock = std::fs::File::create(&lock_path)
            .with_context(|| format!("creating {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            eprintln!(
                "lab: another run is using {}; waiting for it to finish",
                base.display()
            );
            lock.lock()
                .with_context(|| format!("locking {}", lock_path.display()))?;
        }
        let scratch = Scratch {
            root: base.join("workspace"),
            target_dir: base.join("target"),
            _lock: lock,
        };
        scratch.restore(workspace)?;
        Ok(scratch)
    }

    /// The scratch copy as a workspace of its own, building into its own target.
    pub fn workspace(&self) -> Workspace {
        Workspace::at(&self.root)
            .expect("the scratch copy is a copy of a lab root")
            .with_target_dir(Some(self.target_dir.clone()))
    }

    /// Put the scratch copy back exactly as the real tree is. The whole tree, not
    /// just the reference crate: a mutant may patch a file the reference shares
    /// with the exercise (a provided migration, say). Only files that differ are
    /// rewritten, so this is cheap and cargo rebuilds only what a mutant touched.
    pub fn restore(&self, workspace: &Workspace) -> anyhow::Result<()> {
        let skip = skip_list(workspace);
        sync_tree(&workspace.root, &self.root, &|p| {
            skip.iter().any(|s| p.starts_with(s))
        })?;
        Ok(())
    }

    /// Give the copy's exercise package the reference's hidden tests as a
    /// target (the real package never has one: a learner's `cargo test` must not
    /// run them). `restore` puts the manifest back.
    pub fn add_hidden_target(
        &self,
        workspace: &Workspace,
        exercise: &Exercise,
        by: &str,
    ) -> anyhow::Result<()> {
        let manifest = self
            .root
            .join(exercise.dir.strip_prefix(&workspace.root)?)
            .join("Cargo.toml");
        let mut text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        text.push_str(&format!(
            "\n# Added by `{by}` in its scratch copy only.\n[[test]]\nname = \"hidden\"\npath = \"../../solutions/{}/hidden/main.rs\"\n",
            exercise.name
        ));
        std::fs::write(&manifest, text).with_context(|| format!("writing {}", manifest.display()))
    }

    /// The exercise's crate inside the scratch copy.
    pub fn exercise_dir(
        &self,
        workspace: &Workspace,
        exercise: &Exercise,
    ) -> anyhow::Result<PathBuf> {
        Ok(self.root.join(exercise.dir.strip_prefix(&workspace.root)?))
    }

    /// The exercise's reference crate inside the scratch copy.
    pub fn solution_dir(
        &self,
        workspace: &Workspace,
        exercise: &Exercise,
    ) -> anyhow::Result<PathBuf> {
        Ok(self
            .root
            .join(exercise.solution_dir.strip_prefix(&workspace.root)?))
    }
}

fn skip_list(workspace: &Workspace) -> Vec<PathBuf> {
    let root = &workspace.root;
    vec![
        root.join("target"),
        root.join(".git"),
        workspace.target_dir(),
        workspace.state_path(),
        workspace.verify_dir(),
    ]
}

/// Make `dst` a copy of `src`: write files whose content differs, delete files
/// that are not in `src`. Returns how many files were written or removed.
pub fn sync_tree(src: &Path, dst: &Path, skip: &dyn Fn(&Path) -> bool) -> anyhow::Result<usize> {
    let mut changed = 0;
    std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
    let mut wanted = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry?;
        let from = entry.path();
        if skip(&from) {
            continue;
        }
        let name = entry.file_name();
        let to = dst.join(&name);
        wanted.insert(name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            changed += sync_tree(&from, &to, skip)?;
        } else if kind.is_file() {
            let content =
                std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
            if std::fs::read(&to).ok().as_deref() != Some(&content[..]) {
                std::fs::write(&to, &content)
                    .with_context(|| format!("writing {}", to.display()))?;
                changed += 1;
            }
        }
    }
    for entry in std::fs::read_dir(dst)? {
        let entry = entry?;
        if !wanted.contains(&entry.file_name()) {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "mutant: adds one too many
killed-by: step1_sum::step1_adds

--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,3 @@
 pub fn add(a: u32, b: u32) -> u32 {
-    a + b
+    a + b + 1
 }
";

    /// The header names the mistake and the expected killer; the diff applies.
    #[test]
    fn a_mutant_is_parsed_and_applied_to_a_copy() {
        let dir = std::env::temp_dir().join(format!("lab-mutant-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("src/lib.rs"),
            "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
        )
        .unwrap();
        let mutant = Mutant::parse("plus_one", Path::new("plus_one.patch"), PATCH).unwrap();
        assert_eq!(mutant.mistake, "adds one too many");
        assert_eq!(mutant.killed_by, vec!["step1_sum::step1_adds"]);
        mutant.apply(&dir).unwrap();
        assert!(
            std::fs::read_to_string(dir.join("src/lib.rs"))
                .unwrap()
                .contains("a + b + 1")
        );
        let err = mutant.apply(&dir).unwrap_err().to_string();
        assert!(err.contains("no longer applies"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A patch without a `mutant:` line is refused: every mutant says what it models.
    #[test]
    fn a_mutant_without_a_description_is_refused() {
        let err = Mutant::parse(
            "x",
            Path::new("x.patch"),
            &PATCH.replace("mutant: adds one too many\n", ""),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("mutant:"), "{err}");
    }

    /// Restoring the scratch copy undoes a patch anywhere in the tree, not only
    /// inside the reference crate (mutants may patch shared files).
    #[test]
    fn restore_undoes_patches_outside_the_reference_crate() {
        let root = std::env::temp_dir().join(format!("lab-restore-{}", std::process::id()));
        std::fs::create_dir_all(root.join("exercises/x")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(root.join("exercises/x/shared.sql"), "original").unwrap();
        let workspace = Workspace::at(&root)
            .unwrap()
            .with_target_dir(Some(root.join("target")))
            .with_verify_dir(Some(root.join("target/verify")));
        let scratch = Scratch::prepare(&workspace).unwrap();
        let copy = scratch.root.join("exercises/x/shared.sql");
        std::fs::write(&copy, "patched by a mutant").unwrap();
        scratch.restore(&workspace).unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "original");
        assert!(
            !scratch.root.join("target").exists(),
            "the target directory is never copied"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Syncing writes only what differs and removes what is gone.
    #[test]
    fn sync_rewrites_only_changed_files_and_removes_stale_ones() {
        let base = std::env::temp_dir().join(format!("lab-sync-{}", std::process::id()));
        let (src, dst) = (base.join("src"), base.join("dst"));
        std::fs::create_dir_all(src.join("a")).unwrap();
        std::fs::write(src.join("a/one"), "1").unwrap();
        std::fs::write(src.join("two"), "2").unwrap();
        assert_eq!(sync_tree(&src, &dst, &|_| false).unwrap(), 2);
        assert_eq!(
            sync_tree(&src, &dst, &|_| false).unwrap(),
            0,
            "nothing changed, nothing written"
        );
        std::fs::write(dst.join("stale"), "x").unwrap();
        std::fs::write(dst.join("two"), "changed").unwrap();
        assert_eq!(sync_tree(&src, &dst, &|_| false).unwrap(), 2);
        assert!(!dst.join("stale").exists());
        assert_eq!(std::fs::read_to_string(dst.join("two")).unwrap(), "2");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
