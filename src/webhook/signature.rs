//! The webhook signature: `x-thaw-signature: sha256=<hex HMAC-SHA256 of the raw body>`.
//! Verified in constant time (ring's `hmac::verify`), so timing never tells an attacker how
//! many leading bytes of a forged signature were right.

use ring::hmac;

/// The header carrying the signature (Lambda lowercases header names).
pub const HEADER: &str = "x-thaw-signature";
const PREFIX: &str = "sha256=";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {HEADER} header")]
    Missing,
    #[error("{HEADER} is not sha256=<64 hex digits>")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

/// Checks `header` (the signature header's value, if any) against `body`.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex = header
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))
        .map(|_| &header[PREFIX.len()..])
        .ok_or(SignatureError::Malformed)?;
    let tag = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, body, &tag).map_err(|_| SignatureError::Mismatch)
}

/// The header value a sender would compute (tests and example clients).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, body);
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for byte in tag.as_ref() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Exactly 32 bytes of hex (either case).
fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let nibble = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(nibble(pair[0])? << 4 | nibble(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_hmac_sha256_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_correct_signature_verifies_in_either_hex_case() {
        let header = sign(b"secret", b"{\"a\":1}");
        assert_eq!(verify(b"secret", b"{\"a\":1}", Some(&header)), Ok(()));
        let upper = format!("SHA256={}", header[7..].to_ascii_uppercase());
        assert_eq!(verify(b"secret", b"{\"a\":1}", Some(&upper)), Ok(()));
    }

    #[test]
    fn anything_else_is_rejected() {
        let body = b"{\"a\":1}";
        let good = sign(b"secret", body);
        assert_eq!(verify(b"secret", body, None), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"other", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", b"{\"a\":2}", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        let mut flipped = good.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(
            verify(b"secret", body, Some(&flipped)),
            Err(SignatureError::Mismatch)
        );
        for malformed in [
            "",
            "sha256=",
            &good[7..],
            "sha1=0000",
            &format!("{good}00"),
            &good[..good.len() - 1],
            "sha256=zz00000000000000000000000000000000000000000000000000000000000000",
            "sha256=é000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(
                verify(b"secret", body, Some(malformed)),
                Err(SignatureError::Malformed),
                "{malformed:?}"
            );
        }
    }
}
