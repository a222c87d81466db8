//! `smartlic completions SHELL` and `smartlic man --out DIR`: shell completion scripts and manual
//! pages, both generated from the same clap definition as `--help`, so they never drift from it.

use anyhow::{Context, Result};
use std::path::Path;

/// Writes the completion script for `shell` to `out`.
pub fn completions(cmd: &mut clap::Command, shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, cmd, "smartlic", out);
}

/// Writes `smartlic.1` and one page per subcommand (`smartlic-account-create.1`, …) into `dir`;
/// returns how many pages were written.
pub fn man_pages(cmd: clap::Command, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("cannot write manual pages into {}", dir.display()))?;
    let pages = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "1"))
        .count();
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Parser)]
    #[command(name = "smartlic")]
    struct Demo {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Subcommand)]
    enum Sub {
        /// Run the license manager.
        Server {
            /// Data directory.
            #[arg(long)]
            data_dir: String,
        },
    }

    #[test]
    fn completion_scripts_name_the_subcommands_and_flags() {
        use clap::CommandFactory;
        let mut out = Vec::new();
        completions(&mut Demo::command(), clap_complete::Shell::Bash, &mut out);
        let script = String::from_utf8(out).expect("UTF-8");
        assert!(script.contains("server") && script.contains("--data-dir"), "{script}");
    }

    #[test]
    fn a_page_per_command() {
        use clap::CommandFactory;
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(man_pages(Demo::command(), dir.path()).expect("pages"), 2);
        let page = std::fs::read_to_string(dir.path().join("smartlic-server.1")).expect("page");
        assert!(page.contains("data\\\\-dir") || page.contains("data\\-dir"), "{page}");
    }
}
