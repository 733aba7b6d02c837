//! CLIP's byte-level BPE tokenizer, read from `tokenizer/vocab.json` and `merges.txt`.
//!
//! Follows transformers' `CLIPTokenizer` without ftfy: whitespace cleaned, lower-cased, split
//! into letter runs, single digits and punctuation runs, each BPE-merged with a `</w>` end mark.

use crate::config::read_json;
use crate::error::{DiffusionError, Result};
use std::collections::HashMap;
use std::path::Path;

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
/// transformers reads at most this many merges (the CLIP vocabulary minus bytes and specials).
const MAX_MERGES: usize = 49152 - 256 - 2;

/// A loaded CLIP tokenizer.
#[derive(Clone, Debug)]
pub struct ClipTokenizer {
    vocab: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    byte_chars: [char; 256],
    bos: u32,
    eos: u32,
    pad: u32,
    pad_token: String,
    max_len: usize,
}

impl ClipTokenizer {
    /// Loads the vocabulary, merges and (optional) `tokenizer_config.json` for the pad token.
    pub fn load(vocab: &Path, merges: &Path, tokenizer_config: Option<&Path>) -> Result<Self> {
        let vocab_map: HashMap<String, u32> = read_json(vocab)?;
        let text = std::fs::read_to_string(merges).map_err(|source| DiffusionError::Io {
            path: merges.to_path_buf(),
            source,
        })?;
        let mut ranks = HashMap::new();
        // Like transformers, the first line (the `#version` header) is always skipped.
        for (rank, line) in text.trim().lines().skip(1).take(MAX_MERGES).enumerate() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(a), Some(b)) => {
                    ranks.insert((a.to_string(), b.to_string()), rank);
                }
                _ => {
                    return Err(DiffusionError::BadConfig {
                        path: merges.to_path_buf(),
                        reason: format!("line {} is not a merge pair: {line:?}", rank + 2),
                    })
                }
            }
        }
        let special = |tok: &str| {
            vocab_map
                .get(tok)
                .copied()
                .ok_or_else(|| DiffusionError::BadConfig {
                    path: vocab.to_path_buf(),
                    reason: format!("the vocabulary lacks the special token {tok}"),
                })
        };
        let bos = special(BOS)?;
        let eos = special(EOS)?;
        let (pad_token, max_len) = match tokenizer_config {
            Some(p) => read_pad(p)?,
            None => (EOS.to_string(), 77),
        };
        let pad = special(&pad_token)?;
        Ok(Self {
            vocab: vocab_map,
            ranks,
            byte_chars: byte_chars(),
            bos,
            eos,
            pad,
            pad_token,
            max_len,
        })
    }

    /// The fixed sequence length (77 for SD).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Sets the sequence length (the text encoder's `max_position_embeddings` caps it).
    pub fn set_max_len(&mut self, n: usize) {
        self.max_len = n.max(2);
    }

    /// Token ids of `text`, with start and end tokens, truncated and padded to `max_len`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.bos];
        let cleaned = clean(text);
        // Like transformers, the special tokens (SD 2's pad token `!` among them) are matched
        // in the text before BPE and map straight to their ids.
        let mut words = Vec::new();
        for (i, part) in cleaned.split(self.pad_token.as_str()).enumerate() {
            if i > 0 {
                words.push(self.pad_token.clone());
            }
            words.extend(pre_tokenize(part));
        }
        'words: for word in words {
            if word == self.pad_token {
                if ids.len() >= self.max_len - 1 {
                    break;
                }
                ids.push(self.pad);
                continue;
            }
            let mapped: String = word.bytes().map(|b| self.byte_chars[b as usize]).collect();
            for piece in self.bpe(&mapped) {
                if ids.len() >= self.max_len - 1 {
                    break 'words;
                }
                ids.push(self.vocab.get(&piece).copied().unwrap_or(self.eos));
            }
        }
        ids.push(self.eos);
        ids.resize(self.max_len, self.pad);
        ids
    }

    fn bpe(&self, word: &str) -> Vec<String> {
        if word == BOS || word == EOS {
            return vec![word.to_string()];
        }
        let chars: Vec<char> = word.chars().collect();
        let Some((last, init)) = chars.split_last() else {
            return Vec::new();
        };
        let mut parts: Vec<String> = init.iter().map(|c| c.to_string()).collect();
        parts.push(format!("{last}</w>"));
        loop {
            let best = parts
                .windows(2)
                .filter_map(|w| {
                    self.ranks
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|r| (*r, w))
                })
                .min_by_key(|(r, _)| *r)
                .map(|(_, w)| (w[0].clone(), w[1].clone()));
            let Some((a, b)) = best else { break };
            let mut merged = Vec::with_capacity(parts.len());
            let mut i = 0;
            while i < parts.len() {
                if i + 1 < parts.len() && parts[i] == a && parts[i + 1] == b {
                    merged.push(format!("{a}{b}"));
                    i += 2;
                } else {
                    merged.push(std::mem::take(&mut parts[i]));
                    i += 1;
                }
            }
            parts = merged;
            if parts.len() == 1 {
                break;
            }
        }
        parts
    }
}

fn read_pad(path: &Path) -> Result<(String, usize)> {
    let v: serde_json::Value = read_json(path)?;
    let pad = match v.get("pad_token") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(obj) => obj
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or(EOS)
            .to_string(),
        None => EOS.to_string(),
    };
    let max_len = v
        .get("model_max_length")
        .and_then(|m| m.as_u64())
        .filter(|m| *m <= 4096)
        .unwrap_or(77) as usize;
    Ok((pad, max_len))
}

/// GPT-2's reversible map from bytes to printable characters.
fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut n = 0;
    for b in 0..256u32 {
        let c = if printable(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        out[b as usize] = char::from_u32(c).unwrap_or('?');
    }
    out
}

/// Control characters dropped, whitespace runs collapsed to one space, lower case.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for w in text
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(
            w.chars()
                .filter(|c| !c.is_control())
                .flat_map(char::to_lowercase),
        );
    }
    out
}

/// CLIP's split: special tokens, contractions, letter runs, single digits, other-symbol runs.
fn pre_tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let starts = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    let other = |c: char| !c.is_whitespace() && !c.is_alphabetic() && !c.is_numeric();
    while i < chars.len() {
        let c = chars[i];
        if let Some(sp) = [BOS, EOS].into_iter().find(|s| starts(i, s)) {
            out.push(sp.to_string());
            i += sp.chars().count();
        } else if let Some(ct) = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
            .into_iter()
            .find(|s| starts(i, s))
        {
            out.push(ct.to_string());
            i += ct.len();
        } else if c.is_alphabetic() {
            let j = (i..chars.len())
                .find(|&j| !chars[j].is_alphabetic())
                .unwrap_or(chars.len());
            out.push(chars[i..j].iter().collect());
            i = j;
        } else if c.is_numeric() {
            out.push(c.to_string());
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            let j = (i..chars.len())
                .find(|&j| !other(chars[j]))
                .unwrap_or(chars.len());
            out.push(chars[i..j].iter().collect());
            i = j;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_clip() {
        assert_eq!(
            pre_tokenize("it's a neon-city, 42!!"),
            ["it", "'s", "a", "neon", "-", "city", ",", "4", "2", "!!"]
        );
        assert_eq!(clean("  Film\tNOIR \n"), "film noir");
    }

    #[test]
    fn byte_map_is_a_bijection() {
        let m = byte_chars();
        let set: std::collections::HashSet<char> = m.iter().copied().collect();
        assert_eq!(set.len(), 256);
        assert_eq!(m[b'a' as usize], 'a');
        assert_eq!(m[b' ' as usize], 'Ġ');
    }
}
