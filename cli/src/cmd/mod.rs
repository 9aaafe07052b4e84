//! One module per group of subcommands.

pub mod admin;
pub mod alerts;
pub mod bench;
pub mod completions;
pub mod correlate;
pub mod deconflict;
pub mod export;
pub mod demo;
pub mod federation;
pub mod generate;
pub mod import;
pub mod init;
pub mod maintain;
pub mod op;
pub mod publish;
pub mod read;
pub mod simulate;
pub mod status;
