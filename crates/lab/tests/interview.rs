//! `cargo lab interview` on the tiny lab, driven through its event channel: the
//! time box ends the session, the debrief's answers land in the transcript,
//! and the attempt is graded.

#[path = "../../../tests/support/fixture.rs"]
mod fixture;

use std::sync::mpsc;
use std::time::Duration;

use fixture::{REFERENCE, Shared, TinyLab};
use lab::cli::interview::run;
use lab::cli::watch::Event;
use lab::interview::What;
use lab::workspace::Workspace;

/// A finished step, a hint taken, the time box running out: the transcript
/// has each with its step, the debrief asks the finished step's deeper
/// question first and keeps the answer typed (and a skipped one as empty),
/// and the grade of the attempt follows.
#[test]
fn an_interview_ends_on_time_keeps_the_answers_and_grades_the_attempt() {
    let lab_dir = TinyLab::new("interview");
    lab_dir.write("exercises/adder/src/lib.rs", REFERENCE);
    let workspace = Workspace::at(&lab_dir.root)
        .expect("the fixture is a lab")
        .with_target_dir(Some(lab_dir.target_dir()))
        .with_state_path(Some(lab_dir.state_file()))
        .with_verify_dir(Some(lab_dir.verify_dir()));

    let (tx, rx) = mpsc::channel();
    // Queued before the first run ends: shown after it, before the time is up.
    tx.send(Event::Hint).expect("the channel is open");
    let out = Shared::default();
    let mut session_out = out.clone();
    let timer = tx.clone();
    let grading = lab::grade::Options {
        timeout: Duration::from_secs(120),
        bench: false,
        clippy: false,
        ..Default::default()
    };
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let transcript = run(
            &workspace,
            "adder",
            Some(0.05),
            &rx,
            timer,
            Some(grading),
            &mut session_out,
        );
        let _ = done_tx.send(transcript);
    });

    out.wait_for("Time is up.", Duration::from_secs(240));
    out.wait_for(
        "Question 1/2: What should happen when the sum overflows?",
        Duration::from_secs(10),
    );
    assert!(
        out.text().contains("(step 1 passes: to go deeper)"),
        "{}",
        out.text()
    );
    tx.send(Event::Line(
        "It wraps in release builds; checked_add says so.".into(),
    ))
    .expect("the interview listens");
    out.wait_for("Question 2/2: What would change", Duration::from_secs(10));
    // An empty line skips the question.
    tx.send(Event::Rerun).expect("the interview listens");
    let transcript = done
        .recv_timeout(Duration::from_secs(240))
        .expect("the interview ends once graded")
        .expect("the interview runs");

    let text = out.text();
    assert!(
        text.contains("a mock Warm-up round, 0.05 minutes"),
        "{text}"
    );
    assert!(text.contains("time left: "), "{text}");
    assert!(text.contains("# Grade: adder"), "{text}");
    assert!(text.contains("**strong**"), "{text}");
    assert_eq!(transcript.ended, "time is up");
    let whats: Vec<(u32, &What)> = transcript
        .entries
        .iter()
        .map(|e| (e.step, &e.what))
        .collect();
    assert_eq!(
        whats,
        vec![
            (
                1,
                &What::Ran {
                    passed: 2,
                    total: 2
                }
            ),
            (1, &What::StepDone),
            (1, &What::Hint)
        ]
    );
    assert_eq!(
        transcript.answers[0].answer,
        "It wraps in release builds; checked_add says so."
    );
    assert_eq!(transcript.answers[1].answer, "", "a skipped question");

    // Written as it went, and once more at the end.
    let md = transcript.markdown_path().expect("the transcript is kept");
    let written = std::fs::read_to_string(&md).expect("a Markdown transcript");
    assert!(
        written.contains("| 1 | ") && written.contains("checked_add says so."),
        "{written}"
    );
    assert!(md.with_extension("json").is_file());
}
