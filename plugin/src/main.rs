//! The `nsgflow` command: clap types and one error-to-exit-code path; the commands live in
//! [`cli`], the work in the library.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "nsgflow",
    // The version and the commit it was built from (build.rs), e.g. `0.1.0 (commit 3072372c1a2b)`.
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("NSGFLOW_COMMIT"), ")"),
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
    /// Propose least-privilege NSG rules from observed traffic (text, json, az, bicep, terraform).
    Harden(cli::harden::HardenArgs),
    /// One self-contained HTML dashboard (Traffic Analytics' views) from flow logs.
    Report(cli::report::ReportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(hide = true)]
    Completions(cli::generate::CompletionsArgs),
    /// Print the man page, or write one per command with --dir.
    #[command(hide = true)]
    Man(cli::generate::ManArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Process(args) => cli::process::run(args),
        Command::Tail(args) => cli::tail::run(args),
        Command::Harden(args) => cli::harden::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Completions(args) => cli::generate::completions(args, Cli::command()),
        Command::Man(args) => cli::generate::man(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("nsgflow: error: {message}");
            ExitCode::from(1)
        }
    }
}
