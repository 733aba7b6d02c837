//! Quality/speed profiles: how much work the propagation spends per frame. The hosted APIs'
//! model names map onto them (`ray-2` is the quality profile, `ray-flash-2` the fast one).

use crate::propagate::SynthSettings;
use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How much effort the engine spends per frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Full working resolution and search effort (alias `ray-2`).
    #[default]
    Quality,
    /// A smaller working resolution and one search pass per frame (alias `ray-flash-2`).
    Fast,
}

impl Profile {
    /// Both profiles, best quality first.
    pub const ALL: [Profile; 2] = [Profile::Quality, Profile::Fast];

    /// The profile's own name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Quality => "quality",
            Profile::Fast => "fast",
        }
    }

    /// The hosted-API model name that maps to this profile.
    pub fn model_alias(self) -> &'static str {
        match self {
            Profile::Quality => "ray-2",
            Profile::Fast => "ray-flash-2",
        }
    }

    /// The synthesis settings this profile stands for.
    pub fn settings(self) -> SynthSettings {
        match self {
            Profile::Quality => SynthSettings::default(),
            Profile::Fast => SynthSettings {
                max_working_side: 448,
                iterations: 1,
                reset_iterations: 4,
                ..SynthSettings::default()
            },
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == t || p.model_alias() == t)
            .ok_or_else(|| EngineError::UnknownProfile(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_model_aliases_parse() {
        assert_eq!("ray-2".parse::<Profile>().unwrap(), Profile::Quality);
        assert_eq!("RAY_FLASH_2".parse::<Profile>().unwrap(), Profile::Fast);
        assert_eq!("quality".parse::<Profile>().unwrap(), Profile::Quality);
        assert_eq!("fast".parse::<Profile>().unwrap(), Profile::Fast);
        let e = "ray-3".parse::<Profile>().unwrap_err().to_string();
        assert!(e.contains("ray-2") && e.contains("ray-flash-2"), "{e}");
    }

    #[test]
    fn fast_does_less_work_than_quality() {
        let (q, f) = (Profile::Quality.settings(), Profile::Fast.settings());
        assert!(f.max_working_side < q.max_working_side);
        assert!(f.iterations <= q.iterations);
    }
}
