//! The satellite side's store on both engines: link, numbered requests, answers imported whole
//! or not at all, re-links, renames and the licences in use elsewhere.

use super::*;
use crate::testutil::on_both_engines;
use smartlic_protocol::satellite::AnswerLot;

const NOW: i64 = 1_800_000_000;
const PW: &str = "ASR5K-00-PW10GTWY";

on_both_engines!(answers_apply_once_for_the_latest_request, relinking_and_renames,);

fn op() -> Audit {
    Audit::new("operator", None)
}

fn new_link(satellite: &str) -> NewLink {
    NewLink {
        satellite: satellite.into(),
        token: "sealed:v1:token".into(),
        identity_key: "sealed:v1:key".into(),
        public_key: "pk".into(),
        parent_ca_sha: "ab".repeat(32),
        parent_url: None,
        parent_ca_pem: None,
    }
}

fn answer(seq: u64, lots: &[(i64, Option<i64>)], elsewhere: i64) -> SatelliteAnswer {
    SatelliteAnswer {
        satellite: "sat-1".into(),
        seq,
        account: "Acme".into(),
        va: "Edge".into(),
        lots: lots
            .iter()
            .map(|(q, end)| AnswerLot {
                sku: PW.into(),
                quantity: *q,
                end_date: *end,
            })
            .collect(),
        in_use_elsewhere: [(PW.to_string(), elsewhere)].into(),
        events_acknowledged: 0,
        issued_at: NOW,
    }
}

fn conflict(e: StoreError) -> String {
    match e {
        StoreError::Refused(Refusal::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other}"),
    }
}

async fn pw_in_use(s: &Store, va: &crate::ids::VirtualAccountId) -> i64 {
    s.va_in_use(va)
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == PW)
        .map_or(0, |(_, n)| n)
}

async fn answers_apply_once_for_the_latest_request(s: Store) {
    assert!(s.satellite_link().await.unwrap().is_none());
    let e = s.next_satellite_request(NOW, &op()).await.unwrap_err();
    assert!(e.to_string().contains("not linked"), "{e}");
    s.save_satellite_link(&new_link("sat-1"), NOW, &op()).await.unwrap();

    // An answer before any request, or to a request not made, is refused.
    let e = conflict(
        s.import_satellite_answer(&answer(1, &[], 0), NOW, &op())
            .await
            .unwrap_err(),
    );
    assert!(e.contains("not the answer to the latest request"), "{e}");

    let r = s.next_satellite_request(NOW, &op()).await.unwrap();
    assert_eq!(r.link.seq, 1);
    assert!(r.instances.is_empty() && r.events.is_empty());
    let done = s
        .import_satellite_answer(&answer(1, &[(10, None), (5, Some(NOW + 86_400))], 3), NOW, &op())
        .await
        .unwrap();
    assert_eq!(
        (done.account.as_str(), done.va.as_str(), done.lots, done.seq),
        ("Acme", "Edge", 2, 1)
    );
    let link = s.satellite_link().await.unwrap().unwrap();
    assert_eq!((link.seq, link.answered_seq, link.last_exchange), (1, 1, Some(NOW)));
    let acme = s.find_account("Acme").await.unwrap().unwrap();
    let edge = s.find_va(&acme.id, "Edge").await.unwrap().unwrap();
    assert_eq!(link.va_id.as_deref(), Some(edge.id.as_str()));
    assert!(s.is_satellite_va(&edge.id).await.unwrap());
    let total: i64 = s.license_lots(&edge.id).await.unwrap().iter().map(|l| l.quantity).sum();
    assert_eq!(total, 15);
    assert_eq!(pw_in_use(&s, &edge.id).await, 3);

    // The same answer again, another satellite's, an older one: refused, nothing changes.
    let e = conflict(
        s.import_satellite_answer(&answer(1, &[(99, None)], 9), NOW, &op())
            .await
            .unwrap_err(),
    );
    assert!(e.contains("already imported"), "{e}");
    let mut other = answer(1, &[], 0);
    other.satellite = "sat-2".into();
    let e = conflict(s.import_satellite_answer(&other, NOW, &op()).await.unwrap_err());
    assert!(e.contains("for satellite sat-2, not this one (sat-1)"), "{e}");
    s.next_satellite_request(NOW + 10, &op()).await.unwrap();
    let r3 = s.next_satellite_request(NOW + 20, &op()).await.unwrap();
    assert_eq!(r3.link.seq, 3);
    let e = conflict(
        s.import_satellite_answer(&answer(2, &[], 0), NOW, &op())
            .await
            .unwrap_err(),
    );
    assert!(e.contains("it answers request 2, the latest request is 3"), "{e}");
    assert_eq!(pw_in_use(&s, &edge.id).await, 3);
    assert_eq!(s.license_lots(&edge.id).await.unwrap().len(), 2);

    // The latest answer replaces the lots exactly and moves the total by the difference.
    s.import_satellite_answer(&answer(3, &[(4, None)], 1), NOW + 30, &op())
        .await
        .unwrap();
    let lots = s.license_lots(&edge.id).await.unwrap();
    assert_eq!(lots.len(), 1);
    assert_eq!(lots[0].quantity, 4);
    assert_eq!(pw_in_use(&s, &edge.id).await, 1);
    let link = s.satellite_link().await.unwrap().unwrap();
    assert_eq!((link.answered_seq, link.last_exchange), (3, Some(NOW + 30)));
}

async fn relinking_and_renames(s: Store) {
    s.save_satellite_link(&new_link("sat-0"), NOW, &op()).await.unwrap();
    s.next_satellite_request(NOW, &op()).await.unwrap();
    // Never exchanged: another token replaces the link (and its sequence).
    s.save_satellite_link(&new_link("sat-1"), NOW, &op()).await.unwrap();
    let link = s.satellite_link().await.unwrap().unwrap();
    assert_eq!((link.satellite.as_str(), link.seq), ("sat-1", 0));
    s.next_satellite_request(NOW, &op()).await.unwrap();
    s.import_satellite_answer(&answer(1, &[(2, None)], 0), NOW, &op())
        .await
        .unwrap();
    let e = conflict(s.save_satellite_link(&new_link("sat-9"), NOW, &op()).await.unwrap_err());
    assert!(
        e.contains("already linked to parent (by files) as satellite sat-1"),
        "{e}"
    );
    assert_eq!(s.satellite_link().await.unwrap().unwrap().satellite, "sat-1");

    // The parent renamed its account and VA: the same rows here take the new names.
    let before = s.satellite_link().await.unwrap().unwrap();
    s.next_satellite_request(NOW, &op()).await.unwrap();
    let mut renamed = answer(2, &[(2, None)], 0);
    renamed.account = "Acme Corp".into();
    renamed.va = "Edge West".into();
    s.import_satellite_answer(&renamed, NOW, &op()).await.unwrap();
    let after = s.satellite_link().await.unwrap().unwrap();
    assert_eq!(
        (after.account_id.clone(), after.va_id.clone()),
        (before.account_id, before.va_id)
    );
    let acme = s.find_account("Acme Corp").await.unwrap().unwrap();
    assert!(s.find_va(&acme.id, "Edge West").await.unwrap().is_some());
    assert!(s.find_account("Acme").await.unwrap().is_none());

    // A rename onto another local account's name is refused, nothing changes.
    s.create_account("Other", "o.example", NOW, &op()).await.unwrap();
    s.next_satellite_request(NOW, &op()).await.unwrap();
    let mut clash = answer(3, &[(7, None)], 0);
    clash.account = "Other".into();
    let e = conflict(s.import_satellite_answer(&clash, NOW, &op()).await.unwrap_err());
    assert!(e.contains("another account here has that name"), "{e}");
    let va = after.va_id.unwrap();
    assert_eq!(s.license_lots(&va).await.unwrap()[0].quantity, 2);
    assert_eq!(s.satellite_link().await.unwrap().unwrap().answered_seq, 2);
}
