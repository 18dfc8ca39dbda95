//! The optional TOML file (`latchkey.toml`, or `--config`) and the rules every
//! setting is merged by: a flag or `LATCHKEY_*` variable beats the file, the file
//! beats the default, and a duration must fall within its range.

use super::ConfigError;
use crate::oauth::scope::ScopeEntry;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The optional TOML file. Unknown keys are errors, so a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) bind: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) database_url: Option<String>,
    pub(super) keys_dir: Option<PathBuf>,
    pub(super) access_token_ttl: Option<u64>,
    pub(super) id_token_ttl: Option<u64>,
    pub(super) refresh_token_ttl: Option<u64>,
    pub(super) code_ttl: Option<u64>,
    pub(super) refresh_reuse_interval: Option<u64>,
    pub(super) session_idle_timeout: Option<u64>,
    pub(super) session_lifetime: Option<u64>,
    pub(super) key_poll_interval: Option<u64>,
    pub(super) signing_alg: Option<String>,
    pub(super) registration: Option<String>,
    pub(super) client_assertion_audience: Option<String>,
    pub(super) client_assertion_max_lifetime: Option<u64>,
    pub(super) dpop_nonce: Option<String>,
    pub(super) require_par: Option<bool>,
    pub(super) profile: Option<String>,
    pub(super) rate_limit_token: Option<String>,
    pub(super) rate_limit_register: Option<String>,
    pub(super) rate_limit_login: Option<String>,
    pub(super) rate_limit_revoke: Option<String>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) login_url: Option<String>,
    pub(super) consent_url: Option<String>,
    #[serde(default)]
    pub(super) scopes: Vec<ScopeEntry>,
    pub(super) resources: Option<Vec<String>>,
    pub(super) default_audience: Option<String>,
    pub(super) product_name: Option<String>,
    pub(super) logo_url: Option<String>,
    pub(super) accent_color: Option<String>,
    pub(super) support_url: Option<String>,
    pub(super) terms_url: Option<String>,
    pub(super) privacy_url: Option<String>,
    pub(super) brand_dir: Option<PathBuf>,
    pub(super) templates_dir: Option<PathBuf>,
    pub(super) locale: Option<String>,
    pub(super) client_id_metadata_documents: Option<bool>,
    pub(super) fetch_allow: Option<Vec<String>>,
    pub(super) fetch_deny: Option<Vec<String>>,
    pub(super) fetch_extra_ca: Option<PathBuf>,
    pub(super) fetch_allow_private: Option<Vec<String>>,
    pub(super) fetch_timeout: Option<u64>,
    pub(super) fetch_cache_min: Option<u64>,
    pub(super) fetch_cache_max: Option<u64>,
    pub(super) shutdown_grace: Option<u64>,
    pub(super) shutdown_delay: Option<u64>,
    pub(super) header_timeout: Option<u64>,
    pub(super) max_connections: Option<u64>,
    pub(super) metrics_bind: Option<String>,
    pub(super) metrics_public: Option<bool>,
    pub(super) audit_retention: Option<u64>,
    #[serde(default)]
    pub(super) trusted_issuers: Vec<super::trust::IssuerFile>,
}

pub(super) fn read_file_config(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("latchkey.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok(FileConfig::default());
        }
        Err(e) => {
            return Err(ConfigError(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
}

/// A list setting: comma-separated from a flag or the environment, an array in the
/// file.
pub(super) fn list_setting(arg: Option<&str>, file: Option<Vec<String>>) -> Vec<String> {
    match (arg, file) {
        (Some(list), _) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        (None, Some(list)) => list,
        (None, None) => Vec::new(),
    }
}

/// A duration setting: flag/environment, then file, then default, within `range`.
pub(super) fn seconds(
    name: &str,
    arg: Option<u64>,
    file: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    why: &str,
) -> Result<i64, ConfigError> {
    let value = arg.or(file).unwrap_or(default);
    if !range.contains(&value) {
        return Err(ConfigError(format!(
            "{name} {value} is out of range: use {} to {} seconds{why}",
            range.start(),
            range.end()
        )));
    }
    Ok(value as i64)
}
