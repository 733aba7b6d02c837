//! Just enough of an H.264 sequence parameter set parser to know whether we can decode a
//! stream and how to turn its YUV into RGB.

use crate::{MediaError, Result};

/// What we learn from an SPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 Baseline, 77 Main, 100 High, 110 High 10, ...).
    pub profile_idc: u8,
    /// Constraint flags byte.
    pub constraint_flags: u8,
    /// `level_idc` (e.g. 31 for level 3.1).
    pub level_idc: u8,
    /// 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4, 0 = monochrome.
    pub chroma_format_idc: u32,
    /// Luma bit depth.
    pub bit_depth: u32,
    /// Whether every picture is a frame (false: interlaced/field coding).
    pub frame_mbs_only: bool,
    /// Displayed width after cropping.
    pub width: u32,
    /// Displayed height after cropping.
    pub height: u32,
    /// Full-range (0–255) YUV rather than studio range.
    pub full_range: bool,
    /// `matrix_coefficients` from the VUI (1 = BT.709, 5/6 = BT.601), if signalled.
    pub matrix: Option<u8>,
}

impl Sps {
    /// Whether OpenH264 decodes this stream: 8-bit, progressive, 4:2:0, no 4:4:4 tools.
    pub fn openh264_decodes(&self) -> bool {
        self.bit_depth == 8
            && self.frame_mbs_only
            && self.chroma_format_idc == 1
            && !matches!(self.profile_idc, 244 | 44)
    }

    /// Whether this stream goes to FFmpeg's decoder instead (`ffmpeg` feature): 8-bit
    /// progressive 4:2:2 and 4:4:4, such as what `--encoder x264-444` writes.
    pub fn needs_ffmpeg(&self) -> bool {
        cfg!(feature = "ffmpeg")
            && !self.openh264_decodes()
            && self.bit_depth == 8
            && self.frame_mbs_only
            && matches!(self.chroma_format_idc, 1..=3)
    }

    /// A human name for the profile, e.g. "High" or "Constrained Baseline".
    pub fn profile_name(&self) -> String {
        match self.profile_idc {
            66 if self.constraint_flags & 0x40 != 0 => "Constrained Baseline".into(),
            66 => "Baseline".into(),
            77 => "Main".into(),
            88 => "Extended".into(),
            100 => "High".into(),
            110 => "High 10".into(),
            122 => "High 4:2:2".into(),
            244 => "High 4:4:4 Predictive".into(),
            44 => "CAVLC 4:4:4 Intra".into(),
            other => format!("profile {other}"),
        }
    }

    /// The level as written, e.g. "3.1".
    pub fn level_name(&self) -> String {
        format!("{}.{}", self.level_idc / 10, self.level_idc % 10)
    }

    /// Why this build cannot decode this stream, if it cannot.
    pub fn unsupported_reason(&self) -> Option<String> {
        if self.needs_ffmpeg() {
            return None;
        }
        if self.bit_depth != 8 {
            return Some(format!(
                "H.264 {} ({}-bit) is not supported; retake decodes 8-bit Baseline, Main and High \
                 profile — re-encode with e.g. `ffmpeg -i in.mp4 -c:v libx264 -pix_fmt yuv420p out.mp4`",
                self.profile_name(),
                self.bit_depth
            ));
        }
        if matches!(self.profile_idc, 244 | 44) {
            return Some(format!(
                "H.264 {} (lossless or 4:4:4 coding tools) is not supported; re-encode with \
                 e.g. `ffmpeg -i in.mp4 -c:v libx264 -crf 12 -pix_fmt yuv420p out.mp4`",
                self.profile_name()
            ));
        }
        if self.chroma_format_idc != 1 {
            let fmt = match self.chroma_format_idc {
                0 => "monochrome",
                2 => "4:2:2",
                _ => "4:4:4",
            };
            return Some(format!(
                "H.264 with {fmt} chroma is not supported; retake decodes 4:2:0 — re-encode with \
                 `-pix_fmt yuv420p`"
            ));
        }
        if !self.frame_mbs_only {
            return Some(
                "interlaced H.264 is not supported; deinterlace it first, e.g. \
                 `ffmpeg -i in.mp4 -vf yadif -c:v libx264 out.mp4`"
                    .into(),
            );
        }
        None
    }
}

/// Reads bits from an RBSP (emulation prevention bytes already removed).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or_else(|| MediaError::Corrupt("H.264 parameter set is cut short".into()))?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(b as u32)
    }

    fn bits(&mut self, n: u32) -> Result<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn ue(&mut self) -> Result<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(MediaError::Corrupt(
                    "H.264 parameter set has a malformed number".into(),
                ));
            }
        }
        Ok(((1u64 << zeros) - 1 + self.bits(zeros)? as u64) as u32)
    }

    fn se(&mut self) -> Result<i32> {
        let k = self.ue()? as i64;
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

/// Removes emulation prevention bytes (00 00 03 → 00 00).
pub(crate) fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

fn skip_scaling_list(r: &mut Bits, size: usize) -> Result<()> {
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            // delta_scale is -128..=127 (H.264 7.4.2.1.1); past that the set is damaged (and
            // the sum below could overflow).
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(MediaError::Corrupt(
                    "the H.264 configuration ('avcC') is damaged: a scaling list is out of range"
                        .into(),
                ));
            }
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Parses an SPS NAL unit (with its one-byte NAL header).
pub fn parse_sps(nal: &[u8]) -> Result<Sps> {
    if nal.len() < 4 || nal[0] & 0x1f != 7 {
        return Err(MediaError::Corrupt(
            "not an H.264 sequence parameter set".into(),
        ));
    }
    let rbsp = unescape(&nal[1..]);
    let mut r = Bits {
        data: &rbsp,
        pos: 0,
    };
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    r.ue()?;
    let mut chroma_format_idc = 1;
    let mut bit_depth = 8;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bit()?;
        }
        // bit_depth_luma_minus8 is 0..=6 (H.264 7.4.2.1.1).
        let extra = r.ue()?;
        if extra > 6 {
            return Err(MediaError::Corrupt(format!(
                "the H.264 configuration ('avcC') is damaged: it gives a bit depth of {}",
                u64::from(extra) + 8
            )));
        }
        bit_depth = extra + 8;
        r.ue()?;
        r.bit()?;
        if r.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?;
    let poc_type = r.ue()?;
    if poc_type == 0 {
        r.ue()?;
    } else if poc_type == 1 {
        r.bit()?;
        r.se()?;
        r.se()?;
        let n = r.ue()?;
        if n > 255 {
            return Err(MediaError::Corrupt(
                "H.264 SPS has too many POC offsets".into(),
            ));
        }
        for _ in 0..n {
            r.se()?;
        }
    }
    r.ue()?;
    r.bit()?;
    let width_mbs = r.ue()? as u64 + 1;
    let height_units = r.ue()? as u64 + 1;
    let frame_mbs_only = r.bit()? == 1;
    if !frame_mbs_only {
        r.bit()?;
    }
    r.bit()?;
    let mut crop = [0u64; 4];
    if r.bit()? == 1 {
        for c in crop.iter_mut() {
            *c = r.ue()? as u64;
        }
    }
    let (sub_w, sub_h) = match chroma_format_idc {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let frame_factor = if frame_mbs_only { 1 } else { 2 };
    let crop_x = if chroma_format_idc == 0 { 1 } else { sub_w };
    let crop_y = frame_factor * if chroma_format_idc == 0 { 1 } else { sub_h };
    let coded_w = width_mbs * 16;
    let coded_h = height_units * 16 * frame_factor;
    let width = coded_w.saturating_sub((crop[0] + crop[1]) * crop_x);
    let height = coded_h.saturating_sub((crop[2] + crop[3]) * crop_y);
    let mut full_range = false;
    let mut matrix = None;
    // VUI is optional and sometimes cut short by writers; its absence is not an error.
    if r.bit().unwrap_or(0) == 1 {
        let _ = parse_vui(&mut r, &mut full_range, &mut matrix);
    }
    Ok(Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        chroma_format_idc,
        bit_depth,
        frame_mbs_only,
        width: width.min(u32::MAX as u64) as u32,
        height: height.min(u32::MAX as u64) as u32,
        full_range,
        matrix,
    })
}

fn parse_vui(r: &mut Bits, full_range: &mut bool, matrix: &mut Option<u8>) -> Result<()> {
    if r.bit()? == 1 && r.bits(8)? == 255 {
        r.bits(32)?;
    }
    if r.bit()? == 1 {
        r.bit()?;
    }
    if r.bit()? == 1 {
        r.bits(3)?;
        *full_range = r.bit()? == 1;
        if r.bit()? == 1 {
            r.bits(16)?;
            *matrix = Some(r.bits(8)? as u8);
        }
    }
    Ok(())
}

/// The contents of an `avcC` configuration record.
pub struct AvcConfig {
    /// Sequence parameter set NAL units.
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter set NAL units.
    pub pps: Vec<Vec<u8>>,
    /// Bytes in each sample's NAL length prefix (1, 2 or 4).
    pub length_size: usize,
}

/// Splits an `avcC` record into its parameter sets and NAL length size.
pub fn parse_avcc(avcc: &[u8]) -> Result<AvcConfig> {
    let bad = || MediaError::Corrupt("the H.264 configuration ('avcC') is damaged".into());
    if avcc.len() < 7 || avcc[0] != 1 {
        return Err(bad());
    }
    let length_size = (avcc[4] & 3) as usize + 1;
    let mut pos = 5;
    let read_sets = |count: usize, pos: &mut usize| -> Result<Vec<Vec<u8>>> {
        let mut sets = Vec::with_capacity(count);
        for _ in 0..count {
            let len_bytes = avcc.get(*pos..*pos + 2).ok_or_else(bad)?;
            let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
            *pos += 2;
            sets.push(avcc.get(*pos..*pos + len).ok_or_else(bad)?.to_vec());
            *pos += len;
        }
        Ok(sets)
    };
    let n_sps = (avcc[5] & 0x1f) as usize;
    pos += 1;
    let sps = read_sets(n_sps, &mut pos)?;
    let n_pps = *avcc.get(pos).ok_or_else(bad)? as usize;
    pos += 1;
    let pps = read_sets(n_pps, &mut pos)?;
    if sps.is_empty() || pps.is_empty() {
        return Err(bad());
    }
    Ok(AvcConfig {
        sps,
        pps,
        length_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_removes_emulation_prevention() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3, 0]), [0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn exp_golomb() {
        // 1 → 0, 010 → 1, 011 → 2, 00100 → 3
        let data = [0b1010_0110, 0b0100_0000];
        let mut r = Bits {
            data: &data,
            pos: 0,
        };
        assert_eq!(r.ue().unwrap(), 0);
        assert_eq!(r.ue().unwrap(), 1);
        assert_eq!(r.ue().unwrap(), 2);
        assert_eq!(r.ue().unwrap(), 3);
    }

    #[test]
    fn truncated_sps_is_an_error() {
        assert!(parse_sps(&[0x67, 100, 0, 31]).is_err());
        assert!(parse_sps(&[0x68, 1, 2, 3]).is_err());
    }
}
