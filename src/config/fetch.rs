//! Outbound fetches of Client ID Metadata Documents (`fetch_*`,
//! `client_id_metadata_documents`): their flags and how they become the
//! `FetchSettings` the fetcher (`crate::fetch`) runs with.

use super::ConfigError;
use super::file::{FileConfig, list_setting, seconds};
use crate::cidr::Cidr;
use crate::fetch::FetchSettings;
use std::path::PathBuf;
use url::Url;

/// Outbound fetches of Client ID Metadata Documents (see `fetch`).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct FetchArgs {
    /// Resolve client_ids that are https URLs by fetching their metadata document [default: true]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_CLIENT_ID_METADATA_DOCUMENTS",
        value_name = "BOOL"
    )]
    pub client_id_metadata_documents: Option<bool>,
    /// Comma-separated hosts (app.example, *.example.com) or https:// URL prefixes that may be fetched [default: any]
    #[arg(long, global = true, env = "LATCHKEY_FETCH_ALLOW", value_name = "LIST")]
    pub fetch_allow: Option<String>,
    /// Comma-separated hosts or https:// URL prefixes that are never fetched
    #[arg(long, global = true, env = "LATCHKEY_FETCH_DENY", value_name = "LIST")]
    pub fetch_deny: Option<String>,
    /// PEM file of CA certificates trusted for fetches besides the built-in web roots
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_EXTRA_CA",
        value_name = "FILE"
    )]
    pub fetch_extra_ca: Option<PathBuf>,
    /// Comma-separated CIDRs fetches may reach although they are not public [default: none]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_ALLOW_PRIVATE",
        value_name = "CIDRS"
    )]
    pub fetch_allow_private: Option<String>,
    /// Seconds a whole fetch may take [default: 5]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub fetch_timeout: Option<u64>,
    /// Shortest time a fetched document is used, whatever its Cache-Control [default: 300]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_CACHE_MIN",
        value_name = "SECONDS"
    )]
    pub fetch_cache_min: Option<u64>,
    /// Longest time a fetched document is used [default: 86400]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_CACHE_MAX",
        value_name = "SECONDS"
    )]
    pub fetch_cache_max: Option<u64>,
}

/// The hosts and URL prefixes of `fetch_allow` / `fetch_deny`.
fn fetch_rules(name: &str, rules: Vec<String>) -> Result<Vec<String>, ConfigError> {
    for r in &rules {
        let ok = if r.starts_with("https://") {
            Url::parse(r).is_ok()
        } else {
            let host = r.strip_prefix("*.").unwrap_or(r);
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        if !ok {
            return Err(ConfigError(format!(
                "{name}: `{}` is neither a host name (app.example, *.example.com) nor an https:// URL prefix",
                r.escape_default()
            )));
        }
    }
    Ok(rules.into_iter().map(|r| r.to_ascii_lowercase()).collect())
}

pub(super) fn fetch_settings(
    args: &FetchArgs,
    file: &mut FileConfig,
) -> Result<FetchSettings, ConfigError> {
    let extra_ca = match args.fetch_extra_ca.clone().or(file.fetch_extra_ca.take()) {
        None => Vec::new(),
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| {
                ConfigError(format!(
                    "fetch_extra_ca: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ConfigError(format!(
                    "fetch_extra_ca: {} is not a PEM certificate file: {e}",
                    path.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(ConfigError(format!(
                    "fetch_extra_ca: {} holds no certificate",
                    path.display()
                )));
            }
            certs
        }
    };
    let allow_private = list_setting(
        args.fetch_allow_private.as_deref(),
        file.fetch_allow_private.take(),
    )
    .iter()
    .map(|c| Cidr::parse(c).map_err(|e| ConfigError(format!("fetch_allow_private: {e}"))))
    .collect::<Result<Vec<_>, _>>()?;
    let timeout = seconds(
        "fetch_timeout",
        args.fetch_timeout,
        file.fetch_timeout,
        5,
        1..=30,
        "",
    )?;
    let cache_min = seconds(
        "fetch_cache_min",
        args.fetch_cache_min,
        file.fetch_cache_min,
        300,
        0..=86_400,
        "",
    )?;
    let cache_max = seconds(
        "fetch_cache_max",
        args.fetch_cache_max,
        file.fetch_cache_max,
        86_400,
        1..=604_800,
        "",
    )?;
    if cache_min > cache_max {
        return Err(ConfigError(format!(
            "fetch_cache_min {cache_min} is above fetch_cache_max {cache_max}"
        )));
    }
    Ok(FetchSettings {
        documents_enabled: args
            .client_id_metadata_documents
            .or(file.client_id_metadata_documents)
            .unwrap_or(true),
        allow: fetch_rules(
            "fetch_allow",
            list_setting(args.fetch_allow.as_deref(), file.fetch_allow.take()),
        )?,
        deny: fetch_rules(
            "fetch_deny",
            list_setting(args.fetch_deny.as_deref(), file.fetch_deny.take()),
        )?,
        extra_ca,
        allow_private,
        timeout: std::time::Duration::from_secs(timeout as u64),
        max_bytes: crate::fetch::MAX_BYTES,
        cache_min,
        cache_max,
    })
}
