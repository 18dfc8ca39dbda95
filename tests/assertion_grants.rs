//! The JWT-bearer grant (RFC 7523 §2.1) for workloads: a CI job or a Kubernetes
//! pod presents the identity token its platform gave it and gets a Latchkey access
//! token for the client the operator's rule maps its subject to — no client secret
//! anywhere. Issuers publish keys in a file or at a `jwks_uri` (HTTPS on loopback,
//! a test CA); every broken rule is refused with `invalid_grant` and nothing issued.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::jose::{TestKey, hs256, unsigned};
use common::tls::{Answer, DocServer, TestCa};
use common::{Backend, START, TestApp, expect_oauth_error, jwt_claims};
use latchkey::oauth::registration::ClientMetadata;
use latchkey::oauth::types::GrantType;
use serde_json::{Value, json};

both_backends!(
    workloads_get_tokens_without_secrets,
    every_broken_workload_token_is_refused,
);

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CI: &str = "https://ci.example.test";
const K8S: &str = "https://kubernetes.default.svc";
const IDP: &str = "https://idp.example.test";

struct Setup {
    app: TestApp,
    ci: TestKey,
    k8s: TestKey,
    idp: TestKey,
    _ca: TestCa,
    _server: DocServer,
    _dir: tempfile::TempDir,
}

/// A Latchkey trusting a CI issuer (keys in a file, GitHub-style subjects), a
/// cluster (keys at a `jwks_uri`, Kubernetes-style subjects, its own audience), and
/// an identity provider trusted for ID-JAGs only; clients `deployer` and `payments`.
async fn setup(backend: &Backend) -> Setup {
    let ca = TestCa::new();
    let server = DocServer::start(&ca).await;
    let (ci, k8s, idp) = (
        TestKey::es256("ci-1"),
        TestKey::rs256("k8s-1"),
        TestKey::es256("idp-1"),
    );
    let dir = tempfile::tempdir().unwrap();
    let ci_file = dir.path().join("ci-jwks.json");
    std::fs::write(&ci_file, TestKey::set(&[&ci]).to_string()).unwrap();
    let idp_file = dir.path().join("idp-jwks.json");
    std::fs::write(&idp_file, TestKey::set(&[&idp]).to_string()).unwrap();
    let k8s_uri = server.route(
        "/openid/v1/jwks",
        Answer::Json(TestKey::set(&[&k8s]).to_string(), vec![]),
    );
    let config = format!(
        r#"
[[scopes]]
name = "deploy:write"
description = "Deploy"
[[scopes]]
name = "payments:read"
description = "Read payments"

[[trusted_issuers]]
issuer = "{CI}"
jwks_file = "{ci_file}"
uses = ["workload"]
[[trusted_issuers.workloads]]
subject = "repo:acme/*:ref:refs/heads/main"
client_id = "deployer"
scope = "deploy:write"

[[trusted_issuers]]
issuer = "{K8S}"
jwks_uri = "{k8s_uri}"
audiences = ["latchkey"]
uses = ["workload"]
[[trusted_issuers.workloads]]
subject = "system:serviceaccount:payments:*"
client_id = "payments"
scope = "payments:read"

[[trusted_issuers]]
issuer = "{IDP}"
jwks_file = "{idp_file}"
uses = ["id-jag"]
"#,
        ci_file = ci_file.display(),
        idp_file = idp_file.display(),
    );
    let app = TestApp::builder()
        .config(&config)
        .args(|a| ca.trusted_by(a))
        .spawn(backend)
        .await;
    for (id, scope) in [
        ("deployer", "deploy:write payments:read"),
        ("payments", "payments:read"),
    ] {
        named_client(&app, id, scope).await;
    }
    Setup {
        app,
        ci,
        k8s,
        idp,
        _ca: ca,
        _server: server,
        _dir: dir,
    }
}

/// A confidential client with the id `id` (as an operator would name one in a
/// workload rule).
async fn named_client(app: &TestApp, id: &str, scope: &str) {
    let made = app
        .client_from(ClientMetadata {
            name: id.into(),
            grant_types: vec![GrantType::ClientCredentials],
            scope: Some(scope.into()),
            ..Default::default()
        })
        .await;
    let mut row = latchkey::store::clients::find_client(&app.state.db, &made.id)
        .await
        .unwrap()
        .unwrap();
    row.id = id.to_owned();
    latchkey::store::clients::insert_client(&app.state.db, &row)
        .await
        .unwrap();
}

fn github_claims(aud: &str, sub: &str) -> Value {
    json!({
        "iss": CI, "aud": aud, "sub": sub,
        "repository": "acme/web", "ref": "refs/heads/main",
        "iat": START, "nbf": START, "exp": START + 300,
        "jti": latchkey::random::url_token::<16>(),
    })
}

fn kubernetes_claims(sub: &str) -> Value {
    // Projected service-account tokens: no typ, no jti, audience of the operator's
    // choosing.
    json!({
        "iss": K8S, "aud": ["latchkey"], "sub": sub,
        "iat": START, "nbf": START, "exp": START + 3600,
        "kubernetes.io": {"namespace": "payments", "serviceaccount": {"name": "api"}},
    })
}

async fn grant(app: &TestApp, assertion: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", GRANT), ("assertion", assertion)];
    form.extend_from_slice(extra);
    app.http
        .post(app.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Access tokens this instance issued through the JWT-bearer grant.
fn issued(app: &TestApp) -> u64 {
    ["RS256", "PS256", "ES256", "EdDSA"]
        .iter()
        .map(|alg| {
            app.state
                .metrics
                .tokens_issued
                .get_or_create(&latchkey::services::metrics::TokenLabels {
                    grant: "jwt_bearer",
                    alg,
                })
                .get()
        })
        .sum()
}

/// Workload assertions refused for `reason`.
fn refused_count(app: &TestApp, reason: &'static str) -> u64 {
    app.state
        .metrics
        .grant_assertions
        .get_or_create(&latchkey::services::metrics::GrantAssertionLabels {
            kind: "workload",
            outcome: "refused",
            reason,
        })
        .get()
}

async fn workloads_get_tokens_without_secrets(backend: Backend) {
    let s = setup(&backend).await;
    let app = &s.app;

    // GitHub Actions on main: a token for `deployer`, with the rule's scope only
    // (the client may have more).
    let jwt = s.ci.sign(
        &s.ci.header(),
        &github_claims(&app.base, "repo:acme/web:ref:refs/heads/main"),
    );
    let resp = grant(app, &jwt, &[]).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "deploy:write");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], "deployer");
    assert_eq!(claims["sub"], "deployer");
    let seen = app.introspect(body["access_token"].as_str().unwrap()).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], "deployer");

    // The same token again: its jti is spent.
    let again = grant(app, &jwt, &[]).await;
    let err = expect_oauth_error(again, 400, "invalid_grant").await;
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("before")
    );

    // A Kubernetes service account, keys fetched from the cluster's jwks_uri, no jti:
    // each use is fine until it expires.
    let pod = s.k8s.sign(
        &json!({"alg": "RS256", "kid": "k8s-1"}),
        &kubernetes_claims("system:serviceaccount:payments:api"),
    );
    for _ in 0..2 {
        let resp = grant(app, &pod, &[("scope", "payments:read")]).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["scope"], "payments:read");
        assert_eq!(
            jwt_claims(body["access_token"].as_str().unwrap())["client_id"],
            "payments"
        );
    }

    // With a DPoP proof the token is bound to the workload's key.
    let dpop = TestKey::es256("pod");
    let proof = dpop.proof("POST", &app.url("/oauth/token"), START, json!({}));
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .header("DPoP", proof)
        .form(&[("grant_type", GRANT), ("assertion", pod.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        dpop.jkt()
    );

    // One GitHub token, two cluster tokens and the DPoP one.
    assert_eq!(issued(app), 4);

    // A client that does authenticate must be the one the rule names.
    let other = app.client(None).await;
    let jwt = s.ci.sign(
        &s.ci.header(),
        &github_claims(&app.base, "repo:acme/api:ref:refs/heads/main"),
    );
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&other.id, Some(&other.secret))
        .form(&[("grant_type", GRANT), ("assertion", jwt.as_str())])
        .send()
        .await
        .unwrap();
    let err = expect_oauth_error(resp, 400, "invalid_grant").await;
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("maps to")
    );

    // Metadata lists the grant.
    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(GRANT)),
        "{meta}"
    );
}

async fn every_broken_workload_token_is_refused(backend: Backend) {
    let s = setup(&backend).await;
    let app = &s.app;
    let main = "repo:acme/web:ref:refs/heads/main";
    let good = github_claims(&app.base, main);
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let stranger = TestKey::es256("ci-1");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a subject no rule maps",
            s.ci.sign(
                &s.ci.header(),
                &with(json!({"sub": "repo:acme/web:ref:refs/heads/feature"})),
            ),
            "no workload rule",
        ),
        (
            "another repository owner",
            s.ci.sign(
                &s.ci.header(),
                &with(json!({"sub": "repo:evil/web:ref:refs/heads/main"})),
            ),
            "no workload rule",
        ),
        (
            "another audience",
            s.ci.sign(
                &s.ci.header(),
                &with(json!({"aud": "https://elsewhere.example"})),
            ),
            "`aud`",
        ),
        (
            "the token endpoint as audience when the issuer is configured",
            s.ci.sign(
                &s.ci.header(),
                &with(json!({"aud": app.url("/oauth/token")})),
            ),
            "`aud`",
        ),
        (
            "expired",
            s.ci.sign(
                &s.ci.header(),
                &with(json!({"iat": START - 900, "nbf": START - 900, "exp": START - 600})),
            ),
            "expired",
        ),
        (
            "living too long",
            s.ci.sign(&s.ci.header(), &with(json!({"exp": START + 90_000}))),
            "too long",
        ),
        (
            "no exp",
            s.ci.sign(&s.ci.header(), &with(json!({"exp": null}))),
            "no `exp`",
        ),
        (
            "an unknown issuer",
            s.ci.sign(
                &s.ci.header(),
                &with(json!({"iss": "https://rogue.example"})),
            ),
            "not trusted",
        ),
        ("alg none", unsigned(&good), "alg `none`"),
        (
            "HS256",
            hs256(&json!({"alg": "HS256", "typ": "JWT"}), &good, b"secret"),
            "alg `HS256`",
        ),
        (
            "an access token's typ",
            s.ci.sign(
                &json!({"alg": "ES256", "kid": "ci-1", "typ": "at+jwt"}),
                &good,
            ),
            "not an authorization grant",
        ),
        (
            "signed by a key the issuer does not have",
            stranger.sign(&stranger.header(), &good),
            "signature",
        ),
        (
            "an ID-JAG issuer's token presented as a workload's (token confusion)",
            s.idp.sign(&s.idp.header(), &with(json!({"iss": IDP}))),
            "ID-JAGs only",
        ),
        ("not a JWT", "not.a.jwt".to_owned(), "not a valid JWT"),
    ];
    for (what, assertion, needle) in cases {
        let resp = grant(app, &assertion, &[]).await;
        let err = expect_oauth_error(resp, 400, "invalid_grant").await;
        let description = err["error_description"].as_str().unwrap();
        assert!(description.contains(needle), "{what}: {description}");
    }

    // A scope beyond the rule's: invalid_scope.
    let jwt = s.ci.sign(&s.ci.header(), &github_claims(&app.base, main));
    let resp = grant(app, &jwt, &[("scope", "payments:read")]).await;
    expect_oauth_error(resp, 400, "invalid_scope").await;

    // A cluster token for a namespace no rule maps, and one whose key is not the
    // cluster's (the jwks_uri is fetched again for the unknown kid, and still lacks it).
    let pod = s.k8s.sign(
        &json!({"alg": "RS256", "kid": "k8s-1"}),
        &kubernetes_claims("system:serviceaccount:billing:api"),
    );
    expect_oauth_error(grant(app, &pod, &[]).await, 400, "invalid_grant").await;
    let rogue = TestKey::rs256("k8s-2");
    let pod = rogue.sign(
        &json!({"alg": "RS256", "kid": "k8s-2"}),
        &kubernetes_claims("system:serviceaccount:payments:api"),
    );
    let err = expect_oauth_error(grant(app, &pod, &[]).await, 400, "invalid_grant").await;
    assert!(
        err["error_description"].as_str().unwrap().contains("kid"),
        "{err}"
    );

    // No assertion at all.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", GRANT)])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_request").await;

    // Nothing was issued, and every refusal was counted and is in the audit log.
    assert_eq!(issued(app), 0);
    let refusals: u64 = [
        "unmapped",
        "audience",
        "expired",
        "issuer",
        "algorithm",
        "use",
    ]
    .iter()
    .map(|reason| refused_count(app, reason))
    .sum();
    assert!(refusals >= 10, "{refusals}");
    let filter = latchkey::store::audit::Filter {
        since: 0,
        event: Some("token.assertion_refused".into()),
        subject: None,
        after: None,
        limit: 100,
    };
    let refused = latchkey::store::audit::list_events(&app.state.db, &filter)
        .await
        .unwrap();
    assert!(refused.len() >= 15, "{}", refused.len());
}
