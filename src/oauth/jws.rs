//! A compact JWS (RFC 7515 §7.1) split and decoded, before any rule or signature
//! check: shared by client assertions and DPoP proofs, which differ only in the
//! rules they then apply to what is inside.

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
