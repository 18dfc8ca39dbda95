//! Where the data lives: the database URL of the settings, parsed, and printable
//! without its password.

use std::path::PathBuf;
use url::Url;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() || path.starts_with(':') {
                return Err(format!(
                    "database URL `{raw}` needs a file path, e.g. sqlite://latchkey.db (in-memory databases are not supported)"
                ));
            }
            let path = path.split('?').next().unwrap_or(path);
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| {
                format!("database URL `{}` is not a valid URL: {e}", redact_url(raw))
            })?;
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err(format!(
            "database URL `{}` must start with sqlite:// or postgres://",
            redact_url(raw)
        ))
    }

    /// A form safe to print: the password is masked.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite://{}", p.display()),
            Self::Postgres(u) => redact_url(u),
        }
    }
}

/// Masks the password of a URL so it can appear in messages and logs.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable URL>".to_owned(),
    }
}
