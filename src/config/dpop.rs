//! Sender-constrained tokens (RFC 9449): whether DPoP proofs must carry a server
//! nonce (`--dpop-nonce off|on`), and which algorithms proofs may be signed with.

use super::file::FileConfig;
use super::{ConfigError, SettingsArgs};
use crate::oauth::jwk::Alg;

/// DPoP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopSettings {
    /// Proofs must carry a nonce from `DPoP-Nonce` (RFC 9449 §8).
    pub nonce: bool,
    /// `dpop_signing_alg_values_supported`, in the order metadata lists them.
    pub algorithms: Vec<Alg>,
}

pub(super) fn dpop(
    args: &SettingsArgs,
    file: &mut FileConfig,
    fapi2: bool,
) -> Result<DpopSettings, ConfigError> {
    let nonce = match args
        .dpop_nonce
        .clone()
        .or(file.dpop_nonce.take())
        .as_deref()
    {
        None | Some("off") => false,
        Some("on") => true,
        Some(other) => {
            return Err(ConfigError(format!(
                "dpop_nonce `{}` is not one of off, on",
                other.escape_default()
            )));
        }
    };
    Ok(DpopSettings {
        nonce,
        algorithms: super::client_auth::algorithms(fapi2),
    })
}
