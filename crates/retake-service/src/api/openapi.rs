//! The OpenAPI document of every route, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::{agents, files, luma, runapi, segmind, studio, uploads};
use crate::domain::{
    Assets, CreateFileRequest, CreateFileResponse, DeliveryState, DepthControl, EditControls,
    EditFailureCode, EditGeneration, EditGenerationList, EditModelName, EditOptions, EditOutput,
    EditRequest, EditState, EditTypeName, EditVideo, FaceControl, FileList, FileObject,
    FilePurpose, FileState, Generation, GenerationTypeName, LookNameSchema, LookSpec, LookValue,
    MediaRef, MediaSource, ModeName, ModelName, ModifyVideoRequest, NormalsControl, PoseControl,
    PoseStrength, PresignedUpload, ResolutionName, State, Task, TaskError, TaskInput,
    TaskModelName, TaskOutput, TaskRequest, TaskStatus, TrajectoryControl, UrlOrRef, VideoOptions,
    WebhookStatus,
};
use crate::service::GenerationList;
use crate::uploads::{Upload, UploadList};

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
        description = "Self-hosted Modify Video API: Luma-compatible (`/dream-machine/v1`, and \
            Luma's current video-edit API as the `luma-agents` SDK calls it under \
            `/agents/v1`), Segmind-compatible (`/v1/modify-video`, `/v2/...`) and \
            RunAPI-compatible (`/api/v1`). Every authenticated response carries \
            `x-remaining-credits`; every error is `{\"detail\", \"code\"}`."
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
        runapi::modify,
        runapi::get_task,
        runapi::get_modify_task,
        runapi::cancel_task,
        runapi::cancel_modify_task,
        runapi::delete_task,
        runapi::delete_modify_task,
        agents::create,
        agents::get,
        agents::list,
        agents::delete,
        agents::cancel,
        files::create,
        files::put_content,
        files::complete,
        files::get,
        files::list,
        files::delete,
        uploads::upload,
        uploads::list,
        uploads::get,
        uploads::delete,
        super::healthz,
        super::metrics,
        crate::studio::info,
        studio::frames,
        studio::frame,
        studio::content,
        studio::preview,
        studio::quote,
        studio::events,
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
        UploadList,
        crate::frames::FrameStrip,
        crate::frames::Thumbnail,
        crate::frames::PreviewRequest,
        crate::service::Quote,
        crate::service::QuoteRequest,
        studio::GenerationEvent,
        studio::GenerationEventName,
        WebhookStatus,
        DeliveryState,
        ErrorBody,
        luma::CreditBalance,
        luma::Pong,
        segmind::SegmindModifyRequest,
        segmind::SegmindModifyForm,
        segmind::V2Status,
        segmind::V2Submitted,
        TaskRequest,
        TaskModelName,
        UrlOrRef,
        Task,
        TaskStatus,
        TaskError,
        TaskOutput,
        TaskInput,
        EditRequest,
        MediaSource,
        VideoOptions,
        EditOptions,
        EditControls,
        DepthControl,
        FaceControl,
        NormalsControl,
        PoseControl,
        PoseStrength,
        TrajectoryControl,
        ResolutionName,
        EditTypeName,
        EditModelName,
        EditGeneration,
        EditGenerationList,
        EditState,
        EditFailureCode,
        EditOutput,
        EditVideo,
        CreateFileRequest,
        CreateFileResponse,
        FileObject,
        FileList,
        FilePurpose,
        FileState,
        PresignedUpload,
        super::Health,
        crate::studio::StudioInfo,
        crate::studio::StudioModel,
        crate::studio::StudioMode,
        crate::studio::StudioLook,
    )),
    modifiers(&Security),
    tags(
        (name = "luma", description = "Luma Dream Machine compatible"),
        (name = "segmind", description = "Segmind compatible"),
        (name = "runapi", description = "RunAPI compatible (tasks)"),
        (name = "agents", description = "Luma's current API (`luma-agents` SDK): video edits, files"),
        (name = "uploads", description = "Files for requests without public URLs"),
        (name = "operations", description = "Health and metrics"),
        (name = "studio", description = "What the web page at `/` needs"),
    )
)]
pub struct ApiDoc;
