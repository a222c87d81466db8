//! `Link` headers (RFC 8288) of paged lists, parsed by the `http-link` crate: it follows the
//! RFC's own parsing algorithm (Appendix B: quoted values, several `rel` values, targets resolved
//! against the requested URL).

use crate::ClientError;
use reqwest::Url;

/// The target of the `rel="next"` link among a response's `Link` header values, resolved
/// against `base` (the URL that was requested); `None` when no link is `next`. A value that is
/// not a `Link` header is an error rather than the last page: a list silently cut short would
/// be worse.
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a [u8]>, base: &Url) -> Result<Option<Url>, ClientError> {
    for value in values {
        let bad = |reason: String| ClientError::BadNextLink {
            link: String::from_utf8_lossy(value).chars().take(200).collect(),
            reason,
        };
        let text = std::str::from_utf8(value).map_err(|_| bad("not UTF-8 text".into()))?;
        let links = http_link::parse_link_header(text, base).map_err(|e| bad(e.to_string()))?;
        if let Some(next) = links.into_iter().find(|l| l.rel == "next") {
            return Ok(Some(next.target));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://m:8443/api/v1/accounts/Acme%20Mobile/instances?va=East").unwrap()
    }

    fn next(header: &str) -> Result<Option<String>, ClientError> {
        next_link([header.as_bytes()], &base()).map(|u| u.map(String::from))
    }

    proptest::proptest! {
        /// Whatever a server sends, the parser answers (never panics), and a next link among
        /// other links is found as sent, resolved against the requested URL.
        #[test]
        fn next_links_survive_any_header(header in "\\PC{0,200}", target in "[?a-z0-9=&_/.:-]{0,60}") {
            let _ = next(&header);
            let value = format!(r#"</prev>; rel="prev", <{target}>; rel="next""#);
            match base().join(&target) {
                Ok(url) => proptest::prop_assert_eq!(next(&value).ok().flatten(), Some(url.to_string())),
                Err(_) => proptest::prop_assert!(next(&value).is_err()),
            }
        }
    }

    #[test]
    fn next_links_are_found() {
        assert_eq!(
            next(r#"<?va=East&after=xyz>; rel="next""#).unwrap().as_deref(),
            Some("https://m:8443/api/v1/accounts/Acme%20Mobile/instances?va=East&after=xyz")
        );
        assert_eq!(
            next(r#"</x?p=1>; rel="prev", <https://h/y?p=3>; rel="last next"; title="n""#)
                .unwrap()
                .as_deref(),
            Some("https://h/y?p=3")
        );
        assert_eq!(
            next("<?a=1>; REL=NEXT").unwrap().as_deref(),
            Some("https://m:8443/api/v1/accounts/Acme%20Mobile/instances?a=1")
        );
        assert_eq!(next(r#"<?a=1>; rel="prev""#).unwrap(), None);
        assert_eq!(next_link([], &base()).unwrap(), None);
        // Two header lines: the second holds the next link.
        let two = [&b"</p1>; rel=\"prev\""[..], &b"</p3>; rel=\"next\""[..]];
        assert_eq!(
            next_link(two, &base()).unwrap().map(String::from).as_deref(),
            Some("https://m:8443/p3")
        );
    }

    #[test]
    fn bad_link_headers_are_errors() {
        for bad in ["garbage", "", "<?a=1", "<http://[::1>; rel=next"] {
            let e = next(bad).expect_err(bad).to_string();
            assert!(e.starts_with("the license manager's next page link"), "{bad}: {e}");
        }
        let e = next_link([&b"<\xff>; rel=next"[..]], &base()).expect_err("not UTF-8");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }
}
