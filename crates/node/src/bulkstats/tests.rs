//! Format, sampling and transfer rules of bulk statistics.

use super::*;
use crate::config::{BulkFile, Bulkstats, Schema};
use proptest::prelude::*;
use smartlic_agent::Mode;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn sample(at: i64, cur: u64) -> Sample {
    let row = |mode, service: &str, tagid, cur| Row {
        mode,
        tagid,
        service: service.into(),
        cur_call_policy: if mode == Mode::Evaluation { "ALLOW" } else { "-" },
        cur_call_count: cur,
        max_call_count: cur,
        last_lic_count: 1,
        max_lic_count: 2,
        policy_change_block_calls: 3,
    };
    Sample {
        at,
        hostname: "asr1".into(),
        sl_state: "Enabled",
        sl_mode: Mode::Evaluation.into(),
        total_sl_enabled: 1,
        total_sl_disabled: 0,
        rows: vec![row(Mode::Evaluation, "pgw", 0, cur), row(Mode::Registered, "pgw", 0, 0)],
    }
}

fn cfg(dir: Option<&Path>, format: &str) -> Bulkstats {
    let mut b = Bulkstats {
        sample_interval: 15,
        transfer_interval: 60,
        files: BTreeMap::new(),
    };
    b.files.insert(
        1,
        BulkFile {
            receiver_dir: dir.map(|d| d.to_string_lossy().to_string()),
            schemas: vec![Schema {
                name: "s1".into(),
                format: format.into(),
            }],
        },
    );
    b
}

#[test]
fn parses_variables_text_and_percent() {
    let t = parse_format("%hostname%,%mode% 100%% %epochtime%").unwrap_or_default();
    assert_eq!(
        t,
        vec![
            Token::Var(Variable::Hostname),
            Token::Text(",".into()),
            Token::Var(Variable::Mode),
            Token::Text(" 100% ".into()),
            Token::Var(Variable::EpochTime),
        ]
    );
    assert!(
        VARIABLES
            .iter()
            .all(|(v, n, _)| parse_format(&format!("%{n}%")) == Ok(vec![Token::Var(*v)]))
    );
}

#[test]
fn refuses_bad_formats_clearly() {
    assert_eq!(
        parse_format("%hostname% %bogus%"),
        Err(FormatError::Unknown {
            name: "bogus".into(),
            pos: 12
        })
    );
    assert_eq!(
        parse_format("%mode% %service"),
        Err(FormatError::Unterminated { pos: 8 })
    );
    assert_eq!(parse_format(""), Err(FormatError::Empty));
    assert_eq!(parse_format("a\nb"), Err(FormatError::Control { pos: 2 }));
    assert_eq!(parse_format(&"x".repeat(1001)), Err(FormatError::TooLong { len: 1001 }));
    assert!(parse_format(&"x".repeat(1000)).is_ok());
    assert_eq!(
        parse_format(&"%mode%".repeat(31)),
        Err(FormatError::TooManyVariables { count: 31 })
    );
    assert!(parse_format(&"%mode%".repeat(30)).is_ok());
    let msg = parse_format("%bogus%").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("unknown variable \"%bogus%\""), "{msg}");
}

#[test]
fn renders_rows() {
    let s = sample(1_798_762_500, 100);
    let t = parse_format("%hostname% %date% %time% %mode% %tagid% %service% %cur_call_policy% %cur_call_count% %max_call_count% %last_lic_count% %max_lic_count% %policy_change_block_calls% %current_sl_state% %current_sl_mode% %total_sl_enabled% %total_sl_disabled% %epochtime%").unwrap_or_default();
    assert_eq!(
        render_row(&t, &s, &s.rows[0]),
        "asr1 20270101 001500 Evaluation 0 pgw ALLOW 100 100 1 2 3 Enabled Evaluation 1 0 1798762500"
    );
    assert_eq!(render_row(&t, &s, &s.rows[1]).split(' ').nth(6), Some("-"));
    let f = BulkFile {
        receiver_dir: None,
        schemas: vec![Schema {
            name: "a".into(),
            format: "%mode%".into(),
        }],
    };
    assert_eq!(
        render_file(&f, &[Arc::new(s.clone()), Arc::new(s)]),
        "Evaluation\nRegistered\nEvaluation\nRegistered\n"
    );
}

#[test]
fn boundaries_follow_a_clock_that_jumps() {
    let mut b = Boundary::default();
    let t0 = 1_798_761_600; // a multiple of 15 minutes
    assert!(!b.crossed(15, t0), "the first look only anchors");
    assert!(!b.crossed(15, t0 + 899));
    assert!(b.crossed(15, t0 + 900));
    assert!(!b.crossed(15, t0 + 901));
    assert!(b.crossed(15, t0 + 100 * 900), "many intervals at once: one crossing");
    assert!(!b.crossed(15, t0), "backwards: none");
    assert!(b.crossed(15, t0 + 900), "counting resumes from the new time");
    assert!(!b.crossed(60, t0 + 3600), "a new interval re-anchors");
    assert_eq!(b.next(), Some(t0 + 7200));
}

#[test]
fn backlog_is_bounded_and_counts_drops() {
    let mut f = FileState::default();
    for i in 0..(MAX_PENDING as i64 + 5) {
        f.push(Arc::new(sample(i, 0)));
    }
    assert_eq!(f.pending.len(), MAX_PENDING);
    assert_eq!(f.dropped, 5);
    assert_eq!(f.pending.front().map(|s| s.at), Some(5), "the oldest go first");
}

#[test]
fn unavailable_receiver_keeps_samples_for_a_later_transfer() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("later");
    let cfg = cfg(Some(&dir), "%hostname% %mode% %service% %cur_call_count%");
    let t0 = 1_798_761_600;
    let mut st = BulkState::default();
    assert!(st.tick(&cfg, t0, "asr1", || sample(t0, 1)).is_empty());
    for k in 1..=4 {
        let now = t0 + k * 900;
        let out = st.tick(&cfg, now, "asr1", || sample(now, k as u64));
        if k < 4 {
            assert!(out.is_empty());
        } else {
            assert!(
                matches!(&out[..], [Transfer::Failed { file: 1, kept: 4, .. }]),
                "{out:?}"
            );
        }
    }
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let now = t0 + 8 * 900;
    let out = st.tick(&cfg, now, "asr1", || sample(now, 8));
    let Some(Transfer::Written { path, samples: 5, .. }) = out.first() else {
        panic!("{out:?}")
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("Evaluation")).collect();
    assert_eq!(
        rows,
        [
            "asr1 Evaluation pgw 1",
            "asr1 Evaluation pgw 2",
            "asr1 Evaluation pgw 3",
            "asr1 Evaluation pgw 4",
            "asr1 Evaluation pgw 8"
        ]
    );
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("asr1_file1_20270101_020000.bulkstats")
    );
    // A second transfer in the same second gets its own file; nothing is replaced.
    st.record(&cfg, sample(now, 9));
    let out = st.transfer(&cfg, now, "asr1");
    let Some(Transfer::Written { path: p2, .. }) = out.first() else {
        panic!("{out:?}")
    };
    assert_ne!(p2, path);
    assert_eq!(
        std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0),
        2,
        "no temporary file left"
    );
}

proptest! {
    #[test]
    fn parser_never_panics(s in any::<String>()) {
        if let Ok(tokens) = parse_format(&s) {
            let vars = tokens.iter().filter(|t| matches!(t, Token::Var(_))).count();
            prop_assert!(vars <= MAX_VARIABLES);
            let smp = sample(0, 0);
            let _ = render_row(&tokens, &smp, &smp.rows[0]);
        }
    }

    #[test]
    fn plain_text_renders_as_itself(s in "[a-zA-Z0-9 ,;:._-]{1,200}") {
        let tokens = parse_format(&s);
        prop_assert!(tokens.is_ok());
        let tokens = tokens.unwrap_or_default();
        let smp = sample(0, 0);
        prop_assert_eq!(render_row(&tokens, &smp, &smp.rows[0]), s);
    }

    #[test]
    fn percent_soup_never_panics(s in "[%a-z_ ]{0,80}") {
        let _ = parse_format(&s);
    }

    /// Any bytes (as the CLI decodes them): accepted formats obey every limit and round-trip
    /// through their written form; refused ones are refused for the first rule they break.
    #[test]
    fn any_bytes_round_trip_or_are_refused_for_a_reason(bytes in format_bytes()) {
        let s = String::from_utf8_lossy(&bytes).into_owned();
        let chars: Vec<char> = s.chars().collect();
        let control = chars.iter().position(|c| c.is_control() && *c != '\t');
        match parse_format(&s) {
            Ok(tokens) => {
                prop_assert!(!chars.is_empty() && chars.len() <= MAX_FORMAT_LEN && control.is_none());
                prop_assert!(!tokens.is_empty());
                let vars = tokens.iter().filter(|t| matches!(t, Token::Var(_))).count();
                prop_assert!(vars <= MAX_VARIABLES);
                // Text is merged: never empty, never two pieces in a row.
                prop_assert!(tokens.iter().all(|t| !matches!(t, Token::Text(x) if x.is_empty())));
                prop_assert!(tokens.windows(2).all(|w| !matches!(w, [Token::Text(_), Token::Text(_)])));
                prop_assert_eq!(parse_format(&write_format(&tokens)), Ok(tokens.clone()));
                let smp = sample(0, 0);
                let _ = render_row(&tokens, &smp, &smp.rows[0]);
            }
            Err(FormatError::Empty) => prop_assert!(chars.is_empty()),
            Err(FormatError::TooLong { len }) => prop_assert!(len == chars.len() && len > MAX_FORMAT_LEN),
            Err(FormatError::Control { pos }) => {
                prop_assert!(chars.len() <= MAX_FORMAT_LEN);
                prop_assert_eq!(Some(pos - 1), control);
            }
            Err(FormatError::Unknown { name, pos }) => {
                prop_assert!(control.is_none() && Variable::from_name(&name).is_none());
                prop_assert_eq!(chars.get(pos - 1), Some(&'%'));
            }
            Err(FormatError::Unterminated { pos }) => {
                prop_assert!(control.is_none());
                prop_assert_eq!(chars.get(pos - 1), Some(&'%'));
                prop_assert!(!chars[pos..].contains(&'%'));
            }
            Err(FormatError::TooManyVariables { count }) => prop_assert!(count > MAX_VARIABLES),
        }
    }

    /// Formats written from known variables, `%%` and plain text are always accepted, with
    /// one variable token per `%name%`.
    #[test]
    fn formats_built_from_the_variables_are_accepted(
        pieces in proptest::collection::vec(
            prop_oneof![
                "[^%\\p{Cc}]{1,12}",
                Just("%%".to_string()),
                proptest::sample::select(VARIABLES.iter().map(|(_, n, _)| format!("%{n}%")).collect::<Vec<_>>()),
            ],
            1..MAX_VARIABLES,
        )
    ) {
        let format: String = pieces.concat();
        prop_assume!(format.chars().count() <= MAX_FORMAT_LEN);
        let tokens = parse_format(&format);
        prop_assert!(tokens.is_ok(), "{format:?}: {tokens:?}");
        let vars = pieces.iter().filter(|p| p.len() > 2 && p.starts_with('%') && p.ends_with('%')).count();
        let got = tokens.map(|t| t.iter().filter(|t| matches!(t, Token::Var(_))).count()).unwrap_or(0);
        prop_assert_eq!(got, vars);
    }
}

/// Bytes of formats: any byte, more often `%`, letters of variable names and whole names.
fn format_bytes() -> impl Strategy<Value = Vec<u8>> {
    let names: Vec<Vec<u8>> = VARIABLES.iter().map(|(_, n, _)| n.as_bytes().to_vec()).collect();
    proptest::collection::vec(
        prop_oneof![
            3 => any::<u8>().prop_map(|b| vec![b]),
            3 => proptest::sample::select(b"%%%_ \t\nabcdehilmnoprstuy".to_vec()).prop_map(|b| vec![b]),
            2 => proptest::sample::select(names),
        ],
        0..120,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn long_formats_of_any_bytes_are_refused_by_length() {
    let s = "%".repeat(MAX_FORMAT_LEN + 1);
    assert_eq!(
        parse_format(&s),
        Err(FormatError::TooLong {
            len: MAX_FORMAT_LEN + 1
        })
    );
}
