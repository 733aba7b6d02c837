//! Price quotes: what a create would charge, without creating anything. A quote runs the
//! create's own validation, fetch, probe and price (`probe_media` / `probe_edit_source` and
//! `price_of`), so the number shown is the number reserved. The one check it leaves out is an
//! edit's "nothing to change" (no edited frame and no usable prompt): the price does not
//! depend on the edited frames, and a client may upload them only when it submits.

use retake_media::Resolution;

use super::{price_of, Service};
use crate::catalogue::Surface;
use crate::domain::{EditRequest, ModifyVideoRequest};
use crate::error::{Result, ServiceError};
use crate::pricing::OutputSize;
use crate::store::KeyRecord;

/// `POST /v1/quote`: the body of a create, either API's.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the body; it is read as JSON and told apart by its fields
pub enum QuoteRequest {
    /// A Luma create (`POST /dream-machine/v1/generations/video/modify`).
    Luma(ModifyVideoRequest),
    /// An agents edit (`POST /agents/v1/generations`), told apart by its `type` or `source`.
    Edit(Box<EditRequest>),
}

/// What a create would cost.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Quote {
    /// Credits the create would reserve (and charge on success).
    pub credits: f64,
    /// Credits the key has available now, reservations deducted.
    pub available: f64,
    /// Whether the key has enough.
    pub enough: bool,
    /// The model the request names (or the default).
    pub model: String,
    /// The model's pricing rule in words.
    pub pricing: String,
    /// Output width, pixels.
    pub width: u32,
    /// Output height, pixels.
    pub height: u32,
    /// Output frames (24 a second).
    pub frames: u32,
    /// Output length, seconds.
    pub duration_s: f64,
    /// The output's resolution tier (`360p` … `1080p`).
    pub resolution: String,
}

/// Whether a create body is an agents edit (it has `type` or `source`) rather than a Luma
/// create.
fn is_edit(body: &serde_json::Value) -> bool {
    body.get("type").is_some() || body.get("source").is_some()
}

impl Service {
    /// The price of a create body (either API's) for this key, from the same validation,
    /// probe and pricing the create uses.
    pub async fn quote(&self, caller: &KeyRecord, body: &[u8]) -> Result<Quote> {
        let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            ServiceError::BadRequest(format!(
                "the body must be the JSON of a create (the Luma or the agents API's); it \
                 could not be read: {e}"
            ))
        })?;
        let catalogue = &self.config.catalogue;
        let (model_id, out) = if is_edit(&json) {
            let request = EditRequest::from_json(body)?;
            let valid = request.validate(
                self.config.max_prompt_chars,
                catalogue,
                self.config.max_resolution,
            )?;
            // Not `check_edit`: the price does not depend on the edited frames, which a client
            // may add only when it submits (the studio bakes a look into frame 0 then).
            let model = catalogue
                .get(&valid.model)
                .ok_or_else(|| ServiceError::Internal(format!("model {} vanished", valid.model)))?;
            let probed = self.probe_edit_source(caller, &valid, &model).await?;
            (valid.model.clone(), probed.out)
        } else {
            let request = ModifyVideoRequest::from_json(body)?;
            let valid = request.validate(self.config.max_prompt_chars, catalogue, Surface::Luma)?;
            let model = catalogue
                .get(&valid.model)
                .ok_or_else(|| ServiceError::Internal(format!("model {} vanished", valid.model)))?;
            self.check_request(&valid).await?;
            let (_media, out) = self.probe_media(caller, &valid, &model).await?;
            (valid.model.clone(), out)
        };
        let model = catalogue
            .get(&model_id)
            .ok_or_else(|| ServiceError::Internal(format!("model {model_id} vanished")))?;
        let credits = price_of(&model, out);
        let available = self.credits(&caller.id).await?;
        let OutputSize {
            width,
            height,
            frames,
        } = out;
        Ok(Quote {
            credits: credits.as_f64(),
            available: available.as_f64(),
            enough: available >= credits,
            pricing: model.settings.price.describe(),
            model: model_id,
            width,
            height,
            frames,
            duration_s: frames as f64 / retake_media::OUTPUT_FPS as f64,
            resolution: Resolution::of_size(width, height).name().to_string(),
        })
    }
}
