//! Fuzzes the bulk statistics format parser (`smartlic schema NAME format "FORMAT"`): any bytes,
//! decoded as the CLI decodes them; an accepted format must obey the limits and parse again to the
//! same tokens from its written form.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        use smartlic_node::services::bulkstats::{MAX_FORMAT_LEN, MAX_VARIABLES, Token, VARIABLES, parse_format};
        let text = String::from_utf8_lossy(data);
        if let Ok(tokens) = parse_format(&text) {
            assert!(text.chars().count() <= MAX_FORMAT_LEN);
            assert!(tokens.iter().filter(|t| matches!(t, Token::Var(_))).count() <= MAX_VARIABLES);
            let written: String = tokens
                .iter()
                .map(|t| match t {
                    Token::Text(s) => s.replace('%', "%%"),
                    Token::Var(v) => VARIABLES
                        .iter()
                        .find(|(x, _, _)| x == v)
                        .map(|(_, n, _)| format!("%{n}%"))
                        .unwrap_or_default(),
                })
                .collect();
            assert_eq!(parse_format(&written).ok(), Some(tokens));
        }
    });
}
