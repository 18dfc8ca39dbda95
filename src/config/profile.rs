//! Hardening switches for the authorization endpoint: `--require-par` (every
//! authorization request pushed to `/oauth/par` first, RFC 9126 §6).

use super::SettingsArgs;
use super::file::FileConfig;

/// How authorization requests must arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Profile {
    /// Only through a pushed request's `request_uri`, for every client.
    pub require_par: bool,
}

pub(super) fn profile(args: &SettingsArgs, file: &mut FileConfig) -> Profile {
    Profile {
        require_par: args.require_par || file.require_par.take().unwrap_or(false),
    }
}
