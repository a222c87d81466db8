//! The portal's cookies (every attribute set, a Cookie header read strictly) and its
//! constant-time comparison of secrets.

use super::*;

#[test]
fn cookies_are_set_with_every_attribute_and_read_strictly() {
    use axum::http::{HeaderMap, HeaderValue};
    use axum::response::IntoResponse;
    let resp = crate::portal::with_cookie(().into_response(), SESSION_COOKIE, "abc", SESSION_TTL);
    let resp = crate::portal::with_cookie(resp, LOGIN_COOKIE, "", 0);
    let set: Vec<_> = resp.headers().get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(set.len(), 2);
    let session = set[0].to_str().unwrap();
    let cleared = set[1].to_str().unwrap();
    assert!(session.starts_with(&format!("{SESSION_COOKIE}=abc;")), "{session}");
    assert!(cleared.starts_with(&format!("{LOGIN_COOKIE}=;")), "{cleared}");
    for (c, age) in [(session, SESSION_TTL), (cleared, 0)] {
        let attrs: Vec<&str> = c.split(';').skip(1).map(str::trim).collect();
        for attr in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            &format!("Max-Age={age}"),
        ] {
            assert!(attrs.contains(&attr), "{c} lacks {attr}");
        }
    }

    let mut h = HeaderMap::new();
    let long = "x".repeat(257);
    for v in [
        "junk; a=1".to_string(),
        format!("{LOGIN_COOKIE}=; {SESSION_COOKIE}={long}"),
        format!("other=2; {SESSION_COOKIE}= s1 ; {SESSION_COOKIE}=s2"),
    ] {
        h.append(header::COOKIE, HeaderValue::from_str(&v).unwrap());
    }
    assert_eq!(crate::portal::read_cookie(&h, "a").as_deref(), Some("1"));
    assert_eq!(crate::portal::read_cookie(&h, LOGIN_COOKIE), None, "empty");
    assert_eq!(crate::portal::read_cookie(&h, "missing"), None);
    // The first cookie of the name counts, and one too long is none at all.
    assert_eq!(crate::portal::read_cookie(&h, SESSION_COOKIE), None, "over 256 bytes");
    h.remove(header::COOKIE);
    h.append(
        header::COOKIE,
        HeaderValue::from_static("other=2; __Host-smartlic-session= s1 ; x=s2"),
    );
    assert_eq!(crate::portal::read_cookie(&h, SESSION_COOKIE).as_deref(), Some("s1"));
}

#[test]
fn secrets_are_the_same_only_byte_for_byte() {
    use crate::portal::same_secret;
    assert!(same_secret("tok-123", "tok-123") && same_secret("", ""));
    for other in ["tok-124", "tok-12", "tok-1234", "Tok-123", ""] {
        assert!(!same_secret("tok-123", other), "{other}");
    }
}
