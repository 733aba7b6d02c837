//! A bounds-checked reader over ISO-BMFF (MP4/MOV) box payloads.
//!
//! Every read returns an error instead of panicking, so a damaged file can only ever produce
//! `MediaError::Corrupt`.

use crate::{MediaError, Result};

/// A cursor over one box's payload.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// The box being read, for error messages.
    context: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], context: &'static str) -> Self {
        Self {
            data,
            pos: 0,
            context,
        }
    }

    fn short(&self, wanted: usize) -> MediaError {
        MediaError::Corrupt(format!(
            "'{}' box is cut short (needed {wanted} more bytes at offset {} of {})",
            self.context,
            self.pos,
            self.data.len()
        ))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.short(n));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self) -> Result<u32> {
        let b = self.bytes(3)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Reads the version byte and 24-bit flags of a "full box".
    pub(crate) fn full_header(&mut self) -> Result<(u8, u32)> {
        let v = self.u8()?;
        let f = self.u24()?;
        Ok((v, f))
    }

    /// Reads a table entry count and checks that `entry_size`-byte entries fit in the box,
    /// so a forged count cannot make us allocate gigabytes.
    pub(crate) fn count(&mut self, entry_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(entry_size) > self.remaining() {
            return Err(MediaError::Corrupt(format!(
                "'{}' box claims {n} entries but holds only {} bytes",
                self.context,
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// Iterates over the child boxes that fill the rest of this payload.
    pub(crate) fn children(&mut self) -> Children<'a> {
        Children {
            data: self.rest(),
            pos: 0,
            parent: self.context,
        }
    }
}

/// One parsed box: its four-character type and payload.
pub(crate) struct RawBox<'a> {
    pub(crate) kind: [u8; 4],
    pub(crate) payload: &'a [u8],
}

impl<'a> RawBox<'a> {
    pub(crate) fn cursor(&self, context: &'static str) -> Cursor<'a> {
        Cursor::new(self.payload, context)
    }
}

/// Iterator over sibling boxes.
pub(crate) struct Children<'a> {
    data: &'a [u8],
    pos: usize,
    parent: &'static str,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<RawBox<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.data.len() - self.pos;
        if left == 0 {
            return None;
        }
        // Some writers pad containers with a few zero bytes; a header cannot fit, so stop.
        if left < 8 {
            self.pos = self.data.len();
            return None;
        }
        let d = &self.data[self.pos..];
        let size32 = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as u64;
        let kind = [d[4], d[5], d[6], d[7]];
        let (header, size) = match size32 {
            0 => (8u64, left as u64),
            1 => {
                if left < 16 {
                    return Some(Err(self.corrupt("a 64-bit box header is cut short")));
                }
                let mut a = [0u8; 8];
                a.copy_from_slice(&d[8..16]);
                (16, u64::from_be_bytes(a))
            }
            s => (8, s),
        };
        if size < header || size > left as u64 {
            self.pos = self.data.len();
            return Some(Err(self.corrupt(&format!(
                "box '{}' claims {size} bytes but only {left} remain",
                fourcc(&kind)
            ))));
        }
        let payload = &d[header as usize..size as usize];
        self.pos += size as usize;
        Some(Ok(RawBox { kind, payload }))
    }
}

impl Children<'_> {
    fn corrupt(&self, what: &str) -> MediaError {
        MediaError::Corrupt(format!("inside '{}': {what}", self.parent))
    }
}

/// Renders a four-character code for messages, replacing unprintable bytes.
pub(crate) fn fourcc(kind: &[u8; 4]) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Finds the first child of the given type.
pub(crate) fn find<'a>(mut parent: Cursor<'a>, kind: &[u8; 4]) -> Result<Option<RawBox<'a>>> {
    for child in parent.children() {
        let child = child?;
        if &child.kind == kind {
            return Ok(Some(child));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_reject_oversized_box() {
        let mut data = vec![0, 0, 0, 100];
        data.extend_from_slice(b"moov");
        data.extend_from_slice(&[0; 10]);
        let mut c = Cursor::new(&data, "file");
        let err = c.children().next().unwrap().err().unwrap();
        assert!(err.to_string().contains("claims 100 bytes"), "{err}");
    }

    #[test]
    fn count_rejects_forged_entry_count() {
        let data = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        let mut c = Cursor::new(&data, "stsz");
        let err = c.count(4).unwrap_err();
        assert!(
            err.to_string().contains("claims 4294967295 entries"),
            "{err}"
        );
    }

    #[test]
    fn reads_are_bounds_checked() {
        let data = [1u8, 2];
        let mut c = Cursor::new(&data, "tkhd");
        assert_eq!(c.u8().unwrap(), 1);
        assert!(c.u32().is_err());
    }
}
