//! Frames of an uploaded clip, for the studio and anyone editing keyframes: a strip of
//! thumbnails to scrub, one frame at the output size (the image a keyframe or an edited first
//! frame must match), and a built-in look previewed on a frame or on an uploaded image.
//!
//! Frames are counted as the create APIs count keyframes: source frame `n`, from 0, at the
//! clip's own frame rate (`video.edit.keyframe_indexes`, `retake modify --keyframe fN=`). The
//! picture is the output frame that source frame falls on, upright and at the output size, as
//! `retake frame --source-frame N` writes it.

use std::path::Path;

use base64::Engine as _;
use retake_media::transform::FrameResizer;
use retake_media::{load_image, save_png, RgbFrame, VideoReader};

use crate::domain::parse_look;
use crate::error::{Result, ServiceError};
use crate::service::{blocking, media_error, ScratchFile, Service};
use crate::store::{KeyRecord, UploadRecord};

/// Most thumbnails one strip holds.
pub const MAX_THUMBNAILS: u32 = 60;

/// Widest thumbnail, pixels (60 of them stay a few MB of JSON).
pub const MAX_THUMBNAIL_WIDTH: u32 = 320;

/// Longest side of a preview, pixels.
pub const MAX_PREVIEW_SIDE: u32 = 1920;

/// One thumbnail of a strip.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Thumbnail {
    /// The source frame it shows (what `keyframe_indexes` and `frames/{n}` take).
    pub source_frame: usize,
    /// When that frame is shown, seconds from the start.
    pub time_s: f64,
    /// The picture: a PNG as a `data:image/png;base64,…` URL.
    pub image: String,
}

/// `GET /v1/uploads/{upload_id}/frames`: the clip's frames and a strip of thumbnails.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FrameStrip {
    /// The upload.
    pub upload_id: String,
    /// Source frames (valid frame numbers are 0 to this minus 1).
    pub source_frames: usize,
    /// Output frames (at 24 fps).
    pub output_frames: usize,
    /// Source length, seconds.
    pub duration_s: f64,
    /// Source frame rate (the output is always 24 fps).
    pub source_fps: f64,
    /// What happens to the sound: `kept` (AAC, copied into the output), `dropped` (another
    /// codec; the output is silent) or `none` (the clip has none).
    pub audio: String,
    /// Width of a full frame (`frames/{n}`), pixels: the output's.
    pub width: u32,
    /// Height of a full frame, pixels.
    pub height: u32,
    /// Evenly spaced thumbnails, the first and last frames included.
    pub thumbnails: Vec<Thumbnail>,
}

/// `POST /v1/looks/preview`: a look to preview and what to preview it on.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PreviewRequest {
    /// The look, as the create's `look` takes it (a name, or an object with its strength,
    /// recolour's hue, saturation and lightness, and a `mask` upload URL).
    #[schema(value_type = crate::domain::LookValue)]
    pub look: serde_json::Value,
    /// An upload of this key's: a clip (then `frame` picks the source frame) or an image.
    #[schema(min_length = 1)]
    pub upload_id: String,
    /// The clip's source frame (default 0); not for an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub frame: Option<i64>,
    /// Scale the preview down so its longer side is at most this many pixels (default: the
    /// frame's own size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 16, maximum = 1920)]
    pub max_side: Option<u32>,
}

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

/// Reads a frame number from a path or a body: a whole number ≥ 0.
pub fn parse_frame(text: &str) -> Result<usize> {
    text.trim().parse::<usize>().map_err(|_| {
        bad(format!(
            "frame `{text}` is not a frame number; give a source frame as a whole number from 0 \
             (the same numbers video.edit.keyframe_indexes and `--keyframe fN=` take)"
        ))
    })
}

/// The output frame source frame `n` falls on, or a message saying how many there are.
fn output_index(reader: &VideoReader, n: usize) -> Result<usize> {
    let count = reader.source_times().len();
    reader.output_index_of_source(n).ok_or_else(|| {
        bad(format!(
            "frame {n} is past the clip's last frame; it has {count} frames (0 to {})",
            count.saturating_sub(1)
        ))
    })
}

/// The wanted output frames (sorted, each once), each decoded from where the reader is or
/// from the last IDR frame before it, whichever is nearer (see `VideoReader::frame_at`).
fn decode_frames(
    reader: &mut VideoReader,
    wanted: &[usize],
) -> std::result::Result<Vec<(usize, RgbFrame)>, retake_media::MediaError> {
    let mut indexes = wanted.to_vec();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
        .into_iter()
        .map(|i| Ok((i, reader.frame_at(i)?)))
        .collect()
}

/// A PNG of `frame`, written through a scratch file.
fn png_bytes(frame: &RgbFrame, scratch: &Path) -> Result<Vec<u8>> {
    let path = ScratchFile(scratch.with_extension("png"));
    save_png(frame, &path.0).map_err(|e| ServiceError::Internal(format!("preview PNG: {e}")))?;
    Ok(std::fs::read(&path.0)?)
}

/// `frame` scaled so its longer side is at most `max_side` (never up).
fn fit(frame: RgbFrame, max_side: Option<u32>) -> Result<RgbFrame> {
    let (w, h) = (frame.width(), frame.height());
    let Some(max) = max_side else {
        return Ok(frame);
    };
    let long = w.max(h);
    if long <= max {
        return Ok(frame);
    }
    let scale = max as f64 / long as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    );
    FrameResizer::default()
        .resize(frame, nw, nh)
        .map_err(|e| ServiceError::Internal(format!("resizing the preview: {e}")))
}

fn is_image(u: &UploadRecord) -> bool {
    u.content_type.starts_with("image/")
}

impl Service {
    /// An upload of the caller's in a scratch file, with its record.
    async fn upload_file(
        &self,
        caller: &KeyRecord,
        id: &str,
    ) -> Result<(ScratchFile, UploadRecord)> {
        let record = self.upload_record(caller, id).await?;
        Ok((self.blob_file(&record).await?, record))
    }

    /// An upload's bytes in a scratch file.
    async fn blob_file(&self, record: &UploadRecord) -> Result<ScratchFile> {
        let tmp = ScratchFile(self.scratch.file());
        self.blobs.get_file(&record.blob, &tmp.0).await?;
        Ok(tmp)
    }

    /// The clip of an upload, opened; an image upload is refused with what to send instead.
    async fn upload_clip(
        &self,
        caller: &KeyRecord,
        id: &str,
    ) -> Result<(ScratchFile, VideoReader)> {
        let (file, record) = self.upload_file(caller, id).await?;
        self.open_clip(file, &record).await
    }

    /// Opens an upload's file as a clip.
    async fn open_clip(
        &self,
        file: ScratchFile,
        record: &UploadRecord,
    ) -> Result<(ScratchFile, VideoReader)> {
        if is_image(record) {
            return Err(bad(format!(
                "upload `{}` is an image ({}); frames come from a clip — upload the MP4 and use \
                 its id",
                record.id, record.content_type
            )));
        }
        let limits = self.config.limits();
        let path = file.0.clone();
        let reader = blocking(move || VideoReader::open(&path, &limits))
            .await?
            .map_err(|e| media_error("the upload", e))?;
        Ok((file, reader))
    }

    /// The clip's frame numbers and `count` evenly spaced thumbnails `width` pixels wide.
    pub async fn frame_strip(
        &self,
        caller: &KeyRecord,
        id: &str,
        count: u32,
        width: u32,
    ) -> Result<FrameStrip> {
        if !(1..=MAX_THUMBNAILS).contains(&count) {
            return Err(bad(format!(
                "count is {count}; ask for 1 to {MAX_THUMBNAILS} thumbnails"
            )));
        }
        if !(16..=MAX_THUMBNAIL_WIDTH).contains(&width) {
            return Err(bad(format!(
                "width is {width}; thumbnails are 16 to {MAX_THUMBNAIL_WIDTH} pixels wide"
            )));
        }
        let (file, mut reader) = self.upload_clip(caller, id).await?;
        let scratch = self.scratch.file();
        let upload_id = id.trim().to_string();
        blocking(move || {
            let _file = file;
            let times = reader.source_times();
            let sources = times.len();
            let (out_w, out_h) = reader.output_size();
            let picks: Vec<usize> = if sources <= count as usize {
                (0..sources).collect()
            } else if count == 1 {
                vec![0]
            } else {
                let span = (sources - 1) as f64 / (count - 1) as f64;
                (0..count as usize)
                    .map(|i| (i as f64 * span).round() as usize)
                    .collect()
            };
            let placed: Vec<(usize, usize)> = picks
                .iter()
                .filter_map(|&s| reader.output_index_of_source(s).map(|o| (s, o)))
                .collect();
            let wanted: Vec<usize> = placed.iter().map(|(_, o)| *o).collect();
            let output_frames = reader.frame_count();
            let duration_s = reader.info().video.duration_s;
            let source_fps = reader.info().video.fps;
            let audio = match &reader.info().audio {
                None => "none",
                Some(a) if a.passthrough => "kept",
                Some(_) => "dropped",
            }
            .to_string();
            let frames =
                decode_frames(&mut reader, &wanted).map_err(|e| media_error("the upload", e))?;
            let th = ((width as f64 * out_h as f64 / out_w.max(1) as f64).round() as u32).max(1);
            let mut resizer = FrameResizer::default();
            let mut thumbnails = Vec::with_capacity(placed.len());
            let t0 = times.first().copied().unwrap_or(0.0);
            for (source_frame, o) in placed {
                let Some((_, frame)) = frames.iter().find(|(i, _)| *i == o) else {
                    continue;
                };
                let small = resizer
                    .resize(frame.clone(), width, th)
                    .map_err(|e| ServiceError::Internal(format!("thumbnail: {e}")))?;
                let png = png_bytes(&small, &scratch)?;
                thumbnails.push(Thumbnail {
                    source_frame,
                    time_s: times.get(source_frame).map_or(0.0, |t| t - t0),
                    image: format!(
                        "data:image/png;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(png)
                    ),
                });
            }
            Ok(FrameStrip {
                upload_id,
                source_frames: sources,
                output_frames,
                duration_s,
                source_fps,
                audio,
                width: out_w,
                height: out_h,
                thumbnails,
            })
        })
        .await?
    }

    /// Source frame `n` (as the path gives it: checked once the upload is found, so that
    /// another key's upload is a 404 whatever `n` says) of the clip as a PNG at the output
    /// size.
    pub async fn upload_frame(&self, caller: &KeyRecord, id: &str, n: &str) -> Result<Vec<u8>> {
        let record = self.upload_record(caller, id).await?;
        let n = parse_frame(n)?;
        let file = self.blob_file(&record).await?;
        let (file, reader) = self.open_clip(file, &record).await?;
        let scratch = self.scratch.file();
        blocking(move || {
            let _file = file;
            let frame = frame_of(reader, n)?;
            png_bytes(&frame, &scratch)
        })
        .await?
    }

    /// A look applied to a frame of a clip upload, or to an image upload, as a PNG.
    pub async fn preview_look(&self, caller: &KeyRecord, req: &PreviewRequest) -> Result<Vec<u8>> {
        let look = parse_look(&req.look)?;
        if let Some(max) = req.max_side {
            if !(16..=MAX_PREVIEW_SIDE).contains(&max) {
                return Err(bad(format!(
                    "max_side is {max}; use 16 to {MAX_PREVIEW_SIDE} pixels"
                )));
            }
        }
        let frame_n = match req.frame {
            None => None,
            Some(n) => Some(parse_frame(&n.to_string())?),
        };
        let (file, record) = self.upload_file(caller, &req.upload_id).await?;
        let frame = if is_image(&record) {
            if frame_n.is_some() {
                return Err(bad(format!(
                    "upload `{}` is an image; `frame` picks a frame of a clip — leave it out",
                    record.id
                )));
            }
            let path = file.0.clone();
            blocking(move || load_image(&path))
                .await?
                .map_err(|e| media_error("upload_id", e))?
        } else {
            let (file, reader) = self.open_clip(file, &record).await?;
            let n = frame_n.unwrap_or(0);
            blocking(move || {
                let _file = file;
                frame_of(reader, n)
            })
            .await??
        };
        let mask = match &look.mask_url {
            None => None,
            Some(url) => {
                let field = "look.mask.url";
                let m = self
                    .fetch_input(caller, field, url, self.config.max_image_bytes)
                    .await?;
                let (w, h) = (frame.width(), frame.height());
                let path = m.0.clone();
                let mask = blocking(move || retake_pipeline::load_mask(&path, w, h)).await?;
                Some(mask.map_err(|e| bad(e.to_string().replace(&*m.0.to_string_lossy(), field)))?)
            }
        };
        let scratch = self.scratch.file();
        let max_side = req.max_side;
        blocking(move || {
            let styled = look
                .look
                .apply(&frame, mask.as_ref())
                .map_err(|e| bad(format!("look: {e}")))?;
            png_bytes(&fit(styled, max_side)?, &scratch)
        })
        .await?
    }
}

/// Source frame `n`'s picture, decoded from the last IDR frame before it.
fn frame_of(mut reader: VideoReader, n: usize) -> Result<RgbFrame> {
    let o = output_index(&reader, n)?;
    reader.frame_at(o).map_err(|e| media_error("the upload", e))
}
