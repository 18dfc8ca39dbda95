//! A compact JWS (RFC 7515 §7.1) split and decoded, before any rule or signature
//! check: shared by client assertions, DPoP proofs and authorization grant
//! assertions, which differ in the rules they then apply to what is inside — all
//! but DPoP share `check_times`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The decoded parts of a compact JWS.
#[derive(Debug)]
pub struct Compact<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `header.payload` as sent: what the signature is over.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, String> {
    let raw = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the {what} is not base64url"))?;
    match serde_json::from_slice(&raw) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(format!("the {what} is not a JSON object")),
    }
}

/// Which time rule a JWT broke (see `check_times`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFault {
    /// A time claim is not a number of seconds (its name).
    NotNumber(&'static str),
    NoExp,
    NoIat,
    Expired,
    /// `nbf` ahead of now.
    NotYetValid,
    /// `iat` ahead of now.
    IssuedAhead,
    TooLong,
}

impl TimeFault {
    /// The refusal in words, about `what` ("the client assertion").
    pub fn message(self, what: &str, max_lifetime: i64) -> String {
        match self {
            Self::NotNumber(name) => format!("`{name}` is not a number of seconds"),
            Self::NoExp => format!("{what} has no `exp`"),
            Self::NoIat => format!("{what} has no `iat`"),
            Self::Expired => format!("{what} has expired"),
            Self::NotYetValid => format!("{what} is not valid yet (`nbf` is in the future)"),
            Self::IssuedAhead => format!("{what} was issued in the future (`iat`)"),
            Self::TooLong => format!(
                "{what} lives too long: `exp` may be at most {max_lifetime} seconds after `iat` and after now"
            ),
        }
    }
}

/// The time rules shared by signed assertions: `exp` present and not past, `nbf`
/// and `iat` not ahead, all within `skew`; `exp` at most `max_lifetime` after `iat`
/// and after now; `iat` present when `require_iat`. Returns `exp`.
pub fn check_times(
    claims: &Map<String, Value>,
    now: i64,
    skew: i64,
    max_lifetime: i64,
    require_iat: bool,
) -> Result<i64, TimeFault> {
    let time = |name: &'static str| -> Result<Option<i64>, TimeFault> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or(TimeFault::NotNumber(name)),
        }
    };
    let exp = time("exp")?.ok_or(TimeFault::NoExp)?;
    if exp.saturating_add(skew) <= now {
        return Err(TimeFault::Expired);
    }
    if time("nbf")?.is_some_and(|nbf| nbf.saturating_sub(skew) > now) {
        return Err(TimeFault::NotYetValid);
    }
    let iat = time("iat")?;
    if require_iat && iat.is_none() {
        return Err(TimeFault::NoIat);
    }
    if iat.is_some_and(|iat| iat.saturating_sub(skew) > now) {
        return Err(TimeFault::IssuedAhead);
    }
    if exp.saturating_sub(now) > max_lifetime + skew
        || iat.is_some_and(|iat| exp.saturating_sub(iat) > max_lifetime)
    {
        return Err(TimeFault::TooLong);
    }
    Ok(exp)
}

/// Splits `compact` (at most `max_bytes`) into its decoded parts; the error says
/// what is wrong with it, for the caller to put in its own words.
pub fn split(compact: &str, max_bytes: usize) -> Result<Compact<'_>, String> {
    if compact.len() > max_bytes {
        return Err(format!("it is longer than {max_bytes} bytes"));
    }
    let mut parts = compact.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a JWS has three dot-separated parts".to_owned());
    };
    let header = decode_json(h, "header")?;
    let claims = decode_json(p, "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "the signature is not base64url".to_owned())?;
    Ok(Compact {
        header,
        claims,
        signing_input: &compact[..h.len() + 1 + p.len()],
        signature,
    })
}
