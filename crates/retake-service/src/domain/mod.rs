//! The service's domain: generations, their states, and modify-video requests.

mod failure;
mod generation;
mod look;
mod request;

pub use failure::FailureCode;
pub use generation::{rfc3339_ms, Assets, Generation, State, GENERATION_TYPE};
pub use look::{looks_help, parse_look, LookNameSchema, LookSpec, LookValue, ValidLook};
pub use request::{
    GenerationTypeName, MediaRef, ModeName, Model, ModelName, ModifyVideoRequest, ValidRequest,
};
