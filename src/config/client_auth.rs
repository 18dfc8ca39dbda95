//! Client authentication settings: what a `private_key_jwt` assertion must carry
//! (`--client-assertion-audience`, `--client-assertion-max-lifetime`).

use super::file::{FileConfig, seconds};
use super::{ConfigError, SettingsArgs};
use crate::oauth::client_assertion::AudienceRule;
use crate::oauth::jwk::Alg;

/// The default cap on an assertion's lifetime, seconds. The MCP SDK signs for 300 s,
/// openid-client for 60 s; authlib's default of 3600 s must be shortened.
pub const DEFAULT_MAX_LIFETIME: u64 = 600;

/// How client assertions are judged, besides their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertions {
    pub audience: AudienceRule,
    /// `exp` at most this many seconds after `iat` and after now.
    pub max_lifetime: i64,
    /// The signing algorithms accepted (no RS256 under FAPI 2.0).
    pub algorithms: Vec<Alg>,
}

/// The JWS algorithms clients may sign with (assertions, DPoP proofs): all four,
/// or without RS256 under FAPI 2.0 (§5.4: PS256, ES256, EdDSA).
pub fn algorithms(fapi2: bool) -> Vec<Alg> {
    let all = [Alg::RS256, Alg::PS256, Alg::ES256, Alg::EdDSA];
    all.into_iter()
        .filter(|a| !(fapi2 && *a == Alg::RS256))
        .collect()
}

pub(super) fn client_assertions(
    args: &SettingsArgs,
    file: &mut FileConfig,
    fapi2: bool,
) -> Result<ClientAssertions, ConfigError> {
    let audience = match args
        .client_assertion_audience
        .clone()
        .or(file.client_assertion_audience.take())
    {
        None => AudienceRule::Issuer,
        Some(raw) => AudienceRule::parse(&raw).map_err(ConfigError)?,
    };
    let max_lifetime = seconds(
        "client_assertion_max_lifetime",
        args.client_assertion_max_lifetime,
        file.client_assertion_max_lifetime,
        DEFAULT_MAX_LIFETIME,
        30..=86_400,
        " (every accepted jti is remembered until its assertion expires)",
    )?;
    Ok(ClientAssertions {
        audience,
        max_lifetime,
        algorithms: algorithms(fapi2),
    })
}
