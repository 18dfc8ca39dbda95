//! The rate-limit settings (`rate_limit_*`): how a limit is written and each limited
//! endpoint's default; and which peers are proxies whose `X-Forwarded-For` names the
//! caller (`trusted_proxies`). The limiters themselves are `services::limits`.

use super::file::{FileConfig, list_setting};
use super::{ConfigError, SettingsArgs};
use crate::cidr::Cidr;
use std::num::NonZeroU32;
use std::time::Duration;

/// A limit as configured: `N/period` (period `30s`, `15m`, `1h`, a bare number of
/// seconds) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl Limit {
    /// `None` for `off`.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || {
            format!(
                "`{}` is not `N/period` (e.g. 20/15m) or `off`",
                raw.escape_default()
            )
        };
        let (count, period) = raw.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let count =
            NonZeroU32::new(count).ok_or_else(|| "the count must be at least 1".to_owned())?;
        let period = period.trim();
        let (digits, unit) = match period.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => period.split_at(i),
            None => (period, "s"),
        };
        let n: u64 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| bad())?
        };
        let seconds = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return Err(bad()),
        };
        if seconds == 0 || seconds > 7 * 86_400 {
            return Err("the period must be between 1 second and 7 days".to_owned());
        }
        Ok(Some(Self {
            count,
            period: Duration::from_secs(seconds),
        }))
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.count, self.period.as_secs())
    }
}

/// The configured limit of each limited endpoint (`None`: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub token: Option<Limit>,
    pub register: Option<Limit>,
    pub login: Option<Limit>,
    pub revoke: Option<Limit>,
}

/// Defaults: generous for machines, tight for registration and sign-in.
pub const DEFAULT_TOKEN: &str = "6000/1m";
pub const DEFAULT_REGISTER: &str = "20/15m";
pub const DEFAULT_LOGIN: &str = "10/1m";
pub const DEFAULT_REVOKE: &str = "600/1m";

/// The limits of every limited endpoint, and the trusted proxies.
pub(super) fn limits(
    args: &SettingsArgs,
    file: &mut FileConfig,
) -> Result<(Limits, Vec<Cidr>), ConfigError> {
    let limits = Limits {
        token: limit_setting(
            "token",
            args.rate_limit_token.as_deref(),
            file.rate_limit_token.as_deref(),
            DEFAULT_TOKEN,
        )?,
        register: limit_setting(
            "register",
            args.rate_limit_register.as_deref(),
            file.rate_limit_register.as_deref(),
            DEFAULT_REGISTER,
        )?,
        login: limit_setting(
            "login",
            args.rate_limit_login.as_deref(),
            file.rate_limit_login.as_deref(),
            DEFAULT_LOGIN,
        )?,
        revoke: limit_setting(
            "revoke",
            args.rate_limit_revoke.as_deref(),
            file.rate_limit_revoke.as_deref(),
            DEFAULT_REVOKE,
        )?,
    };
    let proxies = list_setting(args.trusted_proxies.as_deref(), file.trusted_proxies.take());
    let trusted_proxies = proxies
        .iter()
        .map(|p| Cidr::parse(p).map_err(|e| ConfigError(format!("trusted_proxies: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((limits, trusted_proxies))
}

/// A `rate_limit_{name}` setting: flag/environment, then file, then `default`.
fn limit_setting(
    name: &str,
    arg: Option<&str>,
    file: Option<&str>,
    default: &str,
) -> Result<Option<Limit>, ConfigError> {
    Limit::parse(arg.or(file).unwrap_or(default))
        .map_err(|e| ConfigError(format!("rate_limit_{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        let l = Limit::parse("20/15m").unwrap().unwrap();
        assert_eq!((l.count.get(), l.period.as_secs()), (20, 900));
        assert_eq!(Limit::parse("5/30").unwrap().unwrap().period.as_secs(), 30);
        assert_eq!(Limit::parse("5/h").unwrap().unwrap().period.as_secs(), 3600);
        assert_eq!(Limit::parse("OFF").unwrap(), None);
        for bad in ["", "20", "0/1m", "x/1m", "5/1y", "5/0s", "5/-1m", "5/30d"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }
}
