//! One module per subcommand.

pub mod config;
pub mod convert;
pub mod eval;
pub mod frame;
pub mod keys;
pub mod look;
pub mod migrate;
pub mod models;
pub mod modify;
pub mod probe;
pub mod serve;
