//! Opaque, tamper-proof `$skipToken`s: the management cluster's continue token, signed with an
//! HMAC-SHA256 under the frontend's key and base64url-encoded.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Seal a continue token.
pub fn seal(key: &[u8], token: &str) -> String {
    let mut data = hmac(key, token.as_bytes()).to_vec();
    data.extend_from_slice(token.as_bytes());
    URL_SAFE_NO_PAD.encode(data)
}

/// Open a sealed token; `None` when it was not made with `key` or was altered.
pub fn open(key: &[u8], sealed: &str) -> Option<String> {
    let data = URL_SAFE_NO_PAD.decode(sealed.trim_end_matches('=')).ok()?;
    if data.len() < 32 {
        return None;
    }
    let (mac, token) = data.split_at(32);
    let expected = hmac(key, token);
    // Constant-time comparison.
    let diff = mac
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return None;
    }
    String::from_utf8(token.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let key = b"key";
        let sealed = seal(key, "continue-123");
        assert_eq!(open(key, &sealed).as_deref(), Some("continue-123"));
        assert_eq!(open(b"other", &sealed), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(open(key, &URL_SAFE_NO_PAD.encode(bytes)), None);
        assert_eq!(open(key, "!!!"), None);
        assert_eq!(open(key, ""), None);
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
