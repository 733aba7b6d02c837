//! retake's `look` extension to the create requests: a built-in look (no model needed),
//! applied to the first frame (the one sent, or the clip's own) and carried through the clip.

use retake_pipeline::looks::{catalogue, HslShift, Look, LookName};
use serde::{Deserialize, Serialize};

use super::request::{check_url, MediaRef};
use crate::error::ServiceError;

/// `look`: a look's name, or an object with its strength and more.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the field; requests read it leniently, as JSON
pub enum LookValue {
    /// The look at full strength.
    Name(LookNameSchema),
    /// The look with its settings.
    Spec(LookSpec),
}

/// The looks, for the API schema (`retake looks` describes them).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum LookNameSchema {
    /// High-contrast black and white, vignette.
    FilmNoir,
    /// Warm brown monochrome.
    Sepia,
    /// Silvery, desaturated, hard contrast.
    BleachBypass,
    /// Teal shadows, orange highlights.
    TealOrange,
    /// Posterised colour, ink outlines.
    Comic,
    /// Brush strokes, sharp edges.
    OilPaint,
    /// Washes, pooled edges, paper grain.
    Watercolour,
    /// Graphite lines and hatching.
    PencilSketch,
    /// Dark night, glowing edges.
    NeonNight,
    /// Hue, saturation, lightness.
    Recolour,
}

/// A look with its settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LookSpec {
    /// Which look.
    #[serde(default)]
    #[schema(required = true, value_type = LookNameSchema)]
    pub name: Option<String>,
    /// How much of it, 0 (none) to 1 (all; the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub strength: Option<f64>,
    /// `recolour` only: hue rotation in degrees (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = -360.0, maximum = 360.0)]
    pub hue: Option<f64>,
    /// `recolour` only: saturation change, -1 (grey) to 1 (twice as saturated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub saturation: Option<f64>,
    /// `recolour` only: lightness change, -1 (black) to 1 (white).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub lightness: Option<f64>,
    /// Where the look goes: an image painted over the first frame, white where the look
    /// goes and black where it does not (PNG, JPEG or WebP; the clip's output size or a
    /// scale of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<MediaRef>,
}

/// A look that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidLook {
    /// The look, at its strength.
    pub look: Look,
    /// Where its mask is, if it has one.
    pub mask_url: Option<String>,
}

impl ValidLook {
    /// The normalised form echoed in the generation's `request`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self.look).unwrap_or_default();
        if let Some(url) = &self.mask_url {
            v["mask"] = serde_json::json!({ "url": url });
        }
        v
    }
}

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

/// How to ask for a look, with every look and what it does: the answer to a request that
/// has nothing this server can apply.
pub fn looks_help() -> String {
    let list = catalogue()
        .iter()
        .map(|l| format!("{}: {}", l.name, l.description))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "built-in looks need no model: add \"look\": \"film_noir\", or \"look\": {{\"name\": \
         \"watercolour\", \"strength\": 0.8}} (recolour also takes hue, saturation and \
         lightness; \"mask\": {{\"url\": …}} confines a look). The looks: {list}"
    )
}

/// Checks a request's `look`.
pub fn parse_look(value: &serde_json::Value) -> Result<ValidLook, ServiceError> {
    let spec = match value {
        serde_json::Value::String(name) => LookSpec {
            name: Some(name.clone()),
            ..LookSpec::default()
        },
        serde_json::Value::Object(_) => {
            serde_json::from_value::<LookSpec>(value.clone()).map_err(|e| {
                bad(format!(
                    "look could not be read ({e}); send {{\"name\": \"film_noir\", \"strength\": \
                     0.8}}, numbers as numbers"
                ))
            })?
        }
        _ => {
            return Err(bad(format!(
                "look must be a look's name or an object with its name; {}",
                looks_help()
            )))
        }
    };
    let name = spec.name.as_deref().ok_or_else(|| {
        bad(format!(
            "look.name is required; the looks are: {}",
            LookName::names()
        ))
    })?;
    let name: LookName = name.parse().map_err(|e| bad(format!("look.name: {e}")))?;
    let strength = spec.strength.unwrap_or(1.0);
    let mut look =
        Look::new(name, strength as f32).map_err(|e| bad(format!("look.strength: {e}")))?;
    if spec.hue.is_some() || spec.saturation.is_some() || spec.lightness.is_some() {
        let d = HslShift::default();
        let f = |v: Option<f64>, d: f32| v.map_or(d, |v| v as f32);
        look = look
            .with_hsl(HslShift {
                hue: f(spec.hue, d.hue),
                saturation: f(spec.saturation, d.saturation),
                lightness: f(spec.lightness, d.lightness),
            })
            .map_err(|e| bad(format!("look: {e}")))?;
    }
    let mask_url = match &spec.mask {
        None => None,
        Some(m) => match m.url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => {
                check_url("look.mask.url", u)?;
                Some(u.to_string())
            }
            _ => {
                return Err(bad(
                    "look.mask.url is empty; give the URL of the mask image or leave out mask",
                ))
            }
        },
    };
    Ok(ValidLook { look, mask_url })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schema_names_every_look() {
        let schema: Vec<String> = [
            LookNameSchema::FilmNoir,
            LookNameSchema::Sepia,
            LookNameSchema::BleachBypass,
            LookNameSchema::TealOrange,
            LookNameSchema::Comic,
            LookNameSchema::OilPaint,
            LookNameSchema::Watercolour,
            LookNameSchema::PencilSketch,
            LookNameSchema::NeonNight,
            LookNameSchema::Recolour,
        ]
        .iter()
        .map(|n| {
            serde_json::to_value(n)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
        assert_eq!(schema, LookName::ALL.map(|l| l.name().to_string()));
    }

    #[test]
    fn a_name_or_an_object_is_read_and_normalised() {
        let v = parse_look(&json!("noir")).unwrap();
        assert_eq!(v.to_json(), json!({"name": "film_noir", "strength": 1.0}));
        let v = parse_look(&json!({"name": "recolour", "strength": 0.5, "hue": -30,
            "mask": {"url": "https://x/m.png"}}))
        .unwrap();
        assert_eq!(
            v.to_json(),
            json!({"name": "recolour", "strength": 0.5, "hue": -30.0, "saturation": 0.0,
                "lightness": 0.0, "mask": {"url": "https://x/m.png"}})
        );
    }

    #[test]
    fn every_mistake_says_what_to_fix() {
        let cases = [
            (json!(7), "look must be a look's name"),
            (
                json!("glitter"),
                "no look `glitter`; the looks are: film_noir",
            ),
            (json!({"strength": 0.5}), "look.name is required"),
            (
                json!({"name": "sepia", "strength": 1.5}),
                "from 0 (no change) to 1",
            ),
            (
                json!({"name": "sepia", "strength": "1"}),
                "numbers as numbers",
            ),
            (
                json!({"name": "sepia", "hue": 10}),
                "only to the `recolour` look",
            ),
            (
                json!({"name": "recolour", "saturation": -2}),
                "saturation must be",
            ),
            (
                json!({"name": "comic", "mask": {}}),
                "look.mask.url is empty",
            ),
            (
                json!({"name": "comic", "mask": {"url": "file:///etc/passwd"}}),
                "http://",
            ),
        ];
        for (v, want) in cases {
            let e = parse_look(&v).unwrap_err().to_string();
            assert!(e.contains(want), "{v}: {e}");
        }
    }
}
