//! The reservation page of a virtual account: reserve (the authorization code in a read-only
//! text area), a refusal shown on the page, return, CSRF, and who may see it.

use super::*;
use crate::testutil::TestNode;
use smartlic_protocol::admin::{ReservationPolicy, SetReservationPolicy};
use smartlic_protocol::reservation::{CodeKind, ReservationAuthorization};

/// PW in use in Acme's DEFAULT.
async fn pw_in_use(p: &Portal) -> i64 {
    let l = admin::license_list(&p.state, &operator(), "Acme", "DEFAULT")
        .await
        .unwrap();
    l.licenses.iter().find(|l| l.sku == PW).map_or(0, |l| l.in_use)
}

/// The text of the read-only authorization code area of a page.
fn authorization_code_of(page: &str) -> String {
    let at = page
        .find("<textarea id=\"authorization-code\" readonly")
        .expect("the authorization code area");
    let rest = &page[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..].split('<').next().unwrap().to_string()
}

async fn reserve_return_and_refusals(store: Store) {
    let p = Portal::on(store).await;
    let op = operator();
    let allow = SetReservationPolicy {
        reservation: ReservationPolicy::Specific,
    };
    admin::set_reservation_policy(&p.state, &op, "Acme", allow)
        .await
        .unwrap();
    let (cookie, csrf) = p.login("alice@acme.example").await;
    let default = p.va_id("Acme", "DEFAULT").await;
    let page = p.get(&format!("/va/{default}"), &cookie).await;
    assert!(
        page.body.contains(&format!("href=\"/va/{default}/reservations\"")),
        "{}",
        page.body
    );
    let path = format!("/va/{default}/reservations");
    let page = p.get(&path, &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Reserve licences") && page.body.contains(&format!("name=\"qty.{PW}\"")));
    assert!(!page.body.contains("name=\"universal\""), "the account allows SLR only");

    // Reserve 4 of 10: the authorization code is on the page, read-only; 4 are in use.
    let node = TestNode::new(1);
    let qty = format!("qty.{PW}");
    let request = node.request("portal");
    let r = p
        .post(
            &path,
            &cookie,
            &[("csrf", &csrf), ("request_code", &request), (&qty, "4")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let code = authorization_code_of(&r.body);
    let anchors = smartlic_protocol::trust::pem_certificates(p.state.pki().ca_pem()).unwrap();
    let auth = ReservationAuthorization::decode(&code, &anchors).unwrap();
    assert_eq!(
        (auth.udi.as_str(), auth.licenses.get(PW)),
        (node.udi.as_str(), Some(&4))
    );
    assert!(
        r.body.contains(&auth.id) && r.body.contains("RESERVED"),
        "listed: {}",
        r.body
    );
    assert_eq!(pw_in_use(&p).await, 4);

    // More than the balance: the refusal is on the page, the request code kept, nothing changes.
    let other = TestNode::new(2).request("portal");
    let r = p
        .post(
            &path,
            &cookie,
            &[("csrf", &csrf), ("request_code", &other), (&qty, "7")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("flash error") && r.body.contains("6 available"),
        "{}",
        r.body
    );
    assert!(r.body.contains(&other), "the request code stays in the form");
    assert!(!r.body.contains("authorization-code"));
    // Without the CSRF token: refused.
    let r = p.post(&path, &cookie, &[("request_code", &other), (&qty, "1")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(pw_in_use(&p).await, 4);

    // Return.
    let ret = node.proof(CodeKind::Return, &auth.id, 1);
    let r = p
        .post(
            &format!("{path}/return"),
            &cookie,
            &[("csrf", &csrf), ("return_code", &ret)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&format!("{}: returned", auth.id)), "{}", r.body);
    assert!(r.body.contains("RETURNED"));
    assert_eq!(pw_in_use(&p).await, 0);

    // A VA user may not manage reservations: no link, the page is refused.
    let (carol, _) = p.login("carol@acme.example").await;
    let edge = p.va_id("Acme", "EDGE").await;
    let page = p.get(&format!("/va/{edge}"), &carol).await;
    assert!(!page.body.contains("/reservations"));
    let page = p.get(&format!("/va/{edge}/reservations"), &carol).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
}

on_both_engines!(reserve_return_and_refusals);
