//! Clip limits per model: the longest clip each catalogue model takes here (its own limit,
//! under the server-wide `max_duration_s` cap when that is set), and what to tell a client
//! whose clip is longer.

use retake_media::Limits;

use crate::catalogue::Model;
use crate::config::ServiceConfig;

impl ServiceConfig {
    /// The longest clip `model` takes here: its catalogue limit, under `max_duration_s` when
    /// that is set.
    pub fn max_duration_for(&self, model: &Model<'_>) -> f64 {
        let own = model.settings.max_duration_s;
        if self.max_duration_s > 0.0 {
            own.min(self.max_duration_s)
        } else {
            own
        }
    }

    /// The clip limits a request for `model` is checked against.
    pub fn limits_for(&self, model: &Model<'_>) -> Limits {
        Limits {
            max_duration_s: self.max_duration_for(model),
            ..self.limits()
        }
    }

    /// The clip limits these settings describe, with the longest clip any model takes (each
    /// job is held to its own model's limit, [`ServiceConfig::limits_for`]).
    pub fn limits(&self) -> Limits {
        let longest = self
            .catalogue
            .models()
            .map(|m| self.max_duration_for(&m))
            .fold(0.0, f64::max);
        Limits {
            max_duration_s: longest,
            max_file_bytes: self.max_bytes,
            max_input_side: self.max_input_side,
            output_cap: self.size_cap,
        }
    }

    /// What to tell a client whose `seconds`-long clip is longer than `model` takes here.
    pub fn too_long(&self, model: &Model<'_>, seconds: f64) -> String {
        let limit = self.max_duration_for(model);
        let mut msg = format!(
            "media.url: the video is {seconds:.1} s; model `{}` takes clips up to {limit} s \
             here — trim it",
            model.id
        );
        let longer = self
            .catalogue
            .models()
            .filter(|m| m.surface == model.surface)
            .map(|m| (m.id, self.max_duration_for(&m)))
            .filter(|(_, l)| *l >= seconds)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((id, l)) = longer {
            msg.push_str(&format!(", or use model `{id}` (up to {l} s)"));
        }
        if self.max_duration_s > 0.0 && limit >= self.max_duration_s {
            msg.push_str("; the server's max_duration_s caps every model");
        } else {
            msg.push_str(&format!(
                "; the operator sets it as catalogue.{}.max_duration_s",
                model.id
            ));
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cap: f64) -> ServiceConfig {
        ServiceConfig {
            max_duration_s: cap,
            ..ServiceConfig::default()
        }
    }

    #[test]
    fn each_model_has_its_own_limit_under_the_servers_cap() {
        let c = config(0.0);
        let ray2 = c.catalogue.get("ray-2").unwrap();
        let flash = c.catalogue.get("ray-flash-2").unwrap();
        assert_eq!(c.limits_for(&ray2).max_duration_s, 10.0);
        assert_eq!(c.limits_for(&flash).max_duration_s, 15.0);
        let ray32 = c.catalogue.get("ray-3.2").unwrap();
        assert_eq!(c.limits_for(&ray32).max_duration_s, 18.0);
        assert_eq!(c.limits().max_duration_s, 18.0, "the widest model");
        let capped = config(12.0);
        assert_eq!(capped.max_duration_for(&ray2), 10.0);
        assert_eq!(capped.max_duration_for(&flash), 12.0);
        assert_eq!(capped.limits().max_duration_s, 12.0);
        assert_eq!(capped.limits().max_file_bytes, capped.max_bytes);
    }

    #[test]
    fn a_long_clip_is_told_which_model_takes_it() {
        let c = config(0.0);
        let ray2 = c.catalogue.get("ray-2").unwrap();
        let m = c.too_long(&ray2, 12.0);
        assert!(
            m.contains("12.0 s") && m.contains("`ray-2` takes clips up to 10 s"),
            "{m}"
        );
        assert!(m.contains("use model `ray-flash-2` (up to 15 s)"), "{m}");
        let m = c.too_long(&ray2, 20.0);
        assert!(
            !m.contains("use model") && m.contains("catalogue.ray-2.max_duration_s"),
            "{m}"
        );
        let runapi = c.catalogue.get("luma-modify-video").unwrap();
        let m = c.too_long(&runapi, 12.0);
        assert!(
            !m.contains("ray-flash-2"),
            "only models of the same API: {m}"
        );
        let capped = config(0.5);
        let m = capped.too_long(&ray2, 1.0);
        assert!(
            m.contains("up to 0.5 s") && m.contains("max_duration_s caps"),
            "{m}"
        );
    }
}
