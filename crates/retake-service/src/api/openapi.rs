//! The OpenAPI document of every route, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::{luma, segmind, uploads};
use crate::domain::{
    Assets, Generation, GenerationTypeName, LookNameSchema, LookSpec, LookValue, MediaRef,
    ModeName, ModelName, ModifyVideoRequest, State,
};
use crate::service::GenerationList;
use crate::uploads::Upload;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `retake keys create`"))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "The same API key, Segmind's way",
            ))),
        );
    }
}

/// The document served at `GET /openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "retake",
        description = "Self-hosted Modify Video API: Luma-compatible (`/dream-machine/v1`) and \
            Segmind-compatible (`/v1/modify-video`, `/v2/...`). Every authenticated response \
            carries `x-remaining-credits`; every error is `{\"detail\", \"code\"}`."
    ),
    paths(
        luma::modify,
        luma::get,
        luma::list,
        luma::delete,
        luma::cancel,
        luma::credits,
        luma::ping,
        luma::video,
        segmind::modify_video_sync,
        segmind::modify_video_async,
        segmind::request_status,
        segmind::request_result,
        uploads::upload,
        super::healthz,
        super::metrics,
    ),
    components(schemas(
        Generation,
        Assets,
        State,
        ModifyVideoRequest,
        MediaRef,
        LookValue,
        LookSpec,
        LookNameSchema,
        ModeName,
        ModelName,
        GenerationTypeName,
        GenerationList,
        Upload,
        ErrorBody,
        luma::CreditBalance,
        luma::Pong,
        segmind::SegmindModifyRequest,
        segmind::SegmindModifyForm,
        segmind::V2Status,
        segmind::V2Submitted,
        super::Health,
    )),
    modifiers(&Security),
    tags(
        (name = "luma", description = "Luma Dream Machine compatible"),
        (name = "segmind", description = "Segmind compatible"),
        (name = "uploads", description = "Files for requests without public URLs"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;
