//! The one streaming path every clip takes: read → process each frame → write.
//!
//! Decoding runs on its own thread, a few frames ahead, so decode, processing and encode
//! overlap; memory stays at a handful of frames whatever the clip's length.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

use crate::h264::encode::EncodeSettings;
use crate::reader::{AudioSource, VideoReader};
use crate::writer::VideoWriter;
use crate::{MediaError, ProbeInfo, RgbFrame};

/// Frames the decoder may run ahead of processing.
const READ_AHEAD: usize = 4;

/// What a finished transcode did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TranscodeReport {
    /// Output frames written.
    pub frames: usize,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Whether the source audio was copied.
    pub audio_copied: bool,
    /// Why the source audio was dropped, if it was.
    pub audio_dropped: Option<String>,
    /// Source frames that could not be decoded and were filled from neighbours.
    pub damaged_frames: usize,
}

/// Options for [`transcode`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TranscodeOptions {
    /// Encoder settings.
    pub encode: EncodeSettings,
    /// Drop the audio even when it could be copied.
    pub mute: bool,
}

/// Where a [`FrameProcessor`] hands its finished frames: straight on to the encoder, so a
/// stage that releases many frames at once never needs them all in memory.
pub type FrameSink<'a> = dyn FnMut(RgbFrame) -> Result<(), MediaError> + 'a;

/// A processing stage between reader and writer that may hold frames back, e.g. until the
/// next keyframe arrives. It must emit exactly one output frame per source frame, in order.
pub trait FrameProcessor {
    /// The stage's error; media errors (decode, encode, cancel) convert into it.
    type Error: From<MediaError> + Send;

    /// Takes source frame `index` and hands any output frames now finished to `emit`.
    fn push(
        &mut self,
        index: usize,
        frame: RgbFrame,
        emit: &mut FrameSink<'_>,
    ) -> Result<(), Self::Error>;

    /// The source has ended: hands over the frames still held back.
    fn finish(&mut self, emit: &mut FrameSink<'_>) -> Result<(), Self::Error>;
}

/// A frame-by-frame function as a [`FrameProcessor`] that holds nothing back.
struct PerFrame<F, E>(F, std::marker::PhantomData<E>);

impl<E, F> FrameProcessor for PerFrame<F, E>
where
    E: From<MediaError> + Send,
    F: FnMut(usize, RgbFrame) -> Result<RgbFrame, E>,
{
    type Error = E;

    fn push(&mut self, index: usize, frame: RgbFrame, emit: &mut FrameSink<'_>) -> Result<(), E> {
        emit((self.0)(index, frame)?)?;
        Ok(())
    }

    fn finish(&mut self, _: &mut FrameSink<'_>) -> Result<(), E> {
        Ok(())
    }
}

/// Reads `reader` to the end, passes each frame through `process`, and writes `output`.
///
/// `process` gets the output frame index and the source frame and returns the frame to
/// write (same size). `progress` is called with (frames done, total). Setting `cancel` stops
/// the work with [`MediaError::Cancelled`]; the output file is then never created.
pub fn transcode<E, F>(
    reader: VideoReader,
    output: &Path,
    options: TranscodeOptions,
    process: F,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<TranscodeReport, E>
where
    E: From<MediaError> + Send,
    F: FnMut(usize, RgbFrame) -> Result<RgbFrame, E>,
{
    let mut stage = PerFrame(process, std::marker::PhantomData);
    transcode_with(reader, output, options, &mut stage, progress, cancel)
}

/// As [`transcode`], with a stage that may emit its frames later than it receives them.
/// Progress counts frames written. A stage that emits more or fewer frames than it was
/// given fails the run (no output is created).
pub fn transcode_with<P: FrameProcessor>(
    reader: VideoReader,
    output: &Path,
    options: TranscodeOptions,
    stage: &mut P,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<TranscodeReport, P::Error> {
    let total = reader.frame_count();
    let (width, height) = reader.output_size();
    let info: ProbeInfo = reader.info().clone();
    let audio: Option<AudioSource> = if options.mute {
        None
    } else {
        reader.audio_source()
    };
    let audio_dropped = match (&info.audio, &audio) {
        (Some(a), None) if options.mute => Some(format!("{} audio dropped (--mute)", a.codec)),
        (Some(a), None) => Some(format!(
            "{} audio cannot be copied into MP4 unchanged; the output is silent",
            a.codec
        )),
        _ => None,
    };
    let mut writer = VideoWriter::create(output, width, height, audio.as_ref(), options.encode)?;
    let (tx, rx) = sync_channel::<Result<RgbFrame, MediaError>>(READ_AHEAD);
    let stop = AtomicBool::new(false);
    let damaged = std::thread::scope(|scope| -> Result<usize, P::Error> {
        let decode = scope.spawn(|| {
            let mut reader = reader;
            while !stop.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed) {
                match reader.next_frame() {
                    Ok(Some(frame)) => {
                        if tx.send(Ok(frame)).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
            drop(tx);
            reader.damaged_frames()
        });
        let result = (|| -> Result<(), P::Error> {
            let mut done = 0;
            let mut received = 0;
            progress(0, total);
            let mut emit = |frame: RgbFrame| -> Result<(), MediaError> {
                if frame.width() != width || frame.height() != height {
                    return Err(MediaError::InvalidFrame(format!(
                        "processing returned a {}x{} frame for a {width}x{height} video",
                        frame.width(),
                        frame.height()
                    )));
                }
                writer.push(&frame)?;
                done += 1;
                progress(done, total);
                Ok(())
            };
            for frame in rx.iter() {
                if cancel.load(Ordering::Relaxed) {
                    return Err(MediaError::Cancelled.into());
                }
                stage.push(received, frame?, &mut emit)?;
                received += 1;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(MediaError::Cancelled.into());
            }
            stage.finish(&mut emit)?;
            if done != received {
                return Err(MediaError::InvalidFrame(format!(
                    "processing returned {done} frames for {received} source frames"
                ))
                .into());
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        // Unblock the decoder if it is waiting on a full channel.
        drop(rx);
        let damaged = decode.join().unwrap_or(0);
        result.map(|_| damaged)
    })?;
    let frames = writer.frames() as usize;
    writer.finish()?;
    Ok(TranscodeReport {
        frames,
        width,
        height,
        audio_copied: audio.is_some(),
        audio_dropped,
        damaged_frames: damaged,
    })
}
