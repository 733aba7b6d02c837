//! Credits: cost of a generation from its output size, kept in integer hundredths.

/// Default price: credits per million output pixels (width × height × frames).
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

/// Cost of an output of `width` × `height` pixels and `frames` frames at `price_per_mpx`,
/// rounded to the nearest hundredth; never less than 0.01 for a non-empty output.
pub fn cost(width: u32, height: u32, frames: usize, price_per_mpx: f64) -> Credits {
    let mpx = width as f64 * height as f64 * frames as f64 / 1e6;
    let c = Credits::from_f64(mpx * price_per_mpx);
    if mpx > 0.0 && c.0 < 1 {
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
    fn tiny_outputs_cost_at_least_a_hundredth() {
        assert_eq!(cost(16, 16, 1, DEFAULT_PRICE_PER_MPX), Credits(1));
        assert_eq!(cost(0, 0, 0, DEFAULT_PRICE_PER_MPX), Credits(0));
    }

    #[test]
    fn price_scales_linearly() {
        assert_eq!(cost(1280, 720, 240, DEFAULT_PRICE_PER_MPX), Credits(350));
        assert_eq!(cost(1280, 720, 120, 0.02), Credits(221));
    }
}
