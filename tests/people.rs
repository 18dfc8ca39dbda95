//! The authorization code flow as people and apps go through it, over real HTTP.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{public_flow, public_flow_with};
use common::{Backend, Browser, TestApp, expect_oauth_error, location, pkce_pair, query_of};
use serde_json::Value;

const CB: &str = common::flow::CB;
const PASSWORD: &str = common::flow::PASSWORD;

/// A confidential client the tests introspect with.
async fn introspect(app: &TestApp, token: &str) -> Value {
    app.introspect(token).await
}

async fn public_client_full_flow(backend: Backend) {
    let f = public_flow(&backend).await;
    let body = f.tokens("profile email").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "email profile");
    let access = body["access_token"].as_str().unwrap();
    let refresh1 = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh1.starts_with("lk_rt_"));
    let claims = common::jwt_claims(access);
    assert_eq!(claims["sub"], f.user_id.as_str());
    assert_eq!(claims["client_id"], f.client_id.as_str());

    // userinfo by scope
    let info: Value = f
        .app
        .http
        .get(f.app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], f.user_id.as_str());
    assert_eq!(info["username"], "alice");
    assert_eq!(info["email"], "alice@example.com");

    // refresh, then refresh again, narrowing scope
    let r2: Value = f.refresh(&refresh1, None).await.json().await.unwrap();
    let refresh2 = r2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    let r3 = f.refresh(&refresh2, Some("email")).await;
    assert_eq!(r3.status(), 200);
    let r3: Value = r3.json().await.unwrap();
    assert_eq!(r3["scope"], "email");
    let refresh3 = r3["refresh_token"].as_str().unwrap().to_owned();
    // Narrowed once, the original grant still bounds the next refresh.
    let r4: Value = f
        .refresh(&refresh3, Some("profile email"))
        .await
        .json()
        .await
        .unwrap();
    let refresh4 = r4["refresh_token"].as_str().unwrap().to_owned();
    let userinfo_email_only: Value = f
        .app
        .http
        .get(f.app.url("/oauth/userinfo"))
        .bearer_auth(r3["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(userinfo_email_only.get("username").is_none());

    // introspection
    let live = introspect(&f.app, &refresh4).await;
    assert_eq!(live["active"], true);
    assert_eq!(live["token_type"], "refresh_token");
    assert_eq!(live["username"], "alice");
    let at = introspect(&f.app, r4["access_token"].as_str().unwrap()).await;
    assert_eq!(at["active"], true);
    assert_eq!(at["sub"], f.user_id.as_str());
    assert_eq!(
        introspect(&f.app, &refresh3).await,
        serde_json::json!({"active": false})
    );

    // revoke the refresh token: the family dies, access tokens from it go inactive
    let resp = f
        .app
        .http
        .post(f.app.url("/oauth/revoke"))
        .form(&[
            ("token", refresh4.as_str()),
            ("client_id", f.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expect_oauth_error(f.refresh(&refresh4, None).await, 400, "invalid_grant").await;
    assert_eq!(
        introspect(&f.app, r4["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(introspect(&f.app, access).await["active"], false);
    let resp = f
        .app
        .http
        .get(f.app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

async fn confidential_client_json_consent(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client(CB, "profile").await;
    app.user("bob", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("bob", PASSWORD).await;
    let query = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("scope", "profile"),
        ("state", "xyz"),
    ];
    // The SPA consent screen: JSON data, JSON decision.
    let resp = browser
        .http
        .get(browser.url("/oauth/authorize"))
        .query(&query)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let data: Value = resp.json().await.unwrap();
    assert_eq!(data["client"]["name"], "Web App");
    assert_eq!(data["client"]["description"], "Does useful things");
    assert_eq!(data["client"]["website"], "https://app.example");
    assert_eq!(data["redirect_host"], "app.example");
    assert_eq!(data["scopes"][0]["name"], "profile");
    assert!(data["scopes"][0]["description"].as_str().unwrap().len() > 5);
    let mut decision: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    decision.insert("decision".into(), "approve".into());
    decision.insert("csrf_token".into(), data["csrf_token"].clone());
    let resp = browser
        .http
        .post(browser.url("/oauth/authorize"))
        .json(&decision)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let to: Value = resp.json().await.unwrap();
    let q = query_of(to["redirect_to"].as_str().unwrap());
    assert_eq!(q["state"], "xyz");
    // Confidential client, no PKCE, no redirect_uri in the request (one registered).
    let resp = app
        .token_basic(
            &client,
            &[("grant_type", "authorization_code"), ("code", &q["code"])],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["refresh_token"].is_string());

    // Access token revocation: denied by jti, refresh token unaffected.
    let access = body["access_token"].as_str().unwrap();
    let resp = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token", access), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(introspect(&app, access).await["active"], false);
    let resp = app
        .token_basic(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    // Revoking garbage or someone else's token is still a 200.
    let resp = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token_type_hint", "x")])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_request").await;
}

async fn code_replay_revokes_everything_issued(backend: Backend) {
    let f = public_flow(&backend).await;
    let (verifier, challenge) = pkce_pair();
    let code = f.code(&challenge, "profile").await;
    let first: Value = f.exchange(&code, &verifier).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f.app, access).await["active"], true);
    let body = expect_oauth_error(f.exchange(&code, &verifier).await, 400, "invalid_grant").await;
    eprintln!("{body}");
    assert_eq!(introspect(&f.app, access).await["active"], false);
    expect_oauth_error(
        f.refresh(first["refresh_token"].as_str().unwrap(), None)
            .await,
        400,
        "invalid_grant",
    )
    .await;
}

async fn pkce_and_binding_failures(backend: Backend) {
    let f = public_flow(&backend).await;
    // Wrong verifier, then missing verifier, each on a fresh code.
    let (_, challenge) = pkce_pair();
    let code = f.code(&challenge, "profile").await;
    let (other_verifier, _) = pkce_pair();
    expect_oauth_error(
        f.exchange(&code, &other_verifier).await,
        400,
        "invalid_grant",
    )
    .await;
    let code = f.code(&challenge, "profile").await;
    let resp = f
        .app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("client_id", &f.client_id),
            ("code", &code),
            ("redirect_uri", CB),
        ])
        .await;
    expect_oauth_error(resp, 400, "invalid_grant").await;
    // Redirect URI mismatch at the token endpoint.
    let (verifier, challenge) = pkce_pair();
    let code = f.code(&challenge, "profile").await;
    let resp = f
        .app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("client_id", &f.client_id),
            ("code", &code),
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", &verifier),
        ])
        .await;
    expect_oauth_error(resp, 400, "invalid_grant").await;
    // A code presented by another client.
    let (verifier, challenge) = pkce_pair();
    let code = f.code(&challenge, "profile").await;
    let other = f.app.public_client(CB, "profile").await;
    let resp = f
        .app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("client_id", &other),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ])
        .await;
    expect_oauth_error(resp, 400, "invalid_grant").await;
    // Expired code.
    let (verifier, challenge) = pkce_pair();
    let code = f.code(&challenge, "profile").await;
    f.app.clock.advance(61);
    expect_oauth_error(f.exchange(&code, &verifier).await, 400, "invalid_grant").await;
    // An unknown code.
    expect_oauth_error(
        f.exchange("nonsense", &verifier).await,
        400,
        "invalid_grant",
    )
    .await;
}

async fn authorize_errors(backend: Backend) {
    let f = public_flow(&backend).await;
    let (_, challenge) = pkce_pair();
    // Unknown client, unregistered redirect: an error page, never a redirect.
    for q in [
        vec![
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", CB),
            ("scope", "profile"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", f.client_id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "profile"),
        ],
        vec![("response_type", "code"), ("redirect_uri", CB)],
    ] {
        let resp = f.browser.authorize(&q).await;
        assert_eq!(resp.status(), 400);
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("<h1>"));
    }
    // Everything else redirects back with error, state and iss.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (vec![], "invalid_request"), // public client without PKCE
        (
            vec![
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("response_type", "token"),
            ],
            "unsupported_response_type",
        ),
    ];
    for (extra, error) in cases {
        let mut q = vec![
            ("client_id", f.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "profile"),
            ("state", "s1"),
        ];
        if !extra.iter().any(|(k, _)| *k == "response_type") {
            q.push(("response_type", "code"));
        }
        q.extend(extra);
        let resp = f.browser.authorize(&q).await;
        assert_eq!(resp.status(), 303, "{q:?}");
        let to = query_of(&location(&resp));
        assert_eq!(to["error"], error, "{q:?}");
        assert_eq!(to["state"], "s1");
        assert_eq!(to["iss"], f.app.base);
    }
    // Scope the client may not have.
    let mut q = f.query(&challenge, "apps:write");
    q.retain(|(k, _)| *k != "state");
    let to = query_of(&location(&f.browser.authorize(&q).await));
    assert_eq!(to["error"], "invalid_scope");
    // Deny.
    let resp = f
        .browser
        .decide(&f.query(&challenge, "profile"), "deny")
        .await;
    let to = query_of(&location(&resp));
    assert_eq!(to["error"], "access_denied");
    assert_eq!(to["state"], "st-123");
    assert_eq!(to["iss"], f.app.base);
}

async fn consent_is_remembered_and_prompt_works(backend: Backend) {
    let f = public_flow(&backend).await;
    let (_, challenge) = pkce_pair();
    f.code(&challenge, "profile email").await;
    // Same or fewer scopes: straight back with a code.
    let resp = f.browser.authorize(&f.query(&challenge, "profile")).await;
    assert_eq!(resp.status(), 303);
    assert!(query_of(&location(&resp)).contains_key("code"));
    // prompt=consent shows the page again.
    let mut q = f.query(&challenge, "profile");
    q.push(("prompt", "consent"));
    assert_eq!(f.browser.authorize(&q).await.status(), 200);
    // prompt=none: remembered consent issues; signed out → login_required.
    let mut q = f.query(&challenge, "profile");
    q.push(("prompt", "none"));
    let to = query_of(&location(&f.browser.authorize(&q).await));
    assert!(to.contains_key("code"));
    let stranger = Browser::new(&f.app);
    let to = query_of(&location(&stranger.authorize(&q).await));
    assert_eq!(to["error"], "login_required");
    // A new user with no consent: consent_required.
    f.app.user("carol", PASSWORD).await;
    let carol = Browser::new(&f.app);
    carol.login("carol", PASSWORD).await;
    let to = query_of(&location(&carol.authorize(&q).await));
    assert_eq!(to["error"], "consent_required");
    // Signed out, normal prompt: to the login page, which comes back here.
    let resp = stranger.authorize(&f.query(&challenge, "profile")).await;
    let to = location(&resp);
    assert!(
        to.starts_with("/login?next=%2Foauth%2Fauthorize%3F"),
        "{to}"
    );
}

async fn consent_needs_csrf_and_pages_refuse_framing(backend: Backend) {
    let f = public_flow(&backend).await;
    let (_, challenge) = pkce_pair();
    let resp = f.browser.authorize(&f.query(&challenge, "profile")).await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let html = resp.text().await.unwrap();
    let mut form = common::hidden_inputs(&html);
    form.retain(|(k, _)| k != "csrf_token");
    form.push(("decision".into(), "approve".into()));
    let resp = f
        .browser
        .http
        .post(f.browser.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("location").is_none());
    form.push(("csrf_token".into(), "wrong".into()));
    let resp = f
        .browser
        .http
        .post(f.browser.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The login page cannot be framed either.
    let resp = f.app.http.get(f.app.url("/login")).send().await.unwrap();
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

async fn login_rules(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.user("dave", PASSWORD).await;
    let browser = Browser::new(&app);
    let wrong = browser.try_login("dave", "wrong password").await;
    assert_eq!(wrong.status(), 401);
    let wrong_text = wrong.text().await.unwrap();
    let unknown = browser.try_login("nobody", "wrong password").await;
    assert_eq!(unknown.status(), 401);
    let unknown_text = unknown.text().await.unwrap();
    assert!(wrong_text.contains("Incorrect username or password."));
    assert!(unknown_text.contains("Incorrect username or password."));
    // The session cookie's attributes.
    let resp = browser.try_login("dave", PASSWORD).await;
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("lk_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "http issuer: no Secure flag");
    // next may only point at this server.
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let b = Browser::new(&app);
        let page = b
            .http
            .get(b.url("/login"))
            .query(&[("next", evil)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            common::hidden_value(&page, "next").as_deref(),
            Some("/account"),
            "{evil}"
        );
    }
    // A login POST without the form's CSRF cookie is refused.
    let resp = app
        .http
        .post(app.url("/login"))
        .form(&[
            ("username", "dave"),
            ("password", PASSWORD),
            ("csrf_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Idle timeout ends the session.
    assert_eq!(
        browser
            .http
            .get(browser.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.clock
        .advance(app.state.settings.session_idle_timeout + 1);
    assert_eq!(
        browser
            .http
            .get(browser.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
}

async fn scope_escalation_on_refresh_is_refused(backend: Backend) {
    let f = public_flow(&backend).await;
    let body = f.tokens("profile").await;
    let resp = f
        .refresh(
            body["refresh_token"].as_str().unwrap(),
            Some("profile email"),
        )
        .await;
    expect_oauth_error(resp, 400, "invalid_scope").await;
}

async fn rotated_token_reuse_kills_the_family(backend: Backend) {
    let f = public_flow(&backend).await;
    let body = f.tokens("profile").await;
    let old = body["refresh_token"].as_str().unwrap().to_owned();
    let newer: Value = f.refresh(&old, None).await.json().await.unwrap();
    let newer_rt = newer["refresh_token"].as_str().unwrap();
    expect_oauth_error(f.refresh(&old, None).await, 400, "invalid_grant").await;
    // The legitimate holder of the newer token is cut off too.
    expect_oauth_error(f.refresh(newer_rt, None).await, 400, "invalid_grant").await;
    assert_eq!(
        introspect(&f.app, newer["access_token"].as_str().unwrap()).await["active"],
        false
    );
}

async fn concurrent_refreshes_have_one_winner(backend: Backend) {
    let f = public_flow(&backend).await;
    let body = f.tokens("profile").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let attempts = (0..20).map(|_| f.refresh(&rt, None));
    let results = futures_join_all(attempts).await;
    let winners: Vec<Value> = {
        let mut w = Vec::new();
        for r in results {
            if r.status() == 200 {
                w.push(r.json().await.unwrap());
            } else {
                assert_eq!(r.status(), 400);
            }
        }
        w
    };
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 20 concurrent refreshes wins"
    );
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // Start them all before awaiting any: poll concurrently on this task.
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, fut) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    for r in results {
        out.push(r.unwrap());
    }
    out
}

async fn reuse_interval_allows_one_retry(backend: Backend) {
    let app = TestApp::builder()
        .args(|a| a.refresh_reuse_interval = Some(30))
        .spawn(&backend)
        .await;
    let f = public_flow_with(app).await;
    let body = f.tokens("profile").await;
    let a = body["refresh_token"].as_str().unwrap().to_owned();
    // A → B, whose response the client "loses".
    let b: Value = f.refresh(&a, None).await.json().await.unwrap();
    let b_rt = b["refresh_token"].as_str().unwrap().to_owned();
    // Retry with A within the interval: a fresh pair C; B dies.
    f.app.clock.advance(5);
    let c = f.refresh(&a, None).await;
    assert_eq!(c.status(), 200);
    let c: Value = c.json().await.unwrap();
    let c_rt = c["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&f.app, &b_rt).await["active"], false);
    assert_eq!(introspect(&f.app, &c_rt).await["active"], true);
    // A second retry with A is reuse: the family dies, C with it.
    expect_oauth_error(f.refresh(&a, None).await, 400, "invalid_grant").await;
    assert_eq!(introspect(&f.app, &c_rt).await["active"], false);

    // After the interval, the previous token is plain reuse.
    let body = f.tokens("profile").await;
    let d = body["refresh_token"].as_str().unwrap().to_owned();
    let e: Value = f.refresh(&d, None).await.json().await.unwrap();
    f.app.clock.advance(31);
    expect_oauth_error(f.refresh(&d, None).await, 400, "invalid_grant").await;
    assert_eq!(
        introspect(&f.app, e["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
}

async fn refresh_racing_revocation_leaves_nothing_usable(backend: Backend) {
    let f = public_flow(&backend).await;
    for _ in 0..5 {
        let body = f.tokens("profile").await;
        let rt = body["refresh_token"].as_str().unwrap().to_owned();
        let revoke = f
            .app
            .http
            .post(f.app.url("/oauth/revoke"))
            .form(&[("token", rt.as_str()), ("client_id", f.client_id.as_str())])
            .send();
        let refresh = f.refresh(&rt, None);
        let (revoked, refreshed) = tokio::join!(revoke, refresh);
        assert_eq!(revoked.unwrap().status(), 200);
        if refreshed.status() == 200 {
            // Refresh won the race; revocation came after and must still win.
            let issued: Value = refreshed.json().await.unwrap();
            assert_eq!(
                introspect(&f.app, issued["access_token"].as_str().unwrap()).await["active"],
                false
            );
            expect_oauth_error(
                f.refresh(issued["refresh_token"].as_str().unwrap(), None)
                    .await,
                400,
                "invalid_grant",
            )
            .await;
        }
        expect_oauth_error(f.refresh(&rt, None).await, 400, "invalid_grant").await;
    }
}

async fn discovery_advertises_the_code_flow(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{}/oauth/authorize", app.base)
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
}

async fn expired_rows_are_purged_and_live_ones_kept(backend: Backend) {
    let f = public_flow(&backend).await;
    let body = f.tokens("profile").await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let keep = f.app.state.settings.access_token_ttl + 60;
    let now = || {
        use latchkey::clock::Clock;
        f.app.clock.now()
    };
    let purged = latchkey::store::tokens::purge_expired(&f.app.state.db, now(), keep)
        .await
        .unwrap();
    assert_eq!(purged, Default::default(), "nothing live is touched");
    assert_eq!(introspect(&f.app, &rt).await["active"], true);
    f.app
        .clock
        .advance(f.app.state.settings.refresh_token_ttl + keep + 1);
    let purged = latchkey::store::tokens::purge_expired(&f.app.state.db, now(), keep)
        .await
        .unwrap();
    assert_eq!(purged.refresh_tokens, 1);
    assert_eq!(purged.families, 1);
    assert_eq!(purged.sessions, 1);
    assert_eq!(introspect(&f.app, &rt).await["active"], false);
}

both_backends!(
    expired_rows_are_purged_and_live_ones_kept,
    public_client_full_flow,
    confidential_client_json_consent,
    code_replay_revokes_everything_issued,
    pkce_and_binding_failures,
    authorize_errors,
    consent_is_remembered_and_prompt_works,
    consent_needs_csrf_and_pages_refuse_framing,
    login_rules,
    scope_escalation_on_refresh_is_refused,
    rotated_token_reuse_kills_the_family,
    concurrent_refreshes_have_one_winner,
    reuse_interval_allows_one_retry,
    refresh_racing_revocation_leaves_nothing_usable,
    discovery_advertises_the_code_flow,
);
