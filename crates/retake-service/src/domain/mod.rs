//! The service's domain: generations, their states, modify-video requests, RunAPI's task
//! shape of both, and video edits on Luma's current API.

mod edit;
mod edit_view;
mod failure;
mod file;
mod generation;
mod look;
mod request;
mod task;

pub use edit::{
    auto_mode, DepthControl, EditControls, EditModelName, EditOptions, EditRequest, EditTypeName,
    FaceControl, InputRef, MediaSource, NormalsControl, PoseControl, PoseStrength, ResolutionName,
    TrajectoryControl, ValidEdit, VideoOptions, DEFAULT_RESOLUTION, MAX_EDIT_KEYFRAMES,
};
pub use edit_view::{
    EditFailureCode, EditGeneration, EditGenerationList, EditOutput, EditSpec, EditState,
    EditVideo, StoredRequest,
};
pub use failure::FailureCode;
pub use file::{
    CreateFileRequest, CreateFileResponse, FileList, FileObject, FilePurpose, FileState,
    PresignedUpload,
};
pub use generation::{
    rfc3339_ms, Assets, DeliveryState, Generation, State, WebhookStatus, GENERATION_TYPE,
};
pub use look::{looks_help, parse_look, LookNameSchema, LookSpec, LookValue, ValidLook};
pub use request::{
    GenerationTypeName, MediaRef, ModeName, ModelName, ModifyVideoRequest, ValidRequest,
    DEFAULT_MODE, DEFAULT_MODEL,
};
pub use task::{
    Task, TaskError, TaskInput, TaskModelName, TaskOutput, TaskRequest, TaskStatus, UrlOrRef,
    DEFAULT_TASK_MODE,
};
