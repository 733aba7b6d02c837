//! API keys: `rtk_<id>_<secret>`. The id finds the row; only SHA-256 of the secret is stored,
//! and it is compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ServiceError;

const PREFIX: &str = "rtk";

/// A freshly made key: the token (shown once) and what the store keeps.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// The public id (part of the token).
    pub id: String,
    /// The whole token the client sends as `Authorization: Bearer <token>`.
    pub token: String,
    /// SHA-256 of the secret part.
    pub secret_hash: [u8; 32],
    /// The key's webhook signing secret, raw bytes.
    pub webhook_secret: Vec<u8>,
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| ServiceError::Internal(format!("no randomness from the OS: {e}")))?;
    Ok(b)
}

/// Makes a new random key.
pub fn new_key() -> Result<NewKey, ServiceError> {
    let id: String = random_bytes::<6>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    Ok(NewKey {
        token: format!("{PREFIX}_{id}_{secret}"),
        secret_hash: hash_secret(&secret),
        webhook_secret: random_bytes::<24>()?.to_vec(),
        id,
    })
}

/// SHA-256 of a key's secret part.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Splits a token into (id, secret), or says what is wrong with it.
pub fn parse_token(token: &str) -> Result<(&str, &str), ServiceError> {
    let mut parts = token.splitn(3, '_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(PREFIX), Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id, secret))
        }
        _ => Err(invalid_key()),
    }
}

/// Whether `secret` hashes to `stored`, in time that does not depend on where they differ.
pub fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    let h = hash_secret(secret);
    stored.len() == h.len() && bool::from(h.ct_eq(stored))
}

/// The one message for every wrong key, so the response does not tell which part was wrong.
pub fn invalid_key() -> ServiceError {
    ServiceError::Unauthorized(
        "invalid API key; send `Authorization: Bearer <key>` with a key from `retake keys create`"
            .into(),
    )
}

/// Reads the bearer token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, ServiceError> {
    let value = header.ok_or_else(|| {
        ServiceError::Unauthorized(
            "missing API key; send `Authorization: Bearer <key>` or `x-api-key: <key>` (create one with `retake keys create`)"
                .into(),
        )
    })?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(invalid_key)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ServiceError::Unauthorized(format!(
            "Authorization scheme `{scheme}` is not supported; use `Authorization: Bearer <key>`"
        )));
    }
    Ok(token.trim())
}

/// The Standard Webhooks form of a signing secret: `whsec_<base64>`.
pub fn webhook_secret_string(raw: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD;
    format!("whsec_{}", STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_verifies_and_a_changed_one_does_not() {
        let k = new_key().unwrap();
        let (id, secret) = parse_token(&k.token).unwrap();
        assert_eq!(id, k.id);
        assert!(secret_matches(secret, &k.secret_hash));
        let mut wrong = secret.to_string();
        wrong.push('x');
        assert!(!secret_matches(&wrong, &k.secret_hash));
        assert!(!secret_matches(secret, &k.secret_hash[..31]));
    }

    #[test]
    fn malformed_tokens_and_headers_are_refused() {
        for t in ["", "rtk", "rtk_abc", "xyz_a_b", "rtk__x"] {
            assert!(parse_token(t).is_err(), "{t}");
        }
        assert!(bearer(None)
            .unwrap_err()
            .to_string()
            .contains("missing API key"));
        assert!(bearer(Some("Basic abc"))
            .unwrap_err()
            .to_string()
            .contains("Bearer"));
        assert_eq!(bearer(Some("bearer  rtk_a_b ")).unwrap(), "rtk_a_b");
    }
}
