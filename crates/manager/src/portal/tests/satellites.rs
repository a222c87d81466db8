//! The Satellites page of a Smart Account (create → the token shown once, the list, answer a
//! pasted request → a download) and the Satellite link page (the operator's; a user is refused),
//! with CSRF and rights.

use super::*;
use crate::portal::html::Header;
use crate::portal::satellite_link::page_for;
use crate::testutil::TestDb;
use axum::response::Response;
use smartlic_protocol::admin::{ImportSatelliteAnswer, LinkSatellite};
use smartlic_protocol::satellite::SatelliteToken;

/// The text of the read-only token area of a page, if it has one.
fn token_of(page: &str) -> Option<String> {
    let at = page.find("<textarea id=\"satellite-token\" readonly")?;
    let rest = &page[at..];
    let start = rest.find('>')? + 1;
    rest[start..].split('<').next().map(str::to_string)
}

/// `POST path` of a form of `fields`, the response as it is (for its headers).
async fn post_raw(p: &Portal, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Response {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(fields)))
        .unwrap();
    p.oneshot(req).await
}

async fn body_of(resp: Response) -> String {
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Acme's satellites' names.
async fn satellite_names(p: &Portal) -> Vec<String> {
    let all = admin::list_satellites(&p.state, &operator(), "Acme").await.unwrap();
    all.into_iter().map(|s| s.name).collect()
}

/// The operator's view of a manager's Satellite link page.
async fn link_page(app: &TestApp) -> String {
    let header = Header {
        email: "operator",
        role: "operator",
        csrf: "op-csrf",
    };
    let resp = page_for(&app.state, &operator(), &header, StatusCode::OK, None)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    body_of(resp).await
}

async fn administrators_create_satellites_and_see_the_token_once(store: Store) {
    let p = Portal::on(store).await;
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let home = p.get("/", &cookie).await;
    assert!(home.body.contains("href=\"/satellites\""), "{}", home.body);
    let page = p.get("/satellites", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("No satellite manager") && token_of(&page.body).is_none());
    let edge = p.va_id("Acme", "EDGE").await;
    assert!(
        page.body.contains(&format!("<option value=\"{edge}\">EDGE</option>")),
        "{}",
        page.body
    );

    // Create: 201, the token in a read-only area, the satellite listed (never exchanged).
    let r = p
        .post(
            "/satellites",
            &cookie,
            &[("csrf", &csrf), ("va", &edge), ("name", "site-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = token_of(&r.body).expect("the token area");
    let decoded = SatelliteToken::decode(&token).unwrap();
    let row = row_of(&r.body, "site-1");
    assert!(
        row.contains("<td>EDGE</td>") && row.contains("never") && row.contains("<td>no</td>"),
        "{row}"
    );
    let listed = admin::list_satellites(&p.state, &operator(), "Acme").await.unwrap();
    assert_eq!((listed.len(), listed[0].id.as_str()), (1, decoded.satellite.as_str()));
    // Shown once: the page again has no token.
    let again = p.get("/satellites", &cookie).await;
    assert!(again.body.contains("<td>site-1</td>") && token_of(&again.body).is_none());
    assert!(!again.body.contains(&token));

    // The same name again: the refusal on the page, the form kept, nothing made.
    let r = p
        .post(
            "/satellites",
            &cookie,
            &[("csrf", &csrf), ("va", &edge), ("name", "site-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("flash error") && token_of(&r.body).is_none(),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!("<option value=\"{edge}\" selected>")),
        "{}",
        r.body
    );
    // No such VA, an empty name: one line each.
    for (va, name) in [("NOPE", "site-2"), (edge.as_str(), " ")] {
        let r = p
            .post("/satellites", &cookie, &[("csrf", &csrf), ("va", va), ("name", name)])
            .await;
        assert!(
            r.status.is_client_error() && r.body.contains("flash error"),
            "{}",
            r.body
        );
    }
    // Without the CSRF token: refused.
    let r = p
        .post("/satellites", &cookie, &[("va", &edge), ("name", "site-3")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(satellite_names(&p).await, ["site-1"]);

    // Another account's administrator sees none of Acme's.
    let (bob, _) = p.login("bob@other.example").await;
    let page = p.get("/satellites", &bob).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("site-1") && page.body.contains("No satellite manager"));
}

async fn other_roles_may_not_manage_satellites(store: Store) {
    let p = Portal::on(store).await;
    let (sa_user, _) = add_user(&p, "sam@acme.example", Role::SaUser, None, Some(PASS)).await;
    assert!(!sa_user.is_empty());
    let edge = p.va_id("Acme", "EDGE").await;
    for email in ["carol@acme.example", "sam@acme.example"] {
        let (cookie, csrf) = p.login(email).await;
        let home = p.get("/", &cookie).await;
        assert!(!home.body.contains("/satellites"), "{email}: {}", home.body);
        let page = p.get("/satellites", &cookie).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{email}: {}", page.body);
        assert!(page.body.contains("manage satellite managers"), "{}", page.body);
        let r = p
            .post(
                "/satellites",
                &cookie,
                &[("csrf", &csrf), ("va", &edge), ("name", "mine")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{email}: {}", r.body);
        assert!(token_of(&r.body).is_none());
        // The satellite side is the operator's: a user is refused, nothing linked.
        let page = p.get("/satellite", &cookie).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        assert!(page.body.contains("only the operator"), "{}", page.body);
    }
    assert!(satellite_names(&p).await.is_empty());
    let (alice, csrf) = p.login("alice@acme.example").await;
    let r = p
        .post("/satellite/link", &alice, &[("csrf", &csrf), ("token", "ST1.garbage")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("only the operator"), "{}", r.body);
    for path in ["/satellite/export", "/satellite/sync"] {
        let r = p.post(path, &alice, &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
    }
    let r = p.post("/satellite/export", &alice, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token: {}", r.body);
    assert!(r.body.contains("security token"), "{}", r.body);
    assert!(p.state.store().satellite_link().await.unwrap().is_none());
}

/// A parent's portal answers a satellite's request pasted in its form: the answer is a download
/// the satellite imports; the satellite's link page shows the link before and after.
async fn answers_download_and_the_link_page(store: Store) {
    let p = Portal::on(store).await;
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let edge = p.va_id("Acme", "EDGE").await;
    let r = p
        .post(
            "/satellites",
            &cookie,
            &[("csrf", &csrf), ("va", &edge), ("name", "site-1")],
        )
        .await;
    let token = token_of(&r.body).expect("the token");

    // The satellite: not linked (only the Link form), then linked by hand (no parent URL).
    let db = TestDb::sqlite().await;
    let sat = TestApp::on(db.store.clone()).await;
    let page = link_page(&sat).await;
    assert!(
        page.contains("Link to a parent") && !page.contains("Export request"),
        "{page}"
    );
    let link = LinkSatellite {
        token: token.clone(),
        parent_url: None,
        parent_ca_pem: None,
    };
    let linked = admin::link_satellite(&sat.state, &operator(), link).await.unwrap();
    let page = link_page(&sat).await;
    assert!(
        page.contains(&linked.satellite) && page.contains("Export request"),
        "{page}"
    );
    assert!(
        page.contains("never") && page.contains("not known yet") && !page.contains("Sync now"),
        "{page}"
    );
    let request = admin::satellite_request(&sat.state, &operator()).await.unwrap().request;

    // Garbage or without the CSRF token: refused, nothing answered.
    let r = p
        .post(
            "/satellites/answer",
            &cookie,
            &[("csrf", &csrf), ("request", "not a file")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("flash error"), "{}", r.body);
    let r = p.post("/satellites/answer", &cookie, &[("request", &request)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(!admin::list_satellites(&p.state, &operator(), "Acme").await.unwrap()[0].linked);
    // Another account's administrator: the satellite does not exist for them.
    let (bob, bob_csrf) = p.login("bob@other.example").await;
    let r = p
        .post(
            "/satellites/answer",
            &bob,
            &[("csrf", &bob_csrf), ("request", &request)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // Answered: a download (attachment) the satellite imports.
    let resp = post_raw(
        &p,
        "/satellites/answer",
        &cookie,
        &[("csrf", &csrf), ("request", &request)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "attachment; filename=\"satellite-answer.json\""
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let answer = body_of(resp).await;
    let done = admin::import_satellite_answer(&sat.state, &operator(), ImportSatelliteAnswer { answer })
        .await
        .unwrap();
    assert_eq!((done.account.as_str(), done.va.as_str()), ("Acme", "EDGE"));
    let listed = p.get("/satellites", &cookie).await;
    let row = row_of(&listed.body, "site-1");
    assert!(row.contains("<td>yes</td>") && !row.contains("never"), "{row}");
    let page = link_page(&sat).await;
    assert!(
        page.contains("<td>Acme</td>") && page.contains("<td>EDGE</td>"),
        "{page}"
    );
    assert!(
        page.contains("1 (answered 1)") && !page.contains("<td>never</td>"),
        "{page}"
    );

    // A satellite's product instance on the VA's page: marked with its name, no Remove button.
    let r = p
        .post(
            "/satellites",
            &cookie,
            &[("csrf", &csrf), ("va", &edge), ("name", "site-2")],
        )
        .await;
    let site2 = crate::testutil::Sat::new(&token_of(&r.body).expect("the token"), 9);
    admin::answer_request(&p.state, None, None, &site2.request(1, &[("lab-a", 1)], &[]))
        .await
        .unwrap();
    let va = p.get(&format!("/va/{edge}"), &cookie).await;
    let row = row_of(&va.body, "<code>PID:ASR5500,SN:lab-a");
    assert!(row.contains("(satellite site-2)"), "{row}");
    assert!(!row.contains("Remove"), "{row}");
    db.finish().await;
}

on_both_engines!(
    administrators_create_satellites_and_see_the_token_once,
    other_roles_may_not_manage_satellites,
    answers_download_and_the_link_page,
);
