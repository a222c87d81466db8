//! CLI modes and their prompts.

use std::fmt;

/// The mode a CLI session is in; it decides which commands are valid and what the prompt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Exec mode, where a session starts: `[local]HOST#`.
    #[default]
    Exec,
    /// Global configuration mode: `[local]HOST(config)#`.
    Config,
    /// The `bulkstats mode` submode: `[local]HOST(config-bulkstats)#`.
    Bulkstats,
    /// The `file N` submode inside bulkstats: `[local]HOST(config-bulkstats-file-N)#`.
    BulkstatsFile(u32),
}

/// A [`Mode`] without its data, as a command table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModeKind {
    /// [`Mode::Exec`].
    Exec,
    /// [`Mode::Config`].
    Config,
    /// [`Mode::Bulkstats`].
    Bulkstats,
    /// [`Mode::BulkstatsFile`], whatever its file number.
    BulkstatsFile,
}

impl ModeKind {
    /// Every configuration mode (all but Exec).
    pub const CONFIG_ALL: &'static [ModeKind] = &[ModeKind::Config, ModeKind::Bulkstats, ModeKind::BulkstatsFile];

    pub(crate) const fn bit(self) -> u8 {
        match self {
            ModeKind::Exec => 1,
            ModeKind::Config => 2,
            ModeKind::Bulkstats => 4,
            ModeKind::BulkstatsFile => 8,
        }
    }
}

impl Mode {
    /// The mode's kind, without the bulkstats file number.
    pub const fn kind(self) -> ModeKind {
        match self {
            Mode::Exec => ModeKind::Exec,
            Mode::Config => ModeKind::Config,
            Mode::Bulkstats => ModeKind::Bulkstats,
            Mode::BulkstatsFile(_) => ModeKind::BulkstatsFile,
        }
    }

    /// True in every configuration mode (all but Exec).
    pub const fn is_config(self) -> bool {
        !matches!(self, Mode::Exec)
    }

    /// The mode `exit` returns to: `None` in Exec (where `exit` ends the session).
    pub const fn parent(self) -> Option<Mode> {
        match self {
            Mode::Exec => None,
            Mode::Config => Some(Mode::Exec),
            Mode::Bulkstats => Some(Mode::Config),
            Mode::BulkstatsFile(_) => Some(Mode::Bulkstats),
        }
    }

    /// The StarOS prompt for this mode, e.g. `[local]asr5500(config)#`.
    pub fn prompt(&self, hostname: &str) -> String {
        format!("[local]{hostname}{self}#")
    }
}

/// The mode's suffix in the prompt: empty for Exec, `(config)`, `(config-bulkstats)`,
/// `(config-bulkstats-file-N)`.
impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Exec => Ok(()),
            Mode::Config => f.write_str("(config)"),
            Mode::Bulkstats => f.write_str("(config-bulkstats)"),
            Mode::BulkstatsFile(n) => write!(f, "(config-bulkstats-file-{n})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert_eq!(Mode::Exec.prompt("asr5500"), "[local]asr5500#");
        assert_eq!(Mode::Config.prompt("asr5500"), "[local]asr5500(config)#");
        assert_eq!(Mode::Bulkstats.prompt("asr5500"), "[local]asr5500(config-bulkstats)#");
        assert_eq!(
            Mode::BulkstatsFile(2).prompt("asr5500"),
            "[local]asr5500(config-bulkstats-file-2)#"
        );
    }

    #[test]
    fn parents() {
        assert_eq!(Mode::Exec.parent(), None);
        assert_eq!(Mode::Config.parent(), Some(Mode::Exec));
        assert_eq!(Mode::Bulkstats.parent(), Some(Mode::Config));
        assert_eq!(Mode::BulkstatsFile(1).parent(), Some(Mode::Bulkstats));
        assert!(!Mode::Exec.is_config());
        assert!(Mode::BulkstatsFile(3).is_config());
        assert_eq!(Mode::BulkstatsFile(3).kind(), ModeKind::BulkstatsFile);
    }
}
