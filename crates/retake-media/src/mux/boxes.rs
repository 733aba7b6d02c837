//! Byte layouts of the boxes the writer emits (ISO/IEC 14496-12, -14 and -15).

use super::{AudioTrackConfig, VideoTrackConfig};

/// Movie timescale (ticks per second) for `mvhd`, `tkhd` and edit lists.
pub(super) const MOVIE_TIMESCALE: u64 = 1000;

/// Big-endian appends, so the layouts below read like the spec's field lists.
pub(super) trait Put {
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    fn zeros(&mut self, n: usize);
}

impl Put for Vec<u8> {
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
}

/// A box around `payload`; callers keep boxes far below 4 GiB (only `mdat` can get there).
pub(super) fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(payload.len() + 8);
    b.u32((payload.len() + 8) as u32);
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

/// A full box: version and 24-bit flags, then `payload`.
pub(super) fn full_box(kind: &[u8; 4], version: u8, flags: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(payload.len() + 4);
    p.push(version);
    p.extend_from_slice(&flags.to_be_bytes()[1..]);
    p.extend_from_slice(payload);
    boxed(kind, &p)
}

/// The 8- or 16-byte `mdat` header for `payload_len` bytes of sample data.
pub(super) fn mdat_header(payload_len: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    match u32::try_from(payload_len + 8) {
        Ok(size) => h.u32(size),
        Err(_) => {
            // size 1 means "a 64-bit largesize follows the type".
            h.u32(1);
            h.extend_from_slice(b"mdat");
            h.u64(payload_len + 16);
            return h;
        }
    }
    h.extend_from_slice(b"mdat");
    h
}

pub(super) fn ftyp() -> Vec<u8> {
    let mut p = b"isom".to_vec();
    p.u32(0x200);
    for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
        p.extend_from_slice(brand);
    }
    boxed(b"ftyp", &p)
}

fn matrix(p: &mut Vec<u8>) {
    for v in [0x10000u32, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000] {
        p.u32(v);
    }
}

/// Zero creation/modification times, then `duration`; 64-bit (version 1) only when needed.
fn times_and_duration(p: &mut Vec<u8>, middle: &[u8], duration: u64) -> u8 {
    match u32::try_from(duration) {
        Ok(d) => {
            p.zeros(8);
            p.extend_from_slice(middle);
            p.u32(d);
            0
        }
        Err(_) => {
            p.zeros(16);
            p.extend_from_slice(middle);
            p.u64(duration);
            1
        }
    }
}

pub(super) fn mvhd(duration: u64, next_track: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(108);
    let version = times_and_duration(&mut p, &(MOVIE_TIMESCALE as u32).to_be_bytes(), duration);
    p.u32(0x0001_0000); // rate 1.0
    p.u16(0x0100); // volume 1.0
    p.zeros(10);
    matrix(&mut p);
    p.zeros(24);
    p.u32(next_track);
    full_box(b"mvhd", version, 0, &p)
}

/// Track header; `width`/`height` are 0 for audio.
pub(super) fn tkhd(id: u32, duration: u64, volume: u16, width: u32, height: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(92);
    let mut middle = id.to_be_bytes().to_vec();
    middle.zeros(4);
    let version = times_and_duration(&mut p, &middle, duration);
    p.zeros(8);
    p.zeros(4); // layer, alternate_group
    p.u16(volume);
    p.zeros(2);
    matrix(&mut p);
    p.u32(width << 16);
    p.u32(height << 16);
    // Flags 3: track enabled and used in the presentation.
    full_box(b"tkhd", version, 3, &p)
}

/// An edit list of (segment duration in movie ticks, media time, or -1 for an empty edit).
pub(super) fn edts(edits: &[(u64, i64)]) -> Vec<u8> {
    let wide = edits
        .iter()
        .any(|&(seg, media)| u32::try_from(seg).is_err() || i32::try_from(media).is_err());
    let mut p = Vec::with_capacity(4 + edits.len() * 20);
    p.u32(edits.len() as u32);
    for &(seg, media) in edits {
        if wide {
            p.u64(seg);
            p.u64(media as u64);
        } else {
            p.u32(seg as u32);
            p.u32(media as i32 as u32);
        }
        p.u32(0x0001_0000); // media rate 1.0
    }
    boxed(b"edts", &full_box(b"elst", u8::from(wide), 0, &p))
}

pub(super) fn mdhd(timescale: u32, duration: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(32);
    let version = times_and_duration(&mut p, &timescale.to_be_bytes(), duration);
    // Language "und": three 5-bit letters, each minus 0x60.
    p.u16(0x55c4);
    p.zeros(2);
    full_box(b"mdhd", version, 0, &p)
}

pub(super) fn hdlr(kind: &[u8; 4], name: &str) -> Vec<u8> {
    let mut p = vec![0u8; 4];
    p.extend_from_slice(kind);
    p.zeros(12);
    p.extend_from_slice(name.as_bytes());
    p.push(0);
    full_box(b"hdlr", 0, 0, &p)
}

pub(super) fn vmhd() -> Vec<u8> {
    // Flags 1 is required by the spec; graphicsmode copy, opcolor unused.
    full_box(b"vmhd", 0, 1, &[0u8; 8])
}

pub(super) fn smhd() -> Vec<u8> {
    full_box(b"smhd", 0, 0, &[0u8; 4])
}

pub(super) fn dinf() -> Vec<u8> {
    let mut dref = Vec::new();
    dref.u32(1);
    // Flag 1: the media data is in this same file.
    dref.extend_from_slice(&full_box(b"url ", 0, 1, &[]));
    boxed(b"dinf", &full_box(b"dref", 0, 0, &dref))
}

/// An `stsd` holding one sample entry.
pub(super) fn stsd(entry: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(entry.len() + 4);
    p.u32(1);
    p.extend_from_slice(entry);
    full_box(b"stsd", 0, 0, &p)
}

/// The `avc1` sample entry with its `avcC` (one SPS, one PPS) and a square-pixel `pasp`.
pub(super) fn avc1(cfg: VideoTrackConfig, sps: &[u8], pps: &[u8], compressor: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(128 + sps.len() + pps.len());
    p.zeros(6);
    p.u16(1); // data_reference_index
    p.zeros(16);
    p.u16(cfg.width as u16);
    p.u16(cfg.height as u16);
    p.u32(0x0048_0000); // 72 dpi
    p.u32(0x0048_0000);
    p.zeros(4);
    p.u16(1); // frame_count
    let mut name = [0u8; 32];
    let label = &compressor.as_bytes()[..compressor.len().min(31)];
    name[0] = label.len() as u8;
    name[1..=label.len()].copy_from_slice(label);
    p.extend_from_slice(&name);
    p.u16(0x0018); // depth: colour, no alpha
    p.u16(0xffff); // pre_defined -1
    let mut avcc = vec![
        1,
        sps.get(1).copied().unwrap_or(66),
        sps.get(2).copied().unwrap_or(0),
        sps.get(3).copied().unwrap_or(30),
        0xfc | 3, // 4-byte NAL lengths
        0xe0 | 1, // one SPS
    ];
    avcc.u16(sps.len() as u16);
    avcc.extend_from_slice(sps);
    avcc.push(1); // one PPS
    avcc.u16(pps.len() as u16);
    avcc.extend_from_slice(pps);
    // High profiles (x264's output) add chroma format and bit depths (ISO/IEC 14496-15).
    if let Ok(s) = crate::h264::sps::parse_sps(sps) {
        if matches!(s.profile_idc, 100 | 110 | 122 | 144 | 244) {
            let depth = s.bit_depth.saturating_sub(8).min(7) as u8;
            avcc.push(0xfc | (s.chroma_format_idc.min(3) as u8));
            avcc.push(0xf8 | depth);
            avcc.push(0xf8 | depth);
            avcc.push(0); // no SPS extensions
        }
    }
    p.extend_from_slice(&boxed(b"avcC", &avcc));
    let mut pasp = Vec::with_capacity(8);
    pasp.u32(1);
    pasp.u32(1);
    p.extend_from_slice(&boxed(b"pasp", &pasp));
    boxed(b"avc1", &p)
}

/// An MPEG-4 descriptor: tag, expandable length (7 bits a byte, high bit = more), payload.
pub(super) fn descriptor(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut len = vec![(payload.len() & 0x7f) as u8];
    let mut rest = payload.len() >> 7;
    while rest > 0 {
        len.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    len.reverse();
    let mut d = Vec::with_capacity(1 + len.len() + payload.len());
    d.push(tag);
    d.extend_from_slice(&len);
    d.extend_from_slice(payload);
    d
}

/// The `mp4a` sample entry; its `esds` carries the source's decoder configuration unchanged.
pub(super) fn mp4a(cfg: &AudioTrackConfig) -> Vec<u8> {
    let mut p = Vec::with_capacity(80 + cfg.decoder_specific_info.len());
    p.zeros(6);
    p.u16(1); // data_reference_index
    p.zeros(8);
    p.u16(cfg.channels);
    p.u16(16); // samplesize
    p.zeros(4);
    // 16.16 fixed point cannot hold rates above 65535 Hz; the esds has the real rate then.
    p.u32(if cfg.sample_rate <= 0xffff {
        cfg.sample_rate << 16
    } else {
        0
    });
    let mut dcd = vec![cfg.object_type_indication, (0x05 << 2) | 1];
    dcd.extend_from_slice(&cfg.buffer_size_db.min(0x00ff_ffff).to_be_bytes()[1..]);
    dcd.u32(cfg.max_bitrate);
    dcd.u32(cfg.avg_bitrate);
    dcd.extend_from_slice(&descriptor(5, &cfg.decoder_specific_info));
    let mut es = vec![0, 0, 0]; // ES_ID 0, no dependency/URL/OCR flags
    es.extend_from_slice(&descriptor(4, &dcd));
    es.extend_from_slice(&descriptor(6, &[2])); // SLConfig predefined for MP4 files
    p.extend_from_slice(&full_box(b"esds", 0, 0, &descriptor(3, &es)));
    boxed(b"mp4a", &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_lengths_use_the_expandable_form() {
        assert_eq!(descriptor(5, &[9; 3])[..2], [5, 3]);
        assert_eq!(descriptor(5, &[0; 200])[..3], [5, 0x81, 0x48]);
        assert_eq!(descriptor(5, &[0; 127])[..2], [5, 127]);
        assert_eq!(descriptor(5, &[0; 128])[..3], [5, 0x81, 0x00]);
    }

    #[test]
    fn big_mdat_gets_a_largesize_header() {
        assert_eq!(mdat_header(10), [0, 0, 0, 18, b'm', b'd', b'a', b't']);
        let big = mdat_header(5 << 30);
        assert_eq!(big.len(), 16);
        assert_eq!(big[..8], [0, 0, 0, 1, b'm', b'd', b'a', b't']);
        assert_eq!(big[8..], ((5u64 << 30) + 16).to_be_bytes());
    }

    #[test]
    fn long_durations_switch_to_version_1() {
        let short = mdhd(12288, 1000);
        assert_eq!(short.len(), 32);
        assert_eq!(short[8], 0);
        let long = mdhd(12288, u64::from(u32::MAX) + 1);
        assert_eq!(long.len(), 44);
        assert_eq!(long[8], 1);
        assert_eq!(mvhd(5, 2).len(), 108);
        assert_eq!(tkhd(1, 5, 0, 320, 240).len(), 92);
        assert_eq!(tkhd(1, 1 << 40, 0, 320, 240).len(), 104);
    }

    #[test]
    fn empty_edit_is_minus_one() {
        let e = edts(&[(500, -1), (2000, 1024)]);
        // edts(8) + elst header(12) + count(4), then the first entry.
        assert_eq!(e[24..32], [0, 0, 0x01, 0xf4, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(e[36..44], [0, 0, 0x07, 0xd0, 0, 0, 0x04, 0]);
    }
}
