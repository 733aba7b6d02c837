//! The `stbl` sample tables and their expansion into one entry per sample.

use super::boxes::Cursor;
use super::track::Sample;
use crate::{MediaError, Result};

/// The raw sample tables of one track.
#[derive(Default)]
pub(super) struct SampleTables {
    /// (count, delta) runs.
    stts: Vec<(u32, u32)>,
    /// (count, offset) runs; offsets may be negative in version 1.
    ctts: Vec<(u32, i64)>,
    /// (first_chunk, samples_per_chunk) runs, first_chunk 1-based.
    stsc: Vec<(u32, u32)>,
    /// Sample sizes (expanded when constant).
    sizes: Vec<u32>,
    /// Chunk offsets.
    chunks: Vec<u64>,
    /// 1-based sync sample numbers, or `None` when every sample is sync.
    stss: Option<Vec<u32>>,
}

impl SampleTables {
    pub(super) fn parse(mut stbl: Cursor) -> Result<Self> {
        let mut t = SampleTables::default();
        for child in stbl.children() {
            let child = child?;
            match &child.kind {
                b"stts" => {
                    let mut c = child.cursor("stts");
                    c.full_header()?;
                    let n = c.count(8)?;
                    for _ in 0..n {
                        t.stts.push((c.u32()?, c.u32()?));
                    }
                }
                b"ctts" => {
                    let mut c = child.cursor("ctts");
                    let (version, _) = c.full_header()?;
                    let n = c.count(8)?;
                    for _ in 0..n {
                        let count = c.u32()?;
                        let raw = c.u32()?;
                        // Version 0 is unsigned by the spec, but writers put negative values
                        // there too; reading as signed matches what players do.
                        let off = if version == 0 && raw <= i32::MAX as u32 {
                            raw as i64
                        } else {
                            raw as i32 as i64
                        };
                        t.ctts.push((count, off));
                    }
                }
                b"stsc" => {
                    let mut c = child.cursor("stsc");
                    c.full_header()?;
                    let n = c.count(12)?;
                    for _ in 0..n {
                        let first = c.u32()?;
                        let per = c.u32()?;
                        c.skip(4)?;
                        t.stsc.push((first, per));
                    }
                }
                b"stsz" => {
                    let mut c = child.cursor("stsz");
                    c.full_header()?;
                    let constant = c.u32()?;
                    if constant == 0 {
                        let n = c.count(4)?;
                        for _ in 0..n {
                            t.sizes.push(c.u32()?);
                        }
                    } else {
                        let n = c.u32()? as usize;
                        // Constant-size tables carry no per-sample bytes, so bound them by
                        // something sane rather than by the box size.
                        if n > 10_000_000 {
                            return Err(MediaError::Corrupt(format!(
                                "sample size table claims {n} samples"
                            )));
                        }
                        t.sizes = vec![constant; n];
                    }
                }
                b"stz2" => {
                    return Err(MediaError::UnsupportedCodec(
                        "compact sample size tables ('stz2') are not supported".into(),
                    ))
                }
                b"stco" => {
                    let mut c = child.cursor("stco");
                    c.full_header()?;
                    let n = c.count(4)?;
                    for _ in 0..n {
                        t.chunks.push(c.u32()? as u64);
                    }
                }
                b"co64" => {
                    let mut c = child.cursor("co64");
                    c.full_header()?;
                    let n = c.count(8)?;
                    for _ in 0..n {
                        t.chunks.push(c.u64()?);
                    }
                }
                b"stss" => {
                    let mut c = child.cursor("stss");
                    c.full_header()?;
                    let n = c.count(4)?;
                    let mut v = Vec::with_capacity(n);
                    for _ in 0..n {
                        v.push(c.u32()?);
                    }
                    t.stss = Some(v);
                }
                _ => {}
            }
        }
        Ok(t)
    }
}

/// Expands the run-length tables into one `Sample` per sample, validating them as it goes.
pub(super) fn build_samples(t: &SampleTables) -> Result<Vec<Sample>> {
    let n = t.sizes.len();
    let corrupt = |what: &str| MediaError::Corrupt(format!("sample table: {what}"));
    if n == 0 {
        return Ok(Vec::new());
    }
    let stts_total: u64 = t.stts.iter().map(|&(c, _)| c as u64).sum();
    if stts_total < n as u64 {
        return Err(corrupt(&format!(
            "{n} samples but timing for only {stts_total}"
        )));
    }
    if t.stsc.is_empty() || t.chunks.is_empty() {
        return Err(corrupt("no chunk map"));
    }
    // Offsets: walk chunks, each run of stsc giving samples per chunk.
    let mut offsets = Vec::with_capacity(n);
    let mut sample = 0usize;
    for (run, &(first, per)) in t.stsc.iter().enumerate() {
        if first == 0 || per == 0 {
            return Err(corrupt("chunk map entry with zero chunk or zero samples"));
        }
        let next_first = t
            .stsc
            .get(run + 1)
            .map(|&(f, _)| f as usize)
            .unwrap_or(t.chunks.len() + 1);
        if next_first <= first as usize && run + 1 < t.stsc.len() {
            return Err(corrupt("chunk map runs are out of order"));
        }
        for chunk in first as usize..next_first {
            let Some(&base) = t.chunks.get(chunk - 1) else {
                return Err(corrupt("chunk map refers to a chunk that does not exist"));
            };
            let mut off = base;
            for _ in 0..per {
                if sample == n {
                    break;
                }
                offsets.push(off);
                off = off.saturating_add(t.sizes[sample] as u64);
                sample += 1;
            }
        }
    }
    if offsets.len() < n {
        return Err(corrupt(&format!(
            "{n} samples but the chunk map places only {}",
            offsets.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    let mut stts = t
        .stts
        .iter()
        .flat_map(|&(c, d)| std::iter::repeat_n(d, c as usize));
    let mut ctts = t
        .ctts
        .iter()
        .flat_map(|&(c, o)| std::iter::repeat_n(o, c as usize));
    let mut dts = 0i64;
    let mut sync_iter = t.stss.as_ref().map(|v| v.iter().peekable());
    for (i, (&size, &offset)) in t.sizes.iter().zip(&offsets).enumerate() {
        let duration = stts.next().unwrap_or(0);
        let cts_off = if t.ctts.is_empty() {
            0
        } else {
            ctts.next().unwrap_or(0)
        };
        let sync = match sync_iter.as_mut() {
            None => true,
            Some(it) => {
                while it.peek().is_some_and(|&&s| (s as usize) < i + 1) {
                    it.next();
                }
                it.peek().is_some_and(|&&s| s as usize == i + 1)
            }
        };
        out.push(Sample {
            offset,
            size,
            dts,
            pts: dts + cts_off,
            duration,
            sync,
        });
        dts += duration as i64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_chunks_and_times() {
        let t = SampleTables {
            stts: vec![(3, 100)],
            ctts: vec![(1, 200), (1, 0), (1, 100)],
            stsc: vec![(1, 2), (2, 1)],
            sizes: vec![10, 20, 30],
            chunks: vec![1000, 5000],
            stss: Some(vec![1]),
        };
        let s = build_samples(&t).unwrap();
        assert_eq!(
            s.iter().map(|s| s.offset).collect::<Vec<_>>(),
            [1000, 1010, 5000]
        );
        assert_eq!(s.iter().map(|s| s.pts).collect::<Vec<_>>(), [200, 100, 300]);
        assert_eq!(
            s.iter().map(|s| s.sync).collect::<Vec<_>>(),
            [true, false, false]
        );
    }

    #[test]
    fn missing_chunk_is_an_error_not_a_panic() {
        let t = SampleTables {
            stts: vec![(2, 100)],
            stsc: vec![(1, 1)],
            sizes: vec![10, 20],
            chunks: vec![1000],
            ..Default::default()
        };
        let err = build_samples(&t).unwrap_err();
        assert!(err.to_string().contains("places only 1"), "{err}");
    }
}
