//! `cargo lab verify [names] [--changed] [--thorough]`: the honest-tests gate.
//!
//! Without `--changed` every named exercise (default: all) runs the whole matrix.
//! With it, an exercise whose committed record still matches its inputs runs
//! only its skeleton (cheap: CI runs every skeleton on every submission, as it
//! runs every reference through `cargo test`) and the record stands for the
//! reference and the mutants; the others run the whole
//! matrix. Either way the summary names every exercise and how it was judged:
//! nothing is skipped silently.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::exercise::Exercise;
use crate::record::{self, Record, Snapshot, Standing};
use crate::verify::{self, Report, RunSummary};
use crate::workspace::Workspace;

pub(super) fn verify(
    workspace: &Workspace,
    names: &[String],
    options: &verify::Options,
    changed: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let exercises: Vec<Exercise> = if names.is_empty() {
        workspace.exercises()?
    } else {
        names
            .iter()
            .map(|n| workspace.exercise(n))
            .collect::<anyhow::Result<_>>()?
    };
    let spinner = super::spinner("verifying…");
    let log = |line: &str| {
        if spinner.is_hidden() {
            // Not a terminal (CI): plain lines, so a long run is never silent.
            eprintln!("{line}");
        } else {
            spinner.println(line);
            spinner.set_message(line.to_string());
        }
    };
    let mut reports = Vec::new();
    let mut summary = Vec::new();
    for exercise in &exercises {
        let started = Instant::now();
        let (report, how) = if changed {
            changed_one(workspace, exercise, options, &log)?
        } else {
            let before = Snapshot::take(workspace, exercise)?;
            let mut report = verify::verify(workspace, exercise, options, &log)?;
            let how = full_run_note(workspace, exercise, &before, &mut report, options)?;
            (report, how)
        };
        summary.push(format!(
            "  {}: {how} [{}]",
            exercise.name,
            duration(started.elapsed())
        ));
        reports.push(report);
    }
    spinner.finish_and_clear();
    write!(out, "{}", verify::render(&reports))?;
    writeln!(out, "\nHow each exercise was judged:")?;
    for line in summary {
        writeln!(out, "{line}")?;
    }
    if reports.iter().all(Report::ok) {
        writeln!(out, "\nNo holes.")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "\nHoles found: the tests cannot be trusted until they are fixed."
        )?;
        Ok(ExitCode::FAILURE)
    }
}

/// `--changed` for one exercise: the record stands, or the matrix runs.
fn changed_one(
    workspace: &Workspace,
    exercise: &Exercise,
    options: &verify::Options,
    log: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<(Report, String)> {
    let shown = shown_record_path(workspace, exercise);
    let (why, standing_hole) = match record::standing(workspace, exercise)? {
        Standing::Current(record) => {
            log(&format!(
                "{}: inputs match its record ({}); running the skeleton only",
                exercise.name,
                record.summary()
            ));
            let mut report = recorded_report(&record);
            verify::skeleton_phase(workspace, exercise, &record.tests, &mut report)?;
            let how = format!(
                "{}; inputs unchanged, so no mutant ran (skeleton run now)",
                record.summary()
            );
            return Ok((report, how));
        }
        Standing::Stale { recorded, now } => (
            format!(
                "inputs changed since its record ({} there, {} now)",
                short_hash(&recorded),
                short_hash(&now)
            ),
            None,
        ),
        Standing::Missing => (
            format!("no record at {shown}"),
            Some(format!(
                "{shown} is missing: every exercise keeps a committed verify record"
            )),
        ),
        Standing::Unreadable(e) => (
            format!("its record cannot be read: {e}"),
            Some(format!("{shown} is not a verify record: {e}")),
        ),
    };
    // A record written with --thorough stays thorough: grade's diagnosis
    // ranks by each mutant's whole failing set, and a default run would
    // quietly replace it with the named tests only.
    let was_thorough = Record::load(&exercise.record_path()).is_ok_and(|r| r.thorough);
    let options = &verify::Options {
        thorough: options.thorough || was_thorough,
        ..options.clone()
    };
    log(&format!(
        "{}: {why}; verifying now{}",
        exercise.name,
        if was_thorough {
            " (--thorough, as its record was)"
        } else {
            ""
        }
    ));
    let before = Snapshot::take(workspace, exercise)?;
    let mut report = verify::verify(workspace, exercise, options, log)?;
    let how = format!(
        "{why}: verified now; {}",
        full_run_note(workspace, exercise, &before, &mut report, options)?
    );
    if let Some(hole) = standing_hole {
        report.holes.push(hole);
    }
    Ok((report, how))
}

/// After a full matrix run: write the record when it may stand, and say so.
fn full_run_note(
    workspace: &Workspace,
    exercise: &Exercise,
    before: &Snapshot,
    report: &mut Report,
    options: &verify::Options,
) -> anyhow::Result<String> {
    let path = exercise.record_path();
    let shown = shown_record_path(workspace, exercise);
    if !report.ok() {
        return Ok("holes found, so no record was written".into());
    }
    if !options.runs_every_mutant() {
        return Ok("a partial run (--skip-mutants or --mutant) writes no record".into());
    }
    match Record::of(workspace, exercise, before, report) {
        Ok(record) => {
            record.save(&path)?;
            Ok(format!("record written to {shown} (commit it)"))
        }
        Err(e) => {
            report.holes.push(format!("{e:#}"));
            Ok("no record written".into())
        }
    }
}

/// A report whose reference and mutant figures come from the record.
fn recorded_report(record: &Record) -> Report {
    Report {
        exercise: record.exercise.clone(),
        reference: RunSummary {
            total: record.tests.len(),
            passed: record.reference_passed,
            failed: record.tests.len().saturating_sub(record.reference_passed),
            build_failed: false,
        },
        tests: record.tests.clone(),
        mutants: record.mutant_results(),
        mutants_recorded: Some(record.summary()),
        thorough: record.thorough,
        ..Report::default()
    }
}

/// The record's path as the user sees it: relative to the lab's root.
fn shown_record_path(workspace: &Workspace, exercise: &Exercise) -> String {
    let path = exercise.record_path();
    path.strip_prefix(&workspace.root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

fn short_hash(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    hex.get(..12).unwrap_or(hex)
}

fn duration(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}.{}s", secs, elapsed.subsec_millis() / 100)
    }
}
