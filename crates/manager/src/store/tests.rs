//! The store suite: every test runs on SQLite and on PostgreSQL.

use super::instances::UsageReport;
use super::*;
use crate::ids::{AccountId, ProductInstanceId, VirtualAccountId};
use crate::refusal::Refusal;
use crate::testutil::on_both_engines;
use smartlic_protocol::wire::codes;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

on_both_engines!(
    accounts_and_virtual_accounts,
    deposits_and_transfers,
    token_uses_are_counted_atomically,
    token_refusals_change_nothing,
    usage_totals_follow_reports_removals_and_reregistrations,
    concurrent_reports_keep_exact_totals,
    a_report_the_database_fails_fails_alone,
    reports_after_close_are_refused,
    nonces_refuse_replays_and_are_pruned,
    pki_is_set_up_once,
    users_keys_and_events,
    gauges_read_licences_and_instances,
);

/// The per-VA instance counts the triggers keep (migration 0014) are the instances' count, and
/// so are the per-VA counts by status (migration 0017).
pub(crate) async fn assert_instance_counts_exact(s: &Store) {
    assert_same_rows::<(String, i64)>(
        s,
        "SELECT va_id, n FROM va_instance_counts WHERE n <> 0 ORDER BY va_id",
        "SELECT va_id, COUNT(*) FROM product_instances GROUP BY va_id ORDER BY va_id",
    )
    .await;
    assert_same_rows::<(String, String, i64)>(
        s,
        "SELECT va_id, status, n FROM va_status_counts WHERE n <> 0 ORDER BY va_id, status",
        "SELECT va_id, COALESCE(last_auth_status, 'NONE'), COUNT(*) FROM product_instances \
         GROUP BY va_id, COALESCE(last_auth_status, 'NONE') ORDER BY 1, 2",
    )
    .await;
}

/// The rows of a kept count and of the count it keeps are the same.
async fn assert_same_rows<T>(s: &Store, kept: &'static str, counted: &'static str)
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin + PartialEq + std::fmt::Debug,
{
    let kept: Vec<T> = sqlx::query_as(kept).fetch_all(s.pool()).await.unwrap();
    let counted: Vec<T> = sqlx::query_as(counted).fetch_all(s.pool()).await.unwrap();
    assert_eq!(kept, counted);
}

fn op() -> Audit {
    Audit::new("operator", Some("127.0.0.1".into()))
}

fn refused_code(e: StoreError) -> &'static str {
    match e {
        StoreError::Refused(a) => a.code(),
        other => panic!("expected a refusal, got {other}"),
    }
}

async fn accounts_and_virtual_accounts(s: Store) {
    let (a, default) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    assert_eq!(default.name, "DEFAULT");
    assert_eq!(default.account_id, a.id);
    let e = s.create_account("ACME", "x.example", NOW, &op()).await.unwrap_err();
    assert_eq!(refused_code(e), codes::CONFLICT);
    assert_eq!(s.find_account("acme").await.unwrap().unwrap().id, a.id);
    assert_eq!(s.find_account(&a.id).await.unwrap().unwrap().name, "Acme");
    assert!(s.find_account("nobody").await.unwrap().is_none());

    let east = s.create_va(&a.id, "East", "eastern sites", NOW, &op()).await.unwrap();
    assert_eq!(
        refused_code(s.create_va(&a.id, "east", "", NOW, &op()).await.unwrap_err()),
        codes::CONFLICT
    );
    let (b, _) = s.create_account("Other", "other.example", NOW, &op()).await.unwrap();
    // The same name in another account is fine, and never found from the first one.
    let b_east = s.create_va(&b.id, "East", "", NOW, &op()).await.unwrap();
    assert_eq!(s.find_va(&a.id, "EAST").await.unwrap().unwrap().id, east.id);
    assert_eq!(s.find_va(&a.id, &east.id).await.unwrap().unwrap().name, "East");
    assert!(s.find_va(&a.id, &b_east.id).await.unwrap().is_none());
    let names: Vec<_> = s.list_vas(&a.id).await.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["DEFAULT", "East"]);
    assert_eq!(s.list_accounts().await.unwrap().len(), 2);
    assert_eq!(
        s.va_by_id(&east.id).await.unwrap().unwrap().description,
        "eastern sites"
    );
}

async fn deposits_and_transfers(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let east = s.create_va(&a.id, "East", "", NOW, &op()).await.unwrap();
    let sku = "ASR5K-00-PW10GTWY";
    s.deposit(&a.id, &d.id, sku, 3, None, NOW, &op()).await.unwrap();
    s.deposit(&a.id, &d.id, sku, 2, Some(NOW + 10 * DAY), NOW, &op())
        .await
        .unwrap();
    let lots = s.license_lots(&d.id).await.unwrap();
    let total: i64 = lots.iter().map(|l| l.quantity).sum();
    assert_eq!(total, 5);

    // Moving 4 takes the 2 ending soonest, then 2 perpetual ones.
    s.transfer(&a.id, &d.id, &east.id, sku, 4, NOW, &op()).await.unwrap();
    let lots = lots_of(&s, &east.id).await;
    assert_eq!(crate::compliance::purchased(&lots, NOW), 4);
    assert_eq!(
        crate::compliance::purchased(&lots, NOW + 10 * DAY),
        2,
        "moved licences keep their end date"
    );
    let src = lots_of(&s, &d.id).await;
    assert_eq!(crate::compliance::purchased(&src, NOW), 1);

    // Refused below zero available; nothing changes.
    let e = s
        .transfer(&a.id, &d.id, &east.id, sku, 2, NOW, &op())
        .await
        .unwrap_err();
    assert_eq!(refused_code(e), codes::INSUFFICIENT);
    let src_after = lots_of(&s, &d.id).await;
    assert_eq!(crate::compliance::purchased(&src_after, NOW), 1);
    assert!(s.va_in_use(&d.id).await.unwrap().is_empty());
}

/// The lots of the virtual account `va`.
async fn lots_of(s: &Store, va: &VirtualAccountId) -> Vec<crate::compliance::Lot> {
    let rows = s.license_lots(va).await.unwrap();
    rows.into_iter().map(|l| l.into_lot().1).collect()
}

async fn new_token(s: &Store, va: &VirtualAccountId, max_uses: Option<i64>, secret: &str) -> TokenRow {
    let hash = crate::tokens::hash_secret(secret);
    s.create_token(
        NewToken {
            va_id: va,
            secret_hash: &hash,
            description: "test",
            expires_at: NOW + 30 * DAY,
            max_uses,
            export_controlled: true,
        },
        NOW,
        &op(),
    )
    .await
    .unwrap()
}

fn instance(n: usize) -> NewInstance {
    NewInstance {
        id: ProductInstanceId::fresh(),
        udi_pid: "VPC-SI".into(),
        udi_sn: format!("SN{n:04}"),
        hostname: format!("node{n}"),
        software_tag: "regid.test".into(),
        agent_version: "1".into(),
        public_key: "AAAA".into(),
        id_cert_expires_at: NOW + 365 * DAY,
        ha_udis: String::new(),
    }
}

/// Registers `n` instances in a new account's DEFAULT VA; their ids, in registration order.
pub(crate) async fn register_some(s: &Store, n: usize) -> Vec<ProductInstanceId> {
    let (_, d) = s.create_account("Many", "many.example", NOW, &op()).await.unwrap();
    register_in(s, &d.id, n).await
}

/// Registers `n` instances (hostnames `node0`…) in the VA `va_id`; their ids, in registration order.
pub(crate) async fn register_in(s: &Store, va_id: &VirtualAccountId, n: usize) -> Vec<ProductInstanceId> {
    let t = new_token(s, va_id, None, &format!("secret-{va_id}")).await;
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        ids.push(s.register_instance(&t.id, &instance(k), NOW, &op()).await.unwrap().0.id);
    }
    ids
}

async fn token_uses_are_counted_atomically(s: Store) {
    let (_, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let t = new_token(&s, &d.id, Some(3), "secret-3").await;
    assert_eq!(
        s.token_by_secret_hash(&crate::tokens::hash_secret("secret-3"))
            .await
            .unwrap()
            .unwrap()
            .id,
        t.id
    );
    let mut tasks = Vec::new();
    for n in 0..12 {
        let s = s.clone();
        let id = t.id.clone();
        tasks.push(tokio::spawn(async move {
            s.register_instance(&id, &instance(n), NOW, &op()).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok((i, tok)) => {
                ok += 1;
                assert_eq!(i.va_name, "DEFAULT");
                assert!(tok.export_controlled);
            }
            Err(e) => assert_eq!(refused_code(e), codes::TOKEN_USED_UP),
        }
    }
    assert_eq!(ok, 3, "exactly max-uses registrations succeed");
    let t = s.find_token(&d.account_id, &t.id).await.unwrap().unwrap();
    assert_eq!(t.uses, 3);
    assert_eq!(s.count_instances(&d.account_id, None).await.unwrap(), 3);
}

async fn token_refusals_change_nothing(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let t = new_token(&s, &d.id, None, "secret-r").await;
    let e = s
        .register_instance(&t.id, &instance(1), NOW + 31 * DAY, &op())
        .await
        .unwrap_err();
    assert_eq!(refused_code(e), codes::TOKEN_EXPIRED);
    s.revoke_token(&t, NOW + DAY, &op()).await.unwrap();
    let again = s.revoke_token(&t, NOW + 2 * DAY, &op()).await.unwrap();
    assert_eq!(again.revoked_at, Some(NOW + DAY), "first revocation time is kept");
    let e = s
        .register_instance(&t.id, &instance(1), NOW + DAY, &op())
        .await
        .unwrap_err();
    assert_eq!(refused_code(e), codes::TOKEN_REVOKED);
    assert_eq!(s.count_instances(&a.id, None).await.unwrap(), 0);
    assert_eq!(s.find_token(&a.id, &t.id).await.unwrap().unwrap().uses, 0);
    assert!(
        s.find_token(&AccountId::new("another-account"), &t.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.list_tokens(&a.id, Some(&d.id)).await.unwrap().len(), 1);
    assert_eq!(
        s.list_tokens(&a.id, Some(&VirtualAccountId::new("other-va")))
            .await
            .unwrap()
            .len(),
        0
    );
}

fn usage(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

/// Report figures from (SKU, count, VA in use, VA purchased).
fn figures(v: &[(&str, i64, i64, i64)]) -> Vec<SkuFigures> {
    v.iter()
        .map(|&(sku, count, in_use, purchased)| SkuFigures {
            sku: sku.to_string(),
            count,
            in_use,
            purchased,
        })
        .collect()
}

fn rep<'a>(
    id: &'a ProductInstanceId,
    hostname: &'a str,
    usage: &'a [(String, i64)],
    now: i64,
    nonce: Option<(&'a str, i64)>,
) -> crate::store::Report<'a> {
    crate::store::Report {
        id,
        hostname,
        usage,
        now,
        nonce,
    }
}

async fn usage_totals_follow_reports_removals_and_reregistrations(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let t = new_token(&s, &d.id, None, "secret-u").await;
    let pw = "ASR5K-00-PW10GTWY";
    let sg = "ASR5K-00-SG10";
    s.deposit(&a.id, &d.id, pw, 2, None, NOW, &op()).await.unwrap();
    let (i1, _) = s.register_instance(&t.id, &instance(1), NOW, &op()).await.unwrap();
    let (i2, _) = s.register_instance(&t.id, &instance(2), NOW, &op()).await.unwrap();
    let status = |_: &[SkuFigures]| "AUTHORIZED";

    let r = s
        .report_usage(
            rep(&i1.id, "node1", &usage(&[(pw, 2), (sg, 1)]), NOW + 5, None),
            status,
            &op(),
        )
        .await
        .unwrap();
    assert_eq!(r.skus, figures(&[(pw, 2, 2, 2), (sg, 1, 1, 0)]));
    let row = s.instance(&i1.id).await.unwrap().unwrap();
    assert_eq!(row.last_contact, NOW + 5);
    assert_eq!(row.last_auth_at, Some(NOW + 5));
    assert_eq!(row.last_auth_status.as_deref(), Some("AUTHORIZED"));
    let r = s
        .report_usage(
            rep(&i2.id, "node2-new", &usage(&[(pw, 1)]), NOW + 6, None),
            status,
            &op(),
        )
        .await
        .unwrap();
    assert_eq!(r.skus, figures(&[(pw, 1, 3, 2)]), "VA total spans instances");
    assert_eq!(s.instance(&i2.id).await.unwrap().unwrap().hostname, "node2-new");
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 3), (sg, 1)]));

    // A replayed nonce is refused inside the report's transaction, and changes nothing.
    s.report_usage(
        rep(&i2.id, "node2", &usage(&[(pw, 1)]), NOW + 6, Some(("n-1", NOW + 6))),
        status,
        &op(),
    )
    .await
    .unwrap();
    let e = s
        .report_usage(
            rep(&i2.id, "node2", &usage(&[(pw, 2)]), NOW + 6, Some(("n-1", NOW + 6))),
            status,
            &op(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused(Refusal::Replayed)), "{e:?}");
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 3), (sg, 1)]));
    assert!(!s.record_nonce("n-1", NOW + 6).await.unwrap(), "the nonce was kept");
    // The same nonce under another timestamp is another signed request, not a replay.
    s.report_usage(
        rep(&i2.id, "node2", &usage(&[(pw, 1)]), NOW + 7, Some(("n-1", NOW + 7))),
        status,
        &op(),
    )
    .await
    .unwrap();

    // A new report replaces the old one.
    s.report_usage(rep(&i1.id, "node1", &usage(&[(pw, 1)]), NOW + 7, None), status, &op())
        .await
        .unwrap();
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 2)]));
    assert_eq!(s.instance_usage(&i1.id).await.unwrap(), usage(&[(pw, 1)]));

    // Registering the same UDI again replaces the instance and releases its licences.
    let (i1b, _) = s.register_instance(&t.id, &instance(1), NOW + 8, &op()).await.unwrap();
    assert_ne!(i1b.id, i1.id);
    assert!(s.instance(&i1.id).await.unwrap().is_none());
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 1)]));
    let e = s
        .report_usage(rep(&i1.id, "node1", &[], NOW + 9, None), status, &op())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused(Refusal::UnknownInstance(_))));

    // Removing releases.
    let (row, released) = s
        .remove_instance(&i2.id, Some(&a.id), NOW + 10, &op())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.id, i2.id);
    assert_eq!(released, usage(&[(pw, 1)]));
    assert!(s.va_in_use(&d.id).await.unwrap().is_empty());
    assert!(s.remove_instance(&i2.id, None, NOW, &op()).await.unwrap().is_none());
    assert!(
        s.remove_instance(&i1b.id, Some(&AccountId::new("other")), NOW, &op())
            .await
            .unwrap()
            .is_none()
    );
    let r = s
        .renew_instance_id(&i1b.id, NOW + 400 * DAY, NOW + 11, &op())
        .await
        .unwrap();
    assert_eq!(r.id_cert_expires_at, NOW + 400 * DAY);
    assert_instance_counts_exact(&s).await;
    assert_eq!(s.count_instances(&a.id, None).await.unwrap(), 1);
}

async fn nonces_refuse_replays_and_are_pruned(s: Store) {
    assert!(s.record_nonce("n1", NOW).await.unwrap());
    assert!(!s.record_nonce("n1", NOW).await.unwrap(), "the same request again");
    // A nonce and its timestamp are signed together: another timestamp is another request of
    // the key's holder, not a captured one sent again.
    assert!(s.record_nonce("n1", NOW + 1).await.unwrap());
    assert!(s.record_nonce("n2", NOW + 100).await.unwrap());
    assert_eq!(s.prune_nonces(NOW + 50).await.unwrap(), 2);
    assert!(s.record_nonce("n1", NOW).await.unwrap(), "pruned");
    assert!(!s.record_nonce("n2", NOW + 100).await.unwrap(), "kept");
}

async fn pki_is_set_up_once(s: Store) {
    assert!(s.load_pki().await.unwrap().is_none());
    let first = crate::pki::Pki::generate(NOW).unwrap();
    let second = crate::pki::Pki::generate(NOW).unwrap();
    let sys = Audit::system();
    let (r1, r2) = tokio::join!(
        s.insert_pki_if_absent(&first, "h1", &sys),
        s.insert_pki_if_absent(&second, "h2", &sys)
    );
    assert!(r1.unwrap() ^ r2.unwrap(), "exactly one server sets the PKI up");
    let stored = s.load_pki().await.unwrap().unwrap();
    assert!(stored == first || stored == second);
    let winner_hash = if stored == first { "h1" } else { "h2" };
    let loser_hash = if stored == first { "h2" } else { "h1" };
    assert!(s.is_operator_key(winner_hash).await.unwrap());
    assert!(!s.is_operator_key(loser_hash).await.unwrap());
}

async fn users_keys_and_events(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let u = s
        .create_user(
            NewUser {
                account_id: &a.id,
                email: "Ann@Acme.example",
                role: "va-user",
                va_id: Some(&d.id),
                api_key_hash: "k1",
                password_hash: None,
            },
            NOW,
            &op(),
        )
        .await
        .unwrap();
    assert_eq!(u.va_name.as_deref(), Some("DEFAULT"));
    let dup = NewUser {
        account_id: &a.id,
        email: "ann@acme.example",
        role: "sa-user",
        va_id: None,
        api_key_hash: "k2",
        password_hash: None,
    };
    assert_eq!(
        refused_code(s.create_user(dup, NOW, &op()).await.unwrap_err()),
        codes::CONFLICT
    );
    assert_eq!(s.user_by_key_hash("k1").await.unwrap().unwrap().id, u.id);
    assert!(s.user_by_key_hash("k2").await.unwrap().is_none());
    assert_eq!(s.list_users(&a.id).await.unwrap().len(), 1);
    s.add_operator_key("op", NOW).await.unwrap();
    s.add_operator_key("op", NOW).await.unwrap();
    assert!(s.is_operator_key("op").await.unwrap());

    let events = s.list_events(Some(&a.id), 10).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.create", "account.create"],
        "newest first, refusals not logged"
    );
    assert_eq!(events[0].source.as_deref(), Some("127.0.0.1"));
    assert_eq!(events[0].actor, "operator");
    s.log_event(
        NOW,
        &Audit::system(),
        Event {
            action: "x",
            detail: "y".into(),
            ..Event::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(s.list_events(None, 100).await.unwrap().len(), 3);
}

/// Decides an instance's status from (SKU, count, VA in use, VA purchased).
type StatusOf = fn(&[SkuFigures]) -> &'static str;

/// Every instance of `ids` reports `u` at `at`, all at once; their answers, in `ids` order.
async fn report_all_at_once(
    s: &Store,
    ids: &[ProductInstanceId],
    u: Vec<(String, i64)>,
    at: i64,
    status: StatusOf,
) -> Vec<UsageReport> {
    let mut tasks = Vec::new();
    for id in ids {
        let (s, id, u) = (s.clone(), id.clone(), u.clone());
        tasks.push(tokio::spawn(async move {
            s.report_usage(rep(&id, "h", &u, at, None), status, &op()).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap().unwrap());
    }
    answers
}

/// A report the database refuses (here: a trigger the test installs that fails on one hostname)
/// fails alone, whether it came in a batch with others or not: the batch is rolled back and its
/// reports applied one by one; the others' totals are exact and the writer goes on.
async fn a_report_the_database_fails_fails_alone(s: Store) {
    let trigger = match s.engine() {
        Engine::Sqlite => "CREATE TRIGGER boom BEFORE UPDATE OF hostname ON product_instances \
             WHEN NEW.hostname = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
            .to_string(),
        Engine::Postgres => "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.hostname = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER boom BEFORE UPDATE OF hostname ON product_instances \
             FOR EACH ROW EXECUTE FUNCTION boom()"
            .to_string(),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(trigger))
        .execute(s.pool())
        .await
        .unwrap();
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let pw = "ASR5K-00-PW10GTWY";
    s.deposit(&a.id, &d.id, pw, 100, None, NOW, &op()).await.unwrap();
    let ids = register_in(&s, &d.id, 12).await;
    for round in 0..3 {
        let mut tasks = Vec::new();
        for (k, id) in ids.iter().enumerate() {
            let (s, id) = (s.clone(), id.clone());
            let host = if k == 5 { "boom".to_string() } else { format!("h{k}") };
            tasks.push(tokio::spawn(async move {
                let u = usage(&[(pw, 2)]);
                s.report_usage(rep(&id, &host, &u, NOW + 1 + round, None), |_| "AUTHORIZED", &op())
                    .await
            }));
        }
        for (k, t) in tasks.into_iter().enumerate() {
            match (k, t.await.unwrap()) {
                (5, Err(e)) => assert!(e.to_string().contains("boom refused"), "{e}"),
                (5, Ok(_)) => panic!("the failing report was applied"),
                (_, Err(e)) => panic!("report {k}: {e}"),
                (_, Ok(r)) => assert_eq!(r.skus[0].count, 2),
            }
        }
        assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 22)]), "round {round}");
    }
    assert!(s.instance_usage(&ids[5]).await.unwrap().is_empty());
    assert_eq!(s.instance(&ids[5]).await.unwrap().unwrap().hostname, "node5");
    assert_instance_counts_exact(&s).await;
}

/// Once the store is closed (the batch writer's connection with it), a report is refused with
/// a clear error instead of waiting for a writer that is gone.
async fn reports_after_close_are_refused(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let pw = "ASR5K-00-PW10GTWY";
    s.deposit(&a.id, &d.id, pw, 10, None, NOW, &op()).await.unwrap();
    let id = &register_in(&s, &d.id, 1).await[0];
    let u = usage(&[(pw, 3)]);
    s.report_usage(rep(id, "h", &u, NOW + 1, None), |_| "AUTHORIZED", &op())
        .await
        .unwrap();
    s.close().await;
    let u = usage(&[(pw, 4)]);
    let e = s
        .report_usage(rep(id, "h", &u, NOW + 2, None), |_| "AUTHORIZED", &op())
        .await
        .expect_err("a closed store applies no report");
    assert!(e.to_string().contains("the database writer has stopped"), "{e}");
}

/// Many reports at once (on SQLite they are applied in batches): every total is exact, a nonce
/// used twice is refused once, an unknown instance is refused without failing the others, and
/// compliance flips exactly when the VA goes over what it bought.
async fn concurrent_reports_keep_exact_totals(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let pw = "ASR5K-00-PW10GTWY";
    s.deposit(&a.id, &d.id, pw, 100, None, NOW, &op()).await.unwrap();
    let ids = register_in(&s, &d.id, 40).await;
    let status = |skus: &[SkuFigures]| {
        if skus.iter().any(|f| f.count > 0 && f.in_use > f.purchased) {
            "OUT_OF_COMPLIANCE"
        } else {
            "AUTHORIZED"
        }
    };
    // Round 1: instance k reports k % 3 + 1 licences, all at once; two share a nonce.
    let mut tasks = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let (s, id) = (s.clone(), id.clone());
        let nonce = if k == 39 { "dup".to_string() } else { format!("r1-{k}") };
        let nonce = if k == 38 { "dup".to_string() } else { nonce };
        tasks.push(tokio::spawn(async move {
            let u = usage(&[(pw, (k % 3 + 1) as i64)]);
            s.report_usage(rep(&id, "h", &u, NOW + 1, Some((&nonce, NOW + 1))), status, &op())
                .await
        }));
    }
    tasks.push(tokio::spawn({
        let s = s.clone();
        async move {
            let u = usage(&[(pw, 5)]);
            let id = ProductInstanceId::new("no-such-instance");
            s.report_usage(rep(&id, "h", &u, NOW + 1, None), status, &op()).await
        }
    }));
    let mut ok = 0;
    let mut replayed = 0;
    let mut unknown = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.skus[0].sku, pw);
                ok += 1;
            }
            Err(StoreError::Refused(Refusal::Replayed)) => replayed += 1,
            Err(StoreError::Refused(Refusal::UnknownInstance(_))) => unknown += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((ok, replayed, unknown), (39, 1, 1));
    let replayed_k = if s.instance_usage(&ids[38]).await.unwrap().is_empty() {
        38
    } else {
        39
    };
    let expected: i64 = (0..40).filter(|k| *k != replayed_k).map(|k| (k % 3 + 1) as i64).sum();
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, expected)]));
    // The reports named every instance "h" (renamed from node<k>), the replayed one excepted.
    for (k, id) in ids.iter().enumerate() {
        let host = s.instance(id).await.unwrap().unwrap().hostname;
        let want = if k == replayed_k {
            format!("node{k}")
        } else {
            "h".to_string()
        };
        assert_eq!(host, want, "instance {k}");
    }

    // Round 2: everyone reports 3 licences: 120 > 100 bought, so every answer is out of compliance
    // for the reports that come after the total passes 100, and the final total is exact.
    let last_totals: Vec<i64> = report_all_at_once(&s, &ids, usage(&[(pw, 3)]), NOW + 2, status)
        .await
        .iter()
        .map(|r| r.skus[0].in_use)
        .collect();
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 120)]));
    assert_eq!(last_totals.iter().max(), Some(&120), "{last_totals:?}");
    // Some instances went out of compliance in that round: the counts by status followed.
    assert_instance_counts_exact(&s).await;
    // The reports went through the writer: on PostgreSQL its pool holds its one connection (and
    // no more); on SQLite it has a rusqlite connection of its own, and no sqlx pool.
    let writer = s.writer.as_ref().expect("the store's batch writer");
    match (s.engine(), &writer.pool) {
        (Engine::Postgres, Some(pool)) => {
            assert_eq!(pool.size(), 1);
            assert_eq!(pool.options().get_max_connections(), 1);
        }
        (Engine::Sqlite, None) => {}
        (engine, pool) => panic!("{engine:?} writer with pool {pool:?}"),
    }
    // The day's history saw the same peak and end, however the reports were batched.
    let day = NOW - NOW.rem_euclid(86_400);
    assert_eq!(
        s.usage_history(&d.id, day).await.unwrap(),
        vec![UsageDay {
            sku: pw.to_string(),
            day,
            peak: 120,
            last: 120
        }]
    );
    // Round 3: everyone moves from 3 of `pw` to 2 of `sg` at once (a row removed and a new SKU
    // per instance, in batches): both totals are exact, no instance keeps a `pw` row, and every
    // change is in the event log.
    let sg = "ASR5K-00-SG10";
    let events_before = s.list_events(None, 10_000).await.unwrap().len();
    for r in report_all_at_once(&s, &ids, usage(&[(sg, 2)]), NOW + 2, status).await {
        assert_eq!(r.skus.len(), 1);
        assert_eq!((r.skus[0].sku.as_str(), r.skus[0].count), (sg, 2));
        assert!(r.skus[0].in_use >= 2 && r.skus[0].in_use <= 80, "{:?}", r.skus);
    }
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(sg, 80)]));
    for id in &ids {
        assert_eq!(s.instance_usage(id).await.unwrap(), usage(&[(sg, 2)]));
    }
    let usage_events = s.list_events(None, 10_000).await.unwrap().len() - events_before;
    assert_eq!(usage_events, 40, "one device.usage event per changed instance");
    assert_instance_counts_exact(&s).await;
    // Back to 3 of `pw` for what follows.
    for id in &ids {
        let u = usage(&[(pw, 3)]);
        s.report_usage(rep(id, "h", &u, NOW + 2, None), status, &op())
            .await
            .unwrap();
    }
    assert_eq!(s.va_in_use(&d.id).await.unwrap(), usage(&[(pw, 120)]));

    // A final report sees the whole VA over what it bought.
    let u = usage(&[(pw, 3)]);
    let r = s
        .report_usage(rep(&ids[0], "h", &u, NOW + 3, None), status, &op())
        .await
        .unwrap();
    assert_eq!(r.skus, figures(&[(pw, 3, 120, 100)]));
    assert_eq!(
        s.instance(&ids[0]).await.unwrap().unwrap().last_auth_status.as_deref(),
        Some("OUT_OF_COMPLIANCE")
    );
}

/// Generic plans made while a table was nearly empty scan it whole for ever after (see
/// `open_postgres_in`): every PostgreSQL connection plans each statement for its parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_plan_every_statement_for_its_parameters() {
    let db = crate::testutil::TestDb::postgres().await;
    let mut modes = Vec::new();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = db.store.pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("SELECT current_setting('plan_cache_mode')")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        modes.push(mode);
        held.push(c);
    }
    assert_eq!(modes, ["force_custom_plan"; 3]);
    drop(held);
    db.finish().await;
}

async fn gauges_read_licences_and_instances(s: Store) {
    let (a, d) = s.create_account("Acme", "acme.example", NOW, &op()).await.unwrap();
    let t = new_token(&s, &d.id, None, "secret-g").await;
    let pw = "ASR5K-00-PW10GTWY";
    let sg = "ASR5K-00-SG10";
    s.deposit(&a.id, &d.id, pw, 2, None, NOW, &op()).await.unwrap();
    s.deposit(&a.id, &d.id, pw, 5, Some(NOW + DAY), NOW, &op())
        .await
        .unwrap();
    let (i1, _) = s.register_instance(&t.id, &instance(1), NOW, &op()).await.unwrap();
    s.register_instance(&t.id, &instance(2), NOW, &op()).await.unwrap();
    let status = |_: &[SkuFigures]| "AUTHORIZED";
    s.report_usage(
        rep(&i1.id, "node1", &usage(&[(pw, 3), (sg, 1)]), NOW + 5, None),
        status,
        &op(),
    )
    .await
    .unwrap();

    // A day later the 5 with an end date are gone: PW is 1 short, SG (none purchased) 1 short.
    let g = s.licence_gauges(NOW + 2 * DAY).await.unwrap();
    let got: Vec<(&str, &str, i64, i64, i64)> = g
        .rows
        .iter()
        .map(|r| (r.va.as_str(), r.sku.as_str(), r.purchased, r.in_use, r.short()))
        .collect();
    assert_eq!(got, vec![("DEFAULT", pw, 2, 3, 1), ("DEFAULT", sg, 0, 1, 1)]);
    assert_eq!(g.dropped, 0);
    let g = s.licence_gauges(NOW).await.unwrap();
    assert_eq!(
        (g.rows[0].sku.as_str(), g.rows[0].purchased, g.rows[0].short()),
        (sg, 0, 1)
    );
    assert_eq!((g.rows[1].purchased, g.rows[1].short()), (7, 0));
    assert_eq!(
        s.instances_by_status().await.unwrap(),
        vec![("AUTHORIZED".to_string(), 1), ("NONE".to_string(), 1)]
    );
    assert_instance_counts_exact(&s).await;
}
