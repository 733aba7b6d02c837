//! One module per subcommand.

pub mod convert;
pub mod eval;
pub mod frame;
pub mod modify;
pub mod probe;
