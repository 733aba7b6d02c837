//! In-process workers: lease a job, download its inputs to a private scratch folder, run the
//! pipeline on its own thread while heartbeating, upload the output, settle the generation,
//! fire the webhook.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::blobs;
use crate::domain::{parse_look, FailureCode, State, StoredRequest};
use crate::pipeline::{PipelineError, PipelineJob, LOOK_MASK};
use crate::service::Service;
use crate::store::{GenerationRecord, Lease, LeasedJob};
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

/// Requeues expired leases now and then for as long as the server runs, and deletes
/// expired uploads.
pub(crate) async fn sweep(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let every = (svc.config.lease_ttl / 2).max(Duration::from_millis(100));
    let mut uploads_swept = Instant::now();
    svc.sweep_uploads().await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        requeue_once(&svc).await;
        if uploads_swept.elapsed() >= UPLOAD_SWEEP_EVERY.min(svc.config.upload_ttl) {
            uploads_swept = Instant::now();
            svc.sweep_uploads().await;
        }
    }
}

/// How often expired uploads are looked for (at most; a shorter `upload_ttl` sweeps
/// more often).
const UPLOAD_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// This process's start, told apart from an earlier process that had the same pid (a
/// container's server is pid 1 on every start).
fn start_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A worker's lease-owner name: `host:pid:start:worker-N`.
pub(crate) fn worker_id(n: usize) -> String {
    format!(
        "{}:{}:{}:worker-{n}",
        host_name(),
        std::process::id(),
        start_id()
    )
}

/// Whether a lease owner named by [`worker_id`] was a process on this machine that is gone.
/// Owners it cannot judge (another host, another naming) are left to their lease expiry.
fn owner_is_dead(owner: &str, host: &str) -> bool {
    let mut parts = owner.splitn(4, ':');
    let (Some(h), Some(pid), Some(start), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if h != host {
        return false;
    }
    if pid == std::process::id() {
        // Our pid: either this very process, or an earlier one that had the same pid.
        return start != start_id();
    }
    cfg!(target_os = "linux") && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// At start: jobs leased by an earlier process on this machine that is no longer running
/// go back to the queue at once, instead of waiting for their leases to run out.
pub(crate) async fn reclaim_dead_leases(svc: &Service) {
    let owners = match svc.store.lease_owners().await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("listing leases failed: {e}");
            return;
        }
    };
    let host = host_name();
    let dead: Vec<String> = owners
        .into_iter()
        .filter(|o| owner_is_dead(o, &host))
        .collect();
    if dead.is_empty() {
        return;
    }
    match svc
        .store
        .requeue_leases_of(&dead, svc.config.max_attempts)
        .await
    {
        Ok(r) => {
            tracing::info!(
                requeued = r.requeued.len(),
                failed = r.failed.len(),
                "took back the jobs of a stopped process on this machine"
            );
            settle_requeued(svc, r).await;
        }
        Err(e) => tracing::error!("taking back leases failed: {e}"),
    }
}

/// One requeue pass: expired leases go back to the queue, or fail when out of attempts.
pub(crate) async fn requeue_once(svc: &Service) {
    match svc.store.requeue_expired(svc.config.max_attempts).await {
        Ok(r) => settle_requeued(svc, r).await,
        Err(e) => tracing::error!("requeue sweep failed: {e}"),
    }
}

async fn settle_requeued(svc: &Service, r: crate::store::Requeued) {
    for g in &r.failed {
        tracing::warn!(generation = %g.id, "failed after too many attempts");
        svc.metrics.job_failed(FailureCode::Crashed, None);
        blobs::remove_inputs(svc.blobs.as_ref(), &g.id).await;
        svc.emit_webhook(g).await;
    }
    if !r.failed.is_empty() {
        svc.settled.notify_waiters();
    }
    if !r.requeued.is_empty() {
        tracing::info!(count = r.requeued.len(), "requeued jobs");
        svc.wake.notify_waiters();
    }
}

/// A failure reason fit for the client: the job's input files are named by the request
/// field they came from, and no other server path shows.
fn client_reason(svc: &Service, folder: &JobFolder, reason: &str) -> String {
    let mut out = reason.replace(&*folder.media.to_string_lossy(), "media.url");
    if let Some(ff) = &folder.first_frame {
        out = out.replace(&*ff.to_string_lossy(), "first_frame.url");
    }
    crate::service::redact_paths(&out, &svc.config.data_dir, "an input")
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
    let StoredRequest { request, edit } = StoredRequest::parse(&g.request_json);
    // The model's profile and limit come from this process's catalogue; every process of a
    // deployment should share one configuration.
    let Some(model) = svc.config.catalogue.get(&g.model) else {
        let reason = format!(
            "model `{}` is not in this worker's catalogue; run the worker with the same \
             configuration as the API",
            g.model
        );
        return settle_failure(
            svc,
            worker_id,
            &g,
            started,
            reason,
            FailureCode::Unavailable,
        )
        .await;
    };
    let keyframes = edit.as_ref().map_or(&[][..], |e| &e.keyframes[..]);
    let folder = match fetch_inputs(svc, &g, &request, keyframes).await {
        Ok(f) => f,
        Err(e) => {
            // Storage trouble is not the client's fault and may pass: the lease runs out and
            // the job runs again (or fails for good after `max_attempts`).
            tracing::error!(generation = %g.id, "cannot fetch the inputs: {e}");
            return;
        }
    };
    let tmp = folder.path.join("output.mp4");
    let pj = PipelineJob {
        input: folder.media.clone(),
        first_frame: folder.first_frame.clone(),
        keyframes: folder.keyframes.clone(),
        output_cap: edit.as_ref().map(|e| e.resolution.cap(e.upscale)),
        controls: edit.as_ref().map(|e| e.controls).unwrap_or_default(),
        prompt: request.prompt.clone(),
        // Stored normalised at submit, so it parses; its mask was fetched beside the inputs.
        look: request
            .look
            .as_ref()
            .and_then(|v| parse_look(v).ok())
            .map(|l| LookRequest {
                look: l.look,
                mask: l.mask_url.and(folder.look_mask.clone()),
            }),
        mode: request.mode.clone().unwrap_or_else(|| "flex_1".into()),
        profile: model.profile,
        max_duration_s: svc.config.max_duration_for(&model),
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
            let key = blobs::output_key(&g.id);
            // The output is in blob storage before the generation says completed.
            let (settled, code) = match svc.blobs.put_file(&tmp, &key).await {
                Ok(()) => (
                    settle_retrying(|| svc.store.complete(&g.id, worker_id, &key)).await,
                    None,
                ),
                Err(e) => {
                    let reason = format!("the output could not be stored: {e}");
                    let code = FailureCode::Storage;
                    (
                        settle_retrying(|| svc.store.fail(&g.id, worker_id, &reason, code)).await,
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
                    blobs::remove_inputs(svc.blobs.as_ref(), &g.id).await;
                    svc.settled.notify_waiters();
                    svc.emit_webhook(&done).await;
                }
                Ok(None) => cleanup_if_not_ours(svc, &g.id).await,
                Err(e) => tracing::error!(generation = %g.id, "settling failed: {e}"),
            }
        }
        Err(PipelineError::Cancelled) => {
            cleanup_if_not_ours(svc, &g.id).await;
        }
        Err(e) => {
            let reason = client_reason(svc, &folder, &e.to_string());
            settle_failure(svc, worker_id, &g, started, reason, failure_code(&e)).await;
        }
    }
}

/// Fails a job this worker holds with `reason`, releasing its credits (once).
async fn settle_failure(
    svc: &Arc<Service>,
    worker_id: &str,
    g: &GenerationRecord,
    started: Instant,
    reason: String,
    code: FailureCode,
) {
    tracing::info!(generation = %g.id, "failed: {reason}");
    match settle_retrying(|| svc.store.fail(&g.id, worker_id, &reason, code)).await {
        Ok(Some(done)) => {
            svc.metrics.job_failed(code, Some(started.elapsed()));
            blobs::remove_inputs(svc.blobs.as_ref(), &g.id).await;
            svc.settled.notify_waiters();
            svc.emit_webhook(&done).await;
        }
        Ok(None) => cleanup_if_not_ours(svc, &g.id).await,
        Err(e) => tracing::error!(generation = %g.id, "settling failed: {e}"),
    }
}

/// After a job this worker could not settle (cancelled, deleted, or taken over): a deleted
/// generation leaves files behind, a cancelled one its inputs and perhaps an output just
/// stored; remove what no completed generation owns.
async fn cleanup_if_not_ours(svc: &Service, id: &str) {
    match svc.store.generation_by_id(id).await {
        Ok(None) => blobs::remove_generation(svc.blobs.as_ref(), id).await,
        Ok(Some(g)) if g.state == State::Failed => {
            blobs::remove_generation(svc.blobs.as_ref(), id).await
        }
        // Completed elsewhere, or requeued for another worker: its files are in use.
        _ => {}
    }
}

/// A job's private folder with its inputs; removed (with the output, if still there) when
/// dropped.
struct JobFolder {
    path: std::path::PathBuf,
    media: std::path::PathBuf,
    first_frame: Option<std::path::PathBuf>,
    /// Edited frames at their source frames.
    keyframes: Vec<(usize, std::path::PathBuf)>,
    /// The look's mask, when the request's look has one.
    look_mask: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

/// Downloads a job's inputs from blob storage into a fresh private folder; `keyframes` are
/// the source frames of its keyframe images.
async fn fetch_inputs(
    svc: &Service,
    g: &crate::store::GenerationRecord,
    request: &crate::domain::ModifyVideoRequest,
    keyframes: &[usize],
) -> Result<JobFolder, crate::blobs::BlobError> {
    let dir = svc.scratch.folder()?;
    let path = dir.path().to_path_buf();
    let media = path.join("media");
    svc.blobs.get_file(&g.media_blob, &media).await?;
    let first_frame = match &g.first_frame_blob {
        Some(key) => {
            let p = path.join("first_frame");
            svc.blobs.get_file(key, &p).await?;
            Some(p)
        }
        None => None,
    };
    // A look's mask was stored beside the inputs at submit.
    let has_mask = request
        .look
        .as_ref()
        .and_then(|v| parse_look(v).ok())
        .is_some_and(|l| l.mask_url.is_some());
    let look_mask = if has_mask {
        let p = path.join(LOOK_MASK);
        svc.blobs
            .get_file(&blobs::input_key(&g.id, LOOK_MASK), &p)
            .await?;
        Some(p)
    } else {
        None
    };
    let mut images = Vec::with_capacity(keyframes.len());
    for (n, &index) in keyframes.iter().enumerate() {
        let p = path.join(format!("keyframe-{n}"));
        svc.blobs
            .get_file(&crate::edits::keyframe_key(&g.id, n), &p)
            .await?;
        images.push((index, p));
    }
    Ok(JobFolder {
        path,
        media,
        first_frame,
        keyframes: images,
        look_mask,
        _dir: dir,
    })
}

/// Settles a finished job, retrying while the database cannot be reached (a restart, a
/// fail-over): the work is done and its output stored, so it is worth waiting for.
async fn settle_retrying<F, Fut, T>(mut call: F) -> crate::store::StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::store::StoreResult<T>>,
{
    let mut delay = Duration::from_millis(100);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match call().await {
            Err(crate::store::StoreError::Database(e)) if Instant::now() < deadline => {
                tracing::warn!("settling a job failed, retrying: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_processes_of_this_host_lose_their_leases() {
        let host = host_name();
        let me = worker_id(0);
        assert!(!owner_is_dead(&me, &host), "this process is alive");
        let earlier_self = format!("{host}:{}:000000000000:worker-0", std::process::id());
        assert!(
            owner_is_dead(&earlier_self, &host),
            "same pid, earlier start"
        );
        // pid 4194304 is above Linux's pid limit, so no process has it.
        let gone = format!("{host}:4194304:abc:worker-1");
        assert_eq!(owner_is_dead(&gone, &host), cfg!(target_os = "linux"));
        assert!(!owner_is_dead("otherhost:4194304:abc:worker-1", &host));
        assert!(
            !owner_is_dead("worker-0-0123abcd", &host),
            "old names are left alone"
        );
    }
}
