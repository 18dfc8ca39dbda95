//! Key lifecycle: *next* (published, not yet signing), *active* (signing), *retired*
//! (published until every token it signed has expired), then *expired* (dropped from
//! JWKS). State is derived from two timestamps per key kept in `keys.json` beside the
//! key files, so every instance sharing the directory computes the same answer.

use super::KeyError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub const MANIFEST: &str = "keys.json";

/// Lifecycle timestamps of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// From this time the key may sign (seconds since the epoch).
    pub activate_at: i64,
    /// Set by `keys retire`: the key stops signing at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

/// `keys.json`: kid → schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub keys: BTreeMap<String, Schedule>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(MANIFEST);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| KeyError::File {
                path,
                reason: format!("not a valid key manifest: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(KeyError::File {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Writes atomically (temp file + rename), so readers see old or new, never half.
    pub fn write(&self, dir: &Path) -> Result<(), KeyError> {
        let path = dir.join(MANIFEST);
        let tmp = dir.join(".keys.json.tmp");
        let err = |e: std::io::Error| KeyError::File {
            path: path.clone(),
            reason: e.to_string(),
        };
        let text =
            serde_json::to_string_pretty(self).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(err)?;
        fs::rename(&tmp, &path).map_err(err)
    }
}

/// Where a key is in its life at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Active,
    Retired,
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Expired => "expired",
        }
    }

    /// Is the key in the JWK Set?
    pub fn published(self) -> bool {
        self != Self::Expired
    }
}

/// The state of each key at `now`, given the schedules (in the same order) and the
/// longest lifetime of a token (`ttl`). The active key is the most recently activated
/// one that is due and not retired; if none is due, the earliest non-retired key
/// signs, so a server always has a key. A key stopped signing when it was retired or
/// when a later key became active, and stays published `ttl` past that.
pub fn states(schedules: &[Schedule], now: i64, ttl: i64) -> Vec<KeyState> {
    let signable = |s: &Schedule| s.retired_at.is_none_or(|r| r > now);
    let active = schedules
        .iter()
        .enumerate()
        .filter(|(_, s)| signable(s) && s.activate_at <= now)
        .max_by_key(|(_, s)| s.activate_at)
        .or_else(|| {
            schedules
                .iter()
                .enumerate()
                .filter(|(_, s)| signable(s))
                .min_by_key(|(_, s)| s.activate_at)
        })
        .map(|(i, _)| i);
    schedules
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if Some(i) == active {
                return KeyState::Active;
            }
            if signable(s) && s.activate_at > now {
                return KeyState::Next;
            }
            // It signed until it was retired or superseded by a later, due key.
            let superseded = schedules
                .iter()
                .filter(|o| o.activate_at > s.activate_at && o.activate_at <= now && signable(o))
                .map(|o| o.activate_at)
                .min();
            let stopped = match (s.retired_at, superseded) {
                (Some(r), Some(sup)) => r.min(sup),
                (Some(r), None) => r,
                (None, Some(sup)) => sup,
                (None, None) => now,
            };
            if stopped.max(s.activate_at) + ttl > now {
                KeyState::Retired
            } else {
                KeyState::Expired
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(activate_at: i64, retired_at: Option<i64>) -> Schedule {
        Schedule {
            activate_at,
            retired_at,
        }
    }

    #[test]
    fn rotation_publishes_first_then_signs_then_retires() {
        let ttl = 100;
        let keys = [s(0, None), s(500, None)];
        assert_eq!(states(&keys, 400, ttl), [KeyState::Active, KeyState::Next]);
        assert_eq!(
            states(&keys, 500, ttl),
            [KeyState::Retired, KeyState::Active]
        );
        assert_eq!(
            states(&keys, 599, ttl),
            [KeyState::Retired, KeyState::Active]
        );
        assert_eq!(
            states(&keys, 600, ttl),
            [KeyState::Expired, KeyState::Active]
        );
    }

    #[test]
    fn explicit_retirement() {
        let ttl = 100;
        let keys = [s(0, Some(50)), s(10, None)];
        // K0 stopped signing when K1 became active (10): published until 110.
        assert_eq!(
            states(&keys, 60, ttl),
            [KeyState::Retired, KeyState::Active]
        );
        assert_eq!(
            states(&keys, 109, ttl),
            [KeyState::Retired, KeyState::Active]
        );
        assert_eq!(
            states(&keys, 110, ttl),
            [KeyState::Expired, KeyState::Active]
        );
        // Retiring a key that has no successor yet keeps it published ttl past retirement.
        let keys = [s(0, None), s(0, Some(50))];
        assert_eq!(states(&keys, 60, ttl)[1], KeyState::Retired);
        assert_eq!(states(&keys, 150, ttl)[1], KeyState::Expired);
    }

    #[test]
    fn always_one_signing_key() {
        // Only a future key: it signs now rather than nothing.
        assert_eq!(states(&[s(1000, None)], 0, 10), [KeyState::Active]);
    }
}
