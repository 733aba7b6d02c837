//! A bounded fuzz run for the test suite: the fuzz targets' entry points fed their seeds,
//! every committed crash regression, and byte-level mutations of the seeds for a fixed
//! time. Not coverage-guided (that is what `fuzz/`, with libFuzzer, is for, outside CI);
//! cheap enough for every CI run, and it replays what the long runs found.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small, seedable generator (xorshift64*), so a failing run can be repeated.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Values that trip length and count fields.
const INTERESTING: &[u32] = &[
    0,
    1,
    2,
    7,
    8,
    15,
    16,
    31,
    32,
    63,
    64,
    127,
    128,
    255,
    256,
    1023,
    1024,
    4095,
    4096,
    65535,
    65536,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// One mutation of `input`, sometimes spliced with `other`.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = out.len();
        match rng.below(9) {
            // Flip a bit.
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            // A random byte.
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next_u64() as u8;
            }
            // An interesting 32-bit value, big-endian (box sizes, counts).
            2 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                out[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            // An interesting 16-bit value.
            3 if len >= 2 => {
                let i = rng.below(len - 1);
                let v = INTERESTING[rng.below(INTERESTING.len())] as u16;
                out[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            // Cut the end off.
            4 if len > 0 => out.truncate(rng.below(len)),
            // Remove a range.
            5 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                out.drain(a..b);
            }
            // Duplicate a range in place.
            6 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                let piece = out[a..b].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, piece);
            }
            // Splice in part of another input.
            7 if !other.is_empty() => {
                let a = rng.below(other.len());
                let b = (a + 1 + rng.below(512)).min(other.len());
                let at = rng.below(len + 1);
                let end = (at + (b - a)).min(len);
                out.splice(at..end, other[a..b].iter().copied());
            }
            // Insert random bytes.
            _ => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                out.splice(at..at, bytes);
            }
        }
    }
    out
}

/// Every file in `dir` (none when it does not exist), sorted by name.
pub fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// How long each target runs in the test suite: `RETAKE_FUZZ_SECONDS`, default 5.
pub fn budget() -> Duration {
    let secs = std::env::var("RETAKE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct FuzzReport {
    /// Inputs run.
    pub execs: u64,
}

/// Runs `target` on every seed, then on mutations of them until `budget` is spent. When
/// the target panics, the input is saved in the fixture folder, its path printed, and the
/// panic goes on (so the test fails and names the file to turn into a regression).
pub fn run(name: &str, seeds: &[Vec<u8>], budget: Duration, target: impl Fn(&[u8])) -> FuzzReport {
    let started = Instant::now();
    // A new sequence each run (more ground covered over many CI runs); RETAKE_FUZZ_SEED
    // repeats one.
    let seed = std::env::var("RETAKE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let mut report = FuzzReport::default();
    let mut check = |input: &[u8]| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
            let path = crate::fixture_dir().join(format!("fuzz-crash-{name}-{}", report.execs));
            let _ = std::fs::write(&path, input);
            eprintln!(
                "fuzz target {name} panicked on an input saved as {} (RETAKE_FUZZ_SEED={seed}); \
                 copy it to fuzz/regressions/{name}/ once fixed",
                path.display()
            );
            std::panic::resume_unwind(panic);
        }
        report.execs += 1;
    };
    for s in seeds {
        check(s);
    }
    let empty = Vec::new();
    let mut rng = Rng::new(seed);
    while started.elapsed() < budget {
        let base = seeds.get(rng.below(seeds.len())).unwrap_or(&empty);
        let other = seeds.get(rng.below(seeds.len())).unwrap_or(&empty);
        let input = mutate(&mut rng, base, other);
        check(&input);
    }
    eprintln!(
        "fuzz {name}: {} inputs in {:.1} s (RETAKE_FUZZ_SEED={seed})",
        report.execs,
        started.elapsed().as_secs_f64()
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_reproducible_and_change_the_input() {
        let seed = b"ftypisom0123456789abcdef".to_vec();
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let mut changed = 0;
        for _ in 0..200 {
            let x = mutate(&mut a, &seed, b"other input");
            assert_eq!(x, mutate(&mut b, &seed, b"other input"));
            changed += usize::from(x != seed);
        }
        assert!(changed > 150, "{changed} of 200 changed");
    }
}
