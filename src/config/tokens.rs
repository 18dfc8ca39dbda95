//! What tokens say and how long they live: the issuer, the lifetimes of access,
//! ID and refresh tokens and of codes, the scope catalogue, and the resources
//! (RFC 8707) tokens may be issued for.

use super::file::{FileConfig, seconds};
use super::{ConfigError, SettingsArgs};
use crate::oauth::resource::ResourceSet;
use crate::oauth::scope::ScopeCatalogue;
use std::net::SocketAddr;
use url::Url;

const MAX_ACCESS_TOKEN_TTL: u64 = 86_400;

/// The token settings, as `Settings` holds them.
pub(super) struct Tokens {
    pub issuer: String,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub code_ttl: i64,
    pub refresh_reuse_interval: i64,
    pub scopes: ScopeCatalogue,
    pub resources: ResourceSet,
    pub default_audience: String,
}

/// `bind` gives the default issuer.
pub(super) fn tokens(
    args: &SettingsArgs,
    file: &mut FileConfig,
    bind: SocketAddr,
) -> Result<Tokens, ConfigError> {
    let issuer_raw = args
        .issuer
        .clone()
        .or(file.issuer.take())
        .unwrap_or_else(|| format!("http://{bind}"));
    let issuer = validate_issuer(&issuer_raw)?;
    let access_token_ttl = seconds(
        "access_token_ttl",
        args.access_token_ttl,
        file.access_token_ttl,
        3600,
        1..=MAX_ACCESS_TOKEN_TTL,
        " (access tokens cannot be recalled from resource servers, so keep them short)",
    )?;
    let id_token_ttl = seconds(
        "id_token_ttl",
        args.id_token_ttl,
        file.id_token_ttl,
        3600,
        1..=86_400,
        " (an ID token proves a sign-in; relying parties keep their own session)",
    )?;
    let refresh_token_ttl = seconds(
        "refresh_token_ttl",
        args.refresh_token_ttl,
        file.refresh_token_ttl,
        2_592_000,
        60..=31_536_000,
        "",
    )?;
    let code_ttl = seconds(
        "code_ttl",
        args.code_ttl,
        file.code_ttl,
        60,
        1..=600,
        " (RFC 9700 §4.1: codes should live minutes at most)",
    )?;
    let refresh_reuse_interval = seconds(
        "refresh_reuse_interval",
        args.refresh_reuse_interval,
        file.refresh_reuse_interval,
        0,
        0..=300,
        "",
    )?;
    let scopes = ScopeCatalogue::new(std::mem::take(&mut file.scopes)).map_err(ConfigError)?;
    let resources = ResourceSet::new(
        file.resources
            .take()
            .unwrap_or_else(|| vec![issuer.clone()]),
    )
    .map_err(|e| ConfigError(format!("{e} (RFC 8707: absolute URIs without a fragment)")))?;
    let default_audience = match file.default_audience.take() {
        Some(a) => a,
        None => resources.configured().next().unwrap_or_default().to_owned(),
    };
    if !resources.contains(&default_audience) {
        return Err(ConfigError(format!(
            "default_audience `{default_audience}` must be one of the configured resources"
        )));
    }
    Ok(Tokens {
        issuer,
        access_token_ttl,
        id_token_ttl,
        refresh_token_ttl,
        code_ttl,
        refresh_reuse_interval,
        scopes,
        resources,
        default_audience,
    })
}

/// RFC 8414 §2: an http(s) URL with no query or fragment.
fn validate_issuer(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError(format!("issuer `{raw}` is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError(format!(
            "issuer `{raw}` must be an http or https URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || raw.contains('#') {
        return Err(ConfigError(format!(
            "issuer `{raw}` must not have a query or fragment (RFC 8414 §2)"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError(format!("issuer `{raw}` needs a host")));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}
