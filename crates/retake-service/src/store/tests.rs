//! The store's contract, checked on SQLite: credits, ownership, leases, requeue.

use super::*;
use crate::domain::{FailureCode, State};
use crate::pricing::Credits;

fn key(id: &str, credits: i64) -> KeyRecord {
    KeyRecord {
        id: id.into(),
        name: id.into(),
        secret_hash: vec![0; 32],
        webhook_secret: vec![1; 24],
        balance: Credits(credits),
        reserved: Credits(0),
        created_at: now_ms(),
        revoked: false,
    }
}

fn gen(id: &str, key_id: &str, cost: i64) -> GenerationRecord {
    GenerationRecord {
        id: id.into(),
        key_id: key_id.into(),
        state: State::Queued,
        failure_reason: None,
        failure_code: None,
        created_at: now_ms(),
        request_json: "{}".into(),
        model: "ray-2".into(),
        progress: 0,
        media_blob: format!("inputs/{id}/media"),
        first_frame_blob: None,
        output_blob: None,
        width: 1280,
        height: 720,
        frames: 120,
        cost: Credits(cost),
        credit_state: CreditState::Reserved,
        callback_url: None,
        webhooks: Vec::new(),
    }
}

fn upload(id: &str, key_id: &str, created_at: i64, expires_at: i64) -> UploadRecord {
    UploadRecord {
        id: id.into(),
        key_id: key_id.into(),
        blob: format!("uploads/{key_id}/{id}"),
        bytes: 1234,
        content_type: "video/mp4".into(),
        sha256: "ab".repeat(32),
        created_at,
        expires_at,
    }
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    s.insert_key(key("a", 500)).await.unwrap();
    s.insert_key(key("b", 100)).await.unwrap();
    (dir, s)
}

async fn available(s: &SqliteStore, id: &str) -> i64 {
    s.key(id).await.unwrap().unwrap().available().0
}

#[tokio::test]
async fn reserve_charge_and_release_settle_exactly_once() {
    let (_d, s) = store().await;
    s.submit(gen("g1", "a", 175), None).await.unwrap();
    s.submit(gen("g2", "a", 175), None).await.unwrap();
    assert_eq!(available(&s, "a").await, 150);
    let e = s.submit(gen("g3", "a", 175), None).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::InsufficientCredits {
                needed: Credits(175),
                available: Credits(150)
            }
        ),
        "{e}"
    );

    let j1 = s.lease_job("w", 10_000).await.unwrap().unwrap();
    assert_eq!(j1.generation.id, "g1");
    assert_eq!(j1.generation.state, State::Dreaming);
    let done = s
        .complete("g1", "w", "outputs/g1.mp4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, State::Completed);
    assert_eq!(done.credit_state, CreditState::Charged);
    // Twice is a no-op: never charged twice.
    assert!(s
        .complete("g1", "w", "outputs/g1.mp4")
        .await
        .unwrap()
        .is_none());
    let k = s.key("a").await.unwrap().unwrap();
    assert_eq!((k.balance.0, k.reserved.0), (325, 175));

    let j2 = s.lease_job("w", 10_000).await.unwrap().unwrap();
    let failed = s
        .fail(&j2.generation.id, "w", "bad clip", FailureCode::Input)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("bad clip"));
    assert_eq!(failed.failure_code, Some(FailureCode::Input));
    assert!(s
        .fail("g2", "w", "again", FailureCode::Input)
        .await
        .unwrap()
        .is_none());
    let k = s.key("a").await.unwrap().unwrap();
    assert_eq!((k.balance.0, k.reserved.0), (325, 0));
    assert!(s.lease_job("w", 10_000).await.unwrap().is_none());
}

#[tokio::test]
async fn keys_never_see_each_others_generations() {
    let (_d, s) = store().await;
    s.submit(gen("g1", "a", 10), None).await.unwrap();
    assert!(s.generation("b", "g1").await.unwrap().is_none());
    assert!(s.generation("a", "g1").await.unwrap().is_some());
    assert!(matches!(
        s.delete_generation("b", "g1").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.list_generations("b", 10, 0).await.unwrap().0.len(), 0);
    s.delete_generation("a", "g1").await.unwrap();
    assert_eq!(
        available(&s, "a").await,
        500,
        "delete releases the reservation"
    );
    assert!(
        s.lease_job("w", 1000).await.unwrap().is_none(),
        "its job is gone too"
    );
}

#[tokio::test]
async fn listing_pages_newest_first() {
    let (_d, s) = store().await;
    for i in 0..5 {
        s.submit(gen(&format!("g{i}"), "a", 1), None).await.unwrap();
    }
    let (page, more) = s.list_generations("a", 2, 0).await.unwrap();
    assert_eq!(
        page.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["g4", "g3"]
    );
    assert!(more);
    let (page, more) = s.list_generations("a", 2, 4).await.unwrap();
    assert_eq!(page.len(), 1);
    assert!(!more);
}

#[tokio::test]
async fn expired_leases_are_requeued_then_failed_after_max_attempts() {
    let (_d, s) = store().await;
    s.submit(gen("g1", "a", 100), None).await.unwrap();
    let _ = s.lease_job("dead", -1).await.unwrap().unwrap();
    // A heartbeat from another worker does not hold it.
    assert_eq!(
        s.heartbeat("g1", "other", 1000, 5).await.unwrap(),
        Lease::Lost
    );
    let r = s.requeue_expired(2).await.unwrap();
    assert_eq!(r.requeued, ["g1"]);
    assert_eq!(
        s.generation_by_id("g1").await.unwrap().unwrap().state,
        State::Queued
    );
    let j = s.lease_job("w2", 10_000).await.unwrap().unwrap();
    assert_eq!(j.attempt, 2);
    assert_eq!(
        s.heartbeat("g1", "w2", 10_000, 40).await.unwrap(),
        Lease::Held
    );
    assert_eq!(
        s.generation_by_id("g1").await.unwrap().unwrap().progress,
        40
    );
    // The old worker's late completion is refused once someone else holds the job.
    assert!(s.complete("g1", "dead", "x").await.unwrap().is_none());
    // Expire again: out of attempts, failed, credits released.
    s.heartbeat("g1", "w2", -1, 40).await.unwrap();
    let r = s.requeue_expired(2).await.unwrap();
    assert_eq!(r.failed.len(), 1);
    assert!(r.failed[0]
        .failure_reason
        .as_deref()
        .unwrap_or("")
        .contains("2 times"));
    assert_eq!(available(&s, "a").await, 500);
}

#[tokio::test]
async fn credits_and_revocation() {
    let (_d, s) = store().await;
    let k = s.add_credits("b", Credits(50)).await.unwrap();
    assert_eq!(k.balance, Credits(150));
    s.revoke_key("b").await.unwrap();
    assert!(s.key("b").await.unwrap().unwrap().revoked);
    assert!(matches!(
        s.revoke_key("b").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        s.submit(gen("g", "b", 1), None).await.is_err(),
        "a revoked key cannot spend"
    );
}

#[test]
fn migrations_are_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    drop(SqliteStore::open(&path).unwrap());
    let s = SqliteStore::open(&path).unwrap();
    let v: i64 = s
        .with_conn(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(v as usize, schema::latest_version());
}

#[tokio::test]
async fn cancel_fails_queued_and_running_jobs_once_and_releases_credits() {
    let (_d, s) = store().await;
    s.submit(gen("q", "a", 100), None).await.unwrap();
    s.submit(gen("r", "a", 100), None).await.unwrap();
    let leased = s.lease_job("w", 10_000).await.unwrap().unwrap();
    assert_eq!(leased.generation.id, "q");
    // "q" is now running, "r" queued.
    assert!(matches!(
        s.cancel("b", "q", "x", FailureCode::Cancelled).await,
        Err(StoreError::NotFound(_))
    ));
    let c = s
        .cancel("a", "q", "stop", FailureCode::Cancelled)
        .await
        .unwrap();
    assert!(c.was_running);
    assert_eq!(c.generation.state, State::Failed);
    assert_eq!(c.generation.failure_code, Some(FailureCode::Cancelled));
    assert_eq!(c.generation.credit_state, CreditState::Released);
    assert_eq!(
        s.heartbeat("q", "w", 10_000, 50).await.unwrap(),
        Lease::Lost,
        "the worker learns at its next heartbeat"
    );
    assert!(s
        .complete("q", "w", "outputs/q.mp4")
        .await
        .unwrap()
        .is_none());
    let c = s
        .cancel("a", "r", "stop", FailureCode::Cancelled)
        .await
        .unwrap();
    assert!(!c.was_running);
    assert!(s.lease_job("w", 10_000).await.unwrap().is_none());
    assert!(matches!(
        s.cancel("a", "r", "stop", FailureCode::Cancelled).await,
        Err(StoreError::AlreadyFinished {
            state: "failed",
            ..
        })
    ));
    assert_eq!(available(&s, "a").await, 500);
}

#[tokio::test]
async fn an_idempotency_key_replays_its_generation_and_refuses_another_request() {
    let (_d, s) = store().await;
    let idem = |hash: &str| {
        Some(IdempotencyKey {
            key: "k1".into(),
            request_hash: hash.into(),
        })
    };
    assert!(matches!(
        s.submit(gen("g1", "a", 100), idem("h")).await.unwrap(),
        Submitted::Created
    ));
    match s.submit(gen("g2", "a", 100), idem("h")).await.unwrap() {
        Submitted::Replayed(g) => assert_eq!(g.id, "g1"),
        Submitted::Created => panic!("a replay made a second generation"),
    }
    assert!(matches!(
        s.submit(gen("g3", "a", 100), idem("other")).await,
        Err(StoreError::IdempotencyConflict(_))
    ));
    assert_eq!(available(&s, "a").await, 400, "reserved once");
    assert_eq!(s.list_generations("a", 10, 0).await.unwrap().0.len(), 1);
    // The same key string is another key's own.
    assert!(matches!(
        s.submit(gen("g4", "b", 10), idem("h")).await.unwrap(),
        Submitted::Created
    ));
    assert_eq!(
        s.idempotent("a", "k1")
            .await
            .unwrap()
            .map(|(h, g)| (h, g.id)),
        Some(("h".to_string(), "g1".to_string()))
    );
    // Deleting the generation frees its key.
    s.delete_generation("a", "g1").await.unwrap();
    assert!(s.idempotent("a", "k1").await.unwrap().is_none());
    assert!(matches!(
        s.submit(gen("g5", "a", 100), idem("other")).await.unwrap(),
        Submitted::Created
    ));
}

#[tokio::test]
async fn leases_of_a_dead_worker_are_taken_back_at_once() {
    let (_d, s) = store().await;
    for id in ["g1", "g2", "g3"] {
        s.submit(gen(id, "a", 100), None).await.unwrap();
    }
    s.lease_job("dead", 60_000).await.unwrap().unwrap();
    s.lease_job("alive", 60_000).await.unwrap().unwrap();
    let mut owners = s.lease_owners().await.unwrap();
    owners.sort();
    assert_eq!(owners, ["alive", "dead"]);
    let r = s.requeue_leases_of(&["dead".into()], 3).await.unwrap();
    assert_eq!(r.requeued, ["g1"], "long before its lease would expire");
    assert_eq!(
        s.generation_by_id("g1").await.unwrap().unwrap().state,
        State::Queued
    );
    assert_eq!(
        s.heartbeat("g1", "dead", 60_000, 10).await.unwrap(),
        Lease::Lost
    );
    assert_eq!(
        s.heartbeat("g2", "alive", 60_000, 10).await.unwrap(),
        Lease::Held,
        "other workers keep theirs"
    );
    // Out of attempts: failed and released, like an expired lease.
    let j = s.lease_job("dead2", 60_000).await.unwrap().unwrap();
    assert_eq!(j.generation.id, "g1");
    let r = s.requeue_leases_of(&["dead2".into()], 2).await.unwrap();
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].failure_code, Some(FailureCode::Crashed));
    assert_eq!(available(&s, "a").await, 300, "g2 and g3 still reserved");
}

#[tokio::test]
async fn webhook_deliveries_are_recorded_per_event() {
    let (_d, s) = store().await;
    s.submit(gen("g1", "a", 1), None).await.unwrap();
    let d = |event: &str, state, attempts| WebhookDelivery {
        event: event.into(),
        state,
        attempts,
        last_error: (state != DeliveryState::Delivered).then(|| "HTTP 500".to_string()),
        updated_at: 7,
    };
    s.record_webhook("g1", d("dreaming", DeliveryState::Pending, 1))
        .await
        .unwrap();
    s.record_webhook("g1", d("dreaming", DeliveryState::Delivered, 2))
        .await
        .unwrap();
    s.record_webhook("g1", d("completed", DeliveryState::Failed, 6))
        .await
        .unwrap();
    let g = s.generation_by_id("g1").await.unwrap().unwrap();
    assert_eq!(
        g.webhooks,
        [
            d("dreaming", DeliveryState::Delivered, 2),
            d("completed", DeliveryState::Failed, 6)
        ]
    );
    // Listing carries them too, and a generation that is gone is no error.
    let (page, _) = s.list_generations("a", 10, 0).await.unwrap();
    assert_eq!(page[0].webhooks.len(), 2);
    s.record_webhook("nope", d("dreaming", DeliveryState::Delivered, 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn uploads_belong_to_their_key_and_expire() {
    let (_d, s) = store().await;
    s.insert_upload(upload("u1", "a", 100, 1_000))
        .await
        .unwrap();
    s.insert_upload(upload("u2", "a", 200, 5_000))
        .await
        .unwrap();
    s.insert_upload(upload("u3", "b", 300, 500)).await.unwrap();
    assert_eq!(
        s.upload("a", "u1").await.unwrap(),
        Some(upload("u1", "a", 100, 1_000))
    );
    assert!(s.upload("b", "u1").await.unwrap().is_none());
    let (page, more) = s.list_uploads("a", 1, 0).await.unwrap();
    assert_eq!((page[0].id.as_str(), more), ("u2", true));
    let (page, more) = s.list_uploads("a", 10, 1).await.unwrap();
    assert_eq!((page.len(), more), (1, false));
    assert!(s.delete_upload("b", "u1").await.unwrap().is_none());
    let expired: Vec<String> = s
        .expired_uploads(2_000, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(expired, ["u3", "u1"], "oldest expiry first, every key");
    assert_eq!(
        s.delete_upload("a", "u1").await.unwrap().map(|u| u.blob),
        Some("uploads/a/u1".to_string())
    );
    assert!(s.delete_upload("a", "u1").await.unwrap().is_none());
    assert_eq!(s.list_uploads("a", 10, 0).await.unwrap().0.len(), 1);
}
