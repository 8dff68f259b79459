//! `nsgflow completions SHELL` and `nsgflow man [--dir DIR]`: shell completions and man
//! pages generated from the same clap definitions as the parser, so they cannot drift. The
//! Debian package and `deploy/build.sh` install their output (hidden from `--help`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Command;
use clap_complete::Shell;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write one page per command (nsgflow.1, nsgflow-tail.1, ...) into DIR instead of
    /// printing nsgflow.1 on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs, mut cmd: Command) -> Result<ExitCode, String> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "nsgflow", &mut out);
    write_stdout(&out)
}

/// Prints the main man page, or writes every command's page into `--dir`.
pub fn man(args: ManArgs, cmd: Command) -> Result<ExitCode, String> {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating the man page folder {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .map_err(|e| format!("writing man pages into {}: {e}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| format!("rendering the man page: {e}"))?;
            write_stdout(&out)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<ExitCode, String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing to stdout: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
