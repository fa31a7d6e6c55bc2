//! `cargo lab` (an alias for `cargo run -p lab --bin lab --`). See `lab::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
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
