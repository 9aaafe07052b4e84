//! `wildnet completions SHELL`: the shell completion script, generated
//! from the command-line definition itself (`clap_complete`), so it never
//! falls behind the commands and flags.

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Flags of `wildnet completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

/// Writes the script to stdout.
pub fn run(a: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "wildnet", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each shell's script names the subcommands and their flags.
    #[test]
    fn every_shell_gets_a_script_with_the_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut crate::Cli::command(), "wildnet", &mut out);
            let text = String::from_utf8(out).expect("utf-8");
            for word in ["publish", "status", "admin", "max-row-bytes", "format"] {
                assert!(text.contains(word), "{shell}: no {word}");
            }
        }
    }
}
