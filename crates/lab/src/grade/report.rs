//! A grade as Markdown (for reading and pasting), JSON (for an ATS or a
//! spreadsheet: the [`super::Grade`] struct, field for field) and a
//! self-contained HTML page (inline style, no external reference: it opens from
//! disk and can be mailed as one file).

use super::Grade;

pub fn json(grade: &Grade) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(grade)?)
}

pub fn markdown(grade: &Grade) -> String {
    let mut text = format!("# Grade: {} — {}\n\n", grade.exercise, grade.submission);
    if let Some(why) = &grade.refused {
        text.push_str(&format!("**Refused, nothing ran:** {why}.\n"));
        return text;
    }
    if !grade.built {
        text.push_str("**The submission does not build.** Every test counts as failed.\n\n");
        if let Some(errors) = &grade.compiler_errors {
            text.push_str(&format!("```text\n{errors}\n```\n\n"));
        }
    }
    text.push_str("## Steps\n\n| step | visible | hidden | rating |\n|---|---|---|---|\n");
    for s in &grade.steps {
        text.push_str(&format!(
            "| {} {} | {}/{} | {}/{} | **{}** |\n",
            s.step,
            s.title,
            s.visible.passed,
            s.visible.total,
            s.hidden.passed,
            s.hidden.total,
            s.rating.label()
        ));
    }
    if !grade.finished && grade.built {
        text.push_str(
            "\n**A suite did not finish** (it hung or crashed: see What ran). Its tests that \
             never reported count as failed, and name no mistake.\n",
        );
    }
    text.push_str(&format!("\nVerify record: {}.\n", grade.record));
    text.push_str("\nRatings: ");
    let anchors: Vec<String> = [
        super::Rating::Strong,
        super::Rating::LeaningStrong,
        super::Rating::NeedsImprovement,
        super::Rating::Poor,
    ]
    .iter()
    .map(|r| format!("**{}**: {}", r.label(), r.anchor()))
    .collect();
    text.push_str(&anchors.join("; "));
    text.push_str(".\n\n## Diagnosis\n\n");
    if grade.diagnosis.is_empty() {
        text.push_str("No known mistake matches the failures.\n");
    }
    for d in &grade.diagnosis {
        let alike = if d.alike.is_empty() {
            String::new()
        } else {
            format!(
                " The tests cannot tell it from {}: read the code to see which.",
                d.alike
                    .iter()
                    .map(|m| format!("`{}` ({})", m.mutant, m.mistake))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        text.push_str(&format!(
            "- **behaves like `{}`** (step {}): {} — fails the {} test(s) that catch it \
             ({:.0}% of the failures here): {}. See {}.{alike}\n",
            d.mutant,
            d.step,
            d.mistake,
            d.tests.len(),
            d.closeness * 100.0,
            d.tests.join(", "),
            d.readme
        ));
    }
    text.push_str(&rubric(grade));
    text.push_str(&format!(
        "\n## Code signals\n\n- lines with `unsafe`: {}\n- `.unwrap()` outside test modules: {}\n",
        grade.signals.unsafe_lines, grade.signals.unwraps
    ));
    match &grade.signals.clippy {
        Some(lints) if lints.is_empty() => text.push_str("- clippy warnings: 0\n"),
        Some(lints) => text.push_str(&format!(
            "- clippy warnings: {} ({})\n",
            lints.values().sum::<usize>(),
            lints
                .iter()
                .map(|(lint, n)| format!("`{lint}` ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => text.push_str(
            "- clippy warnings: not counted (--no-clippy, a submission that does not build, \
             or clippy failing: see What ran)\n",
        ),
    }
    for c in &grade.signals.changes {
        text.push_str(&format!("- {}: +{} −{}\n", c.file, c.added, c.removed));
    }
    text.push_str(&bench(grade));
    if !grade.follow_ups.is_empty() {
        text.push_str("\n## For the debrief\n\n");
        for q in &grade.follow_ups {
            text.push_str(&format!("- {} ({})\n", q.question, q.why));
        }
    }
    text.push_str("\n## What ran\n\n");
    for r in &grade.ran {
        text.push_str(&format!(
            "- {}: `{}`, bounded at {} s, took {:.1} s: {}\n",
            r.what, r.command, r.timeout_secs, r.elapsed_secs, r.outcome
        ));
    }
    text
}

/// Each step's rubric at its rating, and what strong would have been.
fn rubric(grade: &Grade) -> String {
    let mut text = String::new();
    for s in grade.steps.iter().filter(|s| s.looks_like.is_some()) {
        if text.is_empty() {
            text.push_str("\n## Rubric\n\n");
        }
        text.push_str(&format!(
            "- step {} **{}**: {}\n",
            s.step,
            s.rating.label(),
            s.looks_like.as_deref().unwrap_or_default()
        ));
        if let Some(strong) = &s.strong_looks_like {
            text.push_str(&format!("- step {} strong would be: {strong}\n", s.step));
        }
    }
    text
}

/// The benches side by side, or why there are none.
fn bench(grade: &Grade) -> String {
    let Some(comparison) = &grade.bench else {
        return match &grade.bench_skipped {
            Some(why) => format!("\n## Benches\n\nNot run: {why}.\n"),
            None => String::new(),
        };
    };
    let mut text = String::from(
        "\n## Benches (same run, same machine: read the ratio)\n\n\
         | benchmark | reference | submission | ratio |\n|---|---|---|---|\n",
    );
    let show = |ns: Option<f64>| ns.map_or("—".to_string(), human);
    for row in &comparison.rows {
        text.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            row.id,
            show(row.reference_ns),
            show(row.submission_ns),
            row.ratio.map_or("—".to_string(), |r| format!("{r:.2}×"))
        ));
    }
    if let Some(mean) = comparison.mean_ratio {
        text.push_str(&format!(
            "\nGeometric mean of the ratios: **{mean:.2}×** (above 1: the submission is slower). \
             A peer library benched in both runs shows the run's noise.\n"
        ));
    }
    text
}

/// A duration in the unit criterion would use.
fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The Markdown's content as one HTML page: headings, tables and lists only.
pub fn html(grade: &Grade) -> String {
    let mut body = String::new();
    let mut in_list = false;
    let mut in_table = false;
    let mut in_code = false;
    for line in markdown(grade).lines() {
        if line.starts_with("```") {
            body.push_str(if in_code { "</pre>\n" } else { "<pre>" });
            in_code = !in_code;
            continue;
        }
        if in_code {
            body.push_str(&escape(line));
            body.push('\n');
            continue;
        }
        if in_list && !line.starts_with("- ") {
            body.push_str("</ul>\n");
            in_list = false;
        }
        if in_table && !line.starts_with('|') {
            body.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("# ") {
            body.push_str(&format!("<h1>{}</h1>\n", inline(h)));
        } else if let Some(h) = line.strip_prefix("## ") {
            body.push_str(&format!("<h2>{}</h2>\n", inline(h)));
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                body.push_str("<ul>\n");
                in_list = true;
            }
            body.push_str(&format!("<li>{}</li>\n", inline(item)));
        } else if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                body.push_str("<table>\n");
                in_table = true;
            }
            let row: String = cells
                .iter()
                .map(|c| {
                    // Only a rating colours its cell: other cells can hold text
                    // the submission wrote (a bench id), never put in an attribute.
                    let rating = c.trim_matches('*');
                    let class = match rating {
                        "strong" | "leaning strong" | "needs improvement" | "poor" => {
                            format!(" class=\"{}\"", rating.replace(' ', "-"))
                        }
                        _ => String::new(),
                    };
                    format!("<{tag}{class}>{}</{tag}>", inline(c))
                })
                .collect();
            body.push_str(&format!("<tr>{row}</tr>\n"));
        } else if !line.trim().is_empty() {
            body.push_str(&format!("<p>{}</p>\n", inline(line)));
        }
    }
    if in_list {
        body.push_str("</ul>\n");
    }
    if in_table {
        body.push_str("</table>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Grade: {}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(&grade.exercise)
    )
}

/// `**bold**` and `` `code` `` of the Markdown, escaped. Bold may span code.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
            continue;
        }
        for (j, piece) in part.split("**").enumerate() {
            if j > 0 {
                out.push_str(if bold { "</strong>" } else { "<strong>" });
                bold = !bold;
            }
            out.push_str(piece);
        }
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}\
th{background:#f3f3f3}code,pre{font-family:ui-monospace,monospace;background:#f6f6f6}pre{padding:.6rem;overflow:auto}\
td.strong{background:#d8f5d0}td.leaning-strong{background:#eef8c8}td.needs-improvement{background:#fdebc8}td.poor{background:#f8d4d4}";

#[cfg(test)]
mod tests {
    use super::*;

    /// Bold and code nest the way the Markdown writes them, and text is escaped.
    #[test]
    fn inline_markup_spans_code_and_escapes() {
        assert_eq!(
            inline("**behaves like `x<y`** (step 3): a & b"),
            "<strong>behaves like <code>x&lt;y</code></strong> (step 3): a &amp; b"
        );
    }
}
