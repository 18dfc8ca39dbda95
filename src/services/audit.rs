//! The audit trail: security events as structured records, written to the log under
//! the `audit` target and to the `audit_events` table (kept `audit_retention`),
//! read with `latchkey audit list` and `GET /admin/audit`.
//!
//! Records say what happened, who did it (`Actor`), to what (`subject`), from where
//! (`address`) and a small JSON `detail`; never a password, secret or token.

use crate::store::{self, Db};
use serde_json::Value;
use std::net::IpAddr;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// A signed-in person, by user id.
    User(&'a str),
    /// An operator's `latchkey:admin` token, by its client id.
    Admin(&'a str),
    /// The command line on the server.
    Cli,
    /// Open or initial-token dynamic registration (RFC 7591/7592).
    Registration,
    /// An OAuth client, by client id (e.g. one replaying a code).
    Client(&'a str),
    /// Someone not signed in.
    Anonymous,
}

impl Actor<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Admin(_) => "admin",
            Actor::Cli => "cli",
            Actor::Registration => "registration",
            Actor::Client(_) => "client",
            Actor::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User(id) | Actor::Admin(id) | Actor::Client(id) => Some(id),
            Actor::Cli | Actor::Registration | Actor::Anonymous => None,
        }
    }
}

/// One security event.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// What happened, e.g. `sign_in.failure`, `client.deleted` (README "Audit trail").
    pub kind: &'static str,
    pub actor: Actor<'a>,
    /// What it happened to: a user, client, key id or token family.
    pub subject: Option<&'a str>,
    pub address: Option<IpAddr>,
    pub detail: Value,
}

impl<'a> Event<'a> {
    pub fn new(kind: &'static str, actor: Actor<'a>) -> Self {
        Self {
            kind,
            actor,
            subject: None,
            address: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn subject(mut self, subject: &'a str) -> Self {
        self.subject = Some(subject);
        self
    }

    pub fn address(mut self, address: Option<IpAddr>) -> Self {
        self.address = address;
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(map) = &mut self.detail {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// Logs `event` under the `audit` target and stores it. A failed write is logged,
/// not returned: the action it records has already happened.
pub async fn record(db: &Db, now: i64, event: Event<'_>) {
    let detail = event.detail.to_string();
    let address = event.address.map(|a| a.to_string());
    tracing::info!(
        target: "audit",
        event = event.kind,
        actor_kind = event.actor.kind(),
        actor = event.actor.id(),
        subject = event.subject,
        address = address.as_deref(),
        detail = %detail,
        "audit"
    );
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let row = store::models::AuditRow {
        // Sorts by time first, so listing by (at, id) keeps the order events had.
        id: format!("{millis:014}{}", crate::random::url_token::<6>()),
        at: now,
        event: event.kind.to_owned(),
        actor_kind: event.actor.kind().to_owned(),
        actor: event.actor.id().map(str::to_owned),
        subject: event.subject.map(str::to_owned),
        address,
        detail,
    };
    if let Err(e) = store::audit::insert_event(db, &row).await {
        tracing::error!(target: "audit", error = %e, event = event.kind, "audit record not stored");
    }
}

impl crate::services::state::AppState {
    /// Records `event` at this instance's clock time (see `record`).
    pub async fn audit(&self, event: Event<'_>) {
        record(&self.db, self.clock.now(), event).await;
    }
}

/// A `--since` value: Unix seconds, an RFC 3339 UTC time (`2026-12-03T10:00:00Z`),
/// or an age (`90m`, `12h`, `7d`) before `now`.
pub fn parse_since(raw: &str, now: i64) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<i64>() {
        return Ok(seconds);
    }
    if let Some((number, unit)) = raw.split_at_checked(raw.len().saturating_sub(1))
        && let Ok(n) = number.parse::<i64>()
    {
        let scale = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3_600),
            "d" => Some(86_400),
            _ => None,
        };
        if let Some(scale) = scale {
            return Ok(now - n.saturating_mul(scale));
        }
    }
    rfc3339_utc(raw).ok_or_else(|| {
        format!(
            "`{raw}` is not a time: use Unix seconds, 2026-12-03T10:00:00Z, or an age such as 90m, 12h, 7d"
        )
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds.
fn rfc3339_utc(raw: &str) -> Option<i64> {
    let b = raw.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| raw.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), 1970-01-01 = 0.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_seconds_times_and_ages() {
        let now = 1_800_000_000;
        assert_eq!(parse_since("1700000000", now), Ok(1_700_000_000));
        assert_eq!(parse_since("1970-01-01T00:00:00Z", now), Ok(0));
        assert_eq!(parse_since("2026-12-03T10:00:00Z", now), Ok(1_796_292_000));
        assert_eq!(parse_since("2000-03-01T00:00:00Z", now), Ok(951_868_800));
        assert_eq!(parse_since("90m", now), Ok(now - 5_400));
        assert_eq!(parse_since("7d", now), Ok(now - 604_800));
        for bad in [
            "",
            "yesterday",
            "7w",
            "2026-13-01T00:00:00Z",
            "2026-12-03 10:00:00",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn actors_name_themselves() {
        assert_eq!(Actor::Admin("ops").kind(), "admin");
        assert_eq!(Actor::Admin("ops").id(), Some("ops"));
        assert_eq!(Actor::Cli.id(), None);
    }
}
