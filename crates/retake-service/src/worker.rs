//! In-process workers: lease a job, run the pipeline on a blocking thread while heartbeating,
//! store the output, settle the generation, fire the webhook.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::blobs::Blobs;
use crate::domain::{parse_look, FailureCode, ModifyVideoRequest, State};
use crate::pipeline::{PipelineError, PipelineJob, LOOK_MASK};
use crate::service::Service;
use crate::store::{Lease, LeasedJob};
use retake_pipeline::LookRequest;

/// Runs one worker until `shutdown` turns true (checked between jobs).
pub(crate) async fn run(svc: Arc<Service>, worker_id: String, mut shutdown: watch::Receiver<bool>) {
    let ttl = svc.config.lease_ttl.as_millis() as i64;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match svc.store.lease_job(&worker_id, ttl).await {
            Ok(Some(job)) => process(&svc, &worker_id, job).await,
            Ok(None) => {
                tokio::select! {
                    _ = svc.wake.notified() => {}
                    _ = tokio::time::sleep(svc.config.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(worker = %worker_id, "leasing a job failed: {e}");
                tokio::time::sleep(svc.config.poll_interval).await;
            }
        }
    }
}

/// Requeues expired leases now and then for as long as the server runs.
pub(crate) async fn sweep(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let every = (svc.config.lease_ttl / 2).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        requeue_once(&svc).await;
    }
}

/// One requeue pass: expired leases go back to the queue, or fail when out of attempts.
pub(crate) async fn requeue_once(svc: &Service) {
    match svc.store.requeue_expired(svc.config.max_attempts).await {
        Ok(r) => {
            for g in &r.failed {
                tracing::warn!(generation = %g.id, "failed after too many attempts");
                svc.metrics.job_failed(FailureCode::Crashed, None);
                svc.blobs.remove_inputs(&g.id).await;
                svc.emit_webhook(g).await;
            }
            if !r.failed.is_empty() {
                svc.settled.notify_waiters();
            }
            if !r.requeued.is_empty() {
                tracing::info!(
                    count = r.requeued.len(),
                    "requeued jobs whose lease expired"
                );
                svc.wake.notify_waiters();
            }
        }
        Err(e) => tracing::error!("requeue sweep failed: {e}"),
    }
}

fn seed_of(id: &str) -> u64 {
    uuid::Uuid::parse_str(id)
        .map(|u| u.as_u64_pair().0)
        .unwrap_or(0)
}

/// Keeps a job's cancel flag findable by the cancel endpoint while it runs.
struct Running<'a> {
    svc: &'a Service,
    id: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.svc.running.lock() {
            r.remove(&self.id);
        }
    }
}

fn failure_code(e: &PipelineError) -> FailureCode {
    match e {
        PipelineError::Input(_) => FailureCode::Input,
        PipelineError::Unavailable(_) => FailureCode::Unavailable,
        PipelineError::Cancelled => FailureCode::Cancelled,
        PipelineError::Failed(_) => FailureCode::Processing,
    }
}

async fn process(svc: &Arc<Service>, worker_id: &str, job: LeasedJob) {
    let g = job.generation;
    let started = Instant::now();
    tracing::info!(generation = %g.id, attempt = job.attempt, "dreaming");
    svc.emit_webhook(&g).await;
    let request = serde_json::from_str::<ModifyVideoRequest>(&g.request_json).unwrap_or_default();
    let tmp = svc.blobs.temp_path().with_extension("mp4");
    let pj = PipelineJob {
        input: svc.blobs.path(&g.media_blob),
        first_frame: g.first_frame_blob.as_deref().map(|b| svc.blobs.path(b)),
        prompt: request.prompt.clone(),
        // Stored normalised at submit, so it parses; its mask was fetched beside the inputs.
        look: request
            .look
            .as_ref()
            .and_then(|v| parse_look(v).ok())
            .map(|l| LookRequest {
                look: l.look,
                mask: l
                    .mask_url
                    .map(|_| svc.blobs.path(&Blobs::input_key(&g.id, LOOK_MASK))),
            }),
        mode: request.mode.clone().unwrap_or_else(|| "flex_1".into()),
        model: g.model.clone(),
        output: tmp.clone(),
        seed: seed_of(&g.id),
    };
    let progress = Arc::new(AtomicU8::new(0));
    let cancel = Arc::new(AtomicBool::new(false));
    if let Ok(mut r) = svc.running.lock() {
        r.insert(g.id.clone(), cancel.clone());
    }
    let _running = Running {
        svc,
        id: g.id.clone(),
    };
    let pipeline = svc.pipeline.clone();
    let (p, c) = (progress.clone(), cancel.clone());
    // Its own thread, at job priority (see `priority`), rather than tokio's blocking pool,
    // whose threads also serve the API's database calls.
    let (done_tx, mut task) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("retake-job".into())
        .spawn(move || {
            crate::priority::lower_this_thread();
            let r = pipeline.run(&pj, &|v| p.store(v.min(100), Ordering::Relaxed), &c);
            let _ = done_tx.send(r);
        });
    if let Err(e) = spawned {
        tracing::error!(generation = %g.id, "cannot start a job thread: {e}");
        // The lease runs out and the job is tried again.
        return;
    }
    let ttl = svc.config.lease_ttl;
    let mut beat = tokio::time::interval((ttl / 3).max(Duration::from_millis(50)));
    let result = loop {
        tokio::select! {
            r = &mut task => break r,
            _ = beat.tick() => {
                let pr = progress.load(Ordering::Relaxed);
                match svc.store.heartbeat(&g.id, worker_id, ttl.as_millis() as i64, pr).await {
                    Ok(Lease::Held) => {}
                    Ok(Lease::Lost) => cancel.store(true, Ordering::Relaxed),
                    Err(e) => tracing::warn!(generation = %g.id, "heartbeat failed: {e}"),
                }
            }
        }
    };
    let outcome = match result {
        Ok(r) => r,
        Err(_) => Err(PipelineError::Failed(
            "the pipeline crashed (its thread panicked); the server log may say more".into(),
        )),
    };
    match outcome {
        Ok(out) => {
            let key = Blobs::output_key(&g.id);
            let (settled, code) = match svc.blobs.commit(&tmp, &key).await {
                Ok(_) => (svc.store.complete(&g.id, worker_id, &key).await, None),
                Err(e) => {
                    let reason = format!("the output could not be stored: {e}");
                    let code = FailureCode::Storage;
                    (
                        svc.store.fail(&g.id, worker_id, &reason, code).await,
                        Some(code),
                    )
                }
            };
            match settled {
                Ok(Some(done)) => {
                    tracing::info!(generation = %g.id, frames = out.frames, state = done.state.as_str(), "finished");
                    match code {
                        None => svc.metrics.job_completed(started.elapsed(), out.frames),
                        Some(c) => svc.metrics.job_failed(c, Some(started.elapsed())),
                    }
                    svc.blobs.remove_inputs(&g.id).await;
                    svc.settled.notify_waiters();
                    svc.emit_webhook(&done).await;
                }
                Ok(None) => cleanup_if_not_ours(svc, &g.id).await,
                Err(e) => tracing::error!(generation = %g.id, "settling failed: {e}"),
            }
        }
        Err(PipelineError::Cancelled) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            cleanup_if_not_ours(svc, &g.id).await;
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            let reason = e.to_string();
            let code = failure_code(&e);
            tracing::info!(generation = %g.id, "failed: {reason}");
            match svc.store.fail(&g.id, worker_id, &reason, code).await {
                Ok(Some(done)) => {
                    svc.metrics.job_failed(code, Some(started.elapsed()));
                    svc.blobs.remove_inputs(&g.id).await;
                    svc.settled.notify_waiters();
                    svc.emit_webhook(&done).await;
                }
                Ok(None) => cleanup_if_not_ours(svc, &g.id).await,
                Err(e) => tracing::error!(generation = %g.id, "settling failed: {e}"),
            }
        }
    }
}

/// After a job this worker could not settle (cancelled, deleted, or taken over): a deleted
/// generation leaves files behind, a cancelled one its inputs and perhaps an output just
/// stored; remove what no completed generation owns.
async fn cleanup_if_not_ours(svc: &Service, id: &str) {
    match svc.store.generation_by_id(id).await {
        Ok(None) => svc.blobs.remove_generation(id).await,
        Ok(Some(g)) if g.state == State::Failed => svc.blobs.remove_generation(id).await,
        // Completed elsewhere, or requeued for another worker: its files are in use.
        _ => {}
    }
}
