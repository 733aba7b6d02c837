//! The store's contract: credits, ownership, leases, requeue, idempotency, copying, and
//! races between nodes. Every case runs against SQLite and against a real PostgreSQL (a
//! throwaway cluster the test rig starts), through the [`Store`] trait alone.

use std::sync::Arc;

use super::*;
use crate::domain::{FailureCode, FilePurpose, FileState, State};
use crate::pricing::Credits;
use retake_testkit::services::Postgres;

/// Where a case's store lives; `open` gives another handle on the same database, as another
/// process or machine would have.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    async fn new(postgres: bool) -> Self {
        if postgres {
            let url = tokio::task::spawn_blocking(|| Postgres::shared().create_database())
                .await
                .unwrap();
            Backend::Postgres(url)
        } else {
            Backend::Sqlite(tempfile::tempdir().unwrap())
        }
    }

    fn location(&self) -> StoreLocation {
        match self {
            Backend::Sqlite(d) => StoreLocation::Sqlite(d.path().join("t.db")),
            Backend::Postgres(url) => StoreLocation::Postgres(url.clone()),
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        open(&self.location(), 8).await.unwrap()
    }
}

/// Runs each listed case as two tests: `<case>::sqlite` and `<case>::postgres`.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let b = super::Backend::new(false).await;
                super::$case(&b).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let b = super::Backend::new(true).await;
                super::$case(&b).await;
            }
        }
    )*};
}

on_both!(
    reserve_charge_and_release_settle_exactly_once,
    keys_never_see_each_others_generations,
    listing_pages_newest_first,
    expired_leases_are_requeued_then_failed_after_max_attempts,
    credits_and_revocation,
    migrations_are_applied_once_and_a_newer_schema_is_refused,
    cancel_fails_queued_and_running_jobs_once_and_releases_credits,
    an_idempotency_key_replays_its_generation_and_refuses_another_request,
    generations_copy_between_stores_as_they_are,
    nodes_racing_lease_each_job_once_and_settle_it_once,
    concurrent_creates_on_two_nodes_reserve_once_and_never_overdraw,
    leases_of_a_dead_worker_are_taken_back_at_once,
    webhook_deliveries_are_recorded_per_event,
    uploads_belong_to_their_key_and_expire,
    a_files_api_upload_is_pending_until_finished_once_and_lists_by_purpose_and_state,
);

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
        updated_at: now_ms(),
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
        state: FileState::Ready,
        purpose: FilePurpose::Input,
        filename: None,
        user_id: None,
        failure_reason: None,
    }
}

async fn store(b: &Backend) -> Arc<dyn Store> {
    let s = b.open().await;
    s.insert_key(key("a", 500)).await.unwrap();
    s.insert_key(key("b", 100)).await.unwrap();
    s
}

async fn available(s: &Arc<dyn Store>, id: &str) -> i64 {
    s.key(id).await.unwrap().unwrap().available().0
}

async fn reserve_charge_and_release_settle_exactly_once(b: &Backend) {
    let s = store(b).await;
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
    assert!(
        done.updated_at >= j1.generation.updated_at && done.updated_at >= done.created_at,
        "the store keeps updated_at"
    );
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

async fn keys_never_see_each_others_generations(b: &Backend) {
    let s = store(b).await;
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

async fn listing_pages_newest_first(b: &Backend) {
    let s = store(b).await;
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

async fn expired_leases_are_requeued_then_failed_after_max_attempts(b: &Backend) {
    let s = store(b).await;
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

async fn credits_and_revocation(b: &Backend) {
    let s = store(b).await;
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

async fn migrations_are_applied_once_and_a_newer_schema_is_refused(b: &Backend) {
    let s = store(b).await;
    s.submit(gen("g1", "a", 10), None).await.unwrap();
    drop(s);
    // Opening again migrates nothing and keeps everything.
    let s = b.open().await;
    assert_eq!(available(&s, "a").await, 490);
    drop(s);
    let newer = match b {
        Backend::Sqlite(d) => {
            let c = rusqlite::Connection::open(d.path().join("t.db")).unwrap();
            let v: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v as usize, schema::latest_version());
            c.pragma_update(None, "user_version", v + 1).unwrap();
            v + 1
        }
        Backend::Postgres(url) => {
            let pg = PgStore::open(url, 1).await.unwrap();
            let v = postgres::schema::latest_version() as i64;
            pg.execute_batch(&format!(
                "INSERT INTO retake_schema (version, applied_at) VALUES ({}, 0)",
                v + 1
            ))
            .await
            .unwrap();
            v + 1
        }
    };
    let e = match open(&b.location(), 2).await {
        Ok(_) => panic!("a database from a newer retake was opened"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(&format!("schema version {newer}")), "{e}");
    assert!(e.contains("newer retake"), "{e}");
}

async fn cancel_fails_queued_and_running_jobs_once_and_releases_credits(b: &Backend) {
    let s = store(b).await;
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

async fn an_idempotency_key_replays_its_generation_and_refuses_another_request(b: &Backend) {
    let s = store(b).await;
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

async fn generations_copy_between_stores_as_they_are(b: &Backend) {
    let s = store(b).await;
    let idem = IdempotencyKey {
        key: "k".into(),
        request_hash: "h".into(),
    };
    s.submit(gen("done", "a", 100), Some(idem.clone()))
        .await
        .unwrap();
    s.submit(gen("queued", "a", 50), None).await.unwrap();
    s.submit(gen("leased", "b", 20), None).await.unwrap();
    s.lease_job("w", 10_000).await.unwrap();
    s.complete("done", "w", "outputs/done.mp4").await.unwrap();
    s.lease_job("w", 10_000).await.unwrap();
    s.revoke_key("b").await.unwrap();

    // Into a fresh SQLite file, page by page, twice (a second run changes nothing).
    let dir = tempfile::tempdir().unwrap();
    let target = open(&StoreLocation::Sqlite(dir.path().join("copy.db")), 2)
        .await
        .unwrap();
    for round in 0..2 {
        for k in s.list_keys().await.unwrap() {
            target.import_key(k).await.unwrap();
        }
        let mut after = String::new();
        let mut copied = 0;
        loop {
            let page = s.export_generations(&after, 2).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.record.id.clone();
            for g in page {
                copied += usize::from(target.import_generation(g).await.unwrap());
            }
        }
        assert_eq!(copied, if round == 0 { 3 } else { 0 }, "round {round}");
    }
    let a = target.key("a").await.unwrap().unwrap();
    assert_eq!((a.balance.0, a.reserved.0), (400, 50));
    assert!(target.key("b").await.unwrap().unwrap().revoked);
    let done = target.generation_by_id("done").await.unwrap().unwrap();
    assert_eq!(done.state, State::Completed);
    assert_eq!(done.output_blob.as_deref(), Some("outputs/done.mp4"));
    assert_eq!(done.credit_state, CreditState::Charged);
    let (hash, g) = target.idempotent("a", "k").await.unwrap().unwrap();
    assert_eq!((hash.as_str(), g.id.as_str()), ("h", "done"));
    // Both unfinished jobs are queued there (a lease held in the source is not copied).
    assert_eq!(target.export_generations("", 10).await.unwrap().len(), 3);
    assert_eq!(target.queue_depth().await.unwrap(), 2);
    let mut attempts = Vec::new();
    while let Some(j) = target.lease_job("w2", 10_000).await.unwrap() {
        attempts.push(j.attempt);
    }
    attempts.sort();
    assert_eq!(attempts, [1, 2], "copied jobs keep their attempts");
}

async fn nodes_racing_lease_each_job_once_and_settle_it_once(b: &Backend) {
    let one = store(b).await;
    let two = b.open().await;
    for i in 0..12 {
        one.submit(gen(&format!("g{i:02}"), "a", 10), None)
            .await
            .unwrap();
    }
    // Six workers, three per node, take jobs until none are left.
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = if w % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(j) = s.lease_job(&format!("w{w}"), 10_000).await.unwrap() {
                mine.push(j.generation.id);
            }
            mine
        }));
    }
    let mut leased: Vec<String> = Vec::new();
    for t in tasks {
        leased.extend(t.await.unwrap());
    }
    leased.sort();
    let all: Vec<String> = (0..12).map(|i| format!("g{i:02}")).collect();
    assert_eq!(leased, all, "every job leased exactly once");

    // Complete, fail and cancel race on every generation from both nodes (each trying as
    // every worker, so the holder is among them): exactly one wins.
    let mut races = Vec::new();
    for id in &all {
        for (n, s) in [one.clone(), two.clone(), one.clone()]
            .into_iter()
            .enumerate()
        {
            let id = id.clone();
            races.push(tokio::spawn(async move {
                let mut won = 0;
                for w in 0..6 {
                    let worker = format!("w{w}");
                    let r = match n {
                        0 => s.complete(&id, &worker, "out").await.unwrap(),
                        1 => s
                            .fail(&id, &worker, "x", FailureCode::Processing)
                            .await
                            .unwrap(),
                        _ => match s.cancel("a", &id, "c", FailureCode::Cancelled).await {
                            Ok(c) => Some(c.generation),
                            Err(StoreError::AlreadyFinished { .. }) => None,
                            Err(e) => panic!("{e}"),
                        },
                    };
                    won += usize::from(r.is_some());
                }
                won
            }));
        }
    }
    let mut wins = 0;
    for r in races {
        wins += r.await.unwrap();
    }
    assert_eq!(wins, 12, "each generation settled once");
    let mut charged = 0;
    for id in &all {
        let g = one.generation_by_id(id).await.unwrap().unwrap();
        assert!(g.state.is_terminal());
        if g.credit_state == CreditState::Charged {
            charged += 10;
        }
    }
    let k = two.key("a").await.unwrap().unwrap();
    assert_eq!(k.reserved.0, 0, "no reservation left behind");
    assert_eq!(k.balance.0, 500 - charged, "charged exactly what completed");
}

async fn concurrent_creates_on_two_nodes_reserve_once_and_never_overdraw(b: &Backend) {
    let one = store(b).await;
    let two = b.open().await;
    // 40 idempotency keys, each sent twice (once per node) at the same time; key "b" has
    // 100 credits, so 10 creates of 10 fit.
    let mut tasks = Vec::new();
    for i in 0..40 {
        for (n, s) in [one.clone(), two.clone()].into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let idem = IdempotencyKey {
                    key: format!("idem-{i}"),
                    request_hash: "same".into(),
                };
                let r = s
                    .submit(gen(&format!("g{i}-{n}"), "b", 10), Some(idem))
                    .await;
                (i, r)
            }));
        }
    }
    let mut created = std::collections::BTreeMap::<usize, Vec<String>>::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(Submitted::Created)) => created.entry(i).or_default().push("new".into()),
            (i, Ok(Submitted::Replayed(g))) => created.entry(i).or_default().push(g.id),
            (_, Err(StoreError::InsufficientCredits { .. })) => refused += 1,
            (_, Err(e)) => panic!("{e}"),
        }
    }
    let made = created
        .values()
        .filter(|v| v.iter().any(|x| x == "new"))
        .count();
    assert_eq!(made, 10, "exactly as many as the credits cover");
    for (i, answers) in &created {
        assert_eq!(
            answers.iter().filter(|x| *x == "new").count(),
            1,
            "idempotency key {i} made one generation: {answers:?}"
        );
    }
    assert_eq!(refused + created.values().map(Vec::len).sum::<usize>(), 80);
    let k = one.key("b").await.unwrap().unwrap();
    assert_eq!((k.balance.0, k.reserved.0), (100, 100));
    assert!(k.available().0 >= 0);
    assert_eq!(one.list_generations("b", 100, 0).await.unwrap().0.len(), 10);
}

async fn leases_of_a_dead_worker_are_taken_back_at_once(b: &Backend) {
    let s = store(b).await;
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

async fn webhook_deliveries_are_recorded_per_event(b: &Backend) {
    let s = store(b).await;
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

async fn uploads_belong_to_their_key_and_expire(b: &Backend) {
    let s = store(b).await;
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
    let (page, more) = s
        .list_uploads("a", &UploadFilter::default(), 1, 0)
        .await
        .unwrap();
    assert_eq!((page[0].id.as_str(), more), ("u2", true));
    let (page, more) = s
        .list_uploads("a", &UploadFilter::default(), 10, 1)
        .await
        .unwrap();
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
    assert_eq!(
        s.list_uploads("a", &UploadFilter::default(), 10, 0)
            .await
            .unwrap()
            .0
            .len(),
        1
    );
}

async fn a_files_api_upload_is_pending_until_finished_once_and_lists_by_purpose_and_state(
    b: &Backend,
) {
    let s = store(b).await;
    let pending = UploadRecord {
        state: FileState::Pending,
        purpose: FilePurpose::Reference,
        filename: Some("kf.png".into()),
        user_id: Some("end-user-7".into()),
        content_type: "image/png".into(),
        sha256: String::new(),
        ..upload("f1", "a", 100, 9_000)
    };
    s.insert_upload(pending.clone()).await.unwrap();
    s.insert_upload(upload("f2", "a", 200, 9_000))
        .await
        .unwrap();
    assert_eq!(s.upload("a", "f1").await.unwrap(), Some(pending.clone()));
    let ids = |page: Vec<UploadRecord>| page.into_iter().map(|u| u.id).collect::<Vec<_>>();
    let by = |purpose, state| UploadFilter { purpose, state };
    let list = |f: UploadFilter| {
        let s = s.clone();
        async move { ids(s.list_uploads("a", &f, 10, 0).await.unwrap().0) }
    };
    assert_eq!(list(by(None, None)).await, ["f2", "f1"]);
    assert_eq!(list(by(Some(FilePurpose::Reference), None)).await, ["f1"]);
    assert_eq!(list(by(None, Some(FileState::Pending))).await, ["f1"]);
    assert_eq!(
        list(by(Some(FilePurpose::Input), Some(FileState::Ready))).await,
        ["f2"]
    );
    assert!(list(by(Some(FilePurpose::Input), Some(FileState::Pending)))
        .await
        .is_empty());
    // Another key cannot finish it.
    let ready = FileOutcome {
        state: FileState::Ready,
        failure_reason: None,
        content_type: "image/png".into(),
        sha256: "cd".repeat(32),
    };
    assert!(s
        .finish_upload("b", "f1", ready.clone())
        .await
        .unwrap()
        .is_none());
    let done = s.finish_upload("a", "f1", ready).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.sha256.as_str()),
        (FileState::Ready, "cd".repeat(32).as_str())
    );
    assert_eq!(done.filename.as_deref(), Some("kf.png"));
    // Finished once: a second outcome changes nothing.
    let failed = FileOutcome {
        state: FileState::Failed,
        failure_reason: Some("not an image".into()),
        content_type: "video/mp4".into(),
        sha256: String::new(),
    };
    let again = s
        .finish_upload("a", "f1", failed.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, done);
    // A failed check keeps its reason.
    s.insert_upload(UploadRecord {
        state: FileState::Pending,
        ..upload("f3", "a", 300, 9_000)
    })
    .await
    .unwrap();
    let f3 = s.finish_upload("a", "f3", failed).await.unwrap().unwrap();
    assert_eq!(
        (f3.state, f3.failure_reason.as_deref()),
        (FileState::Failed, Some("not an image"))
    );
    assert!(s
        .finish_upload("a", "nope", done_outcome())
        .await
        .unwrap()
        .is_none());
}

fn done_outcome() -> FileOutcome {
    FileOutcome {
        state: FileState::Ready,
        failure_reason: None,
        content_type: "video/mp4".into(),
        sha256: String::new(),
    }
}
