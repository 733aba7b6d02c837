//! Blending two keyframes over the frames between them: propagate the earlier one forward and
//! the later one backward, then cross-fade by distance so neither keyframe leaves a seam.

use crate::mode::ModeParams;
use crate::plane::{check_size, ColorImage};
use crate::propagate::{Propagator, SynthSettings};
use crate::spool::{FrameSpool, DEFAULT_SPOOL_MEMORY};
use crate::EngineError;
use retake_media::RgbFrame;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A styled keyframe and the source frame it was made from.
#[derive(Clone, Copy, Debug)]
pub struct Keyframe<'a> {
    /// The styled (edited or generated) frame.
    pub styled: &'a RgbFrame,
    /// The source frame at the same index.
    pub source: &'a RgbFrame,
}

/// Renders the frames strictly between keyframes `a` and `b` (`between` are their sources, in
/// order). Frame k of n gets weight (k + 1) / (n + 1) from `b`.
pub fn propagate_between(
    a: Keyframe<'_>,
    b: Keyframe<'_>,
    between: &[RgbFrame],
    mode: &ModeParams,
    seed: u64,
    settings: &SynthSettings,
) -> Result<Vec<RgbFrame>, EngineError> {
    let (w, h) = (a.source.width(), a.source.height());
    let mut held = FrameSpool::new(w, h, usize::MAX);
    for f in between {
        held.push(f.clone())?;
    }
    let mut out = Vec::with_capacity(between.len());
    let ctx = Blend {
        mode,
        seed,
        settings,
        cancel: None,
        memory: usize::MAX,
    };
    ctx.between(a, b, &mut held, &mut |f| {
        out.push(f);
        Ok::<(), EngineError>(())
    })?;
    Ok(out)
}

/// What a blend between two keyframes runs with.
struct Blend<'a> {
    mode: &'a ModeParams,
    seed: u64,
    settings: &'a SynthSettings,
    cancel: Option<&'a Arc<AtomicBool>>,
    /// Bytes of forward outputs kept in memory before they go to a temporary file.
    memory: usize,
}

impl Blend<'_> {
    /// Starts a propagator from keyframe `k`, its own frame already pushed.
    fn start(&self, k: Keyframe<'_>) -> Result<Propagator, EngineError> {
        let mut p = Propagator::with_settings(
            k.styled,
            k.source,
            self.mode,
            self.seed,
            self.settings.clone(),
        )?;
        if let Some(c) = self.cancel {
            p.set_cancel_flag(c.clone());
        }
        p.push(k.source)?;
        Ok(p)
    }

    /// Propagates `a` forward and `b` backward over `between`, cross-fades, and hands the
    /// frames to `emit` in order. Returns the scene cuts the forward pass found (indices into
    /// `between`). Memory: the spools' budgets, two propagators and a frame or two.
    fn between<E: From<EngineError>>(
        &self,
        a: Keyframe<'_>,
        b: Keyframe<'_>,
        between: &mut FrameSpool,
        emit: &mut dyn FnMut(RgbFrame) -> Result<(), E>,
    ) -> Result<Vec<usize>, E> {
        let n = between.len();
        let (w, h) = (a.source.width(), a.source.height());
        let mut fwd = self.start(a)?;
        let mut forward = FrameSpool::new(w, h, self.memory);
        for k in 0..n {
            forward.push(fwd.push(&between.get(k)?)?)?;
        }
        // The keyframe itself was push 0, so push k + 1 is `between[k]`.
        let cuts: Vec<usize> = fwd.cuts().iter().map(|c| c - 1).collect();
        drop(fwd);
        let mut bwd = self.start(b)?;
        for k in (0..n).rev() {
            let back = bwd.push(&between.get(k)?)?;
            let t = (k + 1) as f32 / (n + 1) as f32;
            let mut mix = ColorImage::from_frame(&forward.get(k)?);
            let other = ColorImage::from_frame(&back);
            for (m, o) in mix.data_mut().iter_mut().zip(other.data()) {
                for c in 0..3 {
                    m[c] = (1.0 - t) * m[c] + t * o[c];
                }
            }
            forward.set(k, mix.to_frame()?)?;
        }
        for k in 0..n {
            emit(forward.get(k)?)?;
        }
        Ok(cuts)
    }

    /// Renders `held`, the frames before the clip's first keyframe `b`, from `b` alone
    /// propagated backward, and hands them to `emit` in order. Returns the scene cuts the pass
    /// found (indices into `held` where a new shot starts).
    fn before<E: From<EngineError>>(
        &self,
        b: Keyframe<'_>,
        held: &mut FrameSpool,
        emit: &mut dyn FnMut(RgbFrame) -> Result<(), E>,
    ) -> Result<Vec<usize>, E> {
        let n = held.len();
        let mut bwd = self.start(b)?;
        for k in (0..n).rev() {
            // Each source frame is read once, so its slot takes the rendered frame.
            let out = bwd.push(&held.get(k)?)?;
            held.set(k, out)?;
        }
        // Push j (from 1) was `held[n - j]`; a cut there means the shot that ends at the
        // keyframe begins at `held[n - j + 1]`.
        let cuts = bwd.cuts().iter().map(|j| n + 1 - j).collect();
        drop(bwd);
        for k in 0..n {
            emit(held.get(k)?)?;
        }
        Ok(cuts)
    }
}

/// The last keyframe passed, with its source frame.
struct Anchor {
    index: usize,
    styled: RgbFrame,
    source: RgbFrame,
}

/// Streams a clip through any number of styled keyframes. Frames after the last keyframe are
/// propagated forward as they arrive; frames between two keyframes are held until the later
/// one arrives, then rendered from both ([`propagate_between`]). A keyframe's own frame is
/// the keyframe itself. Memory: held source frames and forward outputs stay in memory up to
/// a budget each ([`KeyframeSequencer::set_memory_budget`]) and go to a temporary file past
/// it, so it is bounded however far apart the keyframes are.
pub struct KeyframeSequencer {
    pending: VecDeque<(usize, RgbFrame)>,
    anchor: Option<Anchor>,
    forward: Option<Propagator>,
    held: Option<FrameSpool>,
    memory: usize,
    mode: ModeParams,
    seed: u64,
    settings: SynthSettings,
    cancel: Option<Arc<AtomicBool>>,
    cuts: Vec<usize>,
}

impl KeyframeSequencer {
    /// Keyframes are `(frame index, styled frame)`, at least one, at strictly increasing
    /// indices, all the same size as the clip's frames. Frames before the first keyframe are
    /// rendered from it backward (the first keyframe is usually at frame 0).
    pub fn new(
        keyframes: Vec<(usize, RgbFrame)>,
        mode: &ModeParams,
        seed: u64,
        settings: SynthSettings,
    ) -> Result<Self, EngineError> {
        let indices: Vec<usize> = keyframes.iter().map(|(i, _)| *i).collect();
        if indices.is_empty() || indices.windows(2).any(|w| w[0] >= w[1]) {
            return Err(EngineError::BadKeyframes(format!(
                "{indices:?} (at least one, each at its own frame, in order)"
            )));
        }
        Ok(Self {
            pending: keyframes.into(),
            anchor: None,
            forward: None,
            held: None,
            memory: DEFAULT_SPOOL_MEMORY,
            mode: *mode,
            seed,
            settings,
            cancel: None,
            cuts: Vec::new(),
        })
    }

    /// Makes the work stop with [`EngineError::Cancelled`] once `flag` is set.
    pub fn set_cancel_flag(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// Bytes of held frames kept in memory, for held sources and forward outputs each, before
    /// they go to a temporary file (default [`DEFAULT_SPOOL_MEMORY`]). The output is the same
    /// whatever the budget.
    pub fn set_memory_budget(&mut self, bytes: usize) {
        self.memory = bytes;
    }

    fn blend(&self) -> Blend<'_> {
        Blend {
            mode: &self.mode,
            seed: self.seed,
            settings: &self.settings,
            cancel: self.cancel.as_ref(),
            memory: self.memory,
        }
    }

    /// Frame indices where a new shot started (propagation re-matched the keyframe there).
    pub fn cuts(&self) -> &[usize] {
        &self.cuts
    }

    /// Takes source frame `index` (frames arrive in order from 0) and hands the output frames
    /// now finished to `emit`, in order.
    pub fn push<E: From<EngineError>>(
        &mut self,
        index: usize,
        source: RgbFrame,
        emit: &mut dyn FnMut(RgbFrame) -> Result<(), E>,
    ) -> Result<(), E> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(EngineError::Cancelled.into());
        }
        if self.pending.front().is_some_and(|(i, _)| *i == index) {
            let Some((_, styled)) = self.pending.pop_front() else {
                return Err(EngineError::BadKeyframes("keyframe queue emptied".into()).into());
            };
            check_size(
                "keyframe",
                &styled,
                source.width() as usize,
                source.height() as usize,
            )?;
            if self.anchor.is_none() {
                // The first keyframe: frames before it (if any) were held for it.
                if let Some(mut held) = self.held.take().filter(|h| !h.is_empty()) {
                    let cuts = self.blend().before(
                        Keyframe {
                            styled: &styled,
                            source: &source,
                        },
                        &mut held,
                        emit,
                    )?;
                    self.cuts.extend(cuts);
                }
            }
            if let Some(a) = self.anchor.take() {
                let (w, h) = (source.width(), source.height());
                let mut held = self
                    .held
                    .take()
                    .unwrap_or_else(|| FrameSpool::new(w, h, self.memory));
                let cuts = self.blend().between(
                    Keyframe {
                        styled: &a.styled,
                        source: &a.source,
                    },
                    Keyframe {
                        styled: &styled,
                        source: &source,
                    },
                    &mut held,
                    emit,
                )?;
                self.cuts.extend(cuts.iter().map(|c| a.index + 1 + c));
            }
            emit(styled.clone())?;
            self.forward = if self.pending.is_empty() {
                Some(self.blend().start(Keyframe {
                    styled: &styled,
                    source: &source,
                })?)
            } else {
                None
            };
            self.anchor = Some(Anchor {
                index,
                styled,
                source,
            });
            return Ok(());
        }
        let Some(anchor) = &self.anchor else {
            // Before the first keyframe: held until it arrives.
            let (w, h, memory) = (source.width(), source.height(), self.memory);
            self.held
                .get_or_insert_with(|| FrameSpool::new(w, h, memory))
                .push(source)?;
            return Ok(());
        };
        match &mut self.forward {
            Some(p) => {
                emit(p.push(&source)?)?;
                // Push 0 was the keyframe's own source.
                if p.cuts().last().is_some_and(|&c| anchor.index + c == index) {
                    self.cuts.push(index);
                }
            }
            None => {
                let (w, h, memory) = (source.width(), source.height(), self.memory);
                self.held
                    .get_or_insert_with(|| FrameSpool::new(w, h, memory))
                    .push(source)?;
            }
        }
        Ok(())
    }

    /// The clip has ended: renders frames held for keyframes that lay past its end.
    pub fn finish<E: From<EngineError>>(
        &mut self,
        emit: &mut dyn FnMut(RgbFrame) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(mut held) = self.held.take().filter(|h| !h.is_empty()) else {
            return Ok(());
        };
        let Some(a) = &self.anchor else {
            let first = self.pending.front().map_or(0, |(i, _)| *i);
            return Err(EngineError::BadKeyframes(format!(
                "the clip ended after {} frames, before the first keyframe (frame {first})",
                held.len()
            ))
            .into());
        };
        let mut p = self.blend().start(Keyframe {
            styled: &a.styled,
            source: &a.source,
        })?;
        for k in 0..held.len() {
            emit(p.push(&held.get(k)?)?)?;
        }
        self.cuts.extend(p.cuts().iter().map(|c| a.index + c));
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::recolour;
    use crate::metrics::psnr;
    use crate::scene::{Scene, SceneKind};

    #[test]
    fn blends_towards_each_keyframe_near_it() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 6, 2).unwrap();
        let src: Vec<_> = (0..6).map(|i| s.frame(i)).collect();
        let ka = recolour(&src[0]);
        // A different look at the end: the end keyframe is the plain source.
        let kb = src[5].clone();
        let out = propagate_between(
            Keyframe {
                styled: &ka,
                source: &src[0],
            },
            Keyframe {
                styled: &kb,
                source: &src[5],
            },
            &src[1..5],
            &ModeParams::default(),
            1,
            &SynthSettings::default(),
        )
        .unwrap();
        assert_eq!(out.len(), 4);
        let near_a = psnr(&out[0], &recolour(&src[1])).unwrap();
        let near_b = psnr(&out[3], &src[4]).unwrap();
        assert!(near_a > psnr(&out[3], &recolour(&src[4])).unwrap());
        assert!(near_b > psnr(&out[0], &src[1]).unwrap());
    }

    fn push(seq: &mut KeyframeSequencer, i: usize, f: RgbFrame, out: &mut Vec<RgbFrame>) {
        seq.push(i, f, &mut |fr| {
            out.push(fr);
            Ok::<(), EngineError>(())
        })
        .unwrap();
    }

    fn finish(seq: &mut KeyframeSequencer, out: &mut Vec<RgbFrame>) {
        seq.finish(&mut |fr| {
            out.push(fr);
            Ok::<(), EngineError>(())
        })
        .unwrap();
    }

    fn run(seq: &mut KeyframeSequencer, frames: &[RgbFrame]) -> Vec<RgbFrame> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            push(seq, i, f.clone(), &mut out);
        }
        finish(seq, &mut out);
        out
    }

    #[test]
    fn one_keyframe_streams_like_the_propagator() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 5, 2).unwrap();
        let src: Vec<_> = (0..5).map(|i| s.frame(i)).collect();
        let key = recolour(&src[0]);
        let mode = ModeParams::default();
        let mut seq =
            KeyframeSequencer::new(vec![(0, key.clone())], &mode, 3, SynthSettings::default())
                .unwrap();
        let mut out = Vec::new();
        push(&mut seq, 0, src[0].clone(), &mut out);
        assert_eq!(
            out,
            vec![key.clone()],
            "the keyframe's own frame is the keyframe"
        );
        push(&mut seq, 1, src[1].clone(), &mut out);
        assert_eq!(out.len(), 2, "no keyframe ahead: nothing is held back");
        for (i, f) in src.iter().enumerate().skip(2) {
            push(&mut seq, i, f.clone(), &mut out);
        }
        finish(&mut seq, &mut out);
        let mut p = Propagator::new(&key, &src[0], &mode, 3).unwrap();
        p.push(&src[0]).unwrap();
        let direct: Vec<_> = src[1..].iter().map(|f| p.push(f).unwrap()).collect();
        assert_eq!(&out[1..], &direct[..]);
    }

    #[test]
    fn frames_between_keyframes_are_held_then_blended() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 8, 2).unwrap();
        let src: Vec<_> = (0..8).map(|i| s.frame(i)).collect();
        let ka = recolour(&src[0]);
        let kb = src[5].clone();
        let mut seq = KeyframeSequencer::new(
            vec![(0, ka.clone()), (5, kb.clone())],
            &ModeParams::default(),
            1,
            SynthSettings::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        for (i, f) in src.iter().enumerate().take(5) {
            push(&mut seq, i, f.clone(), &mut out);
        }
        assert_eq!(out.len(), 1, "frames 1-4 wait for the keyframe at 5");
        push(&mut seq, 5, src[5].clone(), &mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(out[5], kb);
        for (i, f) in src.iter().enumerate().skip(6) {
            push(&mut seq, i, f.clone(), &mut out);
        }
        finish(&mut seq, &mut out);
        assert_eq!(out.len(), 8);
        assert!(psnr(&out[1], &recolour(&src[1])).unwrap() > psnr(&out[1], &src[1]).unwrap());
        assert!(psnr(&out[4], &src[4]).unwrap() > psnr(&out[4], &recolour(&src[4])).unwrap());
        assert!(
            psnr(&out[7], &src[7]).unwrap() > 25.0,
            "after the last keyframe, its look"
        );
    }

    #[test]
    fn a_keyframe_past_the_end_still_gives_every_frame() {
        let s = Scene::new(SceneKind::PanZoom, 64, 48, 4, 2).unwrap();
        let src: Vec<_> = (0..4).map(|i| s.frame(i)).collect();
        let key = recolour(&src[0]);
        let mut seq = KeyframeSequencer::new(
            vec![(0, key), (10, src[0].clone())],
            &ModeParams::default(),
            1,
            SynthSettings::default(),
        )
        .unwrap();
        let out = run(&mut seq, &src);
        assert_eq!(out.len(), 4);
        assert!(psnr(&out[3], &recolour(&src[3])).unwrap() > psnr(&out[3], &src[3]).unwrap());
    }

    #[test]
    fn keyframes_must_be_given_and_increase() {
        let f = RgbFrame::filled(32, 32, [1; 3]);
        let m = ModeParams::default();
        for keys in [
            vec![(0, f.clone()), (4, f.clone()), (4, f.clone())],
            vec![(5, f.clone()), (2, f.clone())],
            vec![],
        ] {
            let e = KeyframeSequencer::new(keys, &m, 0, SynthSettings::default());
            assert!(matches!(e, Err(EngineError::BadKeyframes(_))));
        }
        assert!(KeyframeSequencer::new(vec![(3, f)], &m, 0, SynthSettings::default()).is_ok());
    }

    #[test]
    fn frames_before_the_first_keyframe_are_rendered_from_it_backward() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 8, 2).unwrap();
        let src: Vec<_> = (0..8).map(|i| s.frame(i)).collect();
        let key = recolour(&src[3]);
        let mode = ModeParams::default();
        let mut seq =
            KeyframeSequencer::new(vec![(3, key.clone())], &mode, 5, SynthSettings::default())
                .unwrap();
        let mut out = Vec::new();
        for (i, f) in src.iter().enumerate().take(3) {
            push(&mut seq, i, f.clone(), &mut out);
        }
        assert!(out.is_empty(), "frames 0-2 wait for the keyframe at 3");
        push(&mut seq, 3, src[3].clone(), &mut out);
        assert_eq!(out.len(), 4);
        assert_eq!(out[3], key);
        for (i, f) in src.iter().enumerate().skip(4) {
            push(&mut seq, i, f.clone(), &mut out);
        }
        finish(&mut seq, &mut out);
        assert_eq!(out.len(), 8);
        for i in [0, 1, 2, 5, 7] {
            assert!(
                psnr(&out[i], &recolour(&src[i])).unwrap() > psnr(&out[i], &src[i]).unwrap(),
                "frame {i} carries the keyframe's look"
            );
        }
        // The lead-in is the keyframe propagated backward, frame by frame.
        let mut p = Propagator::new(&key, &src[3], &mode, 5).unwrap();
        p.push(&src[3]).unwrap();
        let back: Vec<_> = (0..3).rev().map(|i| p.push(&src[i]).unwrap()).collect();
        assert_eq!(
            out[..3],
            [back[2].clone(), back[1].clone(), back[0].clone()]
        );
    }

    #[test]
    fn a_clip_that_ends_before_its_first_keyframe_is_an_error() {
        let f = RgbFrame::filled(32, 32, [1; 3]);
        let mut seq = KeyframeSequencer::new(
            vec![(9, f.clone())],
            &ModeParams::default(),
            0,
            SynthSettings::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        push(&mut seq, 0, f.clone(), &mut out);
        let e = seq
            .finish(&mut |fr| {
                out.push(fr);
                Ok::<(), EngineError>(())
            })
            .unwrap_err();
        assert!(e.to_string().contains("before the first keyframe"), "{e}");
    }

    #[test]
    fn cuts_are_reported_at_their_frame_index() {
        let a = Scene::new(SceneKind::Translate, 96, 64, 4, 3).unwrap();
        let c = Scene::new(SceneKind::PanZoom, 96, 64, 3, 77).unwrap();
        let frames: Vec<_> = (0..4)
            .map(|i| a.frame(i))
            .chain((0..3).map(|i| c.frame(i)))
            .collect();
        for keys in [vec![0], vec![0, 6]] {
            let keyframes = keys.iter().map(|&i| (i, recolour(&frames[i]))).collect();
            let mut seq = KeyframeSequencer::new(
                keyframes,
                &ModeParams::default(),
                1,
                SynthSettings::default(),
            )
            .unwrap();
            let out = run(&mut seq, &frames);
            assert_eq!(out.len(), 7);
            assert_eq!(seq.cuts(), &[4], "keyframes {keys:?}");
        }
    }

    #[test]
    fn a_small_memory_budget_spills_to_disk_and_changes_nothing() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 12, 2).unwrap();
        let src: Vec<_> = (0..12).map(|i| s.frame(i)).collect();
        let keys = || {
            vec![
                (0, recolour(&src[0])),
                (9, src[9].clone()),
                (20, src[0].clone()),
            ]
        };
        let mode = ModeParams::default();
        let mut roomy = KeyframeSequencer::new(keys(), &mode, 4, SynthSettings::default()).unwrap();
        let mut tight = KeyframeSequencer::new(keys(), &mode, 4, SynthSettings::default()).unwrap();
        // Two frames' worth: most of the eight frames held before frame 9, and the two held
        // for the keyframe past the end, go through the temporary file.
        tight.set_memory_budget(2 * 64 * 48 * 3);
        let a = run(&mut roomy, &src);
        assert_eq!(a.len(), 12);
        assert_eq!(run(&mut tight, &src), a);
    }
}
