//! The part of `Cargo.lock` one exercise is built from.
//!
//! A verify record must go stale when a dependency the exercise compiles
//! changes, and only then. Hashing the whole lock file stales every record
//! whenever anything in the workspace changes its dependencies, adding a new
//! exercise included (its two packages are new lock entries): every exercise's
//! mutants would run again for a change none of them is built from. So the
//! record hashes the lock's entries reachable from the exercise's two packages:
//! each one's name, version, source, checksum and dependency list.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;

/// The lock entries reachable from `roots` (package names), one line each,
/// sorted; or a fixed line when there is no lock yet (a first build makes one,
/// and the change then shows as changed inputs).
pub fn closure(lock: Option<&str>, roots: &[&str]) -> anyhow::Result<String> {
    let Some(lock) = lock else {
        return Ok("no Cargo.lock\n".to_string());
    };
    let (packages, seen, unlocked) = reach(lock, roots)?;
    let mut lines: Vec<String> = seen.into_iter().map(|i| packages[i].line()).collect();
    lines.extend(unlocked);
    lines.sort();
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

/// The names of the workspace's own packages (no `source`: path dependencies)
/// that `roots` reach, roots included. A record hashes their sources, so a
/// helper crate only some exercises use (labkit-cluster) stales only theirs.
pub fn path_packages(lock: Option<&str>, roots: &[&str]) -> anyhow::Result<Vec<String>> {
    let Some(lock) = lock else {
        return Ok(Vec::new());
    };
    let (packages, seen, _) = reach(lock, roots)?;
    let mut names: Vec<String> = seen
        .into_iter()
        .filter(|&i| packages[i].source.is_empty())
        .map(|i| packages[i].name.clone())
        .collect();
    names.sort();
    Ok(names)
}

/// The lock's entries, the indices `roots` reach, and a line per root the lock
/// does not hold yet.
fn reach(lock: &str, roots: &[&str]) -> anyhow::Result<(Vec<Entry>, BTreeSet<usize>, Vec<String>)> {
    let table: toml::Table = toml::from_str(lock).context("parsing Cargo.lock")?;
    let packages: Vec<Entry> = table
        .get("package")
        .and_then(|p| p.as_array())
        .map(|list| list.iter().filter_map(Entry::from_toml).collect())
        .unwrap_or_default();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = Vec::new();
    // A package not locked yet (a new exercise before its first build) is a
    // line of its own: the build that locks it then shows as changed inputs.
    let mut unlocked = Vec::new();
    for root in roots {
        match by_name.get(root) {
            Some(found) => todo.extend(found),
            None => unlocked.push(format!("{root} not in Cargo.lock")),
        }
    }
    while let Some(i) = todo.pop() {
        if !seen.insert(i) {
            continue;
        }
        for dep in &packages[i].dependencies {
            // "name", "name version" or "name version (source)": the version
            // is given only when several versions of the name are locked.
            let mut words = dep.split_whitespace();
            let name = words.next().unwrap_or_default();
            let version = words.next();
            let candidates = by_name.get(name).map(Vec::as_slice).unwrap_or_default();
            todo.extend(
                candidates
                    .iter()
                    .filter(|&&c| version.is_none_or(|v| packages[c].version == v)),
            );
        }
    }
    Ok((packages, seen, unlocked))
}

struct Entry {
    name: String,
    version: String,
    source: String,
    checksum: String,
    dependencies: Vec<String>,
}

impl Entry {
    fn from_toml(value: &toml::Value) -> Option<Entry> {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Some(Entry {
            name: value.get("name")?.as_str()?.to_string(),
            version: text("version"),
            source: text("source"),
            checksum: text("checksum"),
            dependencies: value
                .get("dependencies")
                .and_then(|d| d.as_array())
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn line(&self) -> String {
        format!(
            "{} {} {} {} [{}]",
            self.name,
            self.version,
            self.source,
            self.checksum,
            self.dependencies.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "adder"
version = "0.1.0"
dependencies = ["itoa 1.0.1", "serde"]

[[package]]
name = "adder_solution"
version = "0.1.0"
dependencies = ["itoa 1.0.1"]

[[package]]
name = "itoa"
version = "1.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aa"

[[package]]
name = "itoa"
version = "0.4.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bb"

[[package]]
name = "serde"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "cc"

[[package]]
name = "other_exercise"
version = "0.1.0"
dependencies = ["itoa 0.4.0"]
"#;

    /// The closure holds the roots and what they reach, with the version the
    /// lock names where several are locked, and nothing else.
    #[test]
    fn the_closure_is_what_the_roots_reach() {
        let text = closure(Some(LOCK), &["adder", "adder_solution"]).unwrap();
        let names: Vec<String> = text
            .lines()
            .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            names,
            [
                "adder 0.1.0",
                "adder_solution 0.1.0",
                "itoa 1.0.1",
                "serde 1.0.0"
            ]
        );
    }

    /// A package the exercise does not reach can come, go or change without
    /// changing the closure; a reached one's checksum changes it.
    #[test]
    fn only_reached_entries_change_the_closure() {
        let before = closure(Some(LOCK), &["adder", "adder_solution"]).unwrap();
        let other_added =
            format!("{LOCK}\n[[package]]\nname = \"newcomer\"\nversion = \"0.1.0\"\n");
        assert_eq!(
            before,
            closure(Some(&other_added), &["adder", "adder_solution"]).unwrap()
        );
        let other_bumped = LOCK.replace("checksum = \"bb\"", "checksum = \"bd\"");
        assert_eq!(
            before,
            closure(Some(&other_bumped), &["adder", "adder_solution"]).unwrap()
        );
        let reached_bumped = LOCK.replace("checksum = \"cc\"", "checksum = \"cd\"");
        assert_ne!(
            before,
            closure(Some(&reached_bumped), &["adder", "adder_solution"]).unwrap()
        );
    }

    /// No lock, and a root not locked yet, are told apart from a real closure.
    #[test]
    fn no_lock_and_unknown_roots() {
        assert_eq!(closure(None, &["adder"]).unwrap(), "no Cargo.lock\n");
        assert_eq!(
            closure(Some(LOCK), &["missing"]).unwrap(),
            "missing not in Cargo.lock\n"
        );
    }

    /// The path packages reached are the roots and the workspace crates they
    /// use, never registry crates nor unreached neighbours.
    #[test]
    fn path_packages_are_the_reached_ones_without_a_source() {
        assert_eq!(
            path_packages(Some(LOCK), &["adder", "adder_solution"]).unwrap(),
            ["adder", "adder_solution"]
        );
        assert!(path_packages(None, &["adder"]).unwrap().is_empty());
    }
}
