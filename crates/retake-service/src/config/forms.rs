//! How settings that are not plain numbers or strings are written in the file and the
//! environment: durations (`30s`), the output size cap (`1280x720`), CIDR allow-lists, and
//! whole numbers that may arrive as text.

/// An optional whole number that may also arrive as text (an environment variable for a
/// setting without a default has no type to follow).
pub(super) mod optional_number {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Text(String),
    }

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: TryFrom<u64>,
        D: Deserializer<'de>,
    {
        let n = match Option::<NumOrText>::deserialize(d)? {
            None => return Ok(None),
            Some(NumOrText::Num(n)) => n,
            Some(NumOrText::Text(t)) => t
                .trim()
                .parse::<u64>()
                .map_err(|_| serde::de::Error::custom(format!("`{t}` is not a whole number")))?,
        };
        T::try_from(n)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{n} is too large")))
    }
}

pub(super) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{s}` is not a duration ({e}); write it like 30s, 500ms or 2m"
            ))
        })
    }
}

pub(super) mod size_cap {
    use retake_media::SizeCap;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &SizeCap, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}x{}", c.long, c.short))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SizeCap, D::Error> {
        let s = String::deserialize(d)?;
        let err = || {
            serde::de::Error::custom(format!(
                "`{s}` is not LONGxSHORT with sides of 16 to 8192 pixels, such as 1280x720"
            ))
        };
        let (a, b) = s.split_once(['x', 'X']).ok_or_else(err)?;
        let a: u32 = a.trim().parse().map_err(|_| err())?;
        let b: u32 = b.trim().parse().map_err(|_| err())?;
        if !(16..=8192).contains(&a) || !(16..=8192).contains(&b) {
            return Err(err());
        }
        Ok(SizeCap {
            long: a.max(b),
            short: a.min(b),
            upscale: false,
        })
    }
}

pub(super) mod allow_nets {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::fetch::AllowNet;

    pub fn serialize<S: Serializer>(nets: &[AllowNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| format!("{}/{}", n.addr, n.prefix)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AllowNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| AllowNet::parse(s).map_err(serde::de::Error::custom))
            .collect()
    }
}
