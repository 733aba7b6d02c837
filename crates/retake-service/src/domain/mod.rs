//! The service's domain: generations, their states, modify-video requests, and RunAPI's
//! task shape of both.

mod failure;
mod generation;
mod look;
mod request;
mod task;

pub use failure::FailureCode;
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
