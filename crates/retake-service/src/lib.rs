//! retake's HTTP service: Luma-, Segmind- and RunAPI-compatible Modify Video APIs and Luma's
//! current video-edit API, in front of the same clip pipeline the CLI runs, with a durable job
//! queue, credits and webhooks.
//!
//! Start it with [`serve`] (or [`start`] on a bound listener); manage keys with [`Admin`].

pub mod admin;
pub mod api;
pub mod auth;
pub mod blobs;
pub mod catalogue;
pub mod config;
pub mod domain;
pub mod edits;
pub mod error;
pub mod fetch;
pub mod files;
pub mod frames;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
pub mod links;
pub mod metrics;
pub mod migrate;
pub mod pipeline;
pub mod pricing;
mod priority;
pub mod ratelimit;
mod server;
pub mod service;
pub mod store;
pub mod studio;
pub mod tasks;
pub mod transport;
pub mod uploads;
pub mod webhook;
mod worker;

pub use admin::{Admin, CreatedKey, KeyInfo};
pub use config::{ConfigError, ConfigSources, LoadedConfig, ServiceConfig};
pub use error::ServiceError;
pub use fetch::{AllowNet, FetchConfig};
pub use pipeline::{ClipPipeline, MediaPipeline, PipelineError, PipelineJob, PipelineOutput};
pub use server::{
    open_blobs, open_store, serve, start, start_workers, RunningServer, RunningWorkers,
    ShutdownSignal,
};
