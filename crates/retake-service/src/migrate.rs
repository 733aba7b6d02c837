//! `retake migrate`: copies a single-machine install (its SQLite database and data-folder
//! blobs) into the scaled-out stores (PostgreSQL, and an S3 bucket), so nothing is lost on
//! the move. Blobs go first and a generation only after all of its files, so a cut-off run
//! leaves nothing that points at a missing file; run it again and it picks up where it
//! stopped (what is already there with the same size is skipped). At the end everything is
//! compared: keys and balances, generations, and every file's size.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::blobs::{BlobStore, Scratch};
use crate::config::ServiceConfig;
use crate::error::{Result, ServiceError};
use crate::store::{Store, StoreLocation};

/// Generations read per page.
const PAGE: u32 = 200;

/// What a migration did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MigrateReport {
    /// Keys copied (all of them, with balances).
    pub keys: usize,
    /// Generations copied by this run.
    pub generations_copied: usize,
    /// Generations found already in the target.
    pub generations_present: usize,
    /// Files copied by this run.
    pub files_copied: usize,
    /// Files found already in the target.
    pub files_present: usize,
    /// Bytes copied by this run.
    pub bytes_copied: u64,
}

/// Where to copy to.
pub struct MigrateTarget {
    /// The target database.
    pub store: Arc<dyn Store>,
    /// The target blob store; `None` keeps the blobs where they are.
    pub blobs: Option<Arc<dyn BlobStore>>,
}

fn fail(what: String) -> ServiceError {
    ServiceError::Internal(what)
}

/// Every file of a generation: its video, first frame and output wherever they are kept, and
/// whatever else was stored beside its inputs (keyframe images, a look's mask), which a
/// queued job still needs on the new stores.
async fn generation_files(
    blobs: &dyn BlobStore,
    g: &crate::store::GenerationRecord,
) -> Result<BTreeSet<String>> {
    let mut keys: BTreeSet<String> = [
        Some(&g.media_blob),
        g.first_frame_blob.as_ref(),
        g.output_blob.as_ref(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    let folder = crate::blobs::input_key(&g.id, "");
    for (key, _) in blobs.list(folder.trim_end_matches('/')).await? {
        keys.insert(key);
    }
    Ok(keys)
}

/// Copies one file unless the target has it with the same size.
async fn copy_blob(
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    scratch: &Scratch,
    key: &str,
    report: &mut MigrateReport,
) -> Result<()> {
    let Some(size) = from.head(key).await? else {
        // A generation whose file is already gone (deleted inputs of a finished job).
        return Ok(());
    };
    if to.head(key).await? == Some(size) {
        report.files_present += 1;
        return Ok(());
    }
    let tmp = scratch.file();
    from.get_file(key, &tmp).await?;
    to.put_file(&tmp, key).await?;
    report.files_copied += 1;
    report.bytes_copied += size;
    Ok(())
}

/// Copies the install `source` describes into `target`, then checks the copy. `progress`
/// hears a line now and then.
pub async fn migrate(
    source: &ServiceConfig,
    target: &MigrateTarget,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<MigrateReport> {
    let from_store = crate::server::open_store(source).await?;
    let from_blobs = crate::server::open_blobs(source).await?;
    let scratch = Scratch::open(&source.data_dir.join("blobs/tmp"))?;
    let mut report = MigrateReport::default();

    let keys = from_store.list_keys().await?;
    for k in &keys {
        target.store.import_key(k.clone()).await?;
    }
    report.keys = keys.len();
    progress(&format!("keys: {} copied", keys.len()));

    // Upload records, page by page per key (their files follow below); one already in the
    // target (a second run) is left as it is.
    let mut uploads = 0usize;
    for k in &keys {
        let mut offset = 0u32;
        loop {
            let (page, more) = from_store
                .list_uploads(&k.id, &crate::store::UploadFilter::default(), 500, offset)
                .await?;
            for u in page {
                if target.store.upload(&u.key_id, &u.id).await?.is_none() {
                    target.store.insert_upload(u).await?;
                    uploads += 1;
                }
            }
            if !more {
                break;
            }
            offset += 500;
        }
    }
    progress(&format!("upload records: {uploads} copied"));

    if let Some(to_blobs) = &target.blobs {
        for (key, _) in from_blobs.list("uploads").await? {
            copy_blob(
                from_blobs.as_ref(),
                to_blobs.as_ref(),
                &scratch,
                &key,
                &mut report,
            )
            .await?;
        }
    }
    let mut after = String::new();
    let mut source_ids = Vec::new();
    loop {
        let page = from_store.export_generations(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.record.id.clone();
        for g in page {
            if let Some(to_blobs) = &target.blobs {
                for key in generation_files(from_blobs.as_ref(), &g.record).await? {
                    copy_blob(
                        from_blobs.as_ref(),
                        to_blobs.as_ref(),
                        &scratch,
                        &key,
                        &mut report,
                    )
                    .await?;
                }
            }
            source_ids.push(g.record.id.clone());
            if target.store.import_generation(g).await? {
                report.generations_copied += 1;
            } else {
                report.generations_present += 1;
            }
        }
        progress(&format!(
            "generations: {} copied, {} already there; files: {} copied ({:.1} MB), {} already there",
            report.generations_copied,
            report.generations_present,
            report.files_copied,
            report.bytes_copied as f64 / 1e6,
            report.files_present
        ));
    }
    verify(&from_store, &from_blobs, target, &source_ids).await?;
    progress("verified: keys, balances, generations and file sizes match");
    Ok(report)
}

/// Compares the target with the source; the first difference is an error.
async fn verify(
    from_store: &Arc<dyn Store>,
    from_blobs: &Arc<dyn BlobStore>,
    target: &MigrateTarget,
    source_ids: &[String],
) -> Result<()> {
    for k in from_store.list_keys().await? {
        let t = target
            .store
            .key(&k.id)
            .await?
            .ok_or_else(|| fail(format!("key `{}` is missing in the target", k.id)))?;
        if (t.balance, t.reserved, t.revoked, &t.secret_hash)
            != (k.balance, k.reserved, k.revoked, &k.secret_hash)
        {
            return Err(fail(format!(
                "key `{}` differs in the target (balance {} vs {}); was the target used \
                 since? Stop every retake and run the migration again",
                k.id, t.balance, k.balance
            )));
        }
    }
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(to_blobs) = &target.blobs {
        for prefix in ["uploads", "inputs", "outputs"] {
            sizes.extend(to_blobs.list(prefix).await?);
        }
    }
    for id in source_ids {
        let s = from_store.generation_by_id(id).await?.ok_or_else(|| {
            fail(format!(
                "generation `{id}` vanished from the source; is a retake still running on it?"
            ))
        })?;
        let t = target
            .store
            .generation_by_id(id)
            .await?
            .ok_or_else(|| fail(format!("generation `{id}` is missing in the target")))?;
        if (t.state, t.credit_state, &t.output_blob) != (s.state, s.credit_state, &s.output_blob) {
            return Err(fail(format!(
                "generation `{id}` differs in the target ({} vs {}); stop every retake and \
                 run the migration again",
                t.state.as_str(),
                s.state.as_str()
            )));
        }
        if target.blobs.is_some() {
            for key in generation_files(from_blobs.as_ref(), &s).await? {
                if let Some(size) = from_blobs.head(&key).await? {
                    if sizes.get(&key) != Some(&size) {
                        return Err(fail(format!(
                            "file `{key}` is missing or differs in the target"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Opens what `retake migrate --to URL [--blobs s3://…]` names, with the `s3_*` settings of
/// `config` for the bucket.
pub async fn open_target(
    config: &ServiceConfig,
    to: &str,
    blobs: Option<&str>,
) -> Result<MigrateTarget> {
    let location = StoreLocation::parse(Some(to), &config.data_dir)
        .map_err(|m| ServiceError::BadRequest(format!("--to: {m}")))?;
    if location
        == config
            .store_location()
            .map_err(|e| ServiceError::BadRequest(e.to_string()))?
    {
        return Err(ServiceError::BadRequest(
            "--to names the database this configuration already uses; point it at the new one"
                .into(),
        ));
    }
    let store = crate::store::open(&location, 4)
        .await
        .map_err(|e| ServiceError::Unavailable(format!("--to: {e}")))?;
    let blobs = match blobs {
        None => None,
        Some(url) => {
            let mut c = config.clone();
            c.blob_store = url.to_string();
            c.validate()
                .map_err(|e| ServiceError::BadRequest(format!("--blobs: {e}")))?;
            Some(crate::server::open_blobs(&c).await?)
        }
    };
    Ok(MigrateTarget { store, blobs })
}
