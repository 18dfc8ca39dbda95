//! Dynamic client registration (`registration`): who may use `POST /oauth/register`.

use super::ConfigError;

/// Who may use `POST /oauth/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone (rate-limited).
    Open,
    /// Callers with an initial access token (`latchkey clients initial-token`).
    Token,
    /// Nobody: the endpoint answers 403 and discovery does not advertise it.
    Disabled,
}

impl RegistrationPolicy {
    pub(super) fn parse(raw: &str) -> Result<Self, ConfigError> {
        match raw {
            "open" => Ok(Self::Open),
            "token" => Ok(Self::Token),
            "disabled" => Ok(Self::Disabled),
            other => Err(ConfigError(format!(
                "registration `{}` is not one of open, token, disabled",
                other.escape_default()
            ))),
        }
    }
}
