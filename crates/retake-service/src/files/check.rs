//! What a file's bytes are: sniffed from their first bytes, then read as an image or probed
//! as a clip, against the type the client declared.

use std::path::Path;

use retake_media::{load_image, Limits, VideoReader};

use crate::edits::Kind;

/// The types a file may declare, and what each is.
pub(super) const TYPES: [(&str, Kind); 5] = [
    ("video/mp4", Kind::Video),
    ("video/quicktime", Kind::Video),
    ("image/png", Kind::Image),
    ("image/jpeg", Kind::Image),
    ("image/webp", Kind::Image),
];

pub(super) fn kind_of(mime: &str) -> Option<Kind> {
    let m = mime.trim().to_ascii_lowercase();
    let m = if m == "image/jpg" {
        "image/jpeg".into()
    } else {
        m
    };
    TYPES.iter().find(|(t, _)| *t == m).map(|(_, k)| *k)
}

pub(super) fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Video => "a video",
        Kind::Image => "an image",
    }
}

/// What the first bytes of a file say it is, if one of the types retake reads.
fn sniff(head: &[u8]) -> Option<&'static str> {
    Some(crate::uploads::sniff(head)).filter(|t| kind_of(t).is_some())
}

/// Checks a file's bytes against its declared type: the type the bytes really are, or why
/// the file fails (said so that the client knows what to send instead).
pub(super) fn check_bytes(
    path: &Path,
    declared: &str,
    limits: &Limits,
) -> std::result::Result<String, String> {
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| format!("its bytes could not be read back ({e}); upload it again"))?;
    let Some(found) = sniff(&head[..n]) else {
        return Err(format!(
            "its bytes are not an MP4/QuickTime clip or a PNG, JPEG or WebP image (declared \
             {declared}); upload one of those"
        ));
    };
    let (want, got) = (kind_of(declared), kind_of(found));
    if want != got {
        return Err(format!(
            "mime_type says {declared} but the bytes are {found}; create it again with \
             mime_type {found}"
        ));
    }
    match got {
        Some(Kind::Image) => load_image(path)
            .map(|_| ())
            .map_err(|e| format!("the image cannot be read: {e}")),
        _ => VideoReader::open(path, limits)
            .map(|_| ())
            .map_err(|e| format!("the clip cannot be used: {e}")),
    }?;
    Ok(found.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_sniffed_and_named() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n0000"), Some("image/png"));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom"), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  "), Some("video/quicktime"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(kind_of("IMAGE/JPG"), Some(Kind::Image));
        assert_eq!(kind_of("video/webm"), None);
    }

    #[test]
    fn a_file_whose_bytes_are_not_its_type_fails_with_the_type_to_send() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let png = {
            let f = retake_media::RgbFrame::filled(8, 8, [1, 2, 3]);
            retake_media::save_png(&f, &p).unwrap();
            std::fs::read(&p).unwrap()
        };
        let limits = Limits::default();
        assert_eq!(check_bytes(&p, "image/png", &limits).unwrap(), "image/png");
        let e = check_bytes(&p, "video/mp4", &limits).unwrap_err();
        assert!(e.contains("the bytes are image/png"), "{e}");
        std::fs::write(&p, &png[..20]).unwrap();
        let e = check_bytes(&p, "image/png", &limits).unwrap_err();
        assert!(e.contains("cannot be read"), "{e}");
        std::fs::write(&p, b"hello, world, not a file").unwrap();
        let e = check_bytes(&p, "image/png", &limits).unwrap_err();
        assert!(e.contains("not an MP4/QuickTime clip"), "{e}");
    }
}
