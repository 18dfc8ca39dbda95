//! How people sign in: how long a session lasts (`session_idle_timeout`,
//! `session_lifetime`) and, for delegated sign-in, the product's own login and
//! consent pages (`login_url`, `consent_url`).

use super::file::{FileConfig, seconds};
use super::{ConfigError, SettingsArgs};
use url::Url;

/// The sign-in settings, as `Settings` holds them.
pub(super) struct SignIn {
    pub session_idle_timeout: i64,
    pub session_lifetime: i64,
    pub login_url: Option<String>,
    pub consent_url: Option<String>,
}

pub(super) fn sign_in(args: &SettingsArgs, file: &mut FileConfig) -> Result<SignIn, ConfigError> {
    let session_idle_timeout = seconds(
        "session_idle_timeout",
        None,
        file.session_idle_timeout,
        7_200,
        60..=2_592_000,
        "",
    )?;
    let session_lifetime = seconds(
        "session_lifetime",
        None,
        file.session_lifetime,
        86_400,
        60..=31_536_000,
        "",
    )?;
    let login_url = product_page(
        "login_url",
        args.login_url.clone().or(file.login_url.take()),
    )?;
    let consent_url = product_page(
        "consent_url",
        args.consent_url.clone().or(file.consent_url.take()),
    )?;
    Ok(SignIn {
        session_idle_timeout,
        session_lifetime,
        login_url,
        consent_url,
    })
}

/// A page of the product the browser is sent to (`login_url`, `consent_url`):
/// https, or http on a loopback host for development; no fragment, since the
/// challenge is added to its query.
fn product_page(name: &str, raw: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let ok = Url::parse(&raw).is_ok_and(|u| {
        let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        u.fragment().is_none()
            && u.host_str().is_some()
            && (u.scheme() == "https" || (u.scheme() == "http" && loopback))
    });
    if !ok {
        return Err(ConfigError(format!(
            "{name} `{}` must be an https URL (http only on a loopback host) without a fragment",
            raw.escape_default()
        )));
    }
    Ok(Some(raw))
}
