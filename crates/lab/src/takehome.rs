//! `cargo lab takehome`: one exercise as a standalone workspace for a candidate.
//!
//! The bundle keeps the lab's layout (`exercises/<name>`, `crates/labkit`, …) so
//! that every relative path inside the exercise (sqlx's migrations, the spec's
//! modules) still holds, and brings the lab CLI along so `cargo lab check`,
//! `watch` and `hint` work as they do in the lab. What it leaves out is the
//! point: `solutions/` (the reference and its mutants), every other exercise,
//! the lab's own tests, the follow-up questions of the debrief, and all hints
//! but the first of each step (unless asked). Each phase is one function below.

use std::ops::RangeInclusive;
use std::path::Path;

use anyhow::{Context, bail};

use crate::exercise::Exercise;
use crate::workspace::Workspace;

/// What the interviewer chose.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only these steps (default: all).
    pub steps: Option<RangeInclusive<u32>>,
    /// The time budget, as the interviewer wrote it ("72h", "3 days").
    pub due: Option<String>,
    /// Every hint, not just the first of each step.
    pub hints: bool,
}

/// Parse `1-4` or `3` into a range of steps.
pub fn parse_steps(text: &str) -> anyhow::Result<RangeInclusive<u32>> {
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .with_context(|| format!("{s:?} is not a step number"))
    };
    let range = match text.split_once('-') {
        Some((a, b)) => parse(a)?..=parse(b)?,
        None => parse(text)?..=parse(text)?,
    };
    if range.is_empty() || *range.start() == 0 {
        bail!("--steps {text}: expected a range like 1-4, starting at 1 or later");
    }
    Ok(range)
}

/// Write the bundle for `exercise` into `out` (which must not exist, or be empty).
pub fn write_bundle(
    workspace: &Workspace,
    exercise: &Exercise,
    out: &Path,
    options: &Options,
) -> anyhow::Result<()> {
    let steps = chosen_steps(exercise, options)?;
    prepare_out(out)?;
    copy_provided_parts(workspace, exercise, out)?;
    write_manifest(workspace, exercise, out)?;
    trim_exercise_toml(exercise, out, &steps, options.hints)?;
    trim_spec(exercise, out, &steps)?;
    write_readme(exercise, out, &steps, options)?;
    Ok(())
}

fn chosen_steps(exercise: &Exercise, options: &Options) -> anyhow::Result<RangeInclusive<u32>> {
    let all = 1..=exercise.step_count();
    match &options.steps {
        None => Ok(all),
        Some(range) if *range.end() <= exercise.step_count() && *range.start() == 1 => {
            Ok(range.clone())
        }
        Some(range) if *range.start() != 1 => {
            bail!("--steps must start at step 1: each step builds on the ones before it")
        }
        Some(range) => bail!(
            "{} has steps 1 to {}, not {}",
            exercise.name,
            exercise.step_count(),
            range.end()
        ),
    }
}

fn prepare_out(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} exists and is not empty; choose a new directory",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

/// The parts copied as they are: the exercise, labkit, labkit-locate, the lab
/// CLI (without its own tests, which need the lab's fixtures), the compose file
/// and the workspace's settings.
fn copy_provided_parts(
    workspace: &Workspace,
    exercise: &Exercise,
    out: &Path,
) -> anyhow::Result<()> {
    let root = &workspace.root;
    let exercise_dir = format!("exercises/{}", exercise.name);
    let helpers = helper_crates(workspace, exercise);
    for dir in [
        exercise_dir.as_str(),
        "crates/labkit",
        "crates/labkit-locate",
        "crates/lab",
    ]
    .into_iter()
    .chain(helpers.iter().map(String::as_str))
    {
        // The CLI's own tests stay in the lab (they need its fixtures). labkit's
        // go along: its manifest declares them.
        let skip: &[&str] = if dir == "crates/lab" {
            &["target", "tests"]
        } else {
            &["target"]
        };
        copy_tree(&root.join(dir), &out.join(dir), skip)?;
    }
    for file in [
        "Cargo.lock",
        ".cargo/config.toml",
        "clippy.toml",
        ".gitignore",
        "docker/compose.yml",
    ] {
        let from = root.join(file);
        if from.is_file() {
            let to = out.join(file);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(&from, &to).with_context(|| format!("copying {file}"))?;
        }
    }
    Ok(())
}

/// The lab's other crates the exercise builds on (`crates/labkit-cluster` for
/// the exercises that start their own clusters), as `crates/<name>` paths: the
/// path packages its lock entries reach, besides labkit, labkit-locate and lab.
fn helper_crates(workspace: &Workspace, exercise: &Exercise) -> Vec<String> {
    let lock = std::fs::read_to_string(workspace.root.join("Cargo.lock")).ok();
    crate::lockfile::path_packages(lock.as_deref(), &[exercise.package()])
        .unwrap_or_default()
        .into_iter()
        .filter(|name| !["labkit", "labkit-locate", "lab"].contains(&name.as_str()))
        .map(|name| format!("crates/{name}"))
        .filter(|dir| workspace.root.join(dir).join("Cargo.toml").is_file())
        .collect()
}

/// Copy `from` into `to`, leaving out the directories named in `skip`.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let path = entry.path();
        if path.is_dir() {
            if !skip.contains(&name.to_string_lossy().as_ref()) {
                copy_tree(&path, &to.join(&name), &["target"])?;
            }
        } else {
            std::fs::copy(&path, to.join(&name))
                .with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// The lab's workspace manifest, with only the bundle's members.
fn write_manifest(workspace: &Workspace, exercise: &Exercise, out: &Path) -> anyhow::Result<()> {
    let path = workspace.root.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut manifest: toml::Table =
        toml::from_str(&text).context("parsing the lab's Cargo.toml")?;
    let members = toml::Value::Array(
        [
            format!("exercises/{}", exercise.name),
            "crates/labkit".to_string(),
            "crates/labkit-locate".to_string(),
            "crates/lab".to_string(),
        ]
        .into_iter()
        .chain(helper_crates(workspace, exercise))
        .map(toml::Value::String)
        .collect(),
    );
    let ws = manifest
        .get_mut("workspace")
        .and_then(|w| w.as_table_mut())
        .context("the lab's Cargo.toml has no [workspace]")?;
    ws.insert("members".into(), members);
    // A bare `cargo test` here runs the exercise's spec, nothing else.
    ws.insert(
        "default-members".into(),
        toml::Value::Array(vec![toml::Value::String(format!(
            "exercises/{}",
            exercise.name
        ))]),
    );
    ws.remove("exclude");
    let body = toml::to_string(&manifest)?;
    std::fs::write(
        out.join("Cargo.toml"),
        format!(
            "# A take-home bundle of backend-lab's `{}` exercise, written by `cargo lab takehome`.\n\
             # Versions and lints are the lab's own.\n\n{body}",
            exercise.name
        ),
    )?;
    Ok(())
}

/// Only the chosen steps, one hint each (unless `hints`), no follow-ups and no
/// rubric: those are the interviewer's, for grading and the debrief.
fn trim_exercise_toml(
    exercise: &Exercise,
    out: &Path,
    steps: &RangeInclusive<u32>,
    hints: bool,
) -> anyhow::Result<()> {
    let path = exercise.dir.join("exercise.toml");
    let text = std::fs::read_to_string(&path)?;
    let mut meta: toml::Table = toml::from_str(&text)?;
    meta.remove("follow_ups");
    if let Some(all) = meta.get_mut("steps").and_then(|s| s.as_array_mut()) {
        all.truncate(*steps.end() as usize);
        for step in all.iter_mut().filter_map(|s| s.as_table_mut()) {
            // The rubric and the step's debrief questions are the grader's.
            step.remove("rubric");
            step.remove("follow_ups");
            if !hints && let Some(list) = step.get_mut("hints").and_then(|h| h.as_array_mut()) {
                list.truncate(1);
            }
        }
    }
    std::fs::write(
        out.join(format!("exercises/{}/exercise.toml", exercise.name)),
        toml::to_string(&meta)?,
    )?;
    Ok(())
}

/// Drop the spec's modules of steps past the last chosen one.
fn trim_spec(exercise: &Exercise, out: &Path, steps: &RangeInclusive<u32>) -> anyhow::Result<()> {
    if *steps.end() == exercise.step_count() {
        return Ok(());
    }
    let spec = out.join(format!("exercises/{}/tests/spec", exercise.name));
    let main = spec.join("main.rs");
    let text =
        std::fs::read_to_string(&main).with_context(|| format!("reading {}", main.display()))?;
    let mut kept = Vec::new();
    for line in text.lines() {
        let module = line
            .trim()
            .strip_prefix("mod ")
            .and_then(|m| m.strip_suffix(';'));
        match module.and_then(|m| crate::exercise::step_of(m).map(|n| (m, n))) {
            Some((module, n)) if !steps.contains(&n) => {
                let file = spec.join(format!("{module}.rs"));
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing {}", file.display()))?;
            }
            _ => kept.push(line),
        }
    }
    std::fs::write(&main, kept.join("\n") + "\n")?;
    Ok(())
}

/// The candidate's README: the question, the task, the commands, the services,
/// the time budget, and what is graded.
fn write_readme(
    exercise: &Exercise,
    out: &Path,
    steps: &RangeInclusive<u32>,
    options: &Options,
) -> anyhow::Result<()> {
    let name = &exercise.name;
    let question = exercise.question()?;
    let last = *steps.end();
    let step_list: String = steps
        .clone()
        .filter_map(|n| exercise.step(n).map(|s| format!("{n}. {}\n", s.title)))
        .collect();
    let scope = if last == exercise.step_count() {
        format!("all {last} steps")
    } else {
        format!(
            "steps 1 to {last} (the exercise's README goes further; what comes after step \
             {last} is not part of this take-home)"
        )
    };
    let budget = match &options.due {
        Some(due) => format!(
            "You have **{due}** from when you receive this. Plan for the steps in order: \
             each builds on the one before, and a working step {} beats a half-built step {last}.",
            last.saturating_sub(1).max(1)
        ),
        None => "Your interviewer will tell you the time budget.".to_string(),
    };
    let hints = if options.hints {
        "`cargo lab hint` gives every hint the lab has, one at a time."
    } else {
        "`cargo lab hint` gives one hint per step."
    };
    let services = service_lines(exercise);
    let text = format!(
        "# Take-home: {title}\n\n\
         > **The question.** {question}\n\n\
         {budget}\n\n\
         ## What to do\n\n\
         Make the tests of {scope} pass, by writing the code marked `// TODO(step N)` under \
         `exercises/{name}/src/`. [`exercises/{name}/README.md`](exercises/{name}/README.md) \
         explains each step and what it must promise:\n\n{step_list}\n\
         Files that start with `// PROVIDED` are given: read them, don't change them.\n\n\
         ## The two commands\n\n\
         ```sh\n\
         cargo lab check {name}     # the tests, with progress per step and the first failure explained\n\
         cargo test -p {name}       # the same tests, plain cargo\n\
         ```\n\n\
         `cargo lab watch {name}` re-runs the current step each time you save. {hints}\n\n\
         ## Services\n\n{services}\n\
         ## What to hand in\n\n\
         This directory as you leave it, as an archive or a git repository. Change only the \
         files under `exercises/{name}/src/` that are not marked `// PROVIDED`; leave the \
         tests, the provided files and the Cargo manifests as they are, and add no \
         dependencies, build scripts or procedural macros.\n\n\
         ## What is graded, and what is not\n\n\
         - **Graded**: the tests of each step here (your interviewer may add tests you have \
           not seen, on the same promises of the exercise's README: make the promises hold, \
           not just the visible assertions); clippy warnings, `unsafe` and `unwrap()` outside \
           tests; and what you can explain in the debrief about the choices you made.\n\
         - **Not graded**: formatting, comments beyond what helps a reader, commit history, \
           and speed (unless your interviewer says otherwise).\n",
        title = exercise.meta.title,
    );
    std::fs::write(out.join("README.md"), text)?;
    Ok(())
}

fn service_lines(exercise: &Exercise) -> String {
    if let Some(requires) = &exercise.meta.requires {
        return format!("{requires}\n");
    }
    if exercise.meta.services.is_empty() {
        return "This exercise needs no service: Rust is enough.\n".to_string();
    }
    let names: Vec<String> = exercise
        .meta
        .services
        .iter()
        .filter_map(|key| labkit_locate::Service::from_key(key))
        .map(|s| format!("{} ({})", s.name(), s.default_addr()))
        .collect();
    let needs = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    format!(
        "The tests need {needs}. They find each one by themselves, in this order:\n\n\
         1. a URL you export (`LAB_POSTGRES_URL`, `LAB_REDIS_URL`, `LAB_KAFKA_BROKERS`, \
         `LAB_MYSQL_URL`);\n\
         2. servers started by `cargo lab services up` (with Docker through \
         `docker/compose.yml`, else from binaries on your machine);\n\
         3. a server already on its default local port;\n\
         4. Docker, if it runs: the tests start containers themselves.\n\n\
         `cargo lab services status` shows what the tests will use.\n"
    )
}
