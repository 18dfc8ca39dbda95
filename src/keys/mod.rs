//! Signing keys: files in the keys directory, parsed once into `Signer`s, published
//! as a JWK Set, and used to sign RFC 9068 access tokens.
//!
//! Key files are PKCS#8 PEM, mode 0600, never served and never logged. An empty
//! directory gets a fresh RSA-2048 key on first start; the file lock makes concurrent
//! first starts of several instances generate one key, not several.
//!
//! One file at ~800 lines (about 140 of them tests): loading, states and publishing
//! of one key set are a single lifecycle, and splitting it would scatter its invariants.

pub mod jwks;
pub mod lifecycle;
pub mod sealed;
pub mod secret;
pub mod signer;
mod verify;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwks::{Jwk, JwkSet, PublishedJwks};
use lifecycle::{KeyState, Manifest, Schedule};
pub use sealed::Kek;
use serde::Serialize;
pub use signer::Alg;
use signer::{PublicKey, Signer};
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
    /// From the manifest (or the file's mtime for a key it does not list).
    pub schedule: Schedule,
    signer: Signer,
    /// The same key for verification, built once.
    decoding: jsonwebtoken::DecodingKey,
    jwk: Jwk,
    /// base64url of `{"alg":…,"kid":…,"typ":"at+jwt"}`, computed once per key.
    header_b64: String,
    /// The same with `"typ":"JWT"`, for ID tokens.
    id_header_b64: String,
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
        let signer = Signer::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let alg = signer.alg().as_str().to_owned();
        // RFC 7638 §3.2: the required members only, in lexicographic order.
        let (mut jwk, canonical) = match signer.public_key() {
            PublicKey::Rsa { n, e } => {
                let (n, e) = (b64(&n), b64(&e));
                let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                (jwk_base("RSA", &alg).with_rsa(n, e), canonical)
            }
            PublicKey::P256 { x, y } => {
                let (x, y) = (b64(&x), b64(&y));
                let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                (
                    jwk_base("EC", &alg).with_curve("P-256", x, Some(y)),
                    canonical,
                )
            }
            PublicKey::Ed25519 { x } => {
                let x = b64(&x);
                let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                (
                    jwk_base("OKP", &alg).with_curve("Ed25519", x, None),
                    canonical,
                )
            }
        };
        let kid = b64(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref());
        jwk.kid = kid.clone();
        let decoding = decoding_key(&jwk).map_err(|e| bad(format!("public key: {e}")))?;
        verify::register(jwt_alg(signer.alg()), &decoding)
            .map_err(|e| bad(format!("public key: {e}")))?;
        let header_of = |typ: &str| {
            let header = serde_json::json!({ "alg": alg, "kid": kid, "typ": typ });
            URL_SAFE_NO_PAD.encode(header.to_string())
        };
        let (header_b64, id_header_b64) = (header_of("at+jwt"), header_of("JWT"));
        Ok(Self {
            kid,
            path: path.to_owned(),
            modified,
            schedule: Schedule {
                activate_at: modified,
                retired_at: None,
            },
            signer,
            decoding,
            jwk,
            header_b64,
            id_header_b64,
        })
    }

    pub fn alg(&self) -> Alg {
        self.signer.alg()
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with `typ: at+jwt` (RFC 9068 §2.1).
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.sign_with(&self.header_b64, claims)
    }

    /// Signs an ID token: `typ: JWT` (OpenID Connect Core §2 recommends no other),
    /// so that it never passes for an access token.
    pub fn sign_id_token(
        &self,
        claims: &crate::oauth::id_token::IdTokenClaims,
    ) -> Result<String, KeyError> {
        self.sign_with(&self.id_header_b64, claims)
    }

    fn sign_with<T: Serialize>(&self, header_b64: &str, claims: &T) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        // header.payload.signature; an RSA-2048 signature is 342 base64url characters.
        let mut jwt = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 350);
        jwt.push_str(header_b64);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jwt);
        let signature = self.signer.sign(jwt.as_bytes())?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jwt);
        Ok(jwt)
    }
}

fn jwk_base(kty: &str, alg: &str) -> Jwk {
    Jwk {
        kty: kty.to_owned(),
        use_: "sig".to_owned(),
        alg: alg.to_owned(),
        kid: String::new(),
        n: None,
        e: None,
        crv: None,
        x: None,
        y: None,
    }
}

impl Jwk {
    fn with_rsa(mut self, n: String, e: String) -> Self {
        self.n = Some(n);
        self.e = Some(e);
        self
    }

    fn with_curve(mut self, crv: &str, x: String, y: Option<String>) -> Self {
        self.crv = Some(crv.to_owned());
        self.x = Some(x);
        self.y = y;
        self
    }
}

/// A jsonwebtoken verification key for one of our public JWKs.
fn decoding_key(jwk: &Jwk) -> Result<jsonwebtoken::DecodingKey, String> {
    use poem_openapi::types::ToJSON;
    let parsed: jsonwebtoken::jwk::Jwk =
        serde_json::from_str(&jwk.to_json_string()).map_err(|e| e.to_string())?;
    jsonwebtoken::DecodingKey::from_jwk(&parsed).map_err(|e| e.to_string())
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

/// The keys an instance holds at one moment: which signs, which are published.
#[derive(Debug)]
pub struct KeySet {
    active: usize,
    /// Parsed once per change on disk; shared by the sets derived from it over time.
    keys: std::sync::Arc<Vec<SigningKey>>,
    states: Vec<KeyState>,
    jwks: PublishedJwks,
}

impl KeySet {
    /// The key new tokens are signed with.
    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    /// Every key on disk with its state.
    pub fn keys(&self) -> impl Iterator<Item = (&SigningKey, KeyState)> {
        self.keys.iter().zip(self.states.iter().copied())
    }

    /// How many keys are in each state, every state named (for metrics).
    pub fn state_counts(&self) -> [(&'static str, usize); 4] {
        let count = |want: KeyState| self.states.iter().filter(|s| **s == want).count();
        [
            ("active", count(KeyState::Active)),
            ("next", count(KeyState::Next)),
            ("retired", count(KeyState::Retired)),
            ("expired", count(KeyState::Expired)),
        ]
    }

    pub fn jwks(&self) -> &PublishedJwks {
        &self.jwks
    }

    /// Verifies an access token issued by this server: a published key of ours by
    /// `kid`, the signature, `typ: at+jwt` (RFC 9068 §4) and `iss`. Expiry is the
    /// caller's to check against its clock. `None` for anything else.
    pub fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
    ) -> Option<crate::oauth::claims::AccessTokenClaims> {
        self.verify_typed(token, issuer, "at+jwt", &["iss", "sub", "exp"])
    }

    /// Verifies an ID token this server issued (for `id_token_hint`): a published
    /// key of ours, the signature, `typ: JWT` and `iss`. Expiry is not checked: a
    /// hint may have expired (RP-Initiated Logout §2). An access token (`at+jwt`)
    /// never passes.
    pub fn verify_id_token(
        &self,
        token: &str,
        issuer: &str,
    ) -> Option<crate::oauth::id_token::IdTokenClaims> {
        self.verify_typed(token, issuer, "JWT", &["iss", "sub", "aud"])
    }

    /// A JWT of ours with header `typ`: a published key by `kid`, its signature,
    /// `iss`, and the `required` claims present. Neither `exp` nor `aud` is checked.
    fn verify_typed<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        typ: &str,
        required: &[&str],
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some(typ) {
            return None;
        }
        let kid = header.kid?;
        let (key, _) = self
            .keys()
            .find(|(k, state)| k.kid == kid && state.published())?;
        let mut validation = jsonwebtoken::Validation::new(jwt_alg(key.alg()));
        validation.set_issuer(&[issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(required);
        jsonwebtoken::decode(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The JWS algorithms of the published keys, in a stable order.
    pub fn published_algs(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = self
            .keys()
            .filter(|(_, state)| state.published())
            .map(|(k, _)| k.alg().as_str())
            .collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }

    /// Loads every key in `dir`, generating one (active at once) if there is none.
    pub fn load_or_generate(
        dir: &Path,
        alg: Alg,
        now: i64,
        ttl: i64,
        kek: Option<&Kek>,
    ) -> Result<Self, KeyError> {
        with_dir_lock(dir, || {
            if list_key_files(dir)?.is_empty() {
                let kid = generate_key(dir, alg, kek)?;
                let mut manifest = Manifest::read(dir)?;
                manifest.keys.insert(
                    kid,
                    Schedule {
                        activate_at: now,
                        retired_at: None,
                    },
                );
                manifest.write(dir)?;
            }
            Ok(())
        })?;
        Self::load(dir, now, ttl, kek)
    }

    /// Loads every key in `dir` and works out each one's state at `now`, given the
    /// longest token lifetime `ttl`. Fails when there is no key.
    pub fn load(dir: &Path, now: i64, ttl: i64, kek: Option<&Kek>) -> Result<Self, KeyError> {
        let manifest = Manifest::read(dir)?;
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
            let text = fs::read_to_string(&path).map_err(|e| file_error(&path, e.to_string()))?;
            let pem = match (sealed::is_sealed(&text), kek) {
                (true, Some(kek)) => sealed::open(kek, &text).map_err(|e| file_error(&path, e))?,
                (true, None) => {
                    return Err(file_error(
                        &path,
                        format!(
                            "is encrypted; set {} to the key-encryption secret",
                            sealed::ENV
                        ),
                    ));
                }
                (false, Some(_)) => {
                    tracing::warn!(path = %path.display(), "key file is not encrypted although a key-encryption key is set; rotate to replace it");
                    text
                }
                (false, None) => text,
            };
            let key = SigningKey::from_pem(&path, &pem, modified)?;
            verify_round_trip(&key)?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(dir_error(dir, "holds no key (*.pem)".to_owned()));
        }
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        keys.dedup_by(|a, b| a.kid == b.kid);
        // A key the manifest does not know (placed by hand) counts from its mtime.
        for key in &mut keys {
            key.schedule = manifest.keys.get(&key.kid).copied().unwrap_or(Schedule {
                activate_at: key.modified,
                retired_at: None,
            });
        }
        Self::at(std::sync::Arc::new(keys), now, ttl).ok_or_else(|| {
            dir_error(
                dir,
                "every key is retired; run `latchkey keys rotate`".to_owned(),
            )
        })
    }

    /// The same keys as seen at `now`: only the states and the JWKS are recomputed,
    /// no file is read and no key parsed. `None` if no key could sign.
    pub fn at_time(&self, now: i64, ttl: i64) -> Option<Self> {
        Self::at(self.keys.clone(), now, ttl)
    }

    fn at(keys: std::sync::Arc<Vec<SigningKey>>, now: i64, ttl: i64) -> Option<Self> {
        let schedules: Vec<Schedule> = keys.iter().map(|k| k.schedule).collect();
        let states = lifecycle::states(&schedules, now, ttl);
        let active = states.iter().position(|s| *s == KeyState::Active)?;
        let jwks = PublishedJwks::new(&JwkSet {
            keys: keys
                .iter()
                .zip(&states)
                .filter(|(_, s)| s.published())
                .map(|(k, _)| k.jwk.clone())
                .collect(),
        });
        Some(Self {
            active,
            keys,
            states,
            jwks,
        })
    }

    /// Whether two sets sign with the same key and publish the same keys.
    pub fn same_states(&self, other: &KeySet) -> bool {
        self.states == other.states && std::sync::Arc::ptr_eq(&self.keys, &other.keys)
    }
}

/// Runs `f` holding the directory's exclusive lock, so concurrent starts and CLI
/// commands on one directory do not race (one key generated, manifest not clobbered).
fn with_dir_lock<T>(dir: &Path, f: impl FnOnce() -> Result<T, KeyError>) -> Result<T, KeyError> {
    ensure_dir(dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(".lock"))
        .map_err(|e| dir_error(dir, format!("cannot open lock file: {e}")))?;
    lock.lock()
        .map_err(|e| dir_error(dir, format!("cannot lock: {e}")))?;
    let result = f();
    drop(lock);
    result
}

/// `keys rotate`: a new key of `alg`, published now, signing from `activate_at`.
pub fn rotate(
    dir: &Path,
    alg: Alg,
    activate_at: i64,
    kek: Option<&Kek>,
) -> Result<String, KeyError> {
    with_dir_lock(dir, || {
        let kid = generate_key(dir, alg, kek)?;
        let mut manifest = Manifest::read(dir)?;
        manifest.keys.insert(
            kid.clone(),
            Schedule {
                activate_at,
                retired_at: None,
            },
        );
        manifest.write(dir)?;
        Ok(kid)
    })
}

/// `keys retire KID`: stops the key signing now; it stays published until the
/// tokens it signed have expired. Refused for the only key that could sign.
pub fn retire(
    dir: &Path,
    kid: &str,
    now: i64,
    ttl: i64,
    kek: Option<&Kek>,
) -> Result<(), KeyError> {
    with_dir_lock(dir, || {
        let set = KeySet::load(dir, now, ttl, kek)?;
        if !set.keys.iter().any(|k| k.kid == kid) {
            return Err(KeyError::Invalid(format!("no key with kid {kid}")));
        }
        let mut manifest = Manifest::read(dir)?;
        for k in set.keys.iter() {
            manifest.keys.entry(k.kid.clone()).or_insert(k.schedule);
        }
        // The active key cannot be retired: an older key would start signing again,
        // or a next key before resource servers have it. Rotate first.
        if set.active().kid == kid {
            return Err(KeyError::Invalid(format!(
                "{kid} is the active signing key; run `latchkey keys rotate`, wait until the new key is active, then retire this one"
            )));
        }
        let mut candidate = manifest;
        if let Some(entry) = candidate.keys.get_mut(kid) {
            entry.retired_at = Some(now);
        }
        candidate.write(dir)
    })
}

/// A cheap summary of the directory (names, sizes, mtimes) to notice changes.
pub fn fingerprint(dir: &Path) -> Vec<(String, u64, i64)> {
    let mut out: Vec<(String, u64, i64)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let relevant = name.ends_with(".pem") || name == lifecycle::MANIFEST;
            let meta = e.metadata().ok()?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_nanos() as i64;
            relevant.then_some((name, meta.len(), mtime))
        })
        .collect();
    out.sort();
    out
}

/// The key set every request reads, swapped whole when the directory or the time
/// changes what is active or published. Readers never block each other.
pub struct KeyRing {
    current: std::sync::RwLock<std::sync::Arc<KeySet>>,
}

impl KeyRing {
    pub fn new(set: KeySet) -> Self {
        Self {
            current: std::sync::RwLock::new(std::sync::Arc::new(set)),
        }
    }

    pub fn get(&self) -> std::sync::Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, set: KeySet) {
        let new = std::sync::Arc::new(set);
        match self.current.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

/// Proves at load time that a token signed by our signer verifies with the standard
/// decoder against the published JWK, so a bad key fails start-up, not every request.
fn verify_round_trip(key: &SigningKey) -> Result<(), KeyError> {
    let probe = serde_json::json!({ "probe": true, "exp": 4_102_444_800_i64 });
    let token = key.sign_jwt(&probe)?;
    let mut validation = jsonwebtoken::Validation::new(jwt_alg(key.alg()));
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation)
        .map(|_| ())
        .map_err(|e| KeyError::Invalid(format!("key {} fails its self-test: {e}", key.kid)))
}

fn jwt_alg(alg: Alg) -> jsonwebtoken::Algorithm {
    match alg {
        Alg::Rs256 => jsonwebtoken::Algorithm::RS256,
        Alg::Es256 => jsonwebtoken::Algorithm::ES256,
        Alg::EdDsa => jsonwebtoken::Algorithm::EdDSA,
    }
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

/// Generates a key for `alg` and writes it as PKCS#8 PEM, mode 0600, atomically.
pub fn generate_key(dir: &Path, alg: Alg, kek: Option<&Kek>) -> Result<String, KeyError> {
    let der = Signer::generate_pkcs8(alg)?;
    let pem = der_to_pem(&der);
    let parsed = SigningKey::from_pem(Path::new("<new key>"), &pem, 0)?;
    let contents = match kek {
        Some(kek) => sealed::seal(kek, &pem)?,
        None => pem,
    };
    let path = write_private(dir, &format!("{}.pem", parsed.kid), &contents)?;
    tracing::info!(kid = %parsed.kid, alg = alg.as_str(), path = %path.display(), "generated a signing key");
    Ok(parsed.kid)
}

/// Writes `contents` to `dir/name`, mode 0600, atomically: a temporary file,
/// synced, then renamed, so readers never see half a file. Returns the path.
fn write_private(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, KeyError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| file_error(&tmp, format!("cannot create: {e}")))?;
        file.write_all(contents.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| file_error(&tmp, e.to_string()))?;
    }
    fs::rename(&tmp, &path).map_err(|e| file_error(&path, e.to_string()))?;
    Ok(path)
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = KeySet::load_or_generate(dir.path(), Alg::Rs256, 1_000, 3600, None).unwrap();
        let b = KeySet::load_or_generate(dir.path(), Alg::Rs256, 1_000, 3600, None).unwrap();
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
                        KeySet::load_or_generate(dir.path(), Alg::Rs256, 1_000, 3600, None)
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
        let set = KeySet::load_or_generate(dir.path(), Alg::Rs256, 1_000, 3600, None).unwrap();
        fs::set_permissions(&set.active().path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeySet::load(dir.path(), 1_000, 3600, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pem");
        fs::write(&path, "not a key").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = KeySet::load(dir.path(), 1_000, 3600, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.pem"), "{err}");
    }

    #[test]
    fn every_algorithm_signs_tokens_its_jwk_verifies() {
        for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
            let dir = tempfile::tempdir().unwrap();
            let set = KeySet::load_or_generate(dir.path(), alg, 1_000, 3600, None).unwrap();
            let key = set.active();
            assert_eq!(key.alg(), alg);
            let claims = serde_json::json!({
                "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800_i64, "iat": 1,
                "jti": "j", "client_id": "c", "scope": "x",
            });
            let token = key.sign_jwt(&claims).unwrap();
            let verified = set.verify_access_token(&token, "i").unwrap();
            assert_eq!(verified.sub, "s");
            assert!(set.verify_access_token(&token, "other-issuer").is_none());
        }
    }

    /// Verification goes through keys parsed once (`verify.rs`); it must still refuse
    /// a changed payload, a changed signature, and another key's signature sent under
    /// our `kid`, for every algorithm.
    #[test]
    fn parsed_keys_refuse_forgeries() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = serde_json::json!({
            "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800_i64, "iat": 1,
            "jti": "j", "client_id": "c", "scope": "x",
        });
        for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
            let ours_dir = tempfile::tempdir().unwrap();
            let ours = KeySet::load_or_generate(ours_dir.path(), alg, 1_000, 3600, None).unwrap();
            let other_dir = tempfile::tempdir().unwrap();
            let other = KeySet::load_or_generate(other_dir.path(), alg, 1_000, 3600, None).unwrap();
            let token = ours.active().sign_jwt(&claims).unwrap();
            assert!(ours.verify_access_token(&token, "i").is_some(), "{alg:?}");
            let parts: Vec<&str> = token.split('.').collect();

            let mut forged_claims = claims.clone();
            forged_claims["sub"] = "admin".into();
            let payload = URL_SAFE_NO_PAD.encode(forged_claims.to_string());
            let changed_payload = format!("{}.{payload}.{}", parts[0], parts[2]);
            assert!(ours.verify_access_token(&changed_payload, "i").is_none());

            let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            sig[7] ^= 1;
            let changed_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
            assert!(ours.verify_access_token(&changed_sig, "i").is_none());

            // The other key signs our header (our kid) and payload.
            let message = format!("{}.{}", parts[0], parts[1]);
            let sig = other.active().signer.sign(message.as_bytes()).unwrap();
            let wrong_key = format!("{message}.{}", URL_SAFE_NO_PAD.encode(sig));
            assert!(
                ours.verify_access_token(&wrong_key, "i").is_none(),
                "{alg:?}"
            );
            assert!(other.verify_access_token(&token, "i").is_none());
        }
    }

    #[test]
    fn thumbprints_match_the_rfc_examples() {
        // RFC 7638 §3.1 (RSA) and RFC 8037 Appendix A.3 (Ed25519).
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let thumb = |canonical: String| {
            URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                canonical.as_bytes(),
            ))
        };
        assert_eq!(
            thumb(format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#)),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(
            thumb(r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#.to_owned()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
