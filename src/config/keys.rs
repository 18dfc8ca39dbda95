//! The signing keys: where they live (`keys_dir`), how often each instance looks for
//! changes (`key_poll_interval`), and the algorithm of keys it generates
//! (`signing_alg`). The key-encryption key is read from the environment only (see
//! `Settings::load`).

use super::file::{FileConfig, seconds};
use super::{ConfigError, SettingsArgs};
use crate::keys::Alg;
use std::path::PathBuf;

/// The key settings, as `Settings` holds them.
pub(super) struct Keys {
    pub keys_dir: PathBuf,
    pub key_poll_interval: u64,
    pub signing_alg: Alg,
}

pub(super) fn keys(
    args: &SettingsArgs,
    file: &mut FileConfig,
    fapi2: bool,
) -> Result<Keys, ConfigError> {
    let keys_dir = args
        .keys_dir
        .clone()
        .or(file.keys_dir.take())
        .unwrap_or_else(|| PathBuf::from("keys"));
    let key_poll_interval = seconds(
        "key_poll_interval",
        None,
        file.key_poll_interval,
        5,
        1..=300,
        "",
    )?;
    let signing_alg = parse_signing_alg(
        args.signing_alg
            .as_deref()
            .or(file.signing_alg.as_deref())
            // FAPI 2.0 §5.4: no RSASSA-PKCS1-v1_5.
            .unwrap_or(if fapi2 { "ES256" } else { "RS256" }),
    )?;
    if fapi2 && signing_alg == Alg::Rs256 {
        return Err(ConfigError(
            "signing_alg RS256 is not allowed under the FAPI 2.0 profile: use ES256 or EdDSA"
                .to_owned(),
        ));
    }
    Ok(Keys {
        keys_dir,
        key_poll_interval: key_poll_interval as u64,
        signing_alg,
    })
}

/// Parses the `signing_alg` setting.
fn parse_signing_alg(raw: &str) -> Result<Alg, ConfigError> {
    Alg::parse(raw).ok_or_else(|| {
        ConfigError(format!(
            "signing_alg `{}` is not supported (supported: RS256, ES256, EdDSA)",
            raw.escape_default()
        ))
    })
}
