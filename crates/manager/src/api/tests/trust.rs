//! The findings of the "Trust" review, each as the attack that used to work: a token of one VA
//! taking over another VA's node, a device claiming more than its platform carries, a signature
//! moved to another endpoint, an overflowing timestamp, unknown fields, an event log grown by
//! unauthenticated refusals, and credentials that could not be revoked.

use super::*;

async fn events_of(app: &App, action: &str) -> Vec<Value> {
    let events = app.get(&format!("/api/v1/accounts/Acme/events?action={action}")).await;
    events.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_token_of_one_va_never_takes_a_node_of_another() {
    let (db, app) = App::sqlite().await;
    let (_, default_token) = app.setup_account().await;
    app.post("/api/v1/accounts/Acme/virtual-accounts", json!({"name": "Core"}))
        .await;
    let core_token = app.new_token("Core", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let real = registered(&app, 20, &core_token).await;
    let real_id = real.instance_id.clone().unwrap();

    // A fake device with the real serial number and a DEFAULT token: refused, nothing changes.
    let mut fake = Device::new(21);
    fake.sn = real.sn.clone();
    let e = refused(&app, "register", &fake.sign(fake.register_body(&default_token), NOW)).await;
    let msg = expect_error(&e, StatusCode::CONFLICT, codes::CONFLICT);
    assert!(msg.contains("another virtual account"), "{msg}");
    let r: AuthorizationResponse = device(&app, "authorize", &real.sign(authz(&[(PW, 1)]), NOW))
        .await
        .unwrap();
    assert_eq!(r.entitlements.len(), 1);
    let tokens = app.get("/api/v1/accounts/Acme/tokens?va=DEFAULT").await;
    assert_eq!(tokens[0]["uses"], 0, "a refused registration takes no use: {tokens}");

    // A reinstalled node registering again in its own VA replaces its old instance, logged.
    let mut reinstalled = Device::new(22);
    reinstalled.sn = real.sn.clone();
    register(&app, &mut reinstalled, &core_token).await;
    assert_ne!(reinstalled.instance_id.as_deref(), Some(real_id.as_str()));
    let e = refused(&app, "authorize", &real.sign(authz(&[]), NOW)).await;
    expect_error(&e, StatusCode::NOT_FOUND, codes::UNKNOWN_INSTANCE);
    assert_eq!(events_of(&app, "instance.replace").await.len(), 1);
    db.finish().await;
}

#[tokio::test]
async fn a_report_beyond_the_platform_is_refused_logged_and_alerted() {
    let (db, app, token) = App::sqlite_with_token().await;
    app.deposit("DEFAULT", 10).await;
    let honest = registered(&app, 30, &token).await;
    let r: AuthorizationResponse = device(&app, "authorize", &honest.sign(authz(&[(PW, 2)]), NOW))
        .await
        .unwrap();
    assert_eq!(r.status, Compliance::Authorized);

    let forged = registered(&app, 31, &token).await;
    // One ASR 5500 carries 40,000,000 sessions of a service: 4,000 licences.
    let max = Catalog::staros().licenses_for_sessions(40_000_000);
    let e = refused(&app, "authorize", &forged.sign(authz(&[(PW, max + 1)]), NOW)).await;
    let msg = expect_error(&e, StatusCode::UNPROCESSABLE_ENTITY, codes::OVER_CAPACITY);
    assert!(msg.contains("at most 4000"), "{msg}");
    // An on/off feature is one licence or none.
    let e = refused(
        &app,
        "authorize",
        &forged.sign(authz(&[("ASR5K-00-GN01REC", 2)]), NOW + 1),
    )
    .await;
    expect_error(&e, StatusCode::UNPROCESSABLE_ENTITY, codes::OVER_CAPACITY);
    // The honest node stays in compliance: the forged report counted for nothing.
    let list = app.get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses").await;
    assert_eq!(list["licenses"][0]["in_use"], 2, "{list}");
    let r: AuthorizationResponse = device(&app, "authorize", &honest.sign(authz(&[(PW, 2)]), NOW + 2))
        .await
        .unwrap();
    assert_eq!(r.status, Compliance::Authorized);
    // Logged (the two refusals of one instance within minutes fold into one event) and alerted.
    let logged = events_of(&app, "device.over_capacity").await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    let alerts = app.get("/api/v1/accounts/Acme/alerts").await;
    let kinds = each(&alerts, "kind");
    assert!(
        kinds.contains(&"Usage Report Refused: Over Platform Capacity"),
        "{alerts}"
    );
    // Exactly at the capacity is accepted.
    let r: AuthorizationResponse = device(&app, "authorize", &forged.sign(authz(&[(PW, 1)]), NOW + 3))
        .await
        .unwrap();
    assert_eq!(r.entitlements[0].count, 1);
    db.finish().await;
}

#[tokio::test]
async fn envelopes_are_exact() {
    let (db, app, token) = App::sqlite_with_token().await;
    let dev = registered(&app, 40, &token).await;

    // An authorization envelope (never seen by the manager) replayed at /deregister: its
    // signature is bound to "authorize" and does not verify there. The instance stays.
    let authorize = dev.sign(authz(&[]), NOW);
    let e = refused(&app, "deregister", &authorize).await;
    expect_error(&e, StatusCode::UNAUTHORIZED, codes::BAD_SIGNATURE);
    device::<AuthorizationResponse>(&app, "authorize", &authorize)
        .await
        .unwrap();

    // A timestamp that would overflow the skew arithmetic is as stale as any other.
    for ts in [i64::MIN, i64::MAX, i64::MIN + 1] {
        let e = refused(&app, "authorize", &dev.sign(authz(&[]), ts)).await;
        expect_error(&e, StatusCode::BAD_REQUEST, codes::STALE);
    }

    // Unknown fields: in the envelope, and inside the signed body.
    let mut v = serde_json::to_value(dev.sign(authz(&[]), NOW)).unwrap();
    v["admin"] = json!(true);
    let r = app.call(Method::POST, "/api/v1/device/authorize", None, Some(v)).await;
    expect_error(&r, StatusCode::BAD_REQUEST, codes::MALFORMED);
    #[derive(Serialize)]
    struct Sneaky {
        hostname: String,
        usage: Vec<Usage>,
        free_licences: u32,
    }
    impl smartlic_protocol::envelope::Message for Sneaky {
        const KIND: &'static str = "authorize";
    }
    let sneaky = Sneaky {
        hostname: String::new(),
        usage: vec![],
        free_licences: 1000,
    };
    let e = refused(&app, "authorize", &dev.sign(sneaky, NOW)).await;
    expect_error(&e, StatusCode::BAD_REQUEST, codes::MALFORMED);
    db.finish().await;
}

#[tokio::test]
async fn unauthenticated_refusals_do_not_grow_the_event_log() {
    let (db, app, token) = App::sqlite_with_token().await;
    let dev = registered(&app, 50, &token).await;
    let before = app.get("/api/v1/accounts/Acme/events").await;
    let mut thief = Device::new(51);
    thief.instance_id = dev.instance_id.clone();
    for i in 0..200 {
        let e = refused(&app, "authorize", &thief.sign(authz(&[]), NOW + i % 60)).await;
        expect_error(&e, StatusCode::UNAUTHORIZED, codes::BAD_SIGNATURE);
    }
    let after = app.get("/api/v1/accounts/Acme/events").await;
    let added = after.as_array().unwrap().len() - before.as_array().unwrap().len();
    assert_eq!(added, 1, "200 forged requests, one event: {after}");
    // After the window, the next one is logged and says how many were folded into it.
    app.clock.set(NOW + crate::refusal_log::WINDOW);
    let e = refused(
        &app,
        "authorize",
        &thief.sign(authz(&[]), NOW + crate::refusal_log::WINDOW),
    )
    .await;
    expect_error(&e, StatusCode::UNAUTHORIZED, codes::BAD_SIGNATURE);
    let refusals = events_of(&app, "device.refused").await;
    assert_eq!(refusals.len(), 2);
    assert!(
        refusals
            .iter()
            .any(|e| e["detail"].as_str().unwrap().contains("and 199 more")),
        "{refusals:?}"
    );
    db.finish().await;
}

#[tokio::test]
async fn credentials_can_be_revoked_and_rotated() {
    let (db, app) = App::sqlite_with_account().await;
    let admin = app
        .user_key("Acme", new_user("boss@acme.example", "sa-admin", None))
        .await;
    let user = app
        .user_key("Acme", new_user("ann@acme.example", "sa-user", None))
        .await;
    let get = |key: &str| {
        let key = key.to_string();
        let app = &app;
        async move { app.get_as(&key, "/api/v1/accounts/Acme").await.0 }
    };
    assert_eq!(get(&user).await, StatusCode::OK);

    // Disabled: the key stops at once; enabled: it works again.
    let (s, v) = app
        .act_as(&admin, "/api/v1/accounts/Acme/users/ann@acme.example/disable")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["disabled"], true);
    assert_eq!(get(&user).await, StatusCode::UNAUTHORIZED);
    let users = app.get("/api/v1/accounts/Acme/users").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "ann@acme.example" && u["disabled"] == true)
    );
    app.op(
        Method::POST,
        "/api/v1/accounts/Acme/users/ann@acme.example/enable",
        None,
    )
    .await;
    assert_eq!(get(&user).await, StatusCode::OK);

    // Only an SA administrator manages others; nobody disables themselves.
    let r = app
        .act_as(&user, "/api/v1/accounts/Acme/users/boss@acme.example/disable")
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let r = app
        .act_as(&admin, "/api/v1/accounts/Acme/users/boss@acme.example/disable")
        .await;
    expect_error(&r, StatusCode::CONFLICT, codes::CONFLICT);

    // A user rotates their own key: the old one stops, the new one works.
    let (s, v) = app
        .act_as(&user, "/api/v1/accounts/Acme/users/ann@acme.example/rotate-key")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rotated = v["api_key"].as_str().unwrap().to_string();
    assert_eq!(get(&user).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&rotated).await, StatusCode::OK);

    // Removed: gone from the list, key refused.
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/accounts/Acme/users/ann@acme.example",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(get(&rotated).await, StatusCode::UNAUTHORIZED);

    // The operator rotates their own key; users may not.
    let r = app.act_as(&admin, "/api/v1/operator/rotate-key").await;
    expect_error(&r, StatusCode::FORBIDDEN, codes::FORBIDDEN);
    let v = app.op(Method::POST, "/api/v1/operator/rotate-key", None).await;
    let new_op = v["api_key"].as_str().unwrap().to_string();
    assert_eq!(get(OP_KEY).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&new_op).await, StatusCode::OK);
    let r = app.get_as(&new_op, "/api/v1/accounts/Acme/events?action=user.").await;
    assert_logged(&r.1, &["user.disable", "user.enable", "user.rotate_key", "user.remove"]);
    db.finish().await;
}

on_both_engines!(the_event_log_keeps_its_retention);

async fn the_event_log_keeps_its_retention(store: Store) {
    let audit = crate::store::Audit::system();
    for at in [NOW - 500 * DAY, NOW - 401 * DAY, NOW - 10 * DAY] {
        store
            .log_event(
                at,
                &audit,
                crate::store::Event {
                    action: "test.event",
                    detail: format!("at {at}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(store.prune_events(NOW - 400 * DAY, 1).await.unwrap(), 1);
    assert_eq!(store.prune_events(NOW - 400 * DAY, 10).await.unwrap(), 1);
    assert_eq!(store.prune_events(NOW - 400 * DAY, 10).await.unwrap(), 0);
    let left = store.list_events(None, 10).await.unwrap();
    assert!(left.iter().any(|e| e.detail == format!("at {}", NOW - 10 * DAY)));
    assert!(left.iter().all(|e| e.at >= NOW - 400 * DAY));
}
