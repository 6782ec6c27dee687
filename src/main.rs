//! The `latent-explorer` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use latent_explorer::cli::{self, Cli};

/// Tensors of tens of megabytes come and go every training step; mimalloc reuses their pages
/// where the system allocator returns them to the kernel and faults them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints help and version to stdout with success, and usage errors to stderr.
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    cli::init_logging();

    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
