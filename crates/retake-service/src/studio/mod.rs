//! The studio: a single web page for people, served at `/` with its script and style under
//! `/studio/`, and `GET /studio/v1/info` (the limits, models, modes and built-in looks the page
//! needs before it uploads). The page's files are embedded in the binary: no build step, no
//! runtime but the browser. The page talks only to the public API with the key the person
//! types in; the key stays in the browser's storage and never goes into a URL.
//!
//! Every answer of these routes carries a strict Content-Security-Policy: scripts and styles
//! from this origin only (no inline script or style), media from this origin, the API's public
//! origin (`public_url`, where signed video links point) and `blob:` (the person's own clip).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::catalogue::Surface;
use crate::service::Service;

const INDEX_HTML: &str = include_str!("index.html");
const STUDIO_JS: &str = include_str!("studio.js");
const API_JS: &str = include_str!("api.js");
const FRAMES_JS: &str = include_str!("frames.js");
const LOOK_JS: &str = include_str!("look.js");
const FOLLOW_JS: &str = include_str!("follow.js");
const COMPARE_JS: &str = include_str!("compare.js");
const HISTORY_JS: &str = include_str!("history.js");
const REQUEST_JS: &str = include_str!("request.js");
const STUDIO_CSS: &str = include_str!("studio.css");
const ICON_SVG: &str = include_str!("icon.svg");

/// One model the studio offers: its id, longest clip and price in words.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct StudioModel {
    /// The id to send as `model`.
    pub id: String,
    /// Longest source clip this model takes here, seconds.
    pub max_duration_s: f64,
    /// How a generation is priced, in words.
    pub price: String,
}

/// One strength mode, with what it does in plain words.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct StudioMode {
    /// The value to send as `mode`.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// One built-in look.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct StudioLook {
    /// The name to send as `look`.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Whether it takes `hue`, `saturation` and `lightness`.
    pub takes_hsl: bool,
}

/// `GET /studio/v1/info`: what the studio checks and offers before it uploads anything.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct StudioInfo {
    /// Largest clip upload, bytes (`max_bytes`).
    pub max_bytes: u64,
    /// Largest first-frame image, bytes (`max_image_bytes`).
    pub max_image_bytes: u64,
    /// Longest prompt, characters (`max_prompt_chars`).
    pub max_prompt_chars: usize,
    /// Output size cap, long side × short side, e.g. `1280x720`.
    pub size_cap: String,
    /// Output frame rate (always 24).
    pub output_fps: u32,
    /// The Luma-surface models, the default first.
    pub models: Vec<StudioModel>,
    /// The nine modes, closest to the source first.
    pub modes: Vec<StudioMode>,
    /// The built-in looks.
    pub looks: Vec<StudioLook>,
    /// Whether prompt-only requests work here (the server has a diffusion model folder).
    pub prompts_need_no_frame: bool,
    /// The model that takes keyframes past the first frame and an output resolution (on
    /// `/agents/v1`), if this server offers one.
    pub keyframe_model: Option<StudioModel>,
    /// The output resolutions the keyframe model takes here, smallest first.
    pub resolutions: Vec<&'static str>,
    /// Most keyframes one generation takes.
    pub max_keyframes: usize,
}

/// The nine modes in plain words.
pub const MODES: [StudioMode; 9] = [
    StudioMode {
        name: "adhere_1",
        description:
            "Closest to your clip: keeps its look, lighting and edges; the edit is applied lightly",
    },
    StudioMode {
        name: "adhere_2",
        description: "Close to your clip, with a little more of the edit showing",
    },
    StudioMode {
        name: "adhere_3",
        description: "Close to your clip, the edit a bit freer",
    },
    StudioMode {
        name: "flex_1",
        description: "Balanced: the edit leads, the clip's lighting and shapes still show through",
    },
    StudioMode {
        name: "flex_2",
        description: "Balanced, a little freer: less of the clip's own shading",
    },
    StudioMode {
        name: "flex_3",
        description: "Balanced, freest: the edit's colours and texture dominate",
    },
    StudioMode {
        name: "reimagine_1",
        description: "Bold: the style takes over; motion and timing are still kept",
    },
    StudioMode {
        name: "reimagine_2",
        description: "Bolder: little of the clip's appearance is kept, only its motion",
    },
    StudioMode {
        name: "reimagine_3",
        description: "Boldest: only the motion of the clip is kept",
    },
];

/// The limits, models, modes and looks the studio needs.
#[utoipa::path(
    get,
    path = "/studio/v1/info",
    tag = "studio",
    responses(
        (status = 200, description = "What the studio checks and offers", body = StudioInfo),
    )
)]
pub async fn info(State(svc): State<Arc<Service>>) -> Json<StudioInfo> {
    let c = &svc.config;
    let models = c
        .catalogue
        .models()
        .filter(|m| m.surface == Surface::Luma)
        .map(|m| StudioModel {
            id: m.id.to_string(),
            max_duration_s: c.max_duration_for(&m),
            price: m.settings.price.describe(),
        })
        .collect();
    let keyframe_model = c
        .catalogue
        .models()
        .find(|m| m.surface == Surface::Agents)
        .map(|m| StudioModel {
            id: m.id.to_string(),
            max_duration_s: c.max_duration_for(&m),
            price: m.settings.price.describe(),
        });
    let resolutions = retake_media::Resolution::ALL
        .into_iter()
        .filter(|r| *r <= c.max_resolution)
        .map(retake_media::Resolution::name)
        .collect();
    let looks = retake_pipeline::looks::catalogue()
        .into_iter()
        .map(|l| StudioLook {
            name: l.name,
            description: l.description,
            takes_hsl: l.takes_hsl,
        })
        .collect();
    Json(StudioInfo {
        max_bytes: c.max_bytes,
        max_image_bytes: c.max_image_bytes,
        max_prompt_chars: c.max_prompt_chars,
        size_cap: format!("{}x{}", c.size_cap.long, c.size_cap.short),
        output_fps: 24,
        models,
        modes: MODES.into_iter().collect(),
        looks,
        prompts_need_no_frame: c.model_dir.is_some(),
        keyframe_model,
        resolutions,
        max_keyframes: crate::domain::MAX_EDIT_KEYFRAMES,
    })
}

/// The Content-Security-Policy of the page: nothing inline, nothing from elsewhere but the
/// API's own public origin for video.
fn csp(public_origin: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob: {public_origin}; connect-src 'self'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The scheme, host and port of a URL (what a CSP source names).
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
    .replace("null", "")
}

fn asset(svc: &Service, content_type: &'static str, body: &'static str) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp(&origin_of(&svc.base_url))) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Small and embedded: revalidate each time so a new binary's page is never mixed with
    // an old script.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn index(State(svc): State<Arc<Service>>) -> Response {
    asset(&svc, "text/html; charset=utf-8", INDEX_HTML)
}

/// The page's script modules, by file name.
const MODULES: [(&str, &str); 8] = [
    ("studio.js", STUDIO_JS),
    ("api.js", API_JS),
    ("frames.js", FRAMES_JS),
    ("look.js", LOOK_JS),
    ("follow.js", FOLLOW_JS),
    ("compare.js", COMPARE_JS),
    ("history.js", HISTORY_JS),
    ("request.js", REQUEST_JS),
];

async fn module(
    State(svc): State<Arc<Service>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match MODULES.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => asset(&svc, "text/javascript; charset=utf-8", body),
        None => crate::api::ApiError(crate::error::ServiceError::NotFound(format!(
            "the studio has no script `{name}`"
        )))
        .into_response(),
    }
}

async fn style(State(svc): State<Arc<Service>>) -> Response {
    asset(&svc, "text/css; charset=utf-8", STUDIO_CSS)
}

async fn icon(State(svc): State<Arc<Service>>) -> Response {
    asset(&svc, "image/svg+xml", ICON_SVG)
}

/// The studio's routes: the page, its assets and its info route.
pub fn routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/", get(index))
        .route("/studio", get(index))
        .route("/studio/", get(index))
        .route("/studio/{script}", get(module))
        .route("/studio/studio.css", get(style))
        .route("/studio/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route("/studio/v1/info", get(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_nothing_inline() {
        // A strict CSP would block these anyway; keep the page honest about it.
        assert!(!INDEX_HTML.contains("<script>"));
        assert!(!INDEX_HTML.contains(" style="));
        assert!(!INDEX_HTML.contains("<style"));
        let handler = INDEX_HTML.split(" on").skip(1).any(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase())
                .collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "no inline event handlers");
        for (name, js) in MODULES {
            assert!(
                !js.contains("innerHTML"),
                "{name}: user strings go in as text"
            );
            assert!(!js.contains("outerHTML"), "{name}");
            assert!(!js.contains("insertAdjacentHTML"), "{name}");
            assert!(!js.contains("eval("), "{name}");
            assert!(
                !js.contains("new EventSource"),
                "{name}: it cannot send the key in a header"
            );
            assert!(!js.contains("?key="), "{name}: the key never goes in a URL");
        }
    }

    #[test]
    fn the_csp_names_the_public_origin_for_video() {
        let p = csp(&origin_of("https://retake.example.com/base"));
        assert!(p.contains("media-src 'self' blob: https://retake.example.com;"));
        assert!(p.contains("script-src 'self';"));
        assert!(!p.contains("unsafe"));
        assert_eq!(origin_of("not a url"), "");
    }
}
