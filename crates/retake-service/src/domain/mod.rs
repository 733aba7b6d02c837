//! The service's domain: generations, their states, and modify-video requests.

mod failure;
mod generation;
mod request;

pub use failure::FailureCode;
pub use generation::{
    rfc3339_ms, Assets, DeliveryState, Generation, State, WebhookStatus, GENERATION_TYPE,
};
pub use request::{
    GenerationTypeName, MediaRef, ModeName, Model, ModelName, ModifyVideoRequest, ValidRequest,
    DEFAULT_MODE, DEFAULT_MODEL,
};
