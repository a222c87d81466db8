//! Licence reservations through the API: the codes made here with the protocol crate, as a node
//! would; the balance, the account's setting, every refusal, the rights, and concurrent creates
//! on both engines.

use super::*;
use base64::Engine;
use smartlic_protocol::reservation::{CodeKind, ReservationAuthorization, ReservationKind, ReservationRequest};

const RES: &str = "/api/v1/accounts/Acme/reservations";

use crate::testutil::TestNode as Node;

impl App {
    /// Acme (with VA East) allowed `policy`, 5 licences of [`PW`] in DEFAULT.
    async fn reserving(policy: &str) -> (TestDb, App) {
        let (db, app) = App::sqlite_with_account().await;
        app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "East"}))
            .await;
        app.op(
            Method::PUT,
            "/api/v1/accounts/Acme/reservation",
            Some(json!({"reservation": policy})),
        )
        .await;
        app.deposit("DEFAULT", 5).await;
        (db, app)
    }

    /// PW in use in DEFAULT, from the licence list.
    async fn pw_in_use(&self) -> i64 {
        let l = self
            .get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses")
            .await;
        l["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sku"] == PW)
            .map_or(0, |s| s["in_use"].as_i64().unwrap())
    }
}

fn slr(code: &str, n: u64) -> Value {
    json!({"va": "DEFAULT", "request_code": code, "licenses": {PW: n}})
}

/// The authorization in an answer, checked against the manager's CA as a node would.
fn authorization(app: &App, answer: &Value) -> ReservationAuthorization {
    let code = answer["authorization_code"].as_str().unwrap();
    assert!(code.starts_with("AU1."), "{code}");
    let anchors = smartlic_protocol::trust::pem_certificates(app.state.pki().ca_pem()).unwrap();
    ReservationAuthorization::decode(code, &anchors).unwrap()
}

/// Create, list, update, confirm, return: the counts in use follow, the codes verify on the
/// node's side, and each step is in the event log.
#[tokio::test]
async fn a_specific_reservation_from_request_to_return() {
    let (db, app) = App::reserving("specific").await;
    let node = Node::new(1);
    let request = node.request("a");
    let created = app.post(RES, slr(&request, 2)).await;
    let auth = authorization(&app, &created);
    assert_eq!(auth.request, smartlic_protocol::reservation::request_id(&request));
    assert_eq!(
        (auth.seq, auth.udi.as_str(), auth.kind),
        (1, node.udi.as_str(), ReservationKind::Specific)
    );
    assert_eq!(auth.licenses.get(PW), Some(&2));
    assert_eq!((auth.account.as_str(), auth.va.as_str()), ("Acme", "DEFAULT"));
    let id = auth.id.clone();
    assert_eq!(app.pw_in_use().await, 2, "reserved licences are in use at once");

    let list = app.get(RES).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["kind"], "SPECIFIC");
    assert_eq!(list[0]["status"], "RESERVED");
    assert_eq!(list[0]["licenses"][PW], 2);
    assert_eq!(list[0]["seq"], 1);
    assert!(list[0]["confirmed_seq"].is_null());
    assert_eq!(app.get(&format!("{RES}?va=East")).await, json!([]));

    let updated = app
        .op(Method::PUT, &format!("{RES}/{id}"), Some(json!({"licenses": {PW: 4}})))
        .await;
    let auth2 = authorization(&app, &updated);
    assert_eq!((auth2.id.as_str(), auth2.seq), (id.as_str(), 2));
    assert_eq!(auth2.licenses.get(PW), Some(&4));
    assert_eq!(
        app.pw_in_use().await,
        4,
        "an update changes the count by the difference"
    );

    let confirmed = app
        .post(
            &format!("{RES}/confirm"),
            json!({"confirmation_code": node.proof(CodeKind::Confirmation, &id, 2)}),
        )
        .await;
    assert_eq!(confirmed["confirmed_seq"], 2);

    let returned = app
        .post(
            &format!("{RES}/return"),
            json!({"return_code": node.proof(CodeKind::Return, &id, 2)}),
        )
        .await;
    assert_eq!(returned["status"], "RETURNED");
    assert_eq!(app.pw_in_use().await, 0, "a return releases the licences");
    let list = app.get(RES).await;
    assert_eq!(list[0]["status"], "RETURNED");
    assert!(list[0]["returned_at"].is_i64());

    let events = app.get("/api/v1/accounts/Acme/events").await;
    assert_logged(
        &events,
        &[
            "reservation.create",
            "reservation.update",
            "reservation.confirm",
            "reservation.return",
        ],
    );
    db.finish().await;
}

/// PLR takes no licences; an account allowed only SLR may not reserve it.
#[tokio::test]
async fn the_universal_licence_needs_the_universal_setting_and_takes_no_licences() {
    let (db, app) = App::reserving("specific").await;
    let node = Node::new(2);
    let plr = json!({"va": "DEFAULT", "request_code": node.request("a"), "universal": true});
    let r = app.post_as(OP_KEY, RES, plr.clone()).await;
    let msg = expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    assert!(msg.contains("universal") && msg.contains("specific"), "{msg}");
    app.op(
        Method::PUT,
        "/api/v1/accounts/Acme/reservation",
        Some(json!({"reservation": "universal"})),
    )
    .await;
    let created = app.post(RES, plr).await;
    let auth = authorization(&app, &created);
    assert_eq!(auth.kind, ReservationKind::Universal);
    assert!(auth.licenses.is_empty());
    assert_eq!(app.pw_in_use().await, 0);
    assert_eq!(created["reservation"]["kind"], "UNIVERSAL");
    // An account allowed PLR may also reserve specific licences.
    let other = Node::new(3);
    app.post(RES, slr(&other.request("a"), 1)).await;
    assert_eq!(app.pw_in_use().await, 1);
    db.finish().await;
}

/// Each refusal of create, update, return and confirm, with its status and words; none changes
/// the counts in use.
#[tokio::test]
async fn every_reservation_refusal() {
    let (db, app) = App::reserving("none").await;
    let node = Node::new(4);
    let request = node.request("a");
    let r = app.post_as(OP_KEY, RES, slr(&request, 1)).await;
    let msg = expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    assert!(msg.contains("does not allow specific"), "{msg}");
    app.op(
        Method::PUT,
        "/api/v1/accounts/Acme/reservation",
        Some(json!({"reservation": "specific"})),
    )
    .await;

    // Codes: mistyped, forged, of another kind.
    let mut typo = request.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&typo, 1)).await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains("damaged or mistyped"), "{msg}");
    let forged = ReservationRequest {
        udi: node.udi.clone(),
        ha_udis: vec![],
        key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(node.key.verifying_key().to_bytes()),
        nonce: "f".into(),
        created_at: NOW,
    }
    .encode(&Node::new(5).key);
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&forged, 1)).await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains("altered or forged"), "{msg}");
    let rt = node.proof(CodeKind::Return, "x", 1);
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&rt, 1)).await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains("not a reservation request code"), "{msg}");

    // Licences: none, zero, unknown, short.
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, json!({"va": "DEFAULT", "request_code": request}))
            .await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains("--license"), "{msg}");
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&request, 0)).await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains(PW) && msg.contains("1 to"), "{msg}");
    let unknown = json!({"va": "DEFAULT", "request_code": request, "licenses": {"NO-SUCH-SKU": 1}});
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, unknown).await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains("unknown SKU"), "{msg}");
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&request, 6)).await,
        StatusCode::CONFLICT,
        codes::INSUFFICIENT,
    );
    assert!(
        msg.contains(PW) && msg.contains("5 available") && msg.contains("6 requested"),
        "{msg}"
    );
    assert_eq!(app.pw_in_use().await, 0);

    // Answered already; the UDI holds a reservation.
    let created = app.post(RES, slr(&request, 3)).await;
    let id = created["reservation"]["id"].as_str().unwrap().to_string();
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&request, 1)).await,
        StatusCode::CONFLICT,
        codes::CONFLICT,
    );
    assert!(msg.contains("answered already"), "{msg}");
    let msg = expect_error(
        &app.post_as(OP_KEY, RES, slr(&node.request("b"), 1)).await,
        StatusCode::CONFLICT,
        codes::CONFLICT,
    );
    assert!(
        msg.contains(&node.udi) && msg.contains("holds a licence reservation"),
        "{msg}"
    );
    // An update beyond the balance.
    let r = app
        .call(
            Method::PUT,
            &format!("{RES}/{id}"),
            Some(OP_KEY),
            Some(json!({"licenses": {PW: 6}})),
        )
        .await;
    let msg = expect_error(&r, StatusCode::CONFLICT, codes::INSUFFICIENT);
    assert!(msg.contains("2 available") && msg.contains("3 requested"), "{msg}");
    assert_eq!(app.pw_in_use().await, 3);

    // Return: another node's signature, another account, then twice.
    let ret = format!("{RES}/return");
    let stranger = Node::new(6);
    let msg = expect_error(
        &app.post_as(
            OP_KEY,
            &ret,
            json!({"return_code": stranger.proof(CodeKind::Return, &id, 1)}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        codes::MALFORMED,
    );
    assert!(msg.contains("not signed by the node key"), "{msg}");
    app.post("/api/v1/accounts", json!({"name": "Other", "domain": "other.example"}))
        .await;
    let good = json!({"return_code": node.proof(CodeKind::Return, &id, 1)});
    let elsewhere = app
        .post_as(OP_KEY, "/api/v1/accounts/Other/reservations/return", good.clone())
        .await;
    let nowhere = app
        .post_as(
            OP_KEY,
            &ret,
            json!({"return_code": node.proof(CodeKind::Return, "00000000-0000-4000-8000-000000000000", 1)}),
        )
        .await;
    let m1 = expect_error(&elsewhere, StatusCode::NOT_FOUND, codes::NOT_FOUND);
    let m2 = expect_error(&nowhere, StatusCode::NOT_FOUND, codes::NOT_FOUND);
    assert_eq!(
        m1.replace("Other", "Acme"),
        m2,
        "another account's reservation reads as no reservation"
    );
    assert_eq!(app.pw_in_use().await, 3);
    app.post(&ret, good.clone()).await;
    let msg = expect_error(
        &app.post_as(OP_KEY, &ret, good).await,
        StatusCode::CONFLICT,
        codes::CONFLICT,
    );
    assert!(msg.contains("returned already"), "{msg}");
    let r = app
        .call(
            Method::PUT,
            &format!("{RES}/{id}"),
            Some(OP_KEY),
            Some(json!({"licenses": {PW: 1}})),
        )
        .await;
    let msg = expect_error(&r, StatusCode::CONFLICT, codes::CONFLICT);
    assert!(msg.contains("returned already"), "{msg}");
    assert_eq!(app.pw_in_use().await, 0);
    db.finish().await;
}

/// The operator, the SA administrator and East's VA administrator (East only) manage
/// reservations; the SA user and the VA user are refused with their role named.
#[tokio::test]
async fn reservation_rights() {
    let (db, app, [va_user, va_admin, sa_user, sa_admin]) = roles().await;
    app.op(
        Method::PUT,
        "/api/v1/accounts/Acme/reservation",
        Some(json!({"reservation": "universal"})),
    )
    .await;
    let plr = |n: u8, va: &str| json!({"va": va, "request_code": Node::new(n).request("r"), "universal": true});
    for (key, role) in [(&va_user, "va-user"), (&sa_user, "sa-user")] {
        for r in [app.post_as(key, RES, plr(10, "East")).await, app.get_as(key, RES).await] {
            let msg = expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
            assert!(msg.contains(role), "{msg}");
        }
    }
    let r = app.post_as(&va_admin, RES, plr(11, "DEFAULT")).await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let (s, east) = app.post_as(&va_admin, RES, plr(12, "East")).await;
    assert_eq!(s, StatusCode::CREATED, "{east}");
    let (s, v) = app.post_as(&sa_admin, RES, plr(13, "DEFAULT")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, mine) = app.get_as(&va_admin, RES).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(each(&mine, "va"), ["East"], "a VA administrator lists its own VA's");
    assert_eq!(app.get_as(&sa_admin, RES).await.1.as_array().unwrap().len(), 2);
    // A VA user may not hand in East's return code either.
    let id = east["reservation"]["id"].as_str().unwrap();
    let ret = json!({"return_code": Node::new(12).proof(CodeKind::Return, id, 1)});
    let r = app.post_as(&va_user, &format!("{RES}/return"), ret.clone()).await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let (s, v) = app.post_as(&va_admin, &format!("{RES}/return"), ret).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("RETURNED")));
    db.finish().await;
}

/// Reserved licences are in use for everything that reads the VA's totals: a registered
/// instance's compliance, the licence list, transfers, and an instance's removal.
#[tokio::test]
async fn reserved_licences_count_for_instances_transfers_and_removal() {
    let (db, app) = App::reserving("specific").await;
    let token = app.default_token(json!({})).await;
    app.post(RES, slr(&Node::new(40).request("a"), 4)).await;
    let dev = registered(&app, 41, &token).await;
    let r: AuthorizationResponse = device(&app, "authorize", &dev.sign(authz(&[(PW, 2)]), NOW))
        .await
        .unwrap();
    assert_eq!(r.status, Compliance::OutOfCompliance, "4 reserved + 2 in use > 5");
    let list = app.get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses").await;
    assert_eq!(
        (
            list["licenses"][0]["in_use"].as_i64(),
            list["licenses"][0]["status"].as_str()
        ),
        (Some(6), Some("INSUFFICIENT"))
    );
    let r = app
        .post_as(
            OP_KEY,
            "/api/v1/accounts/Acme/transfers",
            json!({"from": "DEFAULT", "to": "East", "sku": PW, "quantity": 1}),
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, codes::INSUFFICIENT);
    let id = dev.instance_id.clone().unwrap();
    app.op(Method::DELETE, &format!("/api/v1/accounts/Acme/instances/{id}"), None)
        .await;
    assert_eq!(app.pw_in_use().await, 4, "the instance's 2 go, the reserved 4 stay");
    db.finish().await;
}

/// Two concurrent creates that together exceed the balance: one is refused, the total in use
/// never passes what was purchased.
async fn concurrent_reservations_never_oversell(store: Store) {
    let app = App::on(store).await;
    app.setup_account().await;
    app.op(
        Method::PUT,
        "/api/v1/accounts/Acme/reservation",
        Some(json!({"reservation": "specific"})),
    )
    .await;
    app.deposit("DEFAULT", 5).await;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for n in 0..4u8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let code = Node::new(30 + n).request("c");
            app.post_as(OP_KEY, RES, slr(&code, 3)).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            StatusCode::CREATED => created += 1,
            _ => {
                expect_error(&(s, v), StatusCode::CONFLICT, codes::INSUFFICIENT);
            }
        }
    }
    assert_eq!(created, 1, "5 licences hold one reservation of 3");
    assert_eq!(app.pw_in_use().await, 3);
}

on_both_engines!(concurrent_reservations_never_oversell);
