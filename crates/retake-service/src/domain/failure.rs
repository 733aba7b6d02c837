//! Why a generation failed, as a stable code (for metrics and for mapping a synchronous
//! request's failure to an HTTP status); the human reason is kept beside it.

/// The kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureCode {
    /// An input could not be used (damaged clip, wrong-shaped frame…).
    Input,
    /// The request needs something this server does not have (a model, an engine).
    Unavailable,
    /// Processing failed inside retake.
    Processing,
    /// The output could not be stored.
    Storage,
    /// Workers died or hung on it too many times.
    Crashed,
    /// The client cancelled it.
    Cancelled,
    /// A synchronous request gave up waiting for it.
    Timeout,
}

impl FailureCode {
    /// Every code, in a fixed order (for metrics).
    pub const ALL: [FailureCode; 7] = [
        FailureCode::Input,
        FailureCode::Unavailable,
        FailureCode::Processing,
        FailureCode::Storage,
        FailureCode::Crashed,
        FailureCode::Cancelled,
        FailureCode::Timeout,
    ];

    /// The name stored and used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::Input => "input",
            FailureCode::Unavailable => "unavailable",
            FailureCode::Processing => "processing",
            FailureCode::Storage => "storage",
            FailureCode::Crashed => "crashed",
            FailureCode::Cancelled => "cancelled",
            FailureCode::Timeout => "timeout",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Position in [`FailureCode::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, c) in FailureCode::ALL.into_iter().enumerate() {
            assert_eq!(FailureCode::parse(c.as_str()), Some(c));
            assert_eq!(c.index(), i);
        }
        assert_eq!(FailureCode::parse("nope"), None);
    }
}
