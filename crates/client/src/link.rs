//! `Link` headers (RFC 8288) of paged lists.

/// The target of the `rel="next"` link in a `Link` header value (RFC 8288), if it has one. Links
/// are split at commas: a target holding one is not found (this manager's links never do: their
/// query values are percent-encoded or base64url).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
            .then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Url;

    proptest::proptest! {
        /// Whatever a server sends, the parser answers (never panics), and a next link among
        /// other links is found as sent.
        #[test]
        fn next_links_survive_any_header(header in "\\PC{0,200}", target in "[?a-z0-9=&_/.:-]{0,60}") {
            let _ = next_link(&header);
            let value = format!(r#"</prev>; rel="prev", <{target}>; rel="next""#);
            proptest::prop_assert_eq!(next_link(&value), Some(target));
        }
    }

    #[test]
    fn next_links_are_found() {
        assert_eq!(
            next_link(r#"<?after=abc&limit=2>; rel="next""#).as_deref(),
            Some("?after=abc&limit=2")
        );
        assert_eq!(
            next_link(r#"</x?p=1>; rel="prev", <https://h/y?p=3>; rel="last next"; title="n""#).as_deref(),
            Some("https://h/y?p=3")
        );
        assert_eq!(next_link("<?a=1>; REL=NEXT").as_deref(), Some("?a=1"));
        assert_eq!(next_link(r#"<?a=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link(""), None);
        let base = Url::parse("https://m:8443/api/v1/accounts/Acme%20Mobile/instances?va=East").unwrap();
        assert_eq!(
            base.join("?va=East&after=xyz").unwrap().as_str(),
            "https://m:8443/api/v1/accounts/Acme%20Mobile/instances?va=East&after=xyz"
        );
    }
}
