//! The engine's error type.

/// Everything the engine can refuse or fail at, each saying what to change.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EngineError {
    /// Two frames that must share a size do not.
    #[error("{what} is {got_w}x{got_h} but the clip is {want_w}x{want_h}; resize it to match the source frames")]
    SizeMismatch {
        /// Which input was wrong.
        what: &'static str,
        /// Width that was given.
        got_w: usize,
        /// Height that was given.
        got_h: usize,
        /// Width that was expected.
        want_w: usize,
        /// Height that was expected.
        want_h: usize,
    },
    /// A frame is too small to work on.
    #[error(
        "frame is {w}x{h}; the engine needs at least {min}x{min} pixels — use a larger source"
    )]
    TooSmall {
        /// Width given.
        w: usize,
        /// Height given.
        h: usize,
        /// Smallest side accepted.
        min: usize,
    },
    /// An unknown mode name.
    #[error("unknown mode `{0}`; valid modes are adhere_1, adhere_2, adhere_3, flex_1, flex_2, flex_3, reimagine_1, reimagine_2, reimagine_3")]
    UnknownMode(String),
    /// An unknown profile or model name.
    #[error(
        "unknown model `{0}`; valid names are ray-2 (alias quality) and ray-flash-2 (alias fast)"
    )]
    UnknownProfile(String),
    /// A parameter is out of its range.
    #[error("parameter `{name}` is {value}; {hint}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// The value given, printed.
        value: String,
        /// What range is accepted.
        hint: &'static str,
    },
    /// Keyframes were given in an order or position that cannot be used.
    #[error("keyframes must be at increasing frame indices inside the clip; got {0}")]
    BadKeyframes(String),
    /// The caller's cancellation flag was set.
    #[error("cancelled")]
    Cancelled,
    /// A buffer could not be turned into a frame.
    #[error("could not build a frame: {0}")]
    Frame(String),
    /// Frames held for a later keyframe could not be kept in the temporary folder.
    #[error("could not hold frames in a temporary file ({0}); check the free space in the temporary folder (TMPDIR)")]
    Spool(String),
}
