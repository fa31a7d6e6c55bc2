//! A tiny lab, written to a temporary directory, for testing the lab's tools.
//!
//! One exercise, `adder`, with one step, a skeleton, a reference and mutants —
//! no dependencies, so a nested `cargo test` on it takes a second or two. Each
//! test builds its own copy (own directory, own target directory, own state
//! file), so tests run in parallel without sharing anything.
//!
//! Shared by `crates/lab/tests/cli.rs` and `tests/tests/*.rs` through `#[path]`.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct TinyLab {
    pub root: PathBuf,
}

pub const SKELETON: &str = "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    // TODO(step 1)\n    todo!(\"step 1: add — see README step 1\")\n}\n";
pub const REFERENCE: &str =
    "/// Add two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n";

pub const SPEC: &str = r#"/// Small numbers add up.
#[test]
fn step1_adds_small_numbers() {
    assert_eq!(adder::add(2, 3), 5, "README step 1");
}

/// Zero is neutral.
#[test]
fn step1_zero_changes_nothing() {
    assert_eq!(adder::add(7, 0), 7, "README step 1");
}
"#;

/// Killed by both tests.
pub const PLUS_ONE: &str = "mutant: adds one too many
killed-by: step1_adds_small_numbers

--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,4 @@
 /// Add two numbers.
 pub fn add(a: u32, b: u32) -> u32 {
-    a + b
+    a + b + 1
 }
";

/// Changes nothing any test can see: it must be reported as a survivor.
pub const SURVIVOR: &str = "mutant: writes the sum the other way round (not actually wrong)

--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,4 @@
 /// Add two numbers.
 pub fn add(a: u32, b: u32) -> u32 {
-    a + b
+    b + a
 }
";

impl TinyLab {
    /// A sound tiny lab: verify finds no hole in it.
    pub fn new(label: &str) -> TinyLab {
        let root = std::env::temp_dir().join(format!(
            "lab-fixture-{label}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let lab = TinyLab { root };
        lab.write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"exercises/*\", \"solutions/*\"]\n",
        );
        lab.add_exercise("adder");
        lab.lock();
        lab
    }

    /// (Re)write Cargo.lock, as a committed lab has one: the lock is one of
    /// verify's hashed inputs, and a run during which it appears writes no record.
    pub fn lock(&self) {
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&self.root)
                .args(["generate-lockfile", "--offline", "--quiet"])
                .status()
                .expect("cargo runs");
        assert!(status.success(), "cargo generate-lockfile in the fixture");
    }

    /// One more sound exercise, `name`: the `adder` exercise under that name
    /// (packages `name` and `name_solution`, library `name`). Call
    /// [`TinyLab::lock`] after adding one to a lab that already has a lock.
    pub fn add_exercise(&self, name: &str) {
        self.write(
            &format!("exercises/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ndoctest = false\n\n[[test]]\nname = \"spec\"\npath = \"tests/spec.rs\"\n"),
        );
        self.write(
            &format!("exercises/{name}/exercise.toml"),
            concat!(
                "title = \"Adding\"\nround = \"Warm-up\"\nminutes = 1\n",
                "follow_ups = [\"What would change for 64-bit numbers?\"]\n\n",
                "[[steps]]\ntitle = \"Addition\"\nhints = [\"Use +.\", \"Really, a + b.\"]\n",
                "follow_ups = [\"What should happen when the sum overflows?\"]\n\n",
                "[steps.rubric]\nstrong = \"Adds, and zero changes nothing.\"\n",
                "leaning_strong = \"Adds; a hidden case fails.\"\n",
                "needs_improvement = \"One of the two sums is wrong.\"\n",
                "poor = \"Nothing adds yet.\"\n",
            ),
        );
        self.write(
            &format!("exercises/{name}/README.md"),
            "# Adding\n\n> **The question.** Add two numbers.\n\n## Step 1 — addition\n",
        );
        self.write(&format!("exercises/{name}/src/lib.rs"), SKELETON);
        self.write(
            &format!("exercises/{name}/tests/spec.rs"),
            &SPEC.replace("adder::", &format!("{name}::")),
        );
        self.write(
            &format!("solutions/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}_solution\"\nversion = \"0.1.0\"\nedition = \"2024\"\nautotests = false\n\n[lib]\nname = \"{name}\"\npath = \"src/lib.rs\"\ndoc = false\ndoctest = false\n\n[[test]]\nname = \"spec\"\npath = \"../../exercises/{name}/tests/spec.rs\"\n"),
        );
        self.write(&format!("solutions/{name}/src/lib.rs"), REFERENCE);
        self.write(
            &format!("solutions/{name}/mutants/plus_one.patch"),
            PLUS_ONE,
        );
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().expect("fixture paths have a parent"))
            .expect("creating fixture dirs");
        std::fs::write(&path, content).expect("writing a fixture file");
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Verify's scratch copy: this lab's own, never the machine-wide one.
    pub fn verify_dir(&self) -> PathBuf {
        self.root.join("verify")
    }

    /// Run the lab CLI in-process on this lab: its exit code and what it printed.
    pub fn run(&self, rest: &[&str]) -> (std::process::ExitCode, String) {
        let mut out = Vec::new();
        let code = lab::cli::run(self.args(rest), &mut out).expect("the lab CLI runs");
        (code, String::from_utf8_lossy(&out).into_owned())
    }

    /// `lab` arguments that point at this lab, its target dir and state file.
    pub fn args(&self, rest: &[&str]) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec!["lab".into()];
        args.push("--root".into());
        args.push(self.root.clone().into());
        args.push("--target-dir".into());
        args.push(self.target_dir().into());
        args.push("--state-file".into());
        args.push(self.state_file().into());
        args.push("--verify-dir".into());
        args.push(self.verify_dir().into());
        args.extend(rest.iter().map(Into::into));
        args
    }
}

impl Drop for TinyLab {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Output shared between the watch loop's thread and the test.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }

    /// Wait until the output contains `needle` (bounded); the time it took.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> Duration {
        let started = Instant::now();
        while !self.text().contains(needle) {
            assert!(
                started.elapsed() < limit,
                "no {needle:?} within {limit:?}; output so far:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }
}
