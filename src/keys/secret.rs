//! Secrets every instance on one keys directory must share that are not signing
//! keys: today the key of DPoP server nonces. A file `<name>.secret` beside the
//! keys (mode 0600, sealed when a key-encryption key is set), made on first use
//! under the directory lock so that instances starting together make one.

use super::{Kek, KeyError, file_error, sealed, with_dir_lock, write_private};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The 32-byte secret `name` of the keys directory `dir`, made if absent.
pub fn shared_secret(dir: &Path, name: &str, kek: Option<&Kek>) -> Result<[u8; 32], KeyError> {
    let path = dir.join(format!("{name}.secret"));
    with_dir_lock(dir, || {
        if !path.exists() {
            let mut secret = [0u8; 32];
            aws_lc_rs::rand::fill(&mut secret)
                .map_err(|_| KeyError::Generate("no randomness".to_owned()))?;
            let text = STANDARD.encode(secret);
            let contents = match kek {
                Some(kek) => sealed::seal(kek, &text)?,
                None => format!("{text}\n"),
            };
            write_private(dir, &format!("{name}.secret"), &contents)?;
            tracing::info!(path = %path.display(), "generated a shared secret");
        }
        Ok(())
    })?;
    let mode = fs::metadata(&path)
        .map_err(|e| file_error(&path, e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(file_error(
            &path,
            format!(
                "is readable by group or others (mode {:04o}); run `chmod 600 {}`",
                mode & 0o777,
                path.display()
            ),
        ));
    }
    let text = fs::read_to_string(&path).map_err(|e| file_error(&path, e.to_string()))?;
    let text = match (sealed::is_sealed(&text), kek) {
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
        (false, _) => text,
    };
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
        .ok_or_else(|| file_error(&path, "is not 32 bytes of base64".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_read_back_sealed_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = shared_secret(dir.path(), "dpop-nonce", None).unwrap();
        let b = shared_secret(dir.path(), "dpop-nonce", None).unwrap();
        assert_eq!(a, b);
        let path = dir.path().join("dpop-nonce.secret");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let kek = Kek::from_secret("a key-encryption secret of enough length").unwrap();
        let sealed_a = shared_secret(dir.path(), "other", Some(&kek)).unwrap();
        assert!(sealed::is_sealed(
            &fs::read_to_string(dir.path().join("other.secret")).unwrap()
        ));
        assert_eq!(
            shared_secret(dir.path(), "other", Some(&kek)).unwrap(),
            sealed_a
        );
        assert!(shared_secret(dir.path(), "other", None).is_err());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(shared_secret(dir.path(), "dpop-nonce", None).is_err());
    }
}
