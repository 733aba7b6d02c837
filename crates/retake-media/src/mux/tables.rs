//! Per-track sample tables, built as samples arrive and serialised into `stbl` boxes.

use super::boxes::{full_box, Put};

/// Sample tables of one track; the only per-sample state the writer keeps in memory.
#[derive(Default)]
pub(super) struct Track {
    /// Sample sizes in bytes (`stsz`).
    sizes: Vec<u32>,
    /// Run-length (count, delta) sample durations (`stts`).
    stts: Vec<(u32, u32)>,
    /// 1-based numbers of the sync samples (`stss`).
    sync: Vec<u32>,
    /// (offset within the mdat payload, samples in the chunk).
    chunks: Vec<(u64, u32)>,
    /// Sum of all sample durations in media ticks.
    duration: u64,
    /// Media ticks in the open chunk, to cap its length.
    chunk_ticks: u64,
}

impl Track {
    /// Records one sample stored at `offset` in the mdat payload.
    ///
    /// `continues_chunk` says the sample directly follows this track's previous one in the
    /// file; it still opens a new chunk once the open one holds `chunk_cap` ticks.
    pub(super) fn add(
        &mut self,
        offset: u64,
        size: u32,
        delta: u32,
        sync: bool,
        continues_chunk: bool,
        chunk_cap: u64,
    ) {
        match self.chunks.last_mut() {
            Some(last) if continues_chunk && self.chunk_ticks < chunk_cap => last.1 += 1,
            _ => {
                self.chunks.push((offset, 1));
                self.chunk_ticks = 0;
            }
        }
        self.sizes.push(size);
        match self.stts.last_mut() {
            Some((n, d)) if *d == delta => *n += 1,
            _ => self.stts.push((1, delta)),
        }
        if sync {
            self.sync.push(self.sizes.len() as u32);
        }
        self.duration += u64::from(delta);
        self.chunk_ticks += u64::from(delta);
    }

    /// Number of samples so far.
    pub(super) fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Sum of the sample durations, in media ticks.
    pub(super) fn duration(&self) -> u64 {
        self.duration
    }

    /// The largest chunk offset within the mdat payload.
    pub(super) fn last_chunk_offset(&self) -> u64 {
        self.chunks.last().map_or(0, |c| c.0)
    }

    /// `stts`, optionally `stss`, `stsc`, `stsz` and `stco`/`co64`, offsets shifted by `base`.
    pub(super) fn stbl_tables(&self, with_stss: bool, base: u64, co64: bool) -> Vec<u8> {
        let mut out = Vec::new();

        let mut stts = Vec::with_capacity(4 + self.stts.len() * 8);
        stts.u32(self.stts.len() as u32);
        for &(n, d) in &self.stts {
            stts.u32(n);
            stts.u32(d);
        }
        out.extend_from_slice(&full_box(b"stts", 0, 0, &stts));

        if with_stss {
            let mut stss = Vec::with_capacity(4 + self.sync.len() * 4);
            stss.u32(self.sync.len() as u32);
            for &s in &self.sync {
                stss.u32(s);
            }
            out.extend_from_slice(&full_box(b"stss", 0, 0, &stss));
        }

        // stsc lists only the chunks where the samples-per-chunk count changes.
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (i, &(_, n)) in self.chunks.iter().enumerate() {
            if runs.last().is_none_or(|&(_, per)| per != n) {
                runs.push((i as u32 + 1, n));
            }
        }
        let mut stsc = Vec::with_capacity(4 + runs.len() * 12);
        stsc.u32(runs.len() as u32);
        for (first, per) in runs {
            stsc.u32(first);
            stsc.u32(per);
            stsc.u32(1); // sample description index
        }
        out.extend_from_slice(&full_box(b"stsc", 0, 0, &stsc));

        let mut stsz = Vec::with_capacity(8 + self.sizes.len() * 4);
        stsz.u32(0); // sizes vary, so each is listed
        stsz.u32(self.sizes.len() as u32);
        for &s in &self.sizes {
            stsz.u32(s);
        }
        out.extend_from_slice(&full_box(b"stsz", 0, 0, &stsz));

        let mut co = Vec::with_capacity(4 + self.chunks.len() * if co64 { 8 } else { 4 });
        co.u32(self.chunks.len() as u32);
        for &(off, _) in &self.chunks {
            if co64 {
                co.u64(base + off);
            } else {
                // The caller chose stco only after checking every offset fits.
                co.u32((base + off) as u32);
            }
        }
        out.extend_from_slice(&full_box(if co64 { b"co64" } else { b"stco" }, 0, 0, &co));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// The payload (after the 8-byte header) of the first box of type `kind` in `b`.
    fn find<'a>(b: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
        let mut at = 0;
        while at + 8 <= b.len() {
            let size = u32_at(b, at) as usize;
            if &b[at + 4..at + 8] == kind {
                return &b[at + 8..at + size];
            }
            at += size;
        }
        panic!("no {kind:?} box");
    }

    #[test]
    fn chunks_follow_interleaving_and_the_cap() {
        let mut t = Track::default();
        // Two samples, an interruption, three samples of which the third hits the cap.
        t.add(0, 10, 512, true, false, 1024);
        t.add(10, 10, 512, false, true, 1024);
        t.add(50, 10, 512, false, false, 1024);
        t.add(60, 10, 512, false, true, 1024);
        t.add(70, 10, 512, true, true, 1024);
        assert_eq!(t.chunks, vec![(0, 2), (50, 2), (70, 1)]);
        assert_eq!(t.sync, vec![1, 5]);
        assert_eq!(t.stts, vec![(5, 512)]);
        assert_eq!(t.duration(), 2560);

        let tables = t.stbl_tables(true, 100, false);
        let stsc = find(&tables, b"stsc");
        assert_eq!(u32_at(stsc, 4), 2, "runs (1,2) and (3,1)");
        assert_eq!([u32_at(stsc, 8), u32_at(stsc, 12)], [1, 2]);
        assert_eq!([u32_at(stsc, 20), u32_at(stsc, 24)], [3, 1]);
        let stco = find(&tables, b"stco");
        assert_eq!(
            [
                u32_at(stco, 4),
                u32_at(stco, 8),
                u32_at(stco, 12),
                u32_at(stco, 16)
            ],
            [3, 100, 150, 170]
        );
        assert_eq!(u32_at(find(&tables, b"stss"), 4), 2);
        assert_eq!(u32_at(find(&tables, b"stsz"), 8), 5);
    }

    #[test]
    fn co64_holds_big_offsets() {
        let mut t = Track::default();
        t.add(0, 10, 1024, true, false, 48000);
        let tables = t.stbl_tables(false, 5 << 30, true);
        let co64 = find(&tables, b"co64");
        assert_eq!(co64[8..], (5u64 << 30).to_be_bytes());
    }
}
