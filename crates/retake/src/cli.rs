//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use retake_diffusion::{ComputeDType, DeviceChoice, VaeChoice};
use retake_engine::{Mode, Profile};
use retake_media::{EncodeSettings, EncoderKind, Limits, Resolution, SizeCap};
use retake_pipeline::looks::LookName;
use retake_pipeline::KeyframeAt;

/// retake: restyle a video clip while keeping its motion, timing and sound.
#[derive(Parser, Debug)]
#[command(name = "retake", version, about, long_about = None)]
pub struct Cli {
    /// Print no progress bars or notes (errors still go to stderr).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Describe a clip: container, streams, timing, and the output retake would make.
    Probe {
        /// The clip (MP4 or MOV).
        clip: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Export the frame to edit, at the output size and orientation.
    Frame {
        /// The clip.
        clip: PathBuf,
        /// Time of the frame, in seconds.
        #[arg(long, default_value_t = 0.0)]
        at: f64,
        /// The output frame nearest source frame N instead (counted from 0 at the source's own
        /// frame rate; what `--keyframe fN=IMAGE` takes back).
        #[arg(long, value_name = "N", conflicts_with = "at")]
        source_frame: Option<usize>,
        /// Where to write the PNG.
        #[arg(short, long)]
        output: PathBuf,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Restyle a clip: carry an edited first frame through every frame, following the motion.
    Modify {
        /// The clip (MP4 or MOV).
        clip: PathBuf,
        /// The edited first frame (PNG, JPEG or WebP), made from `retake frame`'s export.
        #[arg(long)]
        first_frame: Option<PathBuf>,
        /// Another edited frame, at SECONDS into the clip (`2.5=frame.png`; export it with
        /// `retake frame --at 2.5`) or at source frame N (`f60=frame.png`; export it with
        /// `retake frame --source-frame 60`); repeat for more, up to 64. Frames between two
        /// keyframes blend both; one at 0 takes the place of --first-frame.
        #[arg(long = "keyframe", value_name = "SECONDS=IMAGE|fN=IMAGE", value_parser = parse_keyframe)]
        keyframes: Vec<(KeyframeAt, PathBuf)>,
        /// What to change, in words; with --model-dir, keyframes are restyled from it by the
        /// diffusion engine (with --first-frame too, that frame sets the look).
        #[arg(long)]
        prompt: Option<String>,
        #[command(flatten)]
        look: ModifyLookArgs,
        #[command(flatten)]
        diffusion: Box<DiffusionArgs>,
        /// Strength: adhere_1..3 (subtle) · flex_1..3 (balanced) · reimagine_1..3 (bold).
        #[arg(long, default_value_t = Mode::default(), value_parser = parse_mode)]
        mode: Mode,
        /// Effort: `quality` (alias ray-2) or `fast` (alias ray-flash-2).
        #[arg(long, default_value_t = Profile::default(), value_parser = parse_profile)]
        model: Profile,
        /// Seed for the engine's random search; the same seed gives the same output.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the MP4.
        #[arg(short, long)]
        output: PathBuf,
        /// Drop the audio.
        #[arg(long)]
        mute: bool,
        /// Print a JSON report when done.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        encoder: EncoderArgs,
    },
    /// Style an image with a built-in look (no model needed); `retake looks` lists them.
    Look {
        /// The image (PNG, JPEG or WebP), e.g. a frame exported by `retake frame`.
        image: PathBuf,
        /// The look (see `retake looks`).
        #[arg(long, value_name = "NAME", value_parser = parse_look)]
        look: LookName,
        /// How much of the look, from 0 (none) to 1 (all of it).
        #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = parse_strength,
              allow_negative_numbers = true)]
        strength: f32,
        /// An image painted over the frame: the look goes where it is white, not where it
        /// is black (greys between); the frame's size, or a scale of it.
        #[arg(long, value_name = "MASK")]
        mask: Option<PathBuf>,
        #[command(flatten)]
        hsl: HslArgs,
        /// Where to write the PNG.
        #[arg(short, long)]
        output: PathBuf,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the built-in looks, with what each does.
    Looks {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the diffusion models in a folder and whether each can be loaded.
    Models {
        /// A diffusers model folder, or a folder of them.
        #[arg(long, env = "RETAKE_MODEL_DIR", value_name = "DIR")]
        model_dir: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Measure quality: score a modified clip, or run the built-in suite of synthetic clips
    /// with known motion (the engine against two baselines).
    Eval {
        /// The source clip the output was made from.
        #[arg(long, required_unless_present = "suite")]
        source: Option<PathBuf>,
        /// The edited first frame the output was made with.
        #[arg(long, required_unless_present = "suite")]
        first_frame: Option<PathBuf>,
        /// The modified clip to score.
        #[arg(long, required_unless_present = "suite")]
        output: Option<PathBuf>,
        /// Run the synthetic suite instead (Markdown tables, or JSON with --json).
        #[arg(long, conflicts_with_all = ["source", "first_frame", "output"])]
        suite: bool,
        /// Suite frame size, WIDTHxHEIGHT.
        #[arg(long, default_value = "256x144", value_parser = parse_size)]
        size: (usize, usize),
        /// Suite frames per clip.
        #[arg(long, default_value_t = 24)]
        frames: usize,
        /// Suite mode for the engine.
        #[arg(long, default_value_t = Mode::default(), value_parser = parse_mode)]
        mode: Mode,
        /// Suite profile: `quality` (ray-2) or `fast` (ray-flash-2).
        #[arg(long, default_value_t = Profile::default(), value_parser = parse_profile)]
        model: Profile,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Re-encode a clip the way retake writes every output (24 fps, output size, audio kept),
    /// with no restyling: a preview of the frames the engines will see.
    Convert {
        /// The clip.
        clip: PathBuf,
        /// Where to write the MP4.
        #[arg(short, long)]
        output: PathBuf,
        /// Drop the audio.
        #[arg(long)]
        mute: bool,
        /// Print a JSON report when done.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        encoder: EncoderArgs,
    },
    /// Run the HTTP service (Luma- and Segmind-compatible API) with in-process workers.
    Serve(crate::commands::serve::ServeArgs),
    /// Run workers only, on the data folder of an API node (`retake serve --no-workers`).
    Worker(crate::commands::serve::WorkerArgs),
    /// Manage the service's API keys: create, list, revoke, add credits.
    Keys(crate::commands::keys::KeysArgs),
    /// Print the service configuration in effect (defaults < file < RETAKE_* < flags).
    Config(crate::commands::config::ConfigCmdArgs),
    /// Copy this install (keys, balances, generations, files) into PostgreSQL and an S3
    /// bucket, to run on several machines; resumable, and checked at the end.
    Migrate(crate::commands::migrate::MigrateArgs),
}

/// Where the diffusion model is, and how to run it.
#[derive(Args, Debug, Clone)]
pub struct DiffusionArgs {
    /// A diffusers model folder, or a folder of them (see `retake models`).
    #[arg(long, env = "RETAKE_MODEL_DIR", value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Which model in --model-dir, when it holds several.
    #[arg(long, env = "RETAKE_DIFFUSION_MODEL", value_name = "NAME")]
    pub diffusion_model: Option<String>,
    /// Denoising steps per keyframe (default: 2 for SD-Turbo, 20 for other models).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub steps: Option<u32>,
    /// Longer side, in pixels, at which keyframes are diffused (default: the model's own,
    /// 512 or 768); smaller is faster on a CPU.
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(64..=2048))]
    pub diffusion_size: Option<u32>,
    /// Where diffusion runs: `cpu`, or `cuda` / `cuda:N` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu", value_parser = str::parse::<DeviceChoice>)]
    pub device: DeviceChoice,
    /// Weight and compute precision: `auto` (f32 on a CPU, f16 on a GPU), `f32`, `f16` or
    /// `bf16`; f16 halves the memory a model takes.
    #[arg(long, default_value = "auto", value_parser = str::parse::<ComputeDType>)]
    pub dtype: ComputeDType,
    /// Autoencoder for keyframes: `auto` (the model folder's tiny one, TAESD, when it has
    /// one, else its full VAE), `full`, `tiny`, or an autoencoder folder. The tiny one is
    /// about 20× cheaper on a CPU, with slightly softer fine detail.
    #[arg(long, default_value = "auto", value_name = "auto|full|tiny|DIR", value_parser = str::parse::<VaeChoice>)]
    pub vae: VaeChoice,
}

/// `retake modify`'s built-in look: applied to the first frame (yours, or the clip's own)
/// and carried through the clip.
#[derive(Args, Debug, Clone)]
pub struct ModifyLookArgs {
    /// A built-in look instead of an edited frame or a model (see `retake looks`); with
    /// --first-frame, it goes on top of your edit.
    #[arg(long, value_name = "NAME", value_parser = parse_look)]
    pub look: Option<LookName>,
    /// How much of the look, from 0 (none) to 1 (all of it).
    #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = parse_strength,
          requires = "look", allow_negative_numbers = true)]
    pub look_strength: f32,
    /// Where the look goes: an image painted over the first frame (white: the look,
    /// black: unchanged); the output frame's size or a scale of it.
    #[arg(long, value_name = "MASK", requires = "look")]
    pub look_mask: Option<PathBuf>,
    #[command(flatten)]
    pub hsl: HslArgs,
}

/// The recolour look's hue, saturation and lightness.
#[derive(Args, Debug, Clone, Default)]
pub struct HslArgs {
    /// Recolour only: hue rotation in degrees, -360 to 360 (default 120).
    #[arg(long, value_name = "DEG", allow_negative_numbers = true)]
    pub hue: Option<f32>,
    /// Recolour only: saturation change, -1 (grey) to 1 (twice as saturated); default 0.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub saturation: Option<f32>,
    /// Recolour only: lightness change, -1 (black) to 1 (white); default 0.
    #[arg(long, value_name = "L", allow_negative_numbers = true)]
    pub lightness: Option<f32>,
}

/// Which H.264 encoder writes the output.
#[derive(Args, Debug, Clone)]
pub struct EncoderArgs {
    /// H.264 encoder: `openh264` (always built; Constrained Baseline), `x264` (High profile,
    /// quality-targeted: the edited first frame comes back closer; plays everywhere) or
    /// `x264-444` (High 4:4:4: full colour resolution, but Firefox, Safari and a default
    /// build of retake cannot play it). x264 needs a build with `--features ffmpeg`, where
    /// it is the default.
    #[arg(long, env = "RETAKE_ENCODER", default_value_t = EncoderKind::default(), value_parser = parse_encoder)]
    pub encoder: EncoderKind,
}

impl EncoderArgs {
    /// The encoder settings these flags describe.
    pub fn settings(&self) -> EncodeSettings {
        EncodeSettings {
            encoder: self.encoder,
            ..EncodeSettings::default()
        }
    }
}

fn parse_encoder(s: &str) -> Result<EncoderKind, String> {
    let kind: EncoderKind = s.parse()?;
    kind.check_built().map_err(|e| match e {
        retake_media::MediaError::InvalidArgument(m) => m,
        other => other.to_string(),
    })?;
    Ok(kind)
}

/// Limits on accepted clips; each can also be set by environment variable.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Longest accepted clip, seconds.
    #[arg(long, env = "RETAKE_MAX_DURATION_S", default_value_t = Limits::default().max_duration_s)]
    pub max_duration: f64,
    /// Largest accepted file, bytes.
    #[arg(long, env = "RETAKE_MAX_BYTES", default_value_t = Limits::default().max_file_bytes)]
    pub max_bytes: u64,
    /// Output size cap as LONGxSHORT (longer side × shorter side).
    #[arg(long, env = "RETAKE_SIZE_CAP", default_value = "1280x720", value_parser = parse_cap)]
    pub size_cap: SizeCap,
    /// Output resolution tier instead of the size cap: the output's shorter side is 360, 540,
    /// 720 or 1080 pixels (aspect kept, portrait too); a smaller source keeps its size.
    #[arg(long, value_name = "360p|540p|720p|1080p", value_parser = parse_resolution)]
    pub resolution: Option<Resolution>,
    /// With --resolution, scale a smaller source up to the tier.
    #[arg(long, requires = "resolution")]
    pub upscale: bool,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits {
            max_duration_s: self.max_duration,
            max_file_bytes: self.max_bytes,
            output_cap: match self.resolution {
                Some(r) => r.cap(self.upscale),
                None => self.size_cap,
            },
            ..Limits::default()
        }
    }
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse::<Mode>().map_err(|e| e.to_string())
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse::<Profile>().map_err(|e| e.to_string())
}

fn parse_look(s: &str) -> Result<LookName, String> {
    s.parse::<LookName>().map_err(|e| e.to_string())
}

fn parse_strength(s: &str) -> Result<f32, String> {
    let err = || {
        format!("the strength must be a number from 0 (no change) to 1 (the full look), got {s:?}")
    };
    let v: f32 = s.trim().parse().map_err(|_| err())?;
    if !v.is_finite() || !(0.0..=1.0).contains(&v) {
        return Err(err());
    }
    Ok(v)
}

fn parse_resolution(s: &str) -> Result<Resolution, String> {
    s.parse::<Resolution>().map_err(|e| e.to_string())
}

/// `SECONDS=IMAGE` (`2.5=frame.png`) or `fN=IMAGE` (`f60=frame.png`, source frame 60).
fn parse_keyframe(s: &str) -> Result<(KeyframeAt, PathBuf), String> {
    let err = || {
        format!(
            "expected SECONDS=IMAGE such as 2.5=frame.png, or fN=IMAGE for source frame N such \
             as f60=frame.png; got {s:?}"
        )
    };
    let (t, p) = s.split_once('=').ok_or_else(err)?;
    if p.is_empty() {
        return Err(err());
    }
    let t = t.trim();
    let at = match t.strip_prefix(['f', 'F']) {
        Some(n) => KeyframeAt::SourceFrame(n.parse().map_err(|_| err())?),
        None => {
            let secs: f64 = t.parse().map_err(|_| err())?;
            if !secs.is_finite() || secs < 0.0 {
                return Err(err());
            }
            KeyframeAt::Seconds(secs)
        }
    };
    Ok((at, PathBuf::from(p)))
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let err = || format!("expected WIDTHxHEIGHT such as 256x144, got {s:?}");
    let (a, b) = s.split_once(['x', 'X']).ok_or_else(err)?;
    let w: usize = a.trim().parse().map_err(|_| err())?;
    let h: usize = b.trim().parse().map_err(|_| err())?;
    if !(16..=4096).contains(&w) || !(16..=4096).contains(&h) {
        return Err(format!("sides must be 16 to 4096 pixels, got {s:?}"));
    }
    Ok((w, h))
}

fn parse_cap(s: &str) -> Result<SizeCap, String> {
    let err = || format!("expected LONGxSHORT such as 1280x720, got {s:?}");
    let (a, b) = s.split_once(['x', 'X']).ok_or_else(err)?;
    let a: u32 = a.trim().parse().map_err(|_| err())?;
    let b: u32 = b.trim().parse().map_err(|_| err())?;
    if a < 16 || b < 16 || a > 8192 || b > 8192 {
        return Err(format!(
            "size cap sides must be 16 to 8192 pixels, got {s:?}"
        ));
    }
    Ok(SizeCap {
        long: a.max(b),
        short: a.min(b),
        upscale: false,
    })
}
