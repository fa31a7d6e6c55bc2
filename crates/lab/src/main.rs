//! `cargo lab` (an alias for `cargo run -p lab --bin lab --`). See `lab::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Ctrl-C reaches the lab, not the test run (it has a process group of its
    // own so that a timeout can kill all of it): pass it on, then leave as an
    // interrupted program does (128 + SIGINT).
    let _ = ctrlc::set_handler(|| {
        lab::cargo::stop_running_tests();
        std::process::exit(130);
    });
    let mut stdout = std::io::stdout();
    match lab::cli::run(std::env::args_os(), &mut stdout) {
        Ok(code) => code,
        Err(e) => {
            // clap's own help and usage errors arrive here already formatted.
            eprintln!("{e:#}");
            ExitCode::from(2)
        }
    }
}
