//! Credits and pricing rules: what a generation costs, kept in integer hundredths.
//!
//! A model's price is a [`PricingRule`] in the catalogue (`crate::catalogue`). Every rule
//! turns the output a generation will make ([`OutputSize`]) into [`Credits`], which are
//! reserved at create, charged on success and released on failure, whatever the rule.

use std::collections::BTreeMap;

use retake_media::{Resolution, OUTPUT_FPS};
use serde::{Deserialize, Deserializer, Serialize};

/// Default price of `ray-2`: credits per million output pixels.
pub const DEFAULT_PRICE_PER_MPX: f64 = 0.01582;

/// An amount of credits in hundredths (1.75 credits is `Credits(175)`); integers so sums never drift.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Credits(pub i64);

impl Credits {
    /// From a decimal amount, rounded to the nearest hundredth.
    pub fn from_f64(value: f64) -> Self {
        Credits((value * 100.0).round() as i64)
    }

    /// As a decimal amount.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl std::fmt::Display for Credits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}", self.as_f64())
    }
}

/// The output a generation will make, known once its source clip has been probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputSize {
    /// Output width, pixels.
    pub width: u32,
    /// Output height, pixels.
    pub height: u32,
    /// Output frames (at 24 fps).
    pub frames: u32,
}

/// Default price of `ray-3.2`: credits per second of output at each resolution tier, about
/// `ray-2`'s price per pixel (5 s of 720p cost 1.75 either way).
pub const DEFAULT_PRICE_PER_SECOND: [(Resolution, f64); 4] = [
    (Resolution::P360, 0.09),
    (Resolution::P540, 0.2),
    (Resolution::P720, 0.35),
    (Resolution::P1080, 0.8),
];

/// Credits per second of output, one price for each resolution tier; every tier has one.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct TierPrices(BTreeMap<Resolution, f64>);

impl TierPrices {
    /// The price of `tier`.
    pub fn get(&self, tier: Resolution) -> f64 {
        self.0.get(&tier).copied().unwrap_or(0.0)
    }
}

impl Default for TierPrices {
    fn default() -> Self {
        TierPrices(DEFAULT_PRICE_PER_SECOND.into_iter().collect())
    }
}

impl<'de> Deserialize<'de> for TierPrices {
    /// A table naming every tier: `{ 360p = 0.09, 540p = 0.2, 720p = 0.35, 1080p = 0.8 }`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let prices = BTreeMap::<Resolution, f64>::deserialize(d)?;
        let missing: Vec<&str> = Resolution::ALL
            .into_iter()
            .filter(|r| !prices.contains_key(r))
            .map(Resolution::name)
            .collect();
        if !missing.is_empty() {
            return Err(serde::de::Error::custom(format!(
                "per_second needs a price for every tier; {} missing (e.g. per_second = \
                 {{ 360p = 0.09, 540p = 0.2, 720p = 0.35, 1080p = 0.8 }})",
                missing.join(", ")
            )));
        }
        Ok(TierPrices(prices))
    }
}

/// How a model is priced. In the configuration a rule is a one-key table:
/// `price = { per_mpx = 0.01582 }`, `price = { per_call = 0.5 }` or
/// `price = { per_second = { 360p = 0.09, 540p = 0.2, 720p = 0.35, 1080p = 0.8 } }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingRule {
    /// Credits per million output pixels (width × height × frames), rounded to hundredths,
    /// at least 0.01 for a non-empty output when the price is not 0.
    PerMpx(f64),
    /// A fixed number of credits per generation, whatever its size or length.
    PerCall(f64),
    /// Credits per second of output (frames / 24) at the output's resolution tier (the
    /// smallest tier whose shorter side holds the output's: 640×360 is 360p, 854×480 is 540p),
    /// rounded to hundredths, at least 0.01 for a non-empty output when the price is not 0.
    PerSecond(TierPrices),
}

impl PricingRule {
    /// What a generation making `out` costs.
    pub fn cost(&self, out: OutputSize) -> Credits {
        match *self {
            PricingRule::PerMpx(price) => cost(out.width, out.height, out.frames as usize, price),
            PricingRule::PerCall(price) => Credits::from_f64(price),
            PricingRule::PerSecond(ref prices) => {
                let price = prices.get(Resolution::of_size(out.width, out.height));
                let seconds = out.frames as f64 / OUTPUT_FPS as f64;
                let c = Credits::from_f64(seconds * price);
                if seconds > 0.0 && price > 0.0 && c.0 < 1 {
                    Credits(1)
                } else {
                    c
                }
            }
        }
    }

    /// The rule in words, for error messages and logs.
    pub fn describe(&self) -> String {
        match *self {
            PricingRule::PerMpx(p) => format!("{p} credits per million output pixels"),
            PricingRule::PerCall(p) => format!("{} credits per call", Credits::from_f64(p)),
            PricingRule::PerSecond(ref prices) => format!(
                "credits per second of output: {}",
                Resolution::ALL
                    .into_iter()
                    .map(|r| format!("{} at {r}", prices.get(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Checks the price is a finite number ≥ 0; the message names what to change.
    pub fn validate(&self) -> Result<(), String> {
        let prices: Vec<(String, f64)> = match self {
            PricingRule::PerMpx(p) => vec![("per_mpx".into(), *p)],
            PricingRule::PerCall(p) => vec![("per_call".into(), *p)],
            PricingRule::PerSecond(t) => Resolution::ALL
                .into_iter()
                .map(|r| (format!("per_second.{r}"), t.get(r)))
                .collect(),
        };
        for (name, p) in prices {
            if !(p.is_finite() && p >= 0.0) {
                return Err(format!("price {name} = {p} must be a number ≥ 0"));
            }
        }
        Ok(())
    }
}

/// Cost of an output of `width` × `height` pixels and `frames` frames at `price_per_mpx`,
/// rounded to the nearest hundredth; never less than 0.01 for a non-empty output unless the
/// price is 0.
pub fn cost(width: u32, height: u32, frames: usize, price_per_mpx: f64) -> Credits {
    let mpx = width as f64 * height as f64 * frames as f64 / 1e6;
    let c = Credits::from_f64(mpx * price_per_mpx);
    if mpx > 0.0 && price_per_mpx > 0.0 && c.0 < 1 {
        Credits(1)
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_seconds_of_720p_cost_1_75() {
        let c = cost(1280, 720, 120, DEFAULT_PRICE_PER_MPX);
        assert_eq!(c, Credits(175));
        assert_eq!(c.as_f64(), 1.75);
        assert_eq!(c.to_string(), "1.75");
    }

    #[test]
    fn tiny_outputs_cost_at_least_a_hundredth_unless_free() {
        assert_eq!(cost(16, 16, 1, DEFAULT_PRICE_PER_MPX), Credits(1));
        assert_eq!(cost(0, 0, 0, DEFAULT_PRICE_PER_MPX), Credits(0));
        assert_eq!(
            cost(1280, 720, 120, 0.0),
            Credits(0),
            "a price of 0 is free"
        );
    }

    #[test]
    fn price_scales_linearly() {
        assert_eq!(cost(1280, 720, 240, DEFAULT_PRICE_PER_MPX), Credits(350));
        assert_eq!(cost(1280, 720, 120, 0.02), Credits(221));
    }

    #[test]
    fn rules_price_by_pixels_or_by_call() {
        let hd = OutputSize {
            width: 1280,
            height: 720,
            frames: 120,
        };
        let tiny = OutputSize {
            width: 16,
            height: 16,
            frames: 24,
        };
        let per_mpx = PricingRule::PerMpx(0.00544);
        assert_eq!(
            per_mpx.cost(hd),
            Credits(60),
            "1280×720×120 × 0.00544 / 10⁶"
        );
        assert_eq!(per_mpx.cost(tiny), Credits(1));
        let per_call = PricingRule::PerCall(0.5);
        assert_eq!(per_call.cost(hd), Credits(50));
        assert_eq!(per_call.cost(tiny), Credits(50), "the size does not matter");
        assert_eq!(per_call.describe(), "0.50 credits per call");
        assert!(per_mpx.describe().contains("0.00544 credits per million"));
        assert!(PricingRule::PerCall(-1.0).validate().is_err());
        assert!(PricingRule::PerMpx(f64::NAN).validate().is_err());
    }

    #[test]
    fn per_second_prices_by_the_outputs_tier_and_length() {
        let rule = PricingRule::PerSecond(TierPrices::default());
        let out = |width, height, frames| OutputSize {
            width,
            height,
            frames,
        };
        assert_eq!(rule.cost(out(1280, 720, 120)), Credits(175), "5 s at 720p");
        assert_eq!(
            rule.cost(out(1920, 1080, 120)),
            Credits(400),
            "5 s at 1080p"
        );
        assert_eq!(
            rule.cost(out(1080, 1920, 240)),
            Credits(800),
            "portrait, 10 s"
        );
        assert_eq!(rule.cost(out(640, 360, 432)), Credits(162), "18 s at 360p");
        assert_eq!(
            rule.cost(out(854, 480, 24)),
            Credits(20),
            "480 lines is 540p"
        );
        assert_eq!(
            rule.cost(out(64, 36, 1)),
            Credits(1),
            "at least a hundredth"
        );
        assert!(
            rule.describe().contains("0.8 at 1080p"),
            "{}",
            rule.describe()
        );
        let table: PricingRule = serde_json::from_value(serde_json::json!(
            {"per_second": {"360p": 1, "540p": 2, "720p": 3, "1080p": 4}}
        ))
        .unwrap();
        assert_eq!(table.cost(out(960, 540, 48)), Credits(400));
        let e = serde_json::from_value::<PricingRule>(serde_json::json!(
            {"per_second": {"360p": 1, "720p": 3}}
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("540p, 1080p missing"), "{e}");
        let e = serde_json::from_value::<PricingRule>(serde_json::json!(
            {"per_second": {"4k": 1}}
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("`4k` is not a resolution"), "{e}");
        let neg: PricingRule = serde_json::from_value(serde_json::json!(
            {"per_second": {"360p": 1, "540p": -2, "720p": 3, "1080p": 4}}
        ))
        .unwrap();
        assert!(neg.validate().unwrap_err().contains("per_second.540p"));
    }

    #[test]
    fn a_rule_is_a_one_key_table_in_the_config() {
        let r: PricingRule = toml::from_str::<toml::Table>("price = { per_call = 0.75 }").unwrap()
            ["price"]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(r, PricingRule::PerCall(0.75));
        let back = serde_json::to_value(PricingRule::PerMpx(0.01582)).unwrap();
        assert_eq!(back, serde_json::json!({"per_mpx": 0.01582}));
        let e = serde_json::from_value::<PricingRule>(serde_json::json!({"per_pixel": 1.0}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("per_mpx") && e.contains("per_call"), "{e}");
    }
}
