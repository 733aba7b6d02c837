//! Signed, expiring links to outputs: `?expires=<unix s>&sig=<HMAC-SHA256>`, so a URL in
//! `assets.video` works in a browser or player without the API key, until it expires.

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
fn mac(secret: &[u8], generation: &str, expires: i64) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(format!("video:{generation}:{expires}").as_bytes());
    Some(m)
}

impl LinkSigner {
    /// A signer with `secret` (kept in the data folder so links survive restarts).
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// The query string `expires=…&sig=…` for `generation`, valid until `expires` (Unix s).
    pub fn query(&self, generation: &str, expires: i64) -> String {
        let sig = mac(&self.secret, generation, expires)
            .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        format!("expires={expires}&sig={sig}")
    }

    /// Whether `sig` is right for `generation` and `expires` is still ahead of `now` (Unix s).
    pub fn verify(&self, generation: &str, expires: i64, sig: &str, now: i64) -> bool {
        if expires < now {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        mac(&self.secret, generation, expires).is_some_and(|m| m.verify_slice(&raw).is_ok())
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
    }
}
