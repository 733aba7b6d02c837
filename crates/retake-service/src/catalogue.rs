//! The model catalogue: every model id a client may name, the engine profile it runs, the API
//! surface that accepts it, the longest clip it takes and how it is priced. One table: the
//! built-in entries are [`built_ins`]; the `catalogue` setting overrides their limits and
//! prices (a partial entry changes only what it names).
//!
//! ```toml
//! [catalogue.ray-flash-2]
//! max_duration_s = 12
//! [catalogue.luma-modify-video]
//! price = { per_call = 0.75 }
//! ```
//!
//! A new model is one more built-in entry, with its surface and, if needed, one more
//! [`PricingRule`] variant (as `ray-3.2`'s price per resolution tier and second was).

use std::collections::BTreeMap;

use retake_engine::Profile;
use serde::{Deserialize, Deserializer, Serialize};

use crate::pricing::{PricingRule, TierPrices, DEFAULT_PRICE_PER_MPX};

/// The API that names a model: a surface accepts only its own models' ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// Luma's Dream Machine API (`/dream-machine/v1`) and Segmind's resale of it.
    Luma,
    /// RunAPI's task API (`/api/v1/luma/modify_video`).
    RunApi,
    /// Luma's current API, as the `luma-agents` SDK calls it (`/agents/v1`).
    Agents,
}

/// The settings of one model an operator may change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSettings {
    /// Longest source clip, seconds.
    pub max_duration_s: f64,
    /// How a generation is priced.
    pub price: PricingRule,
}

/// A built-in model: what is fixed in code, and its default settings.
#[derive(Clone, Debug)]
pub struct BuiltIn {
    /// The id clients send as `model`.
    pub id: &'static str,
    /// The engine profile it runs.
    pub profile: Profile,
    /// The API that accepts it.
    pub surface: Surface,
    /// Its settings unless the configuration says otherwise.
    pub defaults: ModelSettings,
}

/// Every model retake serves, in the order error messages list them.
pub fn built_ins() -> Vec<BuiltIn> {
    vec![
        BuiltIn {
            id: "ray-2",
            profile: Profile::Quality,
            surface: Surface::Luma,
            defaults: ModelSettings {
                max_duration_s: 10.0,
                price: PricingRule::PerMpx(DEFAULT_PRICE_PER_MPX),
            },
        },
        BuiltIn {
            id: "ray-flash-2",
            profile: Profile::Fast,
            surface: Surface::Luma,
            defaults: ModelSettings {
                max_duration_s: 15.0,
                price: PricingRule::PerMpx(0.00544),
            },
        },
        // Luma's current video model, on its current API: keyframes at any frame and output
        // resolution tiers, priced per second of output at each tier.
        BuiltIn {
            id: "ray-3.2",
            profile: Profile::Quality,
            surface: Surface::Agents,
            defaults: ModelSettings {
                max_duration_s: 18.0,
                price: PricingRule::PerSecond(TierPrices::default()),
            },
        },
        // RunAPI resells Luma's Modify Video (ray-2) at a flat price per call.
        BuiltIn {
            id: "luma-modify-video",
            profile: Profile::Quality,
            surface: Surface::RunApi,
            defaults: ModelSettings {
                max_duration_s: 10.0,
                price: PricingRule::PerCall(0.5),
            },
        },
    ]
}

/// One model as the catalogue has it now.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The id clients send.
    pub id: &'a str,
    /// The engine profile it runs.
    pub profile: Profile,
    /// The API that accepts it.
    pub surface: Surface,
    /// Its limit and price.
    pub settings: &'a ModelSettings,
}

/// The catalogue in effect: every built-in model with its settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Catalogue(BTreeMap<String, ModelSettings>);

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue(
            built_ins()
                .into_iter()
                .map(|b| (b.id.to_string(), b.defaults))
                .collect(),
        )
    }
}

/// What the configuration may say about one model; anything left out keeps its default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelOverride {
    max_duration_s: Option<f64>,
    price: Option<PricingRule>,
}

impl<'de> Deserialize<'de> for Catalogue {
    /// Reads overrides (a table of model id → partial settings) onto the built-in entries.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let overrides = BTreeMap::<String, ModelOverride>::deserialize(d)?;
        let mut catalogue = Catalogue::default();
        for (id, o) in overrides {
            let Some(entry) = catalogue.0.get_mut(&id) else {
                return Err(serde::de::Error::custom(format!(
                    "`{id}` is not a model retake serves; the catalogue has {}",
                    id_list(built_ins().iter().map(|b| b.id))
                )));
            };
            if let Some(m) = o.max_duration_s {
                entry.max_duration_s = m;
            }
            if let Some(p) = o.price {
                entry.price = p;
            }
        }
        Ok(catalogue)
    }
}

/// `a`, `a` or `b`, `a`, `b` or `c`.
pub fn id_list<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|i| format!("`{i}`")).collect();
    match ids.as_slice() {
        [] => "no model".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

impl Catalogue {
    /// The model `id`, if the catalogue has it.
    pub fn get(&self, id: &str) -> Option<Model<'_>> {
        let b = built_ins().into_iter().find(|b| b.id == id)?;
        let (id, settings) = self.0.get_key_value(id)?;
        Some(Model {
            id,
            profile: b.profile,
            surface: b.surface,
            settings,
        })
    }

    /// The model `id` if `surface` accepts it.
    pub fn get_on(&self, surface: Surface, id: &str) -> Option<Model<'_>> {
        self.get(id).filter(|m| m.surface == surface)
    }

    /// The ids `surface` accepts, in built-in order.
    pub fn ids_on(&self, surface: Surface) -> Vec<&'static str> {
        built_ins()
            .into_iter()
            .filter(|b| b.surface == surface && self.0.contains_key(b.id))
            .map(|b| b.id)
            .collect()
    }

    /// Every model, in built-in order.
    pub fn models(&self) -> impl Iterator<Item = Model<'_>> {
        built_ins()
            .into_iter()
            .filter_map(move |b| self.get(b.id))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Checks every limit and price; the message names the model and what to change.
    pub fn validate(&self) -> Result<(), String> {
        for m in self.models() {
            let s = m.settings;
            if !(s.max_duration_s.is_finite() && s.max_duration_s > 0.0) {
                return Err(format!(
                    "{}.max_duration_s = {} must be a number of seconds > 0",
                    m.id, s.max_duration_s
                ));
            }
            s.price.validate().map_err(|e| format!("{}: {e}", m.id))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{Credits, OutputSize};

    #[test]
    fn the_built_in_models_have_their_own_limits_and_prices() {
        let c = Catalogue::default();
        let hd5s = OutputSize {
            width: 1280,
            height: 720,
            frames: 120,
        };
        let ray2 = c.get("ray-2").unwrap();
        assert_eq!(
            (ray2.profile, ray2.settings.max_duration_s),
            (Profile::Quality, 10.0)
        );
        assert_eq!(ray2.settings.price.cost(hd5s), Credits(175));
        let flash = c.get("ray-flash-2").unwrap();
        assert_eq!(
            (flash.profile, flash.settings.max_duration_s),
            (Profile::Fast, 15.0)
        );
        assert_eq!(flash.settings.price.cost(hd5s), Credits(60));
        let runapi = c.get("luma-modify-video").unwrap();
        assert_eq!(runapi.surface, Surface::RunApi);
        assert_eq!(runapi.settings.price.cost(hd5s), Credits(50));
        let ray32 = c.get("ray-3.2").unwrap();
        assert_eq!(
            (ray32.surface, ray32.profile, ray32.settings.max_duration_s),
            (Surface::Agents, Profile::Quality, 18.0)
        );
        assert_eq!(ray32.settings.price.cost(hd5s), Credits(175));
        let fhd5s = OutputSize {
            width: 1920,
            height: 1080,
            frames: 120,
        };
        assert_eq!(ray32.settings.price.cost(fhd5s), Credits(400));
        assert_eq!(c.ids_on(Surface::Agents), ["ray-3.2"]);
        assert!(c.get("ray-3").is_none());
        assert!(c.get_on(Surface::Luma, "luma-modify-video").is_none());
        assert_eq!(c.ids_on(Surface::Luma), ["ray-2", "ray-flash-2"]);
        assert_eq!(c.ids_on(Surface::RunApi), ["luma-modify-video"]);
        assert_eq!(id_list(c.ids_on(Surface::Luma)), "`ray-2` or `ray-flash-2`");
        c.validate().unwrap();
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let c: Catalogue = serde_json::from_value(serde_json::json!({
            "ray-flash-2": {"max_duration_s": 12.0},
            "luma-modify-video": {"price": {"per_call": 0.75}},
        }))
        .unwrap();
        let d = Catalogue::default();
        assert_eq!(
            c.get("ray-2").unwrap().settings,
            d.get("ray-2").unwrap().settings
        );
        let flash = c.get("ray-flash-2").unwrap().settings;
        assert_eq!(flash.max_duration_s, 12.0);
        assert_eq!(flash.price, PricingRule::PerMpx(0.00544));
        let r = c.get("luma-modify-video").unwrap().settings;
        assert_eq!(
            (r.max_duration_s, &r.price),
            (10.0, &PricingRule::PerCall(0.75))
        );
    }

    #[test]
    fn the_tier_table_is_set_in_the_configuration() {
        let c: Catalogue = toml::from_str::<toml::Table>(
            "[\"ray-3.2\"]\nmax_duration_s = 12\n\
             price = { per_second = { 360p = 0.1, 540p = 0.2, 720p = 0.4, 1080p = 1.0 } }\n",
        )
        .unwrap()
        .try_into()
        .unwrap();
        let m = c.get("ray-3.2").unwrap().settings;
        assert_eq!(m.max_duration_s, 12.0);
        let fhd = OutputSize {
            width: 1920,
            height: 1080,
            frames: 48,
        };
        assert_eq!(m.price.cost(fhd), Credits(200));
        // The legacy models keep their own rules.
        assert_eq!(
            c.get("ray-flash-2").unwrap().settings.price,
            PricingRule::PerMpx(0.00544)
        );
        c.validate().unwrap();
        let printed = toml::to_string(&c).unwrap();
        assert!(printed.contains("1080p = 1.0"), "{printed}");
    }

    #[test]
    fn unknown_models_and_fields_and_bad_values_are_named() {
        let e = serde_json::from_value::<Catalogue>(serde_json::json!({"ray-9": {}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`ray-9` is not a model") && e.contains("`luma-modify-video`"),
            "{e}"
        );
        let e = serde_json::from_value::<Catalogue>(serde_json::json!({"ray-2": {"max_secs": 3}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_secs"), "{e}");
        let c: Catalogue =
            serde_json::from_value(serde_json::json!({"ray-2": {"max_duration_s": 0.0}})).unwrap();
        assert!(c.validate().unwrap_err().contains("ray-2.max_duration_s"));
        let c: Catalogue = serde_json::from_value(
            serde_json::json!({"ray-flash-2": {"price": {"per_mpx": -1.0}}}),
        )
        .unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .contains("ray-flash-2: price per_mpx"));
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_catalogue_is_layered_model_by_model_and_field_by_field() {
        use crate::pricing::PricingRule;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retake.toml");
        std::fs::write(
            &path,
            "max_duration_s = 12\n\
             [catalogue.ray-flash-2]\nmax_duration_s = 14\n\
             [catalogue.luma-modify-video]\nprice = { per_call = 0.75 }\n",
        )
        .unwrap();
        let loaded = crate::ServiceConfig::load(
            Some(&path),
            env(&[(
                "RETAKE_CATALOGUE",
                "{ ray-flash-2 = { price = { per_mpx = 0.006 } } }",
            )]),
        )
        .unwrap();
        let c = &loaded.config.catalogue;
        let flash = c.get("ray-flash-2").unwrap().settings;
        assert_eq!(
            flash.max_duration_s, 14.0,
            "the file's limit survives the variable"
        );
        assert_eq!(flash.price, PricingRule::PerMpx(0.006));
        let runapi = c.get("luma-modify-video").unwrap().settings;
        assert_eq!(runapi.price, PricingRule::PerCall(0.75));
        assert_eq!(
            c.get("ray-2").unwrap().settings,
            crate::ServiceConfig::default()
                .catalogue
                .get("ray-2")
                .unwrap()
                .settings
        );
        assert_eq!(loaded.sources.origins["catalogue"], "RETAKE_CATALOGUE");
        let printed = loaded.config.to_toml(&loaded.sources);
        assert!(
            printed.contains("max_duration_s = 12.0  # from"),
            "the cap is annotated: {printed}"
        );
        assert!(
            printed.contains("]  # from RETAKE_CATALOGUE"),
            "the table's header is annotated: {printed}"
        );
        // What `retake config` prints loads back to the same configuration.
        std::fs::write(&path, &printed).unwrap();
        let back = crate::ServiceConfig::load(Some(&path), Vec::new())
            .unwrap()
            .config;
        assert_eq!(back, loaded.config);
        // JSON works in the variable too.
        let j = crate::ServiceConfig::load(
            None,
            env(&[("RETAKE_CATALOGUE", r#"{"ray-2": {"max_duration_s": 8}}"#)]),
        )
        .unwrap();
        assert_eq!(
            j.config
                .catalogue
                .get("ray-2")
                .unwrap()
                .settings
                .max_duration_s,
            8.0
        );
    }

    #[test]
    fn catalogue_mistakes_and_the_old_price_setting_are_explained() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("RETAKE_CATALOGUE", "{ ray-9 = {} }")],
                "`ray-9` is not a model",
            ),
            (
                &[(
                    "RETAKE_CATALOGUE",
                    "{ ray-2 = { price = { per_mpx = -1 } } }",
                )],
                "ray-2: price per_mpx",
            ),
            (
                &[("RETAKE_CATALOGUE", "{ ray-2 = { max_duration_s = 0 } }")],
                "ray-2.max_duration_s",
            ),
            (&[("RETAKE_MAX_DURATION_S", "-1")], "max_duration_s"),
            (&[("RETAKE_PRICE_PER_MPX", "0.02")], "[catalogue.ray-2]"),
        ];
        for (vars, want) in cases {
            let e = crate::ServiceConfig::load(None, env(vars))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{vars:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "price_per_mpx = 0.02\n").unwrap();
        let e = crate::ServiceConfig::load(Some(&path), Vec::new()).unwrap_err();
        assert!(
            e.to_string()
                .contains("`price_per_mpx` is no longer a setting"),
            "{e}"
        );
        std::fs::write(
            &path,
            "[catalogue.ray-2]\nprice = { per_mpx = 1, per_call = 2 }\n",
        )
        .unwrap();
        assert!(crate::ServiceConfig::load(Some(&path), Vec::new()).is_err());
    }

    #[test]
    fn the_catalogue_round_trips_through_its_printed_form() {
        let c = Catalogue::default();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["luma-modify-video"]["price"]["per_call"], 0.5);
        let back: Catalogue = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
