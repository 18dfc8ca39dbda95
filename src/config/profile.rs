//! Security profiles and hardening switches for the authorization endpoint:
//! `--profile fapi2` (the FAPI 2.0 Security Profile) and `--require-par` (every
//! authorization request pushed to `/oauth/par` first, RFC 9126 §6).

use super::file::FileConfig;
use super::{ConfigError, SettingsArgs};

/// How strict the server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Profile {
    /// The FAPI 2.0 Security Profile: PAR, PKCE, `private_key_jwt`, DPoP, and
    /// PS256/ES256/EdDSA only (README "FAPI 2.0").
    pub fapi2: bool,
    /// Only through a pushed request's `request_uri`, for every client (always
    /// under FAPI 2.0).
    pub require_par: bool,
}

pub(super) fn profile(args: &SettingsArgs, file: &mut FileConfig) -> Result<Profile, ConfigError> {
    let fapi2 = match args.profile.clone().or(file.profile.take()).as_deref() {
        None | Some("standard") => false,
        Some("fapi2") => true,
        Some(other) => {
            return Err(ConfigError(format!(
                "profile `{}` is not one of standard, fapi2",
                other.escape_default()
            )));
        }
    };
    let require_par = args.require_par || file.require_par.take().unwrap_or(false);
    Ok(Profile {
        fapi2,
        require_par: require_par || fapi2,
    })
}
