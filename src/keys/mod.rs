//! Signing keys: files in the keys directory, parsed once into `Signer`s, published
//! as a JWK Set, and used to sign RFC 9068 access tokens.
//!
//! Key files are PKCS#8 PEM, mode 0600, never served and never logged. An empty
//! directory gets a fresh RSA-2048 key on first start; the file lock makes concurrent
//! first starts of several instances generate one key, not several.

pub mod jwks;
pub mod signer;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwks::{Jwk, JwkSet, PublishedJwks};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde::Serialize;
use signer::Signer;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Key handling failures. Messages name files, never key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys directory {path}: {reason}")]
    Directory { path: PathBuf, reason: String },
    #[error("key file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("signing failed")]
    Sign,
    #[error("cannot generate a key: {0}")]
    Generate(String),
}

/// A strong ETag for a response body: a truncated SHA-256 of it.
pub fn etag_for(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest.as_ref()[..18]))
}

/// One loaded key: its id, its parsed signer, and the JWS header it signs under.
pub struct SigningKey {
    pub kid: String,
    pub path: PathBuf,
    pub modified: i64,
    signer: Signer,
    /// The same key for verification, built once.
    decoding: jsonwebtoken::DecodingKey,
    jwk: Jwk,
    /// base64url of `{"alg":…,"kid":…,"typ":"at+jwt"}`, computed once per key.
    header_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.signer.alg())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_pem(path: &Path, pem: &str, modified: i64) -> Result<Self, KeyError> {
        let bad = |reason: String| KeyError::File {
            path: path.to_owned(),
            reason,
        };
        let der = pem_to_der(pem).ok_or_else(|| bad("not a PKCS#8 PEM private key".to_owned()))?;
        let signer = Signer::rsa_from_pkcs8(&der).map_err(|e| bad(e.to_string()))?;
        let (n, e) = signer.rsa_public_components();
        let (n, e) = (URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e));
        let kid = rsa_thumbprint(&n, &e);
        let header = serde_json::json!({ "alg": signer.alg(), "kid": kid, "typ": "at+jwt" });
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        let decoding = jsonwebtoken::DecodingKey::from_rsa_components(&n, &e)
            .map_err(|e| bad(format!("public key: {e}")))?;
        let jwk = Jwk {
            kty: "RSA".to_owned(),
            use_: "sig".to_owned(),
            alg: signer.alg().to_owned(),
            kid: kid.clone(),
            n,
            e,
        };
        Ok(Self {
            kid,
            path: path.to_owned(),
            modified,
            signer,
            decoding,
            jwk,
            header_b64,
        })
    }

    pub fn alg(&self) -> &'static str {
        self.signer.alg()
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with `typ: at+jwt` (RFC 9068 §2.1).
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        // header.payload.signature; RSA-2048 signatures are 342 base64url characters.
        let mut jwt = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 350);
        jwt.push_str(&self.header_b64);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jwt);
        let signature = self.signer.sign(jwt.as_bytes())?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jwt);
        Ok(jwt)
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order.
fn rsa_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The keys an instance holds: the one that signs, and all that are published.
#[derive(Debug)]
pub struct KeySet {
    active: usize,
    keys: Vec<SigningKey>,
    jwks: PublishedJwks,
}

impl KeySet {
    /// The key new tokens are signed with.
    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    pub fn jwks(&self) -> &PublishedJwks {
        &self.jwks
    }

    /// Verifies an access token issued by this server: a key of ours by `kid`, the
    /// signature, `typ: at+jwt` (RFC 9068 §4) and `iss`. Expiry is the caller's to
    /// check against its clock. `None` for anything that is not such a token.
    pub fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
    ) -> Option<crate::oauth::claims::AccessTokenClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some("at+jwt") {
            return None;
        }
        let kid = header.kid?;
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "exp"]);
        jsonwebtoken::decode(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// Loads every key in `dir`, generating one first if there is none.
    pub fn load_or_generate(dir: &Path) -> Result<Self, KeyError> {
        ensure_dir(dir)?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| dir_error(dir, format!("cannot open lock file: {e}")))?;
        // Exclusive while checking and generating, so two instances starting together
        // on one directory do not both generate a key.
        lock.lock()
            .map_err(|e| dir_error(dir, format!("cannot lock: {e}")))?;
        let result = (|| {
            if list_key_files(dir)?.is_empty() {
                generate_rsa_key(dir)?;
            }
            Self::load(dir)
        })();
        drop(lock);
        result
    }

    /// Loads every key in `dir`; fails when there is none.
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for path in list_key_files(dir)? {
            let meta = fs::metadata(&path).map_err(|e| file_error(&path, e.to_string()))?;
            // A private key others can read is already compromised on a shared host.
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(file_error(
                    &path,
                    format!(
                        "is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
                        path.display()
                    ),
                ));
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            let pem = fs::read_to_string(&path).map_err(|e| file_error(&path, e.to_string()))?;
            let key = SigningKey::from_pem(&path, &pem, modified)?;
            verify_round_trip(&key)?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(dir_error(dir, "holds no key (*.pem)".to_owned()));
        }
        // Newest first; the newest key signs.
        keys.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.kid.cmp(&b.kid)));
        keys.dedup_by(|a, b| a.kid == b.kid);
        let jwks = PublishedJwks::new(&JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        });
        Ok(Self {
            active: 0,
            keys,
            jwks,
        })
    }
}

/// Proves at load time that a token signed by our signer verifies with the standard
/// decoder against the published JWK, so a bad key fails start-up, not every request.
fn verify_round_trip(key: &SigningKey) -> Result<(), KeyError> {
    let probe = serde_json::json!({ "probe": true, "exp": 4_102_444_800_i64 });
    let token = key.sign_jwt(&probe)?;
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&jsonwebtoken::jwk::Jwk {
        common: jsonwebtoken::jwk::CommonParameters {
            key_id: Some(key.jwk.kid.clone()),
            ..Default::default()
        },
        algorithm: jsonwebtoken::jwk::AlgorithmParameters::RSA(
            jsonwebtoken::jwk::RSAKeyParameters {
                key_type: jsonwebtoken::jwk::RSAKeyType::RSA,
                n: key.jwk.n.clone(),
                e: key.jwk.e.clone(),
            },
        ),
    })
    .map_err(|e| KeyError::Invalid(format!("key {}: {e}", key.kid)))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
        .map(|_| ())
        .map_err(|e| KeyError::Invalid(format!("key {} fails its self-test: {e}", key.kid)))
}

fn dir_error(dir: &Path, reason: String) -> KeyError {
    KeyError::Directory {
        path: dir.to_owned(),
        reason,
    }
}

fn file_error(path: &Path, reason: String) -> KeyError {
    KeyError::File {
        path: path.to_owned(),
        reason,
    }
}

fn ensure_dir(dir: &Path) -> Result<(), KeyError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(dir_error(dir, "exists but is not a directory".to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| dir_error(dir, format!("cannot create: {e}"))),
        Err(e) => Err(dir_error(dir, e.to_string())),
    }
}

fn list_key_files(dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
    let entries = fs::read_dir(dir).map_err(|e| dir_error(dir, format!("cannot read: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| dir_error(dir, e.to_string()))?.path();
        if path.extension().is_some_and(|x| x == "pem") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Generates an RSA-2048 key with the `rsa` crate and writes it as PKCS#8 PEM, 0600.
fn generate_rsa_key(dir: &Path) -> Result<PathBuf, KeyError> {
    let mut rng = rsa::rand_core::OsRng;
    let key =
        rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Generate(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let parsed = SigningKey::from_pem(Path::new("<new key>"), &pem, 0)?;
    let path = dir.join(format!("{}.pem", parsed.kid));
    let tmp = dir.join(format!(".{}.pem.tmp", parsed.kid));
    {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| file_error(&tmp, format!("cannot create: {e}")))?;
        file.write_all(pem.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| file_error(&tmp, e.to_string()))?;
    }
    // Rename is atomic: readers never see a half-written key.
    fs::rename(&tmp, &path).map_err(|e| file_error(&path, e.to_string()))?;
    tracing::info!(kid = %parsed.kid, path = %path.display(), "generated a new RS256 signing key");
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = KeySet::load_or_generate(dir.path()).unwrap();
        let b = KeySet::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.active().kid, b.active().kid);
        assert_eq!(list_key_files(dir.path()).unwrap().len(), 1);
        let mode = fs::metadata(&a.active().path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(a.jwks().etag, b.jwks().etag);
    }

    #[test]
    fn concurrent_first_starts_generate_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let kids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        KeySet::load_or_generate(dir.path())
                            .unwrap()
                            .active()
                            .kid
                            .clone()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(list_key_files(dir.path()).unwrap().len(), 1);
        assert!(kids.iter().all(|k| k == &kids[0]));
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let set = KeySet::load_or_generate(dir.path()).unwrap();
        fs::set_permissions(&set.active().path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeySet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pem");
        fs::write(&path, "not a key").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = KeySet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("x.pem"), "{err}");
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1 example key.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
