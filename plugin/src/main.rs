//! The `nsgflow` command: clap types and one error-to-exit-code path; the commands live in
//! [`cli`], the work in the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "nsgflow",
    version,
    about = "Azure NSG and VNet flow logs to one labelled event per flow, for any SIEM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Explode flow-log blobs, records or NDJSON into one event per flow tuple.
    Process(cli::process::ProcessArgs),
    /// Read flow logs straight from Azure Blob Storage, only the new blocks of each blob.
    Tail(cli::tail::TailArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Process(args) => cli::process::run(args),
        Command::Tail(args) => cli::tail::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("nsgflow: error: {message}");
            ExitCode::from(1)
        }
    }
}
