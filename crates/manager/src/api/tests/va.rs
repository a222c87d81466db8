//! Renaming and deleting virtual accounts, moving product instances between them, and the CSV
//! reports of licences and instances, through the API: every refusal, the rights, and moves in
//! both directions at once on both engines.

use super::*;

const VAS: &str = "/api/v1/accounts/Acme/virtual-accounts";

impl App {
    /// Acme with VA East (5 licences of [`PW`] in DEFAULT, 1 in East), and device 61 registered
    /// in DEFAULT using 3 licences: the instance's id.
    async fn moving() -> (TestDb, App, Device) {
        let (db, app, token) = App::sqlite_with_token().await;
        let dev = app.setup_moving(&token).await;
        (db, app, dev)
    }

    async fn setup_moving(&self, token: &str) -> Device {
        self.post(VAS, json!({"name": "East"})).await;
        self.deposit("DEFAULT", 5).await;
        self.deposit("East", 1).await;
        let dev = registered(self, 61, token).await;
        self.report(&dev, 3).await;
        dev
    }

    /// `dev` reports `n` licences of [`PW`] in use.
    async fn report(&self, dev: &Device, n: u64) -> AuthorizationResponse {
        device(self, "authorize", &dev.sign(authz(&[(PW, n)]), self.clock.now_secs()))
            .await
            .unwrap()
    }

    /// PW's (in use, status) in `va`, from the licence list.
    async fn pw(&self, va: &str) -> (i64, String) {
        let l = self.get(&format!("{VAS}/{va}/licenses")).await;
        l["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sku"] == PW)
            .map_or((0, "OK".into()), |s| {
                (s["in_use"].as_i64().unwrap(), s["status"].as_str().unwrap().to_string())
            })
    }

    async fn rename_va(&self, va: &str, name: &str) -> (StatusCode, Value) {
        let path = format!("{VAS}/{va}");
        self.call(Method::PATCH, &path, Some(OP_KEY), Some(json!({"name": name})))
            .await
    }

    async fn delete_va(&self, va: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, &format!("{VAS}/{va}"), Some(OP_KEY), None)
            .await
    }

    /// Deleting East is refused, saying `why` in one line.
    async fn delete_refused(&self, why: &str) {
        let r = self.delete_va("East").await;
        let m = expect_error(&r, StatusCode::CONFLICT, "conflict");
        assert!(m.starts_with("cannot delete virtual account East: "), "{m}");
        assert!(m.contains(why), "{m} should say {why}");
        assert!(!m.contains('\n'));
    }

    async fn move_to(&self, key: &str, instance: &str, to: &str) -> (StatusCode, Value) {
        self.post_as(
            key,
            &format!("/api/v1/accounts/Acme/instances/{instance}/move"),
            json!({"to": to}),
        )
        .await
    }
}

#[tokio::test]
async fn renaming_keeps_names_unique_and_default_fixed() {
    let (db, app) = App::sqlite_with_account().await;
    let east = app.post(VAS, json!({"name": "East"})).await;
    app.post(VAS, json!({"name": "West"})).await;
    let (s, v) = app.rename_va("East", "  Atlantic ").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Atlantic");
    assert_eq!(v["id"], east["id"], "the same virtual account, by id");
    // Its licences, tokens and instances follow the id: the old name is gone.
    app.get(&format!("{VAS}/Atlantic/licenses")).await;
    let (s, _) = app.get_as(OP_KEY, &format!("{VAS}/East/licenses")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A name taken in the account, in any case, is refused; so is DEFAULT's own change.
    let m = expect_error(
        &app.rename_va("Atlantic", "west").await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert!(m.contains("already exists"), "{m}");
    let m = expect_error(
        &app.rename_va("DEFAULT", "Main").await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert!(m.contains("DEFAULT virtual account keeps its name"), "{m}");
    expect_error(
        &app.rename_va("Atlantic", " ").await,
        StatusCode::BAD_REQUEST,
        "malformed",
    );
    expect_error(
        &app.rename_va("Atlantic", "a\u{7}b").await,
        StatusCode::BAD_REQUEST,
        "malformed",
    );
    expect_error(&app.rename_va("Nowhere", "X").await, StatusCode::NOT_FOUND, "not_found");
    // Renaming to its own name in another case is its own name, not a conflict.
    let (s, v) = app.rename_va("Atlantic", "ATLANTIC").await;
    assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("ATLANTIC")));
    let names = each(&app.get(VAS).await, "name").join(",");
    assert_eq!(names, "ATLANTIC,DEFAULT,West");
    assert_logged(&app.get("/api/v1/accounts/Acme/events").await, &["va.rename"]);
    db.finish().await;
}

#[tokio::test]
async fn deleting_is_refused_while_the_va_holds_anything() {
    let (db, app) = App::sqlite_with_account().await;
    app.post(VAS, json!({"name": "East"})).await;
    // Licences.
    app.deposit("East", 2).await;
    app.delete_refused("it holds 2 licences").await;
    app.post(
        "/api/v1/accounts/Acme/transfers",
        json!({"from": "East", "to": "DEFAULT", "sku": PW, "quantity": 2}),
    )
    .await;
    // A product instance.
    let t = app.new_token("East", json!({"max_uses": 1})).await;
    let dev = registered(&app, 71, t["token"].as_str().unwrap()).await;
    app.delete_refused("it has 1 product instance").await;
    let id = dev.instance_id.clone().unwrap();
    app.op(Method::DELETE, &format!("/api/v1/accounts/Acme/instances/{id}"), None)
        .await;
    // The token is used up but neither expired nor revoked: a usable token keeps it.
    app.delete_refused("1 registration token not expired or revoked").await;
    let token_id = t["info"]["id"].as_str().unwrap();
    app.post(&format!("/api/v1/accounts/Acme/tokens/{token_id}/revoke"), json!({}))
        .await;
    // A user bound to it.
    app.user_key("Acme", new_user("east@acme.example", "va-user", Some("East")))
        .await;
    app.delete_refused("1 user is bound to it").await;
    app.op(Method::DELETE, "/api/v1/accounts/Acme/users/east@acme.example", None)
        .await;
    // Nothing left: deleted, with its revoked token and spent licence rows.
    let before = app.get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses").await;
    let (s, v) = app.delete_va("East").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(each(&app.get(VAS).await, "name"), ["DEFAULT"]);
    assert_eq!(
        app.get("/api/v1/accounts/Acme/virtual-accounts/DEFAULT/licenses").await,
        before
    );
    let tokens = app.get("/api/v1/accounts/Acme/tokens").await;
    assert_eq!(
        each(&tokens, "virtual_account"),
        ["DEFAULT"],
        "East's revoked token went with it"
    );
    expect_error(&app.delete_va("East").await, StatusCode::NOT_FOUND, "not_found");
    // DEFAULT never goes, even empty.
    let r = app.delete_va("DEFAULT").await;
    let m = expect_error(&r, StatusCode::CONFLICT, "conflict");
    assert!(m.contains("DEFAULT virtual account cannot be deleted"), "{m}");
    assert_logged(&app.get("/api/v1/accounts/Acme/events").await, &["va.delete"]);
    db.finish().await;
}

#[tokio::test]
async fn a_reserved_reservation_keeps_its_va() {
    let (db, app) = App::sqlite_with_account().await;
    app.post(VAS, json!({"name": "East"})).await;
    app.op(
        Method::PUT,
        "/api/v1/accounts/Acme/reservation",
        Some(json!({"reservation": "universal"})),
    )
    .await;
    let node = crate::testutil::TestNode::new(9);
    app.post(
        "/api/v1/accounts/Acme/reservations",
        json!({"va": "East", "request_code": node.request("n1"), "universal": true}),
    )
    .await;
    let r = app.delete_va("East").await;
    let m = expect_error(&r, StatusCode::CONFLICT, "conflict");
    assert!(m.contains("it has 1 licence reservation; return them first"), "{m}");
    db.finish().await;
}

#[tokio::test]
async fn a_moved_instance_takes_its_usage_along() {
    let (db, app, dev) = App::moving().await;
    let id = dev.instance_id.clone().unwrap();
    assert_eq!(app.pw("DEFAULT").await, (3, "OK".into()));
    assert_eq!(app.pw("East").await, (0, "OK".into()));
    let (s, v) = app.move_to(OP_KEY, &id, "East").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some("DEFAULT"), Some("East")));
    assert_eq!(v["usage"], json!([{"sku": PW, "count": 3}]));
    // East holds 1: the move makes it INSUFFICIENT at once; DEFAULT is free again.
    assert_eq!(app.pw("East").await, (3, "INSUFFICIENT".into()));
    assert_eq!(app.pw("DEFAULT").await, (0, "OK".into()));
    let i = app.get(&format!("/api/v1/accounts/Acme/instances/{id}")).await;
    assert_eq!(i["virtual_account"], "East");
    // The node hears it at its next renewal: out of compliance in East.
    let r = app.report(&dev, 3).await;
    assert_eq!(r.status, Compliance::OutOfCompliance, "{r:?}");
    assert_eq!(app.pw("East").await, (3, "INSUFFICIENT".into()), "counted once");
    // Its usage history shows it in both.
    let east = app.get(&format!("{VAS}/East/usage?days=1")).await;
    assert!(east.to_string().contains("\"in_use\":3"), "{east}");
    assert_logged(&app.get("/api/v1/accounts/Acme/events").await, &["instance.move"]);

    // Refusals change nothing.
    let m = expect_error(
        &app.move_to(OP_KEY, &id, "east").await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert!(m.contains("is in virtual account East already"), "{m}");
    expect_error(
        &app.move_to(OP_KEY, &id, "Nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    expect_error(
        &app.move_to(OP_KEY, &id, " ").await,
        StatusCode::BAD_REQUEST,
        "malformed",
    );
    expect_error(
        &app.move_to(OP_KEY, "00000000-0000-4000-8000-000000000000", "DEFAULT")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // A VA of another account is not found from this one.
    app.post("/api/v1/accounts", json!({"name": "Other", "domain": "o.example"}))
        .await;
    let other_default = app.get("/api/v1/accounts/Other/virtual-accounts").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_error(
        &app.move_to(OP_KEY, &id, &other_default).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.pw("East").await, (3, "INSUFFICIENT".into()));
    db.finish().await;
}

#[tokio::test]
async fn moves_need_the_right_in_both_virtual_accounts() {
    let (db, app, dev) = App::moving().await;
    let id = dev.instance_id.clone().unwrap();
    let default_admin = app
        .user_key("Acme", new_user("da@acme.example", "va-admin", Some("DEFAULT")))
        .await;
    let east_admin = app
        .user_key("Acme", new_user("ea@acme.example", "va-admin", Some("East")))
        .await;
    let sa_user = app.user_key("Acme", new_user("su@acme.example", "sa-user", None)).await;
    let va_user = app
        .user_key("Acme", new_user("du@acme.example", "va-user", Some("DEFAULT")))
        .await;
    // The VA administrator of the source may not put it in East, nor East's take it.
    for key in [&default_admin, &east_admin, &va_user] {
        let r = app.move_to(key, &id, "East").await;
        assert!(r.0 == StatusCode::FORBIDDEN || r.0 == StatusCode::NOT_FOUND, "{r:?}");
    }
    assert_eq!(app.pw("DEFAULT").await.0, 3);
    let (s, v) = app.move_to(&sa_user, &id, "East").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // VA roles may not rename or delete VAs; an SA user may.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("{VAS}/East"),
            Some(&east_admin),
            Some(json!({"name": "E"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("{VAS}/East"),
            Some(&sa_user),
            Some(json!({"name": "E"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    db.finish().await;
}

on_both_engines!(moves_in_both_directions_at_once_keep_exact_totals);

/// Instances moved back and forth between two VAs by many tasks at once (each VA's instances to
/// the other), while they report: every move finishes, and each VA's total is the sum of its
/// instances' usage.
async fn moves_in_both_directions_at_once_keep_exact_totals(store: Store) {
    let app = Arc::new(App::on(store).await);
    app.setup_account().await;
    app.post(VAS, json!({"name": "East"})).await;
    let west = app.new_token("DEFAULT", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let east = app.new_token("East", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut devices = Vec::new();
    for n in 0..8u8 {
        let dev = registered(&app, 130 + n, if n % 2 == 0 { &west } else { &east }).await;
        app.report(&dev, u64::from(n) + 1).await;
        devices.push(dev);
    }
    let mut tasks = Vec::new();
    for (n, dev) in devices.iter().enumerate() {
        let app = app.clone();
        let id = dev.instance_id.clone().unwrap();
        tasks.push(tokio::spawn(async move {
            let mut moved = 0;
            for round in 0..6 {
                // Even instances start in DEFAULT, odd ones in East: each round every instance
                // crosses, so half the moves go each way at any time.
                let to = if (n + round) % 2 == 0 { "East" } else { "DEFAULT" };
                let (s, v) = app.move_to(OP_KEY, &id, to).await;
                assert_eq!(s, StatusCode::OK, "{v}");
                moved += 1;
            }
            moved
        }));
    }
    for dev in &devices {
        let app = app.clone();
        let req = dev.sign(authz(&[(PW, 2)]), NOW);
        tasks.push(tokio::spawn(async move {
            device::<AuthorizationResponse>(&app, "authorize", &req).await.unwrap();
            0
        }));
    }
    let mut moves = 0;
    for t in tasks {
        moves += tokio::time::timeout(std::time::Duration::from_secs(120), t)
            .await
            .expect("moves finish (no deadlock)")
            .unwrap();
    }
    assert_eq!(moves, 48);
    // Each VA's total is the sum of its instances' usage, read one by one.
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for dev in &devices {
        let i = app
            .get(&format!(
                "/api/v1/accounts/Acme/instances/{}",
                dev.instance_id.as_ref().unwrap()
            ))
            .await;
        let used: i64 = i["usage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["count"].as_i64().unwrap())
            .sum();
        *sums
            .entry(i["virtual_account"].as_str().unwrap().to_string())
            .or_default() += used;
    }
    for va in ["DEFAULT", "East"] {
        assert_eq!(app.pw(va).await.0, sums.get(va).copied().unwrap_or(0), "{va}: {sums:?}");
    }
    assert_eq!(sums.values().sum::<i64>(), 16, "every instance reports 2 at the end");
    crate::store::tests::assert_instance_counts_exact(app.state.store()).await;
}

#[tokio::test]
async fn csv_reports_of_licences_and_instances() {
    let (db, app, dev) = App::moving().await;
    let (s, csv) = app.get_as(OP_KEY, &format!("{VAS}/DEFAULT/licenses.csv")).await;
    assert_eq!(s, StatusCode::OK);
    let csv = csv.as_str().unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "virtual_account,sku,description,kind,purchased,in_use,balance,status,end_dates"
    );
    assert!(lines[1].starts_with(&format!("DEFAULT,{PW},")), "{csv}");
    assert!(lines[1].ends_with(",counting,5,3,2,OK,"), "{csv}");
    // A shortfall is a plain negative number, not a guarded text.
    app.move_to(OP_KEY, dev.instance_id.as_ref().unwrap(), "East").await;
    let (_, csv) = app.get_as(OP_KEY, &format!("{VAS}/East/licenses.csv")).await;
    assert!(
        csv.as_str().unwrap().contains(",counting,1,3,-2,INSUFFICIENT,"),
        "{csv}"
    );

    // A hostname a spreadsheet would run is defused.
    let (_, csv) = app.get_as(OP_KEY, "/api/v1/accounts/Acme/instances.csv").await;
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.starts_with(
        "id,udi,hostname,virtual_account,software_tag,registered_at,last_contact,id_expires_at,status,satellite\r\n"
    ));
    assert!(
        csv.contains(&format!("\"PID:ASR5500,SN:{}\",host-{},East", dev.sn, dev.sn)),
        "{csv}"
    );
    let evil = dev.sign(
        AuthorizationRequest {
            hostname: "=HYPERLINK(\"x\")".into(),
            ..authz(&[(PW, 3)])
        },
        NOW,
    );
    device::<AuthorizationResponse>(&app, "authorize", &evil).await.unwrap();
    let (_, csv) = app.get_as(OP_KEY, "/api/v1/accounts/Acme/instances.csv?va=East").await;
    assert!(
        csv.as_str().unwrap().contains(",\"'=HYPERLINK(\"\"x\"\")\",East,"),
        "{csv}"
    );
    let (_, csv) = app
        .get_as(OP_KEY, "/api/v1/accounts/Acme/instances.csv?va=DEFAULT")
        .await;
    assert_eq!(
        csv.as_str().unwrap().split("\r\n").count(),
        2,
        "the header alone: {csv}"
    );
    let (s, _) = app
        .get_as(OP_KEY, "/api/v1/accounts/Acme/instances.csv?va=Nowhere")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    db.finish().await;
}
