//! Signed, expiring links: `?expires=<unix s>&sig=<HMAC-SHA256>`, so a URL in `assets.video`
//! works in a browser or player without the API key, and a Files API upload link takes one
//! file's bytes without it, until it expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs and checks asset links with the server's secret.
#[derive(Clone)]
pub struct LinkSigner {
    secret: Vec<u8>,
}

/// HMAC takes keys of any length, so this is `None` only in theory.
/// `what` names the link's object with its kind (`video:<generation>`,
/// `file-put:<key>:<file>`), so a link of one kind never passes for another.
fn mac(secret: &[u8], what: &str, expires: i64) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(format!("{what}:{expires}").as_bytes());
    Some(m)
}

impl LinkSigner {
    /// A signer with `secret` (kept in the data folder so links survive restarts).
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// The query string `expires=…&sig=…` for `generation`, valid until `expires` (Unix s).
    pub fn query(&self, generation: &str, expires: i64) -> String {
        self.signed(&format!("video:{generation}"), expires)
    }

    /// The query string `expires=…&sig=…` of an upload link for file `file` of key `key`.
    pub fn file_query(&self, key: &str, file: &str, expires: i64) -> String {
        self.signed(&format!("file-put:{key}:{file}"), expires)
    }

    /// Whether an upload link's `sig` is right for `key`'s file `file` and still valid.
    pub fn verify_file(&self, key: &str, file: &str, expires: i64, sig: &str, now: i64) -> bool {
        self.check(&format!("file-put:{key}:{file}"), expires, sig, now)
    }

    fn signed(&self, what: &str, expires: i64) -> String {
        let sig = mac(&self.secret, what, expires)
            .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        format!("expires={expires}&sig={sig}")
    }

    /// Whether `sig` is right for `generation` and `expires` is still ahead of `now` (Unix s).
    pub fn verify(&self, generation: &str, expires: i64, sig: &str, now: i64) -> bool {
        self.check(&format!("video:{generation}"), expires, sig, now)
    }

    fn check(&self, what: &str, expires: i64, sig: &str, now: i64) -> bool {
        if expires < now {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        mac(&self.secret, what, expires).is_some_and(|m| m.verify_slice(&raw).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire() {
        let s = LinkSigner::new(b"secret".to_vec());
        let q = s.query("g1", 1000);
        let sig = q.split("sig=").nth(1).unwrap();
        assert!(s.verify("g1", 1000, sig, 999));
        assert!(!s.verify("g1", 1000, sig, 1001));
        assert!(!s.verify("g2", 1000, sig, 999));
        assert!(!s.verify("g1", 1001, sig, 999));
        assert!(!LinkSigner::new(b"other".to_vec()).verify("g1", 1000, sig, 999));
        assert!(!s.verify("g1", 1000, "!!", 999));
        // An upload link is its own kind, for one key's one file.
        let q = s.file_query("k1", "f1", 1000);
        let fsig = q.split("sig=").nth(1).unwrap();
        assert!(s.verify_file("k1", "f1", 1000, fsig, 999));
        assert!(!s.verify_file("k2", "f1", 1000, fsig, 999));
        assert!(!s.verify_file("k1", "f2", 1000, fsig, 999));
        assert!(!s.verify_file("k1", "f1", 1000, fsig, 1001));
        assert!(!s.verify("f1", 1000, fsig, 999));
        assert!(!s.verify_file("k1", "g1", 1000, sig, 999));
    }
}
