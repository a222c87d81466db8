//! The format language of the `smartlic` schema: `%variable%`, `%%` and literal text, with its
//! limits.

use std::fmt::Write as _;

/// Longest format string, in characters. Like StarOS's schema formats it must fit a CLI line with
/// room to spare, and it keeps a row (one line per mode and service) short enough for line-based
/// collectors; 1000 characters hold every variable of the schema several times over.
pub const MAX_FORMAT_LEN: usize = 1000;
/// Most variables in one format. The schema has 17 variables: 30 allows each once plus repeats
/// (e.g. both `%epochtime%` and `%date% %time%`) while bounding the rendering work per sample
/// (14 rows × schemas × variables).
pub const MAX_VARIABLES: usize = 30;
/// A variable of the `smartlic` schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    /// `current_sl_state`.
    CurrentSlState,
    /// `current_sl_mode`.
    CurrentSlMode,
    /// `total_sl_enabled`.
    TotalSlEnabled,
    /// `total_sl_disabled`.
    TotalSlDisabled,
    /// `mode`.
    Mode,
    /// `tagid`.
    TagId,
    /// `cur_call_policy`.
    CurCallPolicy,
    /// `cur_call_count`.
    CurCallCount,
    /// `max_call_count`.
    MaxCallCount,
    /// `last_lic_count`.
    LastLicCount,
    /// `max_lic_count`.
    MaxLicCount,
    /// `policy_change_block_calls`.
    PolicyChangeBlockCalls,
    /// `epochtime`.
    EpochTime,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `hostname`.
    Hostname,
    /// `service`.
    Service,
}

/// Every variable with its name and a one-line meaning, in the order `show bulkstats variables
/// smartlic` lists them.
pub const VARIABLES: &[(Variable, &str, &str)] = &[
    (
        Variable::CurrentSlState,
        "current_sl_state",
        "State of Smart Licensing: Enabled or Disabled",
    ),
    (
        Variable::CurrentSlMode,
        "current_sl_mode",
        "Current mode of Smart Licensing: Evaluation or Registered",
    ),
    (
        Variable::TotalSlEnabled,
        "total_sl_enabled",
        "Times Smart Licensing has been enabled",
    ),
    (
        Variable::TotalSlDisabled,
        "total_sl_disabled",
        "Times Smart Licensing has been disabled",
    ),
    (
        Variable::Mode,
        "mode",
        "Mode of the row's counters: Evaluation or Registered (one row per mode and service)",
    ),
    (
        Variable::TagId,
        "tagid",
        "Tag id of the row's service type (0 pgw ... 6 samog)",
    ),
    (
        Variable::CurCallPolicy,
        "cur_call_policy",
        "Policy for new sessions of the service: ALLOW or BLOCK (- for the mode not in force)",
    ),
    (
        Variable::CurCallCount,
        "cur_call_count",
        "Sessions of the service now (0 for the mode not in force)",
    ),
    (
        Variable::MaxCallCount,
        "max_call_count",
        "Most sessions of the service seen in this mode",
    ),
    (
        Variable::LastLicCount,
        "last_lic_count",
        "Licence count last reported to the license manager for the service",
    ),
    (
        Variable::MaxLicCount,
        "max_lic_count",
        "Highest licence count reported to the license manager for the service",
    ),
    (
        Variable::PolicyChangeBlockCalls,
        "policy_change_block_calls",
        "Times the service started blocking new sessions for want of licences",
    ),
    (
        Variable::EpochTime,
        "epochtime",
        "Time of the sample, seconds since 1970-01-01 UTC",
    ),
    (Variable::Date, "date", "Date of the sample, YYYYMMDD (UTC)"),
    (Variable::Time, "time", "Time of day of the sample, HHMMSS (UTC)"),
    (Variable::Hostname, "hostname", "Hostname of the product"),
    (
        Variable::Service,
        "service",
        "Service type of the row: pgw saegw ggsn sgw mme epdg samog",
    ),
];

impl Variable {
    /// Looks a variable up by name.
    pub fn from_name(name: &str) -> Option<Variable> {
        VARIABLES.iter().find(|(_, n, _)| *n == name).map(|(v, _, _)| *v)
    }

    /// The variable's name, as written between `%` in a format.
    pub fn name(self) -> &'static str {
        VARIABLES.iter().find(|(v, _, _)| *v == self).map_or("", |(_, n, _)| n)
    }
}

/// A piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Literal text.
    Text(String),
    /// A `%variable%`.
    Var(Variable),
}

/// Why a format is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Empty format.
    #[error("the format is empty")]
    Empty,
    /// Over [`MAX_FORMAT_LEN`].
    #[error("the format is {len} characters long; at most {MAX_FORMAT_LEN} are allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Over [`MAX_VARIABLES`].
    #[error("the format has {count} variables; at most {MAX_VARIABLES} are allowed")]
    TooManyVariables {
        /// How many it has.
        count: usize,
    },
    /// A name that is not a variable of the schema.
    #[error("unknown variable \"%{name}%\" at character {pos} (show bulkstats variables smartlic lists them)")]
    Unknown {
        /// The name.
        name: String,
        /// Character position (1-based) of its `%`.
        pos: usize,
    },
    /// A `%` without its closing `%`.
    #[error(
        "unterminated variable at character {pos}: a '%' opens a variable that must end with '%' (write %% for a percent sign)"
    )]
    Unterminated {
        /// Character position (1-based) of the `%`.
        pos: usize,
    },
    /// A control character (a format is one line).
    #[error("control character at character {pos}: a format is one line of text")]
    Control {
        /// Character position (1-based).
        pos: usize,
    },
}

/// Parses a format: literal text, `%variable%`, and `%%` for a percent sign.
pub fn parse_format(format: &str) -> Result<Vec<Token>, FormatError> {
    let chars: Vec<char> = format.chars().collect();
    if chars.is_empty() {
        return Err(FormatError::Empty);
    }
    if chars.len() > MAX_FORMAT_LEN {
        return Err(FormatError::TooLong { len: chars.len() });
    }
    if let Some(i) = chars.iter().position(|c| c.is_control() && *c != '\t') {
        return Err(FormatError::Control { pos: i + 1 });
    }
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut vars = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            text.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'%') {
            text.push('%');
            i += 2;
            continue;
        }
        let Some(len) = chars[i + 1..].iter().position(|c| *c == '%') else {
            return Err(FormatError::Unterminated { pos: i + 1 });
        };
        let name: String = chars[i + 1..i + 1 + len].iter().collect();
        let var = Variable::from_name(&name).ok_or(FormatError::Unknown { name, pos: i + 1 })?;
        vars += 1;
        if !text.is_empty() {
            tokens.push(Token::Text(std::mem::take(&mut text)));
        }
        tokens.push(Token::Var(var));
        i += len + 2;
    }
    if vars > MAX_VARIABLES {
        return Err(FormatError::TooManyVariables { count: vars });
    }
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    Ok(tokens)
}

/// The written form of parsed tokens, which parses again to the same tokens: `%%` for a percent
/// sign, `%name%` for a variable.
pub fn write_format(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Text(s) => s.replace('%', "%%"),
            Token::Var(v) => format!("%{}%", v.name()),
        })
        .collect()
}

/// `show bulkstats variables smartlic`.
pub fn show_variables() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Bulk statistics variables of the smartlic schema (write them as %name% in a format;"
    );
    let _ = writeln!(
        out,
        "%% is a percent sign; at most {MAX_VARIABLES} variables and {MAX_FORMAT_LEN} characters; one row per mode and service):"
    );
    let _ = writeln!(out);
    for (_, name, meaning) in VARIABLES {
        let _ = writeln!(out, "  {name:<27} {meaning}");
    }
    out
}
