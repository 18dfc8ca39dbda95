//! Optional encryption of private key files at rest (AES-256-GCM), with a
//! key-encryption key taken from the environment (`LATCHKEY_KEY_ENCRYPTION_KEY`).
//!
//! Threat model: protects key files that leave the machine without the environment —
//! backups, copied volumes, a keys directory on shared storage, a stray `git add`.
//! It does not protect against anyone who can read the server's environment or
//! memory (root, a debugger, the process itself), who has both halves.

use super::KeyError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const BEGIN: &str = "-----BEGIN LATCHKEY ENCRYPTED PRIVATE KEY-----";
const END: &str = "-----END LATCHKEY ENCRYPTED PRIVATE KEY-----";
/// Binds the ciphertext to its purpose and format version.
const AAD: &[u8] = b"latchkey private key v1";
pub const ENV: &str = "LATCHKEY_KEY_ENCRYPTION_KEY";
const MIN_SECRET: usize = 32;

/// The key-encryption key. Never printed.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

impl Kek {
    /// Derives the AES key from an operator secret of at least 32 characters with
    /// HKDF-SHA256, so any long random string (e.g. `openssl rand -base64 32`) works.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        if secret.len() < MIN_SECRET {
            return Err(format!(
                "{ENV} must be at least {MIN_SECRET} characters of random data"
            ));
        }
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"latchkey key encryption");
        let prk = salt.extract(secret.as_bytes());
        let okm = prk
            .expand(&[b"aes-256-gcm"], ring::hkdf::HKDF_SHA256)
            .map_err(|_| "key derivation failed".to_owned())?;
        let mut key = [0u8; 32];
        okm.fill(&mut key)
            .map_err(|_| "key derivation failed".to_owned())?;
        Ok(Self(key))
    }

    fn aead(&self) -> Result<LessSafeKey, KeyError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| KeyError::Invalid("bad key-encryption key".to_owned()))
    }
}

pub fn is_sealed(text: &str) -> bool {
    text.trim_start().starts_with(BEGIN)
}

/// Encrypts a PEM private key into Latchkey's sealed format.
pub fn seal(kek: &Kek, pem: &str) -> Result<String, KeyError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| KeyError::Generate("no randomness".to_owned()))?;
    let mut data = pem.as_bytes().to_vec();
    kek.aead()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD),
            &mut data,
        )
        .map_err(|_| KeyError::Invalid("encryption failed".to_owned()))?;
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&data);
    let b64 = STANDARD.encode(blob);
    let mut out = format!("{BEGIN}\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    Ok(out)
}

/// Decrypts a sealed key back to its PEM. Fails on a wrong key or any tampering.
pub fn open(kek: &Kek, sealed: &str) -> Result<String, String> {
    let body: String = sealed
        .trim()
        .strip_prefix(BEGIN)
        .and_then(|s| s.strip_suffix(END))
        .ok_or("not a sealed key")?
        .split_whitespace()
        .collect();
    let blob = STANDARD
        .decode(body)
        .map_err(|_| "not a sealed key".to_owned())?;
    if blob.len() < NONCE_LEN + 16 {
        return Err("truncated sealed key".to_owned());
    }
    let (nonce, rest) = blob.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_owned())?;
    let mut data = rest.to_vec();
    let plain = kek
        .aead()
        .map_err(|e| e.to_string())?
        .open_in_place(nonce, Aad::from(AAD), &mut data)
        .map_err(|_| format!("cannot decrypt: wrong {ENV}, or the file was altered"))?;
    String::from_utf8(plain.to_vec()).map_err(|_| "decrypted key is not PEM".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let kek = Kek::from_secret("0123456789abcdef0123456789abcdef").unwrap();
        let sealed = seal(
            &kek,
            "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("abc"));
        assert!(open(&kek, &sealed).unwrap().contains("abc"));
        let other = Kek::from_secret("another secret that is long enough!!").unwrap();
        assert!(open(&other, &sealed).is_err());
        let mut tampered: Vec<char> = sealed.chars().collect();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
        assert!(open(&kek, &tampered.into_iter().collect::<String>()).is_err());
        assert!(Kek::from_secret("short").is_err());
        assert!(!format!("{kek:?}").contains("01234"));
    }
}
