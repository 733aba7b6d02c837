//! `POST /v1/uploads`: the raw file as the body; answers a URL usable as `media.url` or
//! `first_frame.url` by the same key.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::auth::Caller;
use super::error::ApiError;
use crate::error::ServiceError;
use crate::service::{Service, Upload};

/// Streams the body to disk with the clip byte cap.
pub async fn upload(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    body: Body,
) -> Result<(StatusCode, Json<Upload>), ApiError> {
    let max = svc.config.limits.max_file_bytes;
    let (blob_key, mut upload) = svc.new_upload(&key);
    let tmp = svc.blobs.temp_path();
    let mut file = tokio::fs::File::create(&tmp)
        .await
        .map_err(ServiceError::from)?;
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    let result: Result<(), ServiceError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| ServiceError::BadRequest(format!("the upload was cut off: {e}")))?;
            total += chunk.len() as u64;
            if total > max {
                return Err(ServiceError::TooLarge(format!(
                    "the upload is over the {:.1} MB limit — compress or trim it",
                    max as f64 / 1e6
                )));
            }
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(())
    }
    .await;
    drop(file);
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e.into());
    }
    if total == 0 {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(ServiceError::BadRequest(
            "the upload is empty; send the file's bytes as the request body".into(),
        )
        .into());
    }
    svc.blobs.commit(&tmp, &blob_key).await?;
    upload.bytes = total;
    Ok((StatusCode::CREATED, Json(upload)))
}
