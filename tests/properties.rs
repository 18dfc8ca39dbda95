//! Property tests of the parsers hostile input reaches first: the form parser,
//! redirect URI matching, scope parsing, PKCE and JWT header parsing. Arbitrary
//! input never panics, and generated valid input follows its RFC's rules.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::keys::{Alg, KeySet};
use latchkey::oauth::form::FormParams;
use latchkey::oauth::pkce::{CodeVerifier, parse_challenge};
use latchkey::oauth::redirect_uri;
use latchkey::oauth::scope::{ScopeSet, is_scope_token};
use proptest::prelude::*;
use std::sync::LazyLock;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes: a result, never a panic.
    #[test]
    fn form_parser_takes_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(form) = FormParams::parse(&body) {
            for (name, _) in form.pairs() {
                let _ = form.single(name);
            }
        }
    }

    /// Pairs encoded as a form body (WHATWG urlencoded) come back exactly, in order.
    #[test]
    fn form_parser_round_trips(pairs in proptest::collection::vec(("\\PC{1,12}", "\\PC{0,24}"), 0..8)) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        let form = FormParams::parse(body.as_bytes()).unwrap();
        prop_assert_eq!(form.pairs(), pairs.as_slice());
    }

    /// RFC 6749 §3.3: tokens of %x21 / %x23-5B / %x5D-7E, space-separated, parse
    /// into exactly that set; a token with any other character is refused.
    #[test]
    fn scope_syntax(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,16}", 1..6), bad in "[ -~]{0,8}[\"\\\\\u{7f}-\u{ff}][ -~]{0,8}") {
        let set = ScopeSet::parse(&tokens.join(" ")).unwrap();
        for t in &tokens {
            prop_assert!(set.contains(t));
        }
        prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
        let with_bad = format!("{} {}", tokens[0], bad.replace(' ', "x"));
        prop_assert!(ScopeSet::parse(&with_bad).is_err());
        prop_assert!(!is_scope_token(&bad.replace(' ', "x")));
    }

    #[test]
    fn scope_parser_takes_any_string(raw in "\\PC{0,64}") {
        let _ = ScopeSet::parse(&raw);
    }

    /// RFC 7636 §4.1–4.6: a valid verifier matches its own S256 challenge and no
    /// other verifier's; anything else is refused as a verifier.
    #[test]
    fn pkce_s256(verifier in "[A-Za-z0-9._~-]{43,128}", other in "[A-Za-z0-9._~-]{43,128}", junk in "\\PC{0,160}") {
        let challenge_of = |v: &str| {
            URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, v.as_bytes()))
        };
        let challenge = parse_challenge(Some(&challenge_of(&verifier)), Some("S256"))
            .unwrap()
            .unwrap();
        prop_assert!(CodeVerifier::parse(&verifier).unwrap().matches(&challenge));
        if other != verifier {
            prop_assert!(!CodeVerifier::parse(&other).unwrap().matches(&challenge));
        }
        let valid = (43..=128).contains(&junk.len())
            && junk.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        prop_assert_eq!(CodeVerifier::parse(&junk).is_ok(), valid);
        let _ = parse_challenge(Some(&junk), Some("S256"));
    }

    /// Redirect URIs match exactly, except the port of a loopback `http` URI
    /// (RFC 8252 §7.3): any port, same host, same path.
    #[test]
    fn redirect_uri_matching(
        host in "[a-z]{1,10}\\.example",
        path in "(/[a-z0-9]{1,8}){0,3}",
        port in 1u16..,
        suffix in "[a-z0-9/?#.]{1,4}",
    ) {
        let registered = format!("https://{host}{path}/cb");
        prop_assert!(redirect_uri::matches(&registered, &registered));
        let longer = format!("{registered}{suffix}");
        prop_assert!(!redirect_uri::matches(&registered, &longer));
        let ported = format!("https://{host}:{port}{path}/cb");
        prop_assert!(!redirect_uri::matches(&registered, &ported));
        for loopback in ["127.0.0.1", "[::1]", "localhost"] {
            let registered = format!("http://{loopback}{path}/cb");
            let requested = format!("http://{loopback}:{port}{path}/cb");
            prop_assert!(redirect_uri::matches(&registered, &requested));
            let elsewhere = format!("http://{loopback}:{port}{path}/other");
            prop_assert!(!redirect_uri::matches(&registered, &elsewhere));
            let https = format!("https://{loopback}:{port}{path}/cb");
            prop_assert!(!redirect_uri::matches(&registered, &https));
        }
        let other_host = format!("http://{host}:{port}{path}/cb");
        let loopback = format!("http://127.0.0.1{path}/cb");
        prop_assert!(!redirect_uri::matches(&loopback, &other_host));
    }

    #[test]
    fn redirect_uri_rules_take_any_string(a in "\\PC{0,80}", b in "\\PC{0,80}") {
        let _ = redirect_uri::validate_for_registration(&a);
        prop_assert_eq!(redirect_uri::matches(&a, &a), true);
        let _ = redirect_uri::matches(&a, &b);
    }

    /// Whatever a caller sends as a bearer token or id_token_hint — random text,
    /// three random segments, or a header of arbitrary JSON — it is refused, never
    /// a panic.
    #[test]
    fn jwt_parsing_takes_anything(
        raw in "\\PC{0,200}",
        header in proptest::collection::vec(any::<u8>(), 0..96),
        payload in proptest::collection::vec(any::<u8>(), 0..96),
        signature in proptest::collection::vec(any::<u8>(), 0..96),
        kid in "\\PC{0,20}",
    ) {
        let keys = &*KEYS;
        let issuer = "https://auth.example";
        prop_assert!(keys.verify_access_token(&raw, issuer).is_none());
        prop_assert!(keys.verify_id_token(&raw, issuer).is_none());
        let jwt = [&header, &payload, &signature]
            .map(|part| URL_SAFE_NO_PAD.encode(part))
            .join(".");
        prop_assert!(keys.verify_access_token(&jwt, issuer).is_none());
        prop_assert!(keys.verify_id_token(&jwt, issuer).is_none());
        // A well-formed header naming one of our algorithms, with a wrong signature.
        let header = serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        let forged = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(&signature),
        );
        prop_assert!(keys.verify_access_token(&forged, issuer).is_none());
    }
}

/// One ES256 key set for every case (generated once: tests run in parallel).
static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeySet::load_or_generate(dir.path(), Alg::Es256, 1_800_000_000, 3600, None).unwrap();
    // The parsed keys live in memory; the directory may go.
    drop(dir);
    keys
});
