//! Engine tests against the node's command table and small custom tables.

use proptest::prelude::*;

use super::*;

fn cli() -> &'static Grammar {
    Grammar::standard()
}

fn parse(mode: Mode, line: &str) -> Parsed {
    match cli().parse(mode, line) {
        Ok(Some(parsed)) => parsed,
        other => panic!("{line:?} in {mode:?}: {other:?}"),
    }
}

fn error(mode: Mode, line: &str) -> CliError {
    match cli().parse(mode, line) {
        Err(e) => e,
        other => panic!("{line:?} in {mode:?} should fail: {other:?}"),
    }
}

/// A command of a custom table: no help texts, no filters, not hidden, no `do`.
const fn custom(id: CommandId, modes: &'static [ModeKind], pattern: &'static str) -> CommandSpec {
    CommandSpec {
        id,
        modes,
        pattern,
        help: &[],
        pipe: false,
        hidden: false,
        doable: false,
    }
}

/// Asserts that `line` typed in `mode` runs `id`.
fn reads_as(mode: Mode, line: &str, id: CommandId) {
    assert_eq!(parse(mode, line).id, id, "{line:?} in {mode:?}");
}

/// Asserts that `line` typed in `mode` gives its argument `name` the value `value`.
fn reads_arg(mode: Mode, line: &str, name: &str, value: &str) {
    assert_eq!(parse(mode, line).arg(name), Some(value), "{line:?} in {mode:?}");
}

/// Asserts that `line` typed in `mode` is refused with `message`.
fn refuses(mode: Mode, line: &str, message: &str) {
    assert_eq!(error(mode, line).to_string(), message, "{line:?} in {mode:?}");
}

fn help_words(mode: Mode, line: &str) -> Vec<String> {
    match cli().help(mode, line) {
        Ok(items) => items.into_iter().map(|i| i.word).collect(),
        Err(e) => panic!("help {line:?}: {e}"),
    }
}

fn completions(mode: Mode, line: &str) -> (usize, Vec<String>) {
    let c = cli().complete(mode, line);
    (c.start, c.candidates)
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

// ----- abbreviations and exact matches -----

#[test]
fn full_and_abbreviated_keywords() {
    for line in [
        "show license status",
        "sh lic stat",
        "SH LIC STATUS",
        "  show   license   status  ",
        "sho licen status",
    ] {
        assert_eq!(parse(Mode::Exec, line).id, CommandId::ShowLicenseStatus, "{line}");
    }
    reads_as(Mode::Exec, "sh lic stati", CommandId::ShowLicenseStatistics);
    // `stat` is the priority abbreviation of `status`; shorter ones stay ambiguous.
    reads_as(Mode::Exec, "sh lic statu", CommandId::ShowLicenseStatus);
    assert!(matches!(error(Mode::Exec, "sh lic sta"), CliError::Ambiguous { .. }));
    reads_as(Mode::Exec, "sh lic su", CommandId::ShowLicenseSummary);
    reads_as(Mode::Exec, "sh lic enf p", CommandId::ShowLicenseEnforcementPolicy);
    reads_as(Mode::Exec, "sh lic ev", CommandId::ShowLicenseEvalPeriod);
    reads_as(Mode::Exec, "sh lic t", CommandId::ShowLicenseTechSupport);
    reads_arg(Mode::Exec, "lic sm reg id TOKEN-abc", "token", "TOKEN-abc");
    reads_as(Mode::Exec, "license smart renew id", CommandId::LicenseSmartRenewId);
    reads_as(Mode::Exec, "lic sm ren a", CommandId::LicenseSmartRenewAuth);
    reads_as(Mode::Exec, "lic sm dereg", CommandId::LicenseSmartDeregister);
}

#[test]
fn config_is_an_exact_alias_and_conf_means_configure() {
    for line in ["configure", "config", "conf", "CONFIG", "configu"] {
        assert_eq!(parse(Mode::Exec, line).id, CommandId::Configure, "{line}");
    }
    // The alias is never offered.
    assert_eq!(help_words(Mode::Exec, "conf"), ["configure"]);
    assert_eq!(completions(Mode::Exec, "config"), (0, strings(&["configure"])));
}

#[test]
fn ambiguous_prefixes_list_the_candidates() {
    let e = error(Mode::Exec, "c");
    assert_eq!(
        e.to_string(),
        r#"Invalid command: ambiguous "c": configure, card, crypto, calls"#
    );
    let e = error(Mode::Exec, "show license s");
    assert_eq!(
        e,
        CliError::Ambiguous {
            column: 13,
            word: "s".into(),
            candidates: strings(&["smart-tags", "statistics", "status", "summary"]),
        }
    );
    let e = error(Mode::Config, "e");
    assert_eq!(e.to_string(), r#"Invalid command: ambiguous "e": end, exit"#);
    // Choices are abbreviated like keywords.
    let e = error(Mode::Exec, "calls connect s 5");
    assert_eq!(e.to_string(), r#"Invalid command: ambiguous "s": saegw, sgw, samog"#);
}

#[test]
fn unknown_words_point_at_the_marker() {
    let e = error(Mode::Exec, "show licence status");
    assert_eq!(e.to_string(), "Invalid command at '^' marker.");
    assert_eq!(e.column(), 5);
    assert_eq!(e.caret_line(16), format!("{}^", " ".repeat(21)));
    // An extra word.
    let e = error(Mode::Exec, "show license status now");
    assert_eq!(
        (e.column(), e.to_string().as_str()),
        (20, "Invalid command at '^' marker.")
    );
    // A command of another mode.
    assert!(matches!(
        error(Mode::Exec, "feature X"),
        CliError::Unknown { column: 0, .. }
    ));
    assert!(matches!(
        error(Mode::Config, "calls connect pgw 1"),
        CliError::Unknown { column: 0, .. }
    ));
}

#[test]
fn incomplete_commands_say_what_is_expected() {
    refuses(
        Mode::Exec,
        "license smart register idtoken",
        "Invalid command: incomplete, expected <token:WORD>",
    );
    refuses(
        Mode::Exec,
        "license smart renew",
        "Invalid command: incomplete, expected one of: id, auth",
    );
    let e = error(Mode::Exec, "show license enforcement");
    assert_eq!(
        e,
        CliError::Incomplete {
            column: 24,
            expected: strings(&["policy", "status"]),
        }
    );
    // Before a pipe, the marker points at the pipe.
    assert_eq!(error(Mode::Exec, "show license | grep x").column(), 13);
}

#[test]
fn every_error_starts_with_invalid_command() {
    for (mode, line) in [
        (Mode::Exec, "bogus"),
        (Mode::Exec, "s x"),
        (Mode::Exec, "c"),
        (Mode::Exec, "show"),
        (Mode::Exec, "calls connect pgw many"),
        (Mode::Exec, "calls connect pgw -1"),
        (Mode::Exec, "calls connect voice 1"),
        (Mode::Exec, "show license status | grep"),
        (Mode::Exec, "show license status | less"),
        (Mode::Exec, "license smart deregister | more"),
        (Mode::Config, "smartlic schema a format \"x"),
        (Mode::Config, "snmp target a 1.2.3"),
        (Mode::Bulkstats, "file 5"),
        (Mode::Exec, "| grep x"),
    ] {
        let e = error(mode, line);
        assert!(e.to_string().starts_with("Invalid command"), "{line}: {e}");
    }
}

// ----- parameters -----

#[test]
fn numbers_choices_and_addresses() {
    let p = parse(Mode::Exec, "calls connect pgw 15000");
    assert_eq!(p.id, CommandId::CallsConnect);
    assert_eq!((p.arg("service"), p.number("count")), (Some("pgw"), Some(15000)));
    let p = parse(Mode::Exec, "calls disc SAE 007");
    assert_eq!(p.id, CommandId::CallsDisconnect);
    assert_eq!((p.arg("service"), p.arg("count")), (Some("saegw"), Some("7")));

    refuses(
        Mode::Exec,
        "calls connect pgw many",
        r#"Invalid command: "many" is not a number for <count:NUMBER>"#,
    );
    assert_eq!(
        error(Mode::Exec, "calls connect pgw 99999999999999999999999").column(),
        18
    );
    refuses(
        Mode::Exec,
        "calls connect voice 1",
        r#"Invalid command: "voice" is not one of pgw, saegw, ggsn, sgw, mme, epdg, samog for <service:pgw|saegw|ggsn|sgw|mme|epdg|samog>"#,
    );
    refuses(
        Mode::Bulkstats,
        "file 0",
        r#"Invalid command: "0" is not a number from 1 to 4 for <n:1-4>"#,
    );
    assert_eq!(parse(Mode::Bulkstats, "file 4").number("n"), Some(4));
    reads_as(Mode::Bulkstats, "sample 15", CommandId::SampleInterval);
    assert_eq!(parse(Mode::Bulkstats, "tr 60").number("minutes"), Some(60));
    refuses(
        Mode::Config,
        "snmp target nms 10.0.0.256",
        r#"Invalid command: "10.0.0.256" is not an IPv4 address for <ip:IPV4>"#,
    );
}

#[test]
fn optional_groups_in_order() {
    let p = parse(Mode::Config, "snmp target nms 192.0.2.7");
    assert_eq!(p.id, CommandId::SnmpTarget);
    assert_eq!(p.arg("name"), Some("nms"));
    assert_eq!(p.ipv4("ip"), Some(std::net::Ipv4Addr::new(192, 0, 2, 7)));
    assert_eq!((p.arg("port"), p.arg("community")), (None, None));

    let p = parse(Mode::Config, "snmp t nms 192.0.2.7 p 1162 c \"my secret\"");
    assert_eq!(p.number("port"), Some(1162));
    assert_eq!(p.arg("community"), Some("my secret"));

    let p = parse(Mode::Config, "snmp target nms 192.0.2.7 community public");
    assert_eq!((p.arg("port"), p.arg("community")), (None, Some("public")));

    // Out of order is refused.
    let e = error(Mode::Config, "snmp target nms 192.0.2.7 community public port 1");
    assert_eq!(e.column(), 43);
    // Port range.
    assert!(matches!(
        error(Mode::Config, "snmp target nms 192.0.2.7 port 70000"),
        CliError::BadValue { .. }
    ));
}

#[test]
fn optional_alternatives_are_flags() {
    let p = parse(Mode::Exec, "show license enforcement status");
    assert_eq!(p.id, CommandId::ShowLicenseEnforcementStatus);
    for kw in ["allowed", "blocked", "feature", "service"] {
        assert!(!p.has(kw));
    }
    let p = parse(Mode::Exec, "sh lic enf st b se");
    assert!(p.has("blocked") && p.has("service") && !p.has("allowed") && !p.has("feature"));
    assert_eq!(
        p.keywords,
        ["show", "license", "enforcement", "status", "blocked", "service"]
    );
    let p = parse(Mode::Exec, "show license enforcement status feature");
    assert!(p.has("feature") && !p.has("blocked"));
    // Only one of each choice, in order.
    assert!(
        cli()
            .parse(Mode::Exec, "show license enforcement status allowed blocked")
            .is_err()
    );
    assert!(
        cli()
            .parse(Mode::Exec, "show license enforcement status service blocked")
            .is_err()
    );

    let p = parse(Mode::Exec, "show license smart-tags f");
    assert_eq!(p.id, CommandId::ShowLicenseSmartTags);
    assert!(p.has("feature"));
}

#[test]
fn required_alternatives() {
    static SPECS: &[CommandSpec] = &[CommandSpec {
        pipe: true,
        ..custom(
            CommandId::ShowLicenseAll,
            &[ModeKind::Exec],
            "show license {all|status|summary|udi|usage|statistics|eval-period|tech-support}",
        )
    }];
    let g = Grammar::new(SPECS, &[]).expect("valid");
    let p = g.parse(Mode::Exec, "sh li ud").expect("ok").expect("some");
    assert!(p.has("udi"));
    assert!(matches!(
        g.parse(Mode::Exec, "show license"),
        Err(CliError::Incomplete { ref expected, .. }) if expected.len() == 8
    ));
    assert!(matches!(
        g.parse(Mode::Exec, "show license st"),
        Err(CliError::Ambiguous { .. })
    ));
}

#[test]
fn nested_groups() {
    static SPECS: &[CommandSpec] = &[custom(
        CommandId::SnmpTarget,
        &[ModeKind::Config],
        "a [b <x:NUMBER> [c <y:WORD>]] {d|e f} [g|h]",
    )];
    let g = Grammar::new(SPECS, &[]).expect("valid");
    let parse = |line: &str| g.parse(Mode::Config, line);
    assert!(parse("a d").is_ok());
    assert!(parse("a e f h").is_ok());
    let p = parse("a b 3 c yy e f g").expect("ok").expect("some");
    assert_eq!((p.arg("x"), p.arg("y")), (Some("3"), Some("yy")));
    assert!(parse("a c yy d").is_err());
    assert!(parse("a b 3 c d").is_err());
    assert!(parse("a e").is_err());
}

#[test]
fn bad_patterns_are_refused() {
    for pattern in [
        "a [b",
        "a b]",
        "a <x",
        "a <x:FLOAT>",
        "a <x:5-1>",
        "a <X>",
        "a <x> <x>",
        "<x> a",
        "a {b|}",
        "a|b",
        "Show",
        "a <x:b|b>",
        "a ä",
        "a status(x)",
        "a status()",
        "a (st)",
    ] {
        let specs: &'static [CommandSpec] = Box::leak(Box::new([custom(CommandId::Exit, &[ModeKind::Exec], pattern)]));
        assert!(Grammar::new(specs, &[]).is_err(), "{pattern}");
    }
    // Two commands that read the same in one mode.
    static TWINS: &[CommandSpec] = &[
        custom(CommandId::End, &[ModeKind::Config], "x [y]"),
        custom(CommandId::Exit, &[ModeKind::Config, ModeKind::Exec], "x"),
    ];
    assert!(Grammar::new(TWINS, &[]).is_err());
}

// ----- quotes -----

#[test]
fn quoted_strings() {
    let p = parse(
        Mode::BulkstatsFile(1),
        r#"smartlic schema sl1 format "%date% %time% %service% %cur_call_count%""#,
    );
    assert_eq!(p.id, CommandId::SmartlicSchema);
    assert_eq!(p.arg("name"), Some("sl1"));
    assert_eq!(p.arg("format"), Some("%date% %time% %service% %cur_call_count%"));
    // One word needs no quotes; a quoted | is not a pipe.
    let p = parse(Mode::BulkstatsFile(1), "smartlic schema sl1 format %epochtime%,%tagid%");
    assert_eq!(p.arg("format"), Some("%epochtime%,%tagid%"));
    let p = parse(Mode::BulkstatsFile(1), r#"smartlic schema s format "a|b \"c\"""#);
    assert_eq!(p.arg("format"), Some(r#"a|b "c""#));
    let p = parse(Mode::BulkstatsFile(2), r#"receiver local-directory "/var/bulk stats""#);
    assert_eq!(p.arg("dir"), Some("/var/bulk stats"));
    // A WORD parameter refuses spaces.
    assert!(matches!(
        error(Mode::Config, r#"feature "A B""#),
        CliError::BadValue { .. }
    ));
    let e = error(Mode::BulkstatsFile(1), r#"smartlic schema s format "%date%"#);
    assert_eq!(e, CliError::UnmatchedQuote { column: 25 });
    assert_eq!(e.to_string(), "Invalid command: unmatched quote");
}

// ----- pipes -----

#[test]
fn pipes_on_show_commands() {
    let p = parse(Mode::Exec, "show configuration | grep license");
    assert_eq!(p.id, CommandId::ShowConfiguration);
    assert_eq!(p.filters, [Filter::Grep(GrepOptions::new("license"))]);
    let p = parse(Mode::Exec, r#"sh lic all | grep -v -i "smart licensing" | more"#);
    assert_eq!(
        p.filters,
        [
            Filter::Grep(GrepOptions {
                ignore_case: true,
                invert: true,
                ..GrepOptions::new("smart licensing")
            }),
            Filter::More
        ]
    );
    for line in [
        "sh lic stat|grep -vi x",
        "sh lic stat | grep -iv x",
        "sh lic stat | grep -v -i x",
        "sh lic stat | g -i x -v",
    ] {
        let p = parse(Mode::Exec, line);
        assert_eq!(
            p.filters,
            [Filter::Grep(GrepOptions {
                ignore_case: true,
                invert: true,
                ..GrepOptions::new("x")
            })],
            "{line}"
        );
    }
    assert_eq!(parse(Mode::Exec, "show license udi | m").filters, [Filter::More]);
    let p = parse(Mode::Exec, r#"show license udi | grep "-v""#);
    assert_eq!(p.filters, [Filter::Grep(GrepOptions::new("-v"))]);
    // What StarOS operators type.
    let p = parse(Mode::Exec, "show license status | grep -A8 Registration");
    assert_eq!(p.id, CommandId::ShowLicenseStatus);
    assert_eq!(
        p.filters,
        [Filter::Grep(GrepOptions {
            after: 8,
            ..GrepOptions::new("Registration")
        })]
    );
    let p = parse(
        Mode::Exec,
        "sh lic all | grep -in -C 2 'smart licensing' | grep -vc x | more",
    );
    assert_eq!(
        p.filters,
        [
            Filter::Grep(GrepOptions {
                ignore_case: true,
                line_numbers: true,
                after: 2,
                before: 2,
                ..GrepOptions::new("smart licensing")
            }),
            Filter::Grep(GrepOptions {
                invert: true,
                count: true,
                ..GrepOptions::new("x")
            }),
            Filter::More
        ]
    );
    let p = parse(Mode::Exec, "show license udi | grep -E -w -B1 'a|b'");
    assert_eq!(
        p.filters,
        [Filter::Grep(GrepOptions {
            extended: true,
            word: true,
            before: 1,
            ..GrepOptions::new("a|b")
        })]
    );
}

#[test]
fn bad_pipes() {
    refuses(
        Mode::Exec,
        "show license udi | grep",
        "Invalid command: grep needs a pattern",
    );
    refuses(
        Mode::Exec,
        "show license udi | grep a b",
        "Invalid command: grep takes one pattern; quote a pattern that has spaces",
    );
    assert!(
        error(Mode::Exec, "show license udi | grep -x a")
            .to_string()
            .contains("-x")
    );
    let line = "show license status | grep -A";
    let e = error(Mode::Exec, line);
    assert_eq!(
        e.render(line),
        "show license status | grep -A\n                             ^\n\
         Invalid command: grep -A needs a number of lines"
    );
    let e = error(Mode::Exec, "show license status | grep -A Registration");
    assert_eq!(e.column(), 30);
    assert_eq!(
        e.to_string(),
        "Invalid command: grep -A needs a number of lines, not \"Registration\""
    );
    assert_eq!(error(Mode::Exec, "show license status | grep -A | more").column(), 30);
    assert_eq!(error(Mode::Exec, "show license status | grep 'x").column(), 27);
    refuses(
        Mode::Exec,
        "show license udi | less",
        "Invalid command: unknown output filter \"less\"; expected grep or more",
    );
    refuses(
        Mode::Exec,
        "show license udi |",
        "Invalid command: expected grep or more after |",
    );
    assert!(matches!(
        error(Mode::Exec, "show license udi | | more"),
        CliError::BadFilter { column: 17, .. }
    ));
    refuses(
        Mode::Exec,
        "show license udi | more x",
        "Invalid command: more takes no arguments",
    );
    assert_eq!(
        error(Mode::Exec, "license smart renew id | more"),
        CliError::PipeNotAllowed { column: 23 }
    );
}

// ----- modes, do, comments, empty lines -----

#[test]
fn modes_and_their_commands() {
    reads_as(Mode::Config, "lic sm en", CommandId::LicenseSmartEnable);
    reads_as(Mode::Config, "no lic sm en", CommandId::NoLicenseSmartEnable);
    let p = parse(Mode::Config, "license smart url https://127.0.0.1:8443");
    assert_eq!(p.arg("url"), Some("https://127.0.0.1:8443"));
    reads_arg(Mode::Config, "feature ASR5K-00-GN01REC", "sku", "ASR5K-00-GN01REC");
    reads_as(Mode::Config, "no feat ASR5K-00-GN01REC", CommandId::NoFeature);
    reads_as(Mode::Config, "bulkstats mode", CommandId::BulkstatsMode);
    reads_as(Mode::Config, "end", CommandId::End);
    reads_as(Mode::Config, "exit", CommandId::Exit);
    reads_as(Mode::Exec, "exit", CommandId::Exit);
    reads_as(Mode::Bulkstats, "end", CommandId::End);
    reads_as(Mode::BulkstatsFile(3), "exit", CommandId::Exit);
    reads_arg(
        Mode::Exec,
        "crypto pki trustpool import file /tmp/ca.pem",
        "path",
        "/tmp/ca.pem",
    );
    reads_as(
        Mode::Exec,
        "show crypto pki trustpool",
        CommandId::ShowCryptoPkiTrustpool,
    );
    reads_as(Mode::Exec, "show snmp trap history", CommandId::ShowSnmpTrapHistory);
    reads_as(Mode::Exec, "bulk force trans", CommandId::BulkstatsForceTransfer);
    reads_as(Mode::Exec, "show bulkstats", CommandId::ShowBulkstats);
    reads_as(
        Mode::Exec,
        "show bulk var smartlic",
        CommandId::ShowBulkstatsVariablesSmartlic,
    );
    // Submode commands only in their mode.
    assert!(cli().parse(Mode::Config, "sample-interval 5").is_err());
    assert!(cli().parse(Mode::Bulkstats, "receiver local-directory /tmp").is_err());
    assert!(cli().parse(Mode::Exec, "end").is_err());
    assert!(cli().parse(Mode::Exec, "configure terminal").is_err());
}

#[test]
fn do_runs_exec_commands_from_config_modes() {
    let p = parse(Mode::Config, "do show configuration | grep snmp");
    assert_eq!(p.id, CommandId::ShowConfiguration);
    assert_eq!(p.keywords, ["do", "show", "configuration"]);
    assert_eq!(p.filters.len(), 1);
    reads_as(Mode::BulkstatsFile(1), "do sh lic stat", CommandId::ShowLicenseStatus);
    assert!(cli().parse(Mode::Config, "do configure").is_err());
    assert!(cli().parse(Mode::Config, "do exit").is_err());
    assert!(cli().parse(Mode::Exec, "do show license udi").is_err());
}

#[test]
fn nothing_to_run() {
    for line in ["", "   ", "\t", "# a comment", "  ! also", "#exit"] {
        assert_eq!(cli().parse(Mode::Config, line), Ok(None), "{line:?}");
    }
}

// ----- help -----

#[test]
fn help_lists_what_comes_next() {
    assert_eq!(
        help_words(Mode::Exec, ""),
        strings(&[
            "configure",
            "exit",
            "license",
            "card",
            "crypto",
            "calls",
            "bulkstats",
            "show"
        ])
    );
    assert_eq!(
        help_words(Mode::Exec, "show license "),
        strings(&[
            "all",
            "enforcement",
            "eval-period",
            "history",
            "information",
            "reservation",
            "smart-tags",
            "statistics",
            "status",
            "summary",
            "tech-support",
            "udi",
            "usage"
        ])
    );
    assert_eq!(
        help_words(Mode::Exec, "show license enforcement status "),
        strings(&["allowed", "blocked", "feature", "service", "|", "<cr>"])
    );
    assert_eq!(
        help_words(Mode::Exec, "show license enforcement status blocked "),
        strings(&["feature", "service", "|", "<cr>"])
    );
    assert_eq!(help_words(Mode::Exec, "show license udi "), strings(&["|", "<cr>"]));
    assert_eq!(help_words(Mode::Exec, "license smart renew id "), strings(&["<cr>"]));
    assert_eq!(
        help_words(Mode::Exec, "license smart register idtoken "),
        strings(&["<token:WORD>"])
    );
    assert_eq!(
        help_words(Mode::Exec, "calls connect "),
        strings(&["pgw", "saegw", "ggsn", "sgw", "mme", "epdg", "samog"])
    );
    assert_eq!(
        help_words(Mode::Config, "snmp target a 10.0.0.1 "),
        strings(&["port", "community", "<cr>"])
    );
    assert_eq!(
        help_words(Mode::Config, ""),
        strings(&["end", "exit", "do", "license", "no", "feature", "snmp", "bulkstats"])
    );
}

#[test]
fn help_after_a_partial_word_lists_the_words_it_starts() {
    assert_eq!(help_words(Mode::Exec, "show lic"), strings(&["license"]));
    assert_eq!(
        help_words(Mode::Exec, "show license s"),
        strings(&["smart-tags", "statistics", "status", "summary"])
    );
    assert_eq!(
        help_words(Mode::Exec, "sh lic stat"),
        strings(&["statistics", "status"])
    );
    assert_eq!(
        help_words(Mode::Exec, "calls connect s"),
        strings(&["saegw", "sgw", "samog"])
    );
    assert_eq!(
        help_words(Mode::Exec, "calls connect pgw 1"),
        strings(&["<count:NUMBER>"])
    );
    // Nothing starts with it: the marker error.
    assert!(matches!(
        cli().help(Mode::Exec, "show lix"),
        Err(CliError::Unknown { column: 5, .. })
    ));
    assert!(cli().help(Mode::Exec, "calls connect pgw x").is_err());
}

#[test]
fn help_texts() {
    let items = cli().help(Mode::Exec, "show license ").expect("help");
    let status = items.iter().find(|i| i.word == "status").expect("status");
    assert_eq!(status.help, "Overall Smart Licensing status");
    let items = cli().help(Mode::Exec, "show license enforcement ").expect("help");
    assert_eq!(items[1].help, "The current enforcement status of each license");
    let items = cli().help(Mode::Exec, "license smart register idtoken ").expect("help");
    assert_eq!(items[0].help, "The Product Instance Registration token");
    let items = cli().help(Mode::Bulkstats, "file ").expect("help");
    assert_eq!(items[0].word, "<n:1-4>");
    let text = format_help(&cli().help(Mode::Exec, "show license udi ").expect("help"));
    assert_eq!(
        text,
        "  |    - Filter the output: grep [-A|-B|-C N] [-Ecinvw] PATTERN, more\n  <cr>\n"
    );
}

#[test]
fn every_keyword_has_help() {
    // Walk the whole tree through help and check that every keyword it offers has a text.
    let modes = [Mode::Exec, Mode::Config, Mode::Bulkstats, Mode::BulkstatsFile(1)];
    for mode in modes {
        let mut pending = vec![String::new()];
        let mut seen = 0;
        while let Some(prefix) = pending.pop() {
            seen += 1;
            assert!(seen < 10_000);
            let Ok(items) = cli().help(mode, &prefix) else {
                continue;
            };
            for item in items {
                assert!(
                    !item.help.is_empty() || item.word == "<cr>",
                    "no help for {:?} after {prefix:?} in {mode:?}",
                    item.word
                );
                let next = match item.word.as_str() {
                    "<cr>" | "|" => continue,
                    w if w.starts_with('<') => "1".to_string(),
                    w => w.to_string(),
                };
                pending.push(format!("{prefix}{next} "));
            }
        }
    }
}

#[test]
fn help_after_pipes() {
    assert_eq!(
        help_words(Mode::Exec, "show license udi | "),
        strings(&["grep", "more"])
    );
    assert_eq!(help_words(Mode::Exec, "show license udi |"), strings(&["grep", "more"]));
    assert_eq!(help_words(Mode::Exec, "show license udi | g"), strings(&["grep"]));
    const FLAGS: [&str; 9] = ["-A", "-B", "-C", "-E", "-c", "-i", "-n", "-v", "-w"];
    let with = |extra: &[&str]| strings(&[&FLAGS[..], extra].concat());
    for (grep, words) in [
        ("grep ", with(&["<pattern:STRING>"])),
        (
            "grep -i ",
            strings(&["-A", "-B", "-C", "-E", "-c", "-n", "-v", "-w", "<pattern:STRING>"]),
        ),
        ("grep -", strings(&FLAGS)),
        ("grep x ", with(&["|", "<cr>"])),
        ("grep -A ", strings(&["<lines:NUMBER>"])),
        (
            "grep -A 3 -n x ",
            strings(&["-B", "-C", "-E", "-c", "-i", "-v", "-w", "|", "<cr>"]),
        ),
    ] {
        let line = format!("show license udi | {grep}");
        assert_eq!(help_words(Mode::Exec, &line), words, "{line:?}");
    }
    let items = cli().help(Mode::Exec, "show license udi | grep -B ").expect("help");
    assert_eq!(items[0].help, "Number of lines to print before each match");
    let items = cli().help(Mode::Exec, "show license udi | grep ").expect("help");
    assert_eq!(items[0].help, "Also print N lines after each match (-A N)");
    assert!(cli().help(Mode::Exec, "show license udi | grep -A x").is_err());
    assert_eq!(
        help_words(Mode::Exec, "show license udi | grep x | more "),
        strings(&["|", "<cr>"])
    );
    assert!(cli().help(Mode::Exec, "license smart deregister | ").is_err());
    assert!(cli().help(Mode::Exec, "show license | ").is_err());
    assert!(cli().help(Mode::Exec, "show license udi | less | ").is_err());
}

#[test]
fn a_trailing_question_mark_asks_for_help() {
    let help = |line: &str| match cli().interpret(Mode::Exec, line) {
        Ok(Line::Help(items)) => items.into_iter().map(|i| i.word).collect::<Vec<_>>(),
        other => panic!("{line:?}: {other:?}"),
    };
    assert_eq!(help("show license enforcement ?"), ["policy", "status"]);
    assert_eq!(help("show license enforcement ? "), ["policy", "status"]);
    assert_eq!(help("sh lic stat?"), ["statistics", "status"]);
    assert_eq!(help("?").len(), 8);
    assert!(matches!(
        cli().interpret(Mode::Exec, "show lix?"),
        Err(CliError::Unknown { .. })
    ));
    assert!(matches!(
        cli().interpret(Mode::Exec, "show license udi"),
        Ok(Line::Command(Parsed {
            id: CommandId::ShowLicenseUdi,
            ..
        }))
    ));
    assert_eq!(cli().interpret(Mode::Config, "# why?"), Ok(Line::Empty));
    assert_eq!(cli().interpret(Mode::Config, "  "), Ok(Line::Empty));
    // Inside quotes a ? is text.
    match cli().interpret(Mode::BulkstatsFile(1), r#"smartlic schema s format "a ?""#) {
        Ok(Line::Command(p)) => assert_eq!(p.arg("format"), Some("a ?")),
        other => panic!("{other:?}"),
    }
    assert!(inside_quotes(r#"format "abc"#));
    assert!(!inside_quotes(r#"format "abc""#));
}

// ----- completion -----

#[test]
fn tab_completion() {
    assert_eq!(completions(Mode::Exec, "sh"), (0, strings(&["show"])));
    assert_eq!(completions(Mode::Exec, "show lic"), (5, strings(&["license"])));
    assert_eq!(completions(Mode::Exec, "SHOW LIC"), (5, strings(&["license"])));
    assert_eq!(
        completions(Mode::Exec, "show license st"),
        (13, strings(&["statistics", "status"]))
    );
    assert_eq!(
        completions(Mode::Exec, "show license enforcement "),
        (25, strings(&["policy", "status"]))
    );
    // Parameters have nothing to complete; choices do.
    assert_eq!(completions(Mode::Exec, "license smart register idtoken "), (31, vec![]));
    assert_eq!(completions(Mode::Exec, "calls connect e"), (14, strings(&["epdg"])));
    // Filters.
    assert_eq!(
        completions(Mode::Exec, "show license udi | m"),
        (19, strings(&["more"]))
    );
    assert_eq!(
        completions(Mode::Exec, "show license udi | grep -"),
        (24, strings(&["-A", "-B", "-C", "-E", "-c", "-i", "-n", "-v", "-w"]))
    );
    assert_eq!(
        completions(Mode::Exec, "show license udi | grep -c"),
        (24, strings(&["-c"]))
    );
    assert_eq!(completions(Mode::Exec, "show license udi | grep -A "), (27, vec![]));
    // Invalid text before: nothing.
    assert_eq!(completions(Mode::Exec, "show bogus st"), (13, vec![]));
    // An unterminated quote is the word being typed.
    assert_eq!(
        completions(Mode::BulkstatsFile(1), "smartlic schema s format \"%da"),
        (25, vec![])
    );
    // Multi-byte characters: start is a byte offset.
    assert_eq!(completions(Mode::Config, "feature é "), (11, vec![]));
}

// ----- never panic -----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_text(line in any::<String>(), mode in 0u32..4) {
        let mode = match mode { 0 => Mode::Exec, 1 => Mode::Config, 2 => Mode::Bulkstats, _ => Mode::BulkstatsFile(1) };
        let _ = cli().parse(mode, &line);
        let _ = cli().help(mode, &line);
        let c = cli().complete(mode, &line);
        prop_assert!(line.is_char_boundary(c.start) && c.start <= line.len());
    }

    #[test]
    fn never_panics_on_cli_like_text(
        words in proptest::collection::vec(
            prop_oneof![
                Just("show".to_string()), Just("sh".to_string()), Just("license".to_string()),
                Just("l".to_string()), Just("|".to_string()), Just("\"".to_string()),
                Just("grep".to_string()), Just("-iv".to_string()), Just("more".to_string()),
                Just("-A".to_string()), Just("-C2".to_string()), Just("-nwcE".to_string()), Just("'".to_string()),
                Just("do".to_string()), Just("snmp".to_string()), Just("target".to_string()),
                Just("1.2.3.4".to_string()), Just("port".to_string()), Just("99999999999999999999".to_string()),
                "[a-z0-9\"|\\\\ -]{0,6}",
            ],
            0..10,
        ),
        mode in 0u32..4,
        trailing_space in any::<bool>(),
    ) {
        let mode = match mode { 0 => Mode::Exec, 1 => Mode::Config, 2 => Mode::Bulkstats, _ => Mode::BulkstatsFile(2) };
        let mut line = words.join(" ");
        if trailing_space { line.push(' '); }
        match cli().parse(mode, &line) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(e.to_string().starts_with("Invalid command"));
                prop_assert!(e.column() <= line.chars().count());
            }
        }
        let _ = cli().help(mode, &line);
        let c = cli().complete(mode, &line);
        prop_assert!(line.is_char_boundary(c.start));
    }

    #[test]
    fn grep_never_panics(
        pattern in any::<String>(),
        text in any::<String>(),
        flags in proptest::collection::vec(any::<bool>(), 6),
        after in prop_oneof![Just(0usize), 0usize..4, Just(usize::MAX)],
        before in prop_oneof![Just(0usize), 0usize..4, Just(usize::MAX)],
    ) {
        let grep = GrepOptions {
            pattern,
            ignore_case: flags[0],
            invert: flags[1],
            word: flags[2],
            extended: flags[3],
            count: flags[4],
            line_numbers: flags[5],
            after,
            before,
        };
        let filters = [Filter::Grep(grep.clone()), Filter::More];
        let out = Filter::apply(&filters, &text);
        let lines = text.split_inclusive('\n').count();
        if grep.count {
            let n: usize = out.trim_end().parse().expect("a count");
            prop_assert!(n <= lines && out.ends_with('\n'));
        } else if !grep.line_numbers && after == 0 && before == 0 {
            prop_assert!(out.len() <= text.len());
        } else {
            // Every line but the `--` separators is an input line, each at most once.
            let printed = out.split_inclusive('\n').filter(|l| *l != "--\n").count();
            prop_assert!(printed <= lines);
        }
        // The flags, typed, parse back to the same options.
        let line = format!(
            "show license status | grep{}{}{}{}{}{} -A {after} -B {before} {}",
            if grep.ignore_case { " -i" } else { "" },
            if grep.invert { " -v" } else { "" },
            if grep.word { " -w" } else { "" },
            if grep.extended { " -E" } else { "" },
            if grep.count { " -c" } else { "" },
            if grep.line_numbers { " -n" } else { "" },
            quote(&grep.pattern),
        );
        let parsed = cli().parse(Mode::Exec, &line);
        prop_assert!(matches!(&parsed, Ok(Some(p)) if p.filters == [Filter::Grep(grep.clone())]), "{line:?}: {parsed:?}");
    }

    /// Every completion, put in place, gives a line whose help still works (a completion never
    /// leads into an invalid line).
    #[test]
    fn completions_lead_to_valid_prefixes(
        words in proptest::collection::vec("[a-z]{0,3}", 0..5),
        mode in 0u32..4,
    ) {
        let mode = match mode { 0 => Mode::Exec, 1 => Mode::Config, 2 => Mode::Bulkstats, _ => Mode::BulkstatsFile(1) };
        let line = words.join(" ");
        let c = cli().complete(mode, &line);
        for candidate in c.candidates {
            let completed = format!("{}{candidate} ", &line[..c.start]);
            prop_assert!(cli().help(mode, &completed).is_ok(), "{completed:?}");
        }
    }
}

// ----- arbitrary bytes: what a client can send over cli.sock -----

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Exec),
        Just(Mode::Config),
        Just(Mode::Bulkstats),
        Just(Mode::BulkstatsFile(1)),
    ]
}

/// Any bytes, with more of those the lexer and the grammar treat specially.
fn cli_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            3 => proptest::sample::select(b" \t\"'\\|?#!%-0123456789.ABCEcnvw".to_vec()),
            2 => proptest::sample::select(b"showlicensegrepmoredoconfigureexit".to_vec()),
        ],
        0..200,
    )
}

/// The line typed for `text` as one word: in double quotes, `"` and `\` escaped.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Lines made of real command words, arguments and pipes.
fn command_like_words() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            "show",
            "sh",
            "license",
            "lic",
            "status",
            "stat",
            "statistics",
            "eval-period",
            "summary",
            "all",
            "enforcement",
            "policy",
            "allowed",
            "blocked",
            "feature",
            "service",
            "udi",
            "calls",
            "connect",
            "disconnect",
            "pgw",
            "sa",
            "mme",
            "10",
            "007",
            "|",
            "grep",
            "-i",
            "-v",
            "-A",
            "-B3",
            "-nc",
            "--",
            "more",
            "pattern",
            "configure",
            "end",
            "exit",
            "do",
            "snmp",
            "target",
            "nms",
            "192.0.2.1",
            "port",
            "1162",
            "community",
            "public",
            "no",
            "ASR5K-00-EG01RS",
            "bulkstats",
            "mode",
            "file",
            "1",
            "smartlic",
            "schema",
            "format",
            "crypto",
            "pki",
            "trustpool",
            "import",
            "/tmp/ca.pem",
        ]),
        0..9,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Whatever bytes arrive (decoded as the node decodes them), the engine answers: a command, an
    /// empty line, help, or an `Invalid command` error whose caret lies within the line.
    #[test]
    fn any_bytes_are_a_command_or_a_clean_error(bytes in cli_bytes(), mode in any_mode()) {
        let line = String::from_utf8_lossy(&bytes);
        let columns = line.chars().count();
        for result in [cli().interpret(mode, &line).map(|_| ()), cli().parse(mode, &line).map(|_| ())] {
            if let Err(e) = result {
                prop_assert!(e.to_string().starts_with("Invalid command"), "{e}");
                prop_assert!(e.column() <= columns, "{e} at {} of {columns}", e.column());
                prop_assert!(e.render(&line).contains("Invalid command"));
            }
        }
        let _ = cli().help(mode, &line);
        let c = cli().complete(mode, &line);
        prop_assert!(c.start <= line.len() && line.is_char_boundary(c.start));
    }

    /// Quoting round-trips: any texts, each quoted, lex back to exactly those words.
    #[test]
    fn quoted_words_lex_back_to_themselves(words in proptest::collection::vec(any::<String>(), 0..6)) {
        let line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        let lexed = super::lexer::lex(&line, false);
        prop_assert!(lexed.is_ok(), "{line:?}: {lexed:?}");
        let texts: Vec<String> = lexed
            .map(|l| {
                l.lexemes
                    .into_iter()
                    .filter_map(|x| match x {
                        super::lexer::Lexeme::Word(w) => Some(w.text),
                        super::lexer::Lexeme::Pipe { .. } => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        prop_assert_eq!(texts, words);
    }

    /// A quoted STRING parameter carries any text, unchanged, to the command (a bulkstats format
    /// is then checked by its own parser).
    #[test]
    fn a_quoted_format_reaches_the_command_unchanged(format in any::<String>(), name in "[a-z][a-z0-9_]{0,8}") {
        let line = format!("smartlic schema {name} format {}", quote(&format));
        let parsed = cli().parse(Mode::BulkstatsFile(1), &line);
        prop_assert!(matches!(parsed, Ok(Some(_))), "{line:?}: {parsed:?}");
        if let Ok(Some(p)) = parsed {
            prop_assert_eq!(p.id, CommandId::SmartlicSchema);
            prop_assert_eq!(p.arg("format"), Some(format.as_str()));
            prop_assert_eq!(p.arg("name"), Some(name.as_str()));
        }
    }

    /// Accepting or refusing a line does not depend on how much blank space separates its words,
    /// and an accepted line means the same either way.
    #[test]
    fn spacing_does_not_change_the_meaning(
        words in command_like_words(),
        gaps in proptest::collection::vec("[ \t]{1,3}", 10),
        lead in "[ \t]{0,2}",
        trail in "[ \t]{0,2}",
        mode in any_mode(),
    ) {
        let plain = words.join(" ");
        let mut spaced = lead;
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                spaced.push_str(&gaps[i % gaps.len()]);
            }
            spaced.push_str(w);
        }
        spaced.push_str(&trail);
        match (cli().parse(mode, &plain), cli().parse(mode, &spaced)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{plain:?} → {a:?} but {spaced:?} → {b:?}"),
        }
    }
}

#[test]
fn reservation_commands_abbreviate_and_help() {
    reads_as(
        Mode::Exec,
        "lic sm res req loc",
        CommandId::LicenseSmartReservationRequest,
    );
    reads_as(
        Mode::Exec,
        "license smart reservation cancel",
        CommandId::LicenseSmartReservationCancel,
    );
    reads_as(
        Mode::Exec,
        "lic sm res ret loc",
        CommandId::LicenseSmartReservationReturn,
    );
    reads_arg(
        Mode::Exec,
        "license smart reservation install \"AU1.a.b.c.d\"",
        "code",
        "AU1.a.b.c.d",
    );
    reads_arg(Mode::Exec, "lic sm res ins file /tmp/code.txt", "path", "/tmp/code.txt");
    assert!(parse(Mode::Exec, "lic sm res ins file /tmp/x").has("file"));
    assert!(!parse(Mode::Exec, "lic sm res ins AU1.x").has("file"));
    reads_as(
        Mode::Config,
        "license smart reservation",
        CommandId::LicenseSmartReservation,
    );
    reads_as(Mode::Config, "no lic sm res", CommandId::NoLicenseSmartReservation);
    reads_as(Mode::Exec, "sh lic res", CommandId::ShowLicenseReservation);
    assert_eq!(
        help_words(Mode::Exec, "license smart reservation "),
        strings(&["request", "cancel", "install", "return"])
    );
    assert_eq!(
        help_words(Mode::Exec, "license smart reservation install "),
        strings(&["file", "<code:STRING>"])
    );
}
