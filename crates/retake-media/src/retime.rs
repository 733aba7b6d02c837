//! Conversion of any frame timing (constant or variable) to exactly 24 fps by presentation time.

/// The output frame rate of every clip retake writes.
pub const OUTPUT_FPS: u32 = 24;

/// Number of output frames for a clip of `duration_s` seconds at [`OUTPUT_FPS`].
pub fn output_frame_count(duration_s: f64) -> usize {
    ((duration_s * OUTPUT_FPS as f64).round() as usize).max(1)
}

/// The output frame nearest a source frame shown at `pts` seconds (ties go to the earlier
/// output frame), among `frames` output frames. A 24 fps source's frame *i* is output frame
/// *i*; from a faster source some frames are never shown, and their nearest output frame
/// shows a neighbour.
pub fn output_index_at(pts: f64, frames: usize) -> usize {
    let k = (pts.max(0.0) * OUTPUT_FPS as f64 - 0.5).ceil().max(0.0) as usize;
    k.min(frames.saturating_sub(1))
}

/// Picks, for each output time k/24, the source frame whose presentation time is nearest
/// (ties go to the earlier frame). Frames arrive in presentation order, one at a time, so
/// only the previous frame is held.
pub struct Retimer<T> {
    next: usize,
    total: usize,
    prev: Option<(f64, T)>,
}

impl<T: Clone> Retimer<T> {
    /// A retimer that will emit exactly `total` frames.
    pub fn new(total: usize) -> Self {
        Self {
            next: 0,
            total,
            prev: None,
        }
    }

    /// A retimer whose first output frame is `next`: fed the same frames from one whose
    /// presentation time is at most `next`'s time on (and every later one), it gives frames
    /// `next` on exactly as one fed the whole clip does.
    pub fn starting_at(next: usize, total: usize) -> Self {
        Self {
            next: next.min(total),
            total,
            prev: None,
        }
    }

    /// Output frames emitted so far.
    pub fn emitted(&self) -> usize {
        self.next
    }

    /// Feeds the source frame shown at `pts` seconds; pushes the output frames it decides
    /// onto `out` as `(output index, frame)`. Frames not after the previous one are ignored.
    pub fn push(&mut self, pts: f64, frame: T, out: &mut Vec<(usize, T)>) {
        if let Some((prev_pts, _)) = &self.prev {
            if pts <= *prev_pts {
                return;
            }
        }
        while self.next < self.total {
            let t = self.next as f64 / OUTPUT_FPS as f64;
            if pts < t {
                break;
            }
            let pick_prev = match &self.prev {
                Some((prev_pts, _)) => t - prev_pts <= pts - t,
                None => false,
            };
            let chosen = match (&self.prev, pick_prev) {
                (Some((_, p)), true) => p.clone(),
                _ => frame.clone(),
            };
            out.push((self.next, chosen));
            self.next += 1;
        }
        self.prev = Some((pts, frame));
    }

    /// Emits the remaining output frames from the last source frame.
    pub fn finish(&mut self, out: &mut Vec<(usize, T)>) {
        if let Some((_, last)) = &self.prev {
            while self.next < self.total {
                out.push((self.next, last.clone()));
                self.next += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_frame_maps_to_its_nearest_output_frame() {
        assert_eq!(output_index_at(0.0, 10), 0);
        assert_eq!(output_index_at(5.0 / 24.0, 10), 5);
        assert_eq!(output_index_at(4.5 / 24.0, 10), 4, "a tie goes earlier");
        assert_eq!(output_index_at(3.0 / 12.0, 10), 6, "12 fps frame 3");
        assert_eq!(
            output_index_at(7.0 / 30.0, 10),
            6,
            "30 fps frame 7 is at 5.6/24"
        );
        assert_eq!(output_index_at(100.0, 10), 9, "clamped to the last");
    }

    fn run(fps: f64, seconds: f64) -> Vec<(usize, usize)> {
        let n = (fps * seconds).round() as usize;
        let mut r = Retimer::new(output_frame_count(seconds));
        let mut out = Vec::new();
        for i in 0..n {
            r.push(i as f64 / fps, i, &mut out);
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn thirty_fps_five_seconds_gives_120_frames_within_half_a_frame() {
        let out = run(30.0, 5.0);
        assert_eq!(out.len(), 120);
        for (k, src) in &out {
            let err = (*src as f64 / 30.0 - *k as f64 / 24.0).abs();
            assert!(err <= 0.5 / 30.0 + 1e-9, "frame {k} took source {src}");
        }
        // The last output time, 4.958 s, is nearest to source frame 149 (4.967 s).
        assert_eq!(out.last().unwrap().1, 149);
    }

    #[test]
    fn a_retimer_started_late_gives_the_same_tail() {
        for fps in [12.0, 25.0, 30.0, 60.0] {
            let full = run(fps, 2.0);
            let n = (fps * 2.0) as usize;
            for next in [1, 7, 24, 47] {
                let t = next as f64 / OUTPUT_FPS as f64;
                // Fed from the last source frame at or before the first wanted output time.
                let first = (0..n).rev().find(|&i| i as f64 / fps <= t).unwrap();
                let mut r = Retimer::starting_at(next, output_frame_count(2.0));
                let mut out = Vec::new();
                for i in first..n {
                    r.push(i as f64 / fps, i, &mut out);
                }
                r.finish(&mut out);
                assert_eq!(out, full[next..], "{fps} fps from output {next}");
            }
        }
    }

    #[test]
    fn low_frame_rate_repeats_frames() {
        let out = run(12.0, 1.0);
        assert_eq!(out.len(), 24);
        assert_eq!(out.iter().filter(|(_, s)| *s == 0).count(), 2);
    }

    #[test]
    fn variable_frame_rate_uses_timestamps() {
        let pts = [0.0, 0.01, 0.5, 0.51, 0.99];
        let mut r = Retimer::new(24);
        let mut out = Vec::new();
        for (i, &p) in pts.iter().enumerate() {
            r.push(p, i, &mut out);
        }
        r.finish(&mut out);
        assert_eq!(out.len(), 24);
        // At t = 0.25 s the nearest frames are 0.01 (0.24 away) and 0.5 (0.25 away).
        assert_eq!(out[6].1, 1);
        assert_eq!(out[12].1, 2);
    }
}
