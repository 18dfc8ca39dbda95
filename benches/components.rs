//! The pieces of a token request, one at a time (criterion): signing and verification per algorithm,
//! claims building, client authentication (secret; a private_key_jwt assertion's
//! parse, signature and claims; its jti insert), PKCE verification, and one refresh
//! rotation's database write on SQLite and PostgreSQL.
//!
//! `cargo bench --bench components`. PostgreSQL runs when
//! `LATCHKEY_BENCH_POSTGRES_URL` names a database the bench may migrate and write to
//! (it creates its own rows); otherwise it is skipped with a note.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::config::DatabaseUrl;
use latchkey::keys::{Alg, KeySet};
use latchkey::oauth::claims::TokenPolicy;
use latchkey::oauth::client_auth;
use latchkey::oauth::form::FormParams;
use latchkey::oauth::pkce::{CodeChallenge, CodeVerifier};
use latchkey::oauth::registration::ClientMetadata;
use latchkey::oauth::resource::ResourceSet;
use latchkey::oauth::scope::ScopeCatalogue;
use latchkey::oauth::token::client_credentials;
use latchkey::services::clients::{self, Origin};
use latchkey::store::models::{CodeRow, FamilyRow, RefreshTokenRow};
use latchkey::store::tokens::Replacement;
use latchkey::store::{self, Db};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000;

fn policy() -> TokenPolicy {
    TokenPolicy {
        issuer: "https://auth.example".into(),
        resources: ResourceSet::new(vec!["https://api.example".into()]).expect("one resource"),
        default_audience: "https://api.example".into(),
        access_token_ttl: 3600,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A confidential client made through the real code path, its secret, and its
/// protocol view.
async fn client(db: &Db, catalogue: &ScopeCatalogue) -> (String, String) {
    let created = clients::create_client(
        db,
        catalogue,
        ClientMetadata {
            name: "bench".into(),
            ..Default::default()
        },
        Origin::default(),
        NOW,
    )
    .await
    .unwrap();
    (created.row.id, created.client_secret.unwrap())
}

async fn sqlite_db(dir: &std::path::Path) -> Db {
    let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.join("bench.db").display())).unwrap();
    store::migrate::run(&url).await.unwrap();
    Db::connect(&url).await.unwrap()
}

fn token_pieces(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let catalogue = ScopeCatalogue::new(vec![]).unwrap();
    let db = rt.block_on(sqlite_db(dir.path()));
    let (id, secret) = rt.block_on(client(&db, &catalogue));
    let row = rt
        .block_on(store::clients::find_client(&db, &id))
        .unwrap()
        .unwrap();
    let registered = row.to_registered().unwrap();
    let form = FormParams::parse(b"grant_type=client_credentials&scope=profile").unwrap();
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let policy = policy();

    c.bench_function("client_auth/basic_sha256_ct_compare", |b| {
        b.iter(|| {
            let creds = client_auth::extract(Some(black_box(&basic)), &form).unwrap();
            client_auth::authenticate(Some(&registered), &creds).is_ok()
        })
    });

    let request = client_credentials::validate(&form).unwrap();
    c.bench_function("claims/client_credentials_decide", |b| {
        b.iter(|| {
            client_credentials::decide(
                &registered,
                black_box(&request),
                &catalogue,
                &policy,
                NOW,
                "jti-0123456789abcdef".to_owned(),
            )
            .unwrap()
        })
    });

    let claims = client_credentials::decide(
        &registered,
        &request,
        &catalogue,
        &policy,
        NOW,
        "jti-0123456789abcdef".to_owned(),
    )
    .unwrap();
    let mut sets = Vec::new();
    let mut sign = c.benchmark_group("sign_access_token");
    for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let keys_dir = tempfile::tempdir().unwrap();
        let keys = KeySet::load_or_generate(keys_dir.path(), alg, NOW, 3600, None).unwrap();
        sign.bench_function(alg.as_str(), |b| {
            b.iter(|| keys.active().sign_jwt(black_box(&claims)).unwrap())
        });
        sets.push((alg, keys, keys_dir));
    }
    sign.finish();

    // What introspection and the bearer-token APIs do first: header, key by kid,
    // signature, typ, iss and the required claims.
    let mut verify = c.benchmark_group("verify_access_token");
    for (alg, keys, _dir) in &sets {
        let token = keys.active().sign_jwt(&claims).unwrap();
        assert!(keys.verify_access_token(&token, &policy.issuer).is_some());
        verify.bench_function(alg.as_str(), |b| {
            b.iter(|| {
                keys.verify_access_token(black_box(&token), &policy.issuer)
                    .unwrap()
            })
        });
    }
    verify.finish();

    let verifier_raw = "dBjftJeZ4CVP-mJ92K9ZBDT5gkM3XHMnS-hkO3BE8Es_long_enough";
    let challenge = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier_raw.as_bytes());
        CodeChallenge::from_stored(URL_SAFE_NO_PAD.encode(digest))
    };
    c.bench_function("pkce/s256_verify", |b| {
        b.iter(|| {
            let v = CodeVerifier::parse(black_box(verifier_raw)).unwrap();
            assert!(v.matches(&challenge));
        })
    });
}

/// A live token family for a fresh user and client; returns its id and the hash of
/// its current refresh token.
async fn family(db: &Db, tag: &str) -> (String, Vec<u8>) {
    let catalogue = ScopeCatalogue::new(vec![]).unwrap();
    let (client_id, _) = client(db, &catalogue).await;
    let user = latchkey::services::users::create_user(
        db,
        &format!("bench-{tag}-{}", latchkey::random::url_token::<6>()),
        "correct horse battery".into(),
        Default::default(),
        NOW,
    )
    .await
    .unwrap();
    let family_id = latchkey::random::url_token::<16>();
    let family = FamilyRow {
        id: family_id.clone(),
        client_id: client_id.clone(),
        user_id: user.id.clone(),
        scopes: "profile".into(),
        resources: "[]".into(),
        current_hash: None,
        previous_hash: None,
        rotated_at: None,
        retry_used: false,
        activated_at: None,
        created_at: NOW,
        last_used_at: NOW,
        revoked_at: None,
        auth_time: Some(NOW),
        dpop_jkt: None,
    };
    let code = CodeRow {
        code_hash: latchkey::random::url_token::<32>().into_bytes(),
        family_id: family_id.clone(),
        client_id,
        user_id: user.id,
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_explicit: true,
        scopes: "profile".into(),
        resources: "[]".into(),
        code_challenge: None,
        created_at: NOW,
        expires_at: NOW + 60,
        consumed_at: None,
        nonce: None,
        auth_time: Some(NOW),
        identity: None,
        dpop_jkt: None,
    };
    store::codes::insert_code(db, &family, &code).await.unwrap();
    let first = refresh_row(&family_id);
    assert!(
        store::tokens::activate_family(db, &family_id, Some(&first), None, NOW)
            .await
            .unwrap()
    );
    (family_id, first.token_hash)
}

fn refresh_row(family_id: &str) -> RefreshTokenRow {
    let token = format!("lk_rt_{}", latchkey::random::url_token::<32>());
    RefreshTokenRow {
        token_hash: latchkey::oauth::types::sha256(token.as_bytes()).to_vec(),
        family_id: family_id.to_owned(),
        issued_at: NOW,
        expires_at: NOW + 86_400,
    }
}

fn refresh_rotation(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut dbs = vec![("sqlite", rt.block_on(sqlite_db(dir.path())))];
    match std::env::var("LATCHKEY_BENCH_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let url = DatabaseUrl::parse(&url).unwrap();
            rt.block_on(store::migrate::run(&url)).unwrap();
            dbs.push(("postgres", rt.block_on(Db::connect(&url)).unwrap()));
        }
        _ => eprintln!(
            "refresh_rotation/postgres SKIPPED: set LATCHKEY_BENCH_POSTGRES_URL=postgres://… to run it"
        ),
    }
    let mut group = c.benchmark_group("refresh_rotation_write");
    for (name, db) in dbs {
        let (family_id, first) = rt.block_on(family(&db, name));
        let mut current = first;
        group.bench_function(name, |b| {
            b.iter(|| {
                let next = refresh_row(&family_id);
                let change = Replacement {
                    expected_current: &current,
                    previous: &current,
                    rotated_at: NOW,
                    retry_used: false,
                };
                let won = rt
                    .block_on(store::tokens::replace_refresh(
                        &db, &family_id, change, &next, NOW,
                    ))
                    .unwrap();
                assert!(won, "a lost update");
                current = next.token_hash;
            })
        });
    }
    group.finish();
}

/// A private_key_jwt assertion: parse + ES256 signature + claims, and the replay
/// cache's insert (one fresh jti per iteration) on SQLite.
fn client_assertion(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use latchkey::oauth::client_assertion::{AssertionRules, AudienceRule, Jws};
    use latchkey::oauth::jwk::{ClientKeySet, Reading};
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let p = pair.public_key().as_ref();
    let set = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])}]});
    let keys = ClientKeySet::parse(&set, Reading::Registration).unwrap();
    let claims = serde_json::json!({"iss": "c1", "sub": "c1", "aud": "https://as.example",
        "iat": NOW, "exp": NOW + 60, "jti": "j1"});
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let sig = pair.sign(&rng, input.as_bytes()).unwrap();
    let assertion = format!("{input}.{}", B64.encode(sig.as_ref()));
    let rules = AssertionRules {
        issuer: "https://as.example".into(),
        token_endpoint: "https://as.example/oauth/token".into(),
        audience: AudienceRule::Issuer,
        max_lifetime: 600,
        algorithms: vec![latchkey::oauth::jwk::Alg::ES256],
    };
    c.bench_function("client_assertion/parse_verify_es256", |b| {
        b.iter(|| {
            let jws = Jws::parse(black_box(&assertion)).unwrap();
            black_box(jws.verify("c1", &keys, &rules, NOW).unwrap())
        })
    });
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let db = rt.block_on(sqlite_db(dir.path()));
    let mut n = 0u64;
    c.bench_function("client_assertion/jti_insert_sqlite", |b| {
        b.iter(|| {
            n += 1;
            let key = latchkey::oauth::client_assertion::replay_key("c1", &n.to_string());
            assert!(
                rt.block_on(store::jtis::remember(&db, &key, NOW + 60))
                    .unwrap()
            );
        })
    });
}

/// A DPoP proof (RFC 9449): parse (JWK, thumbprint) + ES256 signature + claims,
/// without the replay insert (measured above, the same store).
fn dpop_proof(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use latchkey::oauth::dpop::{Expected, Proof};
    use latchkey::oauth::jwk::Alg;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let p = pair.public_key().as_ref();
    let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC",
        "crv": "P-256", "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])}});
    let url = "https://as.example/oauth/token";
    let claims = serde_json::json!({"htm": "POST", "htu": url, "iat": NOW, "jti": "j1"});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = pair.sign(&rng, input.as_bytes()).unwrap();
    let proof = format!("{input}.{}", B64.encode(sig.as_ref()));
    let algs = [Alg::ES256];
    let expected = Expected {
        method: "POST",
        url,
        access_token: None,
        nonces: None,
    };
    c.bench_function("dpop/parse_es256", |b| {
        b.iter(|| black_box(Proof::parse(black_box(&proof), &algs).unwrap()))
    });
    c.bench_function("dpop/parse_verify_es256", |b| {
        b.iter(|| {
            let parsed = Proof::parse(black_box(&proof), &algs).unwrap();
            black_box(parsed.verify(&expected, NOW).unwrap())
        })
    });
}

criterion_group!(
    benches,
    token_pieces,
    refresh_rotation,
    client_assertion,
    dpop_proof
);
criterion_main!(benches);
