//! The exercise's criterion benches on the submission and on the reference,
//! one after the other in the same grade, on the same machine: only the ratio
//! means anything. A peer both benches measure the same way (governor in
//! rate_limiter's) should come out near 1.0, and shows the run's noise.

use std::time::Instant;

use serde::Serialize;

use super::{Options, Ran};
use crate::exercise::Exercise;
use crate::workspace::Workspace;

/// One benchmark id, measured on both.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub id: String,
    /// Criterion's estimate (the middle of its interval), in nanoseconds.
    pub reference_ns: Option<f64>,
    pub submission_ns: Option<f64>,
    /// submission / reference: above 1.0 the submission is slower.
    pub ratio: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// The geometric mean of the ratios, when every id has one.
    pub mean_ratio: Option<f64>,
}

/// Bench targets of the exercise (`[[bench]]` in its manifest), and whether it
/// has a `bench` feature their dependencies sit behind.
fn targets(exercise: &Exercise) -> (Vec<String>, bool) {
    let Ok(text) = std::fs::read_to_string(exercise.dir.join("Cargo.toml")) else {
        return (Vec::new(), false);
    };
    let Ok(manifest) = toml::from_str::<toml::Table>(&text) else {
        return (Vec::new(), false);
    };
    let names = manifest
        .get("bench")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name")?.as_str().map(str::to_string))
        .collect();
    let feature = manifest
        .get("features")
        .and_then(|f| f.get("bench"))
        .is_some();
    (names, feature)
}

/// Whether the exercise has benches to compare.
pub fn available(exercise: &Exercise) -> bool {
    !targets(exercise).0.is_empty()
}

/// Run the reference's benches, then the submission's, each bounded; compare.
pub fn compare(
    copy: &Workspace,
    exercise: &Exercise,
    options: &Options,
) -> (Option<Comparison>, Vec<Ran>) {
    let (names, feature) = targets(exercise);
    let mut ran = Vec::new();
    let mut measured = Vec::new();
    for (what, package) in [
        ("reference", exercise.solution_package()),
        ("submission", exercise.package().to_string()),
    ] {
        let mut args: Vec<String> = vec!["bench".into(), "--package".into(), package];
        if feature {
            args.extend(["--features".into(), "bench".into()]);
        }
        for name in &names {
            args.extend(["--bench".into(), name.clone()]);
        }
        args.extend([
            "--".into(),
            "--noplot".into(),
            "--color".into(),
            "never".into(),
        ]);
        let started = Instant::now();
        let output = copy.cargo_bounded(&args, options.timeout);
        let (estimates, outcome) = match output {
            Ok(o) if o.timed_out => (
                Vec::new(),
                format!("stopped after {}s", options.timeout.as_secs()),
            ),
            Ok(o) => {
                let estimates = parse(&o.stdout);
                let outcome = if o.success {
                    format!("{} benchmark(s)", estimates.len())
                } else {
                    format!(
                        "failed after {} benchmark(s): {}",
                        estimates.len(),
                        o.stderr_tail(3)
                    )
                };
                (estimates, outcome)
            }
            Err(e) => (Vec::new(), format!("could not run: {e}")),
        };
        ran.push(Ran {
            what: format!("benches, {what}"),
            command: format!("cargo {} (in the scratch copy)", args.join(" ")),
            timeout_secs: options.timeout.as_secs(),
            elapsed_secs: started.elapsed().as_secs_f64(),
            outcome,
        });
        measured.push(estimates);
    }
    let submission = measured.pop().unwrap_or_default();
    let reference = measured.pop().unwrap_or_default();
    (combine(&reference, &submission), ran)
}

/// Pair the two runs' estimates by id, in the reference's order.
pub fn combine(reference: &[(String, f64)], submission: &[(String, f64)]) -> Option<Comparison> {
    if reference.is_empty() && submission.is_empty() {
        return None;
    }
    let mut rows: Vec<Row> = reference
        .iter()
        .map(|(id, ns)| {
            let theirs = submission.iter().find(|(i, _)| i == id).map(|(_, t)| *t);
            Row {
                id: id.clone(),
                reference_ns: Some(*ns),
                submission_ns: theirs,
                ratio: theirs.map(|t| t / ns),
            }
        })
        .collect();
    for (id, ns) in submission {
        if !rows.iter().any(|r| &r.id == id) {
            rows.push(Row {
                id: id.clone(),
                reference_ns: None,
                submission_ns: Some(*ns),
                ratio: None,
            });
        }
    }
    let ratios: Vec<f64> = rows.iter().filter_map(|r| r.ratio).collect();
    let mean_ratio = (ratios.len() == rows.len() && !ratios.is_empty())
        .then(|| (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp());
    Some(Comparison { rows, mean_ratio })
}

/// Criterion's report lines: `id  time: [low mid high]`, the id on the line
/// itself or, when it is long, on the line before.
pub fn parse(stdout: &str) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    let mut last_id = String::new();
    for line in stdout.lines() {
        match line.split_once("time:") {
            Some((id, values)) => {
                let id = id.trim();
                let id = if id.is_empty() { last_id.as_str() } else { id };
                if let Some(ns) = middle_estimate(values)
                    && !id.is_empty()
                {
                    found.push((id.to_string(), ns));
                }
            }
            None if !line.starts_with(char::is_whitespace) && !line.trim().is_empty() => {
                last_id = line.trim().to_string();
            }
            None => {}
        }
    }
    found
}

/// `[41.38 ns 41.57 ns 41.77 ns]` → 41.57, in nanoseconds.
fn middle_estimate(values: &str) -> Option<f64> {
    let inside = values.trim().strip_prefix('[')?.split(']').next()?;
    let parts: Vec<&str> = inside.split_whitespace().collect();
    let (value, unit) = (parts.get(2)?, parts.get(3)?);
    let scale = match *unit {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some(value.parse::<f64>().ok()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids on their own line or beside the time, every unit, and the noise
    /// criterion prints around them (outliers, changes, throughput).
    #[test]
    fn criterion_reports_are_read_by_id_in_nanoseconds() {
        let out = "\
in_memory/ours          time:   [41.384 ns 41.570 ns 41.773 ns]
                        thrpt:  [23.939 Melem/s 24.056 Melem/s 24.164 Melem/s]
Found 3 outliers among 100 measurements (3.00%)
  2 (2.00%) high mild
redis/ours/concurrent_clients/64
                        time:   [1.2000 ms 1.5000 ms 1.9000 ms]
                        change: [-2.1% +0.4% +3.0%] (p = 0.71 > 0.05)
slow                    time:   [2.0 s 2.5 s 3.0 s]
tiny                    time:   [900.0 ps 500.0 ps 990.0 ps]
micro                   time:   [1.0 µs 2.0 µs 3.0 µs]
";
        assert_eq!(
            parse(out),
            vec![
                ("in_memory/ours".to_string(), 41.570),
                ("redis/ours/concurrent_clients/64".to_string(), 1.5e6),
                ("slow".to_string(), 2.5e9),
                ("tiny".to_string(), 0.5),
                ("micro".to_string(), 2000.0),
            ]
        );
    }

    /// Ratios are submission over reference; the mean is geometric and only
    /// given when every id was measured on both.
    #[test]
    fn the_comparison_pairs_ids_and_means_their_ratios() {
        let reference = vec![("a".to_string(), 10.0), ("b".to_string(), 100.0)];
        let both = combine(
            &reference,
            &[("b".to_string(), 400.0), ("a".to_string(), 10.0)],
        )
        .unwrap();
        assert_eq!(both.rows[0].ratio, Some(1.0));
        assert_eq!(both.rows[1].ratio, Some(4.0));
        assert!((both.mean_ratio.unwrap() - 2.0).abs() < 1e-9);
        let partial = combine(&reference, &[("a".to_string(), 20.0)]).unwrap();
        assert_eq!(partial.rows[1].ratio, None);
        assert_eq!(partial.mean_ratio, None);
        assert!(combine(&[], &[]).is_none());
    }
}
