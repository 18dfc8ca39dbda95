//! Delegated sign-in and consent over real HTTP, both databases: a browser (a
//! cookie-keeping client that does not follow redirects) is sent to the product's
//! page with a challenge; the test plays the product through the admin API.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, Browser, TestApp, location, pkce_pair, query_of};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1/cb";
const PRODUCT_LOGIN: &str = "http://localhost:4000/sign-in";
const PRODUCT_CONSENT: &str = "http://localhost:4000/consent";

struct Setup {
    app: TestApp,
    admin: String,
    client: String,
}

async fn setup(backend: &Backend, consent_url: bool) -> Setup {
    let app = TestApp::builder()
        .args(|a| {
            a.login_url = Some(PRODUCT_LOGIN.to_owned());
            if consent_url {
                a.consent_url = Some(PRODUCT_CONSENT.to_owned());
            }
        })
        .spawn(backend)
        .await;
    let admin = app.admin_token().await;
    let client = app
        .public_client(REDIRECT, "openid profile email apps:read")
        .await;
    Setup { app, admin, client }
}

impl Setup {
    fn query<'a>(&'a self, challenge: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("response_type", "code"),
            ("client_id", &self.client),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "s-1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("login_hint", "ada@shop.example"),
        ]
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(&self.admin);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// Starts an authorization in `browser`; the login challenge it is sent with.
    async fn login_challenge(&self, browser: &Browser, challenge: &str, scope: &str) -> String {
        let resp = browser.authorize(&self.query(challenge, scope)).await;
        assert_eq!(resp.status(), 303);
        let to = location(&resp);
        assert!(to.starts_with(PRODUCT_LOGIN), "sent to the product: {to}");
        query_of(&to)["login_challenge"].clone()
    }

    async fn accept_login(&self, challenge: &str, subject: &str, remember: bool) -> String {
        let resp = self
            .admin(
                reqwest::Method::PUT,
                &format!("/admin/login-requests/{challenge}/accept"),
                Some(json!({
                    "subject": subject, "remember": remember, "name": "Ada Lovelace",
                    "email": "ada@shop.example", "email_verified": true,
                    "preferred_username": "ada"
                })),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["redirect_to"].as_str().unwrap().to_owned()
    }
}

async fn follow(browser: &Browser, url: &str) -> reqwest::Response {
    browser.http.get(url).send().await.unwrap()
}

/// Follows the verifier and the redirect back to `/oauth/authorize`.
async fn back_to_authorize(s: &Setup, browser: &Browser, redirect_to: &str) -> reqwest::Response {
    let resp = follow(browser, redirect_to).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let next = location(&resp);
    assert!(next.starts_with("/oauth/authorize?"), "{next}");
    follow(browser, &s.app.url(&next)).await
}

async fn approve(s: &Setup, browser: &Browser, consent: reqwest::Response) -> String {
    assert_eq!(consent.status(), 200, "Latchkey's consent page");
    let html = consent.text().await.unwrap();
    assert!(html.contains("Public App"));
    let mut form = common::hidden_inputs(&html);
    form.push(("decision".into(), "approve".into()));
    let resp = browser
        .http
        .post(s.app.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(to.starts_with(REDIRECT), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "s-1");
    q["code"].clone()
}

async fn redeem(s: &Setup, code: &str, verifier: &str) -> Value {
    let resp = s
        .app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", &s.client),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn sign_in_with_the_product(backend: Backend) {
    let s = setup(&backend, false).await;
    let browser = Browser::new(&s.app);
    let (verifier, challenge) = pkce_pair();
    let login = s
        .login_challenge(&browser, &challenge, "openid profile email offline_access")
        .await;
    assert_eq!(login.len(), 43, "256-bit challenge");

    // What the product sees.
    let resp = s
        .admin(
            reqwest::Method::GET,
            &format!("/admin/login-requests/{login}"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let req: Value = resp.json().await.unwrap();
    assert_eq!(req["client"]["client_id"], s.client.as_str());
    assert_eq!(req["client"]["name"], "Public App");
    assert_eq!(
        req["requested_scope"],
        json!(["email", "offline_access", "openid", "profile"])
    );
    assert_eq!(req["login_hint"], "ada@shop.example");
    assert!(req["session"].is_null());

    let redirect_to = s.accept_login(&login, "user-42", false).await;
    assert!(redirect_to.starts_with(&s.app.url("/oauth/authorize/continue?verifier=")));
    let consent = back_to_authorize(&s, &browser, &redirect_to).await;
    let code = approve(&s, &browser, consent).await;
    let tokens = redeem(&s, &code, &verifier).await;
    let at = common::jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], "user-42", "sub is the product's user id");
    let id = common::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], "user-42");
    assert_eq!(id["email"], "ada@shop.example");
    assert_eq!(id["preferred_username"], "ada");
    let info: Value = s
        .app
        .http
        .get(s.app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], "user-42");
    assert_eq!(info["name"], "Ada Lovelace");

    // The identity is a user like any other, keyed by the subject.
    let user: Value = s
        .admin(reqwest::Method::GET, "/admin/users/user-42", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["source"], "delegated");
    assert_eq!(user["username"], "ada");

    // Without `remember`, the session ended with the authorization: the next one
    // goes to the product again. Consent is remembered, so after the product
    // accepts the code comes at once.
    let (verifier2, challenge2) = pkce_pair();
    let login2 = s
        .login_challenge(&browser, &challenge2, "openid profile email offline_access")
        .await;
    let redirect_to = s.accept_login(&login2, "user-42", true).await;
    let resp = back_to_authorize(&s, &browser, &redirect_to).await;
    assert_eq!(resp.status(), 303);
    let code = query_of(&location(&resp))["code"].clone();
    let tokens = redeem(&s, &code, &verifier2).await;
    assert_eq!(
        common::jwt_claims(tokens["access_token"].as_str().unwrap())["sub"],
        "user-42"
    );

    // With `remember`, the third authorization skips the product's page.
    let (_, challenge3) = pkce_pair();
    let resp = browser
        .authorize(&s.query(&challenge3, "openid profile email offline_access"))
        .await;
    assert_eq!(resp.status(), 303);
    assert!(
        location(&resp).starts_with(REDIRECT),
        "no trip to the product"
    );

    // Refresh works; deleting the identity kills its tokens.
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let resp = s
        .admin(reqwest::Method::DELETE, "/admin/users/user-42", None)
        .await;
    assert_eq!(resp.status(), 204);
    let resp = s
        .app
        .token_public(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &s.client),
        ])
        .await;
    common::expect_oauth_error(resp, 400, "invalid_grant").await;
    let intro = s
        .app
        .introspect(tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["active"], false);
}

async fn consent_at_the_product(backend: Backend) {
    let s = setup(&backend, true).await;
    let browser = Browser::new(&s.app);
    let (verifier, challenge) = pkce_pair();
    let login = s
        .login_challenge(&browser, &challenge, "openid profile email")
        .await;
    let redirect_to = s.accept_login(&login, "user-7", true).await;
    let resp = back_to_authorize(&s, &browser, &redirect_to).await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(to.starts_with(PRODUCT_CONSENT), "{to}");
    let consent = query_of(&to)["consent_challenge"].clone();

    let req: Value = s
        .admin(
            reqwest::Method::GET,
            &format!("/admin/consent-requests/{consent}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(req["user"]["id"], "user-7");
    assert_eq!(req["client"]["client_id"], s.client.as_str());
    assert_eq!(req["redirect_host"], "127.0.0.1");
    let names: Vec<&str> = req["requested_scope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["email", "openid", "profile"]);

    // More than was asked: refused, and the challenge stays answerable.
    let path = format!("/admin/consent-requests/{consent}/accept");
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &path,
            Some(json!({"grant_scope": ["openid", "apps:read"]})),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let p: Value = resp.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("apps:read"), "{p}");
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &path,
            Some(json!({"grant_scope": ["openid", "profile"], "remember": false})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let to: Value = resp.json().await.unwrap();
    let resp = follow(&browser, to["redirect_to"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 303);
    let back = location(&resp);
    assert!(back.starts_with(REDIRECT), "{back}");
    let tokens = redeem(&s, &query_of(&back)["code"], &verifier).await;
    assert_eq!(tokens["scope"], "openid profile", "only what was granted");

    // Consent not remembered: asked again (at the product).
    let (_, challenge2) = pkce_pair();
    let resp = browser
        .authorize(&s.query(&challenge2, "openid profile"))
        .await;
    assert!(location(&resp).starts_with(PRODUCT_CONSENT));

    // A rejection reaches the client as an OAuth error with state and iss.
    let consent2 = query_of(&location(&resp))["consent_challenge"].clone();
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/consent-requests/{consent2}/reject"),
            Some(json!({"error": "access_denied", "error_description": "the person said no"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let to: Value = resp.json().await.unwrap();
    let resp = follow(&browser, to["redirect_to"].as_str().unwrap()).await;
    let q = query_of(&location(&resp));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "the person said no");
    assert_eq!(q["state"], "s-1");
    assert_eq!(q["iss"], s.app.base);
    assert!(!q.contains_key("code"));
}

async fn challenge_misuse(backend: Backend) {
    let s = setup(&backend, false).await;
    let browser = Browser::new(&s.app);
    let (_, challenge) = pkce_pair();
    let scope = "openid profile";

    // A forged challenge.
    let forged = "A".repeat(43);
    let resp = s
        .admin(
            reqwest::Method::GET,
            &format!("/admin/login-requests/{forged}"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // A token without the admin scope, and a person's token, cannot answer.
    let login = s.login_challenge(&browser, &challenge, scope).await;
    let plain = s.app.client(Some("profile")).await;
    let tok: Value = s
        .app
        .token_basic(&plain, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let resp = s
        .app
        .http
        .put(s.app.url(&format!("/admin/login-requests/{login}/accept")))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .json(&json!({"subject": "mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = s
        .app
        .http
        .put(s.app.url(&format!("/admin/login-requests/{login}/accept")))
        .json(&json!({"subject": "mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("latchkey:admin")
    );

    // A bad subject is refused; the challenge is still answerable after.
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/login-requests/{login}/accept"),
            Some(json!({"subject": "has space"})),
        )
        .await;
    assert_eq!(resp.status(), 400);

    // Accepting twice.
    let redirect_to = s.accept_login(&login, "user-1", false).await;
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/login-requests/{login}/accept"),
            Some(json!({"subject": "user-2"})),
        )
        .await;
    assert_eq!(resp.status(), 409);
    let resp = s
        .admin(
            reqwest::Method::GET,
            &format!("/admin/login-requests/{login}"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 409);

    // Another browser (no binding cookie, or another one) cannot follow it — and
    // trying does not use it up for the right browser.
    let other = Browser::new(&s.app);
    let (_, c2) = pkce_pair();
    s.login_challenge(&other, &c2, scope).await; // the other browser has its own cookie
    let resp = follow(&other, &redirect_to).await;
    assert_eq!(resp.status(), 403);
    let page = resp.text().await.unwrap();
    assert!(page.contains("another browser"), "{page}");
    assert!(!page.contains("code="));
    let resp = follow(&browser, &redirect_to).await;
    assert_eq!(resp.status(), 303, "the right browser still can");
    // Replayed: refused.
    let resp = follow(&browser, &redirect_to).await;
    assert_eq!(resp.status(), 409);
    // A forged verifier.
    let resp = follow(
        &browser,
        &s.app.url("/oauth/authorize/continue?verifier=nope"),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = follow(&browser, &s.app.url("/oauth/authorize/continue")).await;
    assert_eq!(resp.status(), 400);

    // Expiry: a challenge unanswered for ten minutes, and an answer not followed
    // within two.
    let fresh = Browser::new(&s.app);
    let (_, c3) = pkce_pair();
    let late = s.login_challenge(&fresh, &c3, scope).await;
    let (_, c4) = pkce_pair();
    let slow = s.login_challenge(&fresh, &c4, scope).await;
    let slow_to = s.accept_login(&slow, "user-3", false).await;
    s.app.clock.advance(601);
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/login-requests/{late}/accept"),
            Some(json!({"subject": "user-3"})),
        )
        .await;
    assert_eq!(resp.status(), 410);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["type"], "urn:latchkey:problem:expired");
    let resp = follow(&fresh, &slow_to).await;
    assert_eq!(resp.status(), 410);

    // The admin scope cannot be asked for through a person's authorization.
    let (_, c5) = pkce_pair();
    let resp = fresh.authorize(&s.query(&c5, "latchkey:admin")).await;
    let q = query_of(&location(&resp));
    assert_eq!(q["error"], "invalid_scope");
    assert!(!q.contains_key("code"));

    // A subject that is a local account's id is refused; a disabled identity too.
    let local = s.app.user("grace", "correct horse").await;
    let (_, c6) = pkce_pair();
    let l6 = s.login_challenge(&fresh, &c6, scope).await;
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/login-requests/{l6}/accept"),
            Some(json!({"subject": local})),
        )
        .await;
    assert_eq!(resp.status(), 409);
    let resp = s
        .admin(
            reqwest::Method::PATCH,
            "/admin/users/user-1",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = s
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/login-requests/{l6}/accept"),
            Some(json!({"subject": "user-1"})),
        )
        .await;
    assert_eq!(resp.status(), 403);
}

async fn prompt_login_reports_the_known_session(backend: Backend) {
    let s = setup(&backend, false).await;
    let browser = Browser::new(&s.app);
    let (_, challenge) = pkce_pair();
    let login = s.login_challenge(&browser, &challenge, "openid").await;
    let to = s.accept_login(&login, "user-9", true).await;
    back_to_authorize(&s, &browser, &to).await;
    let mut q = s.query(&challenge, "openid");
    q.push(("prompt", "login"));
    let resp = browser.authorize(&q).await;
    let again = query_of(&location(&resp))["login_challenge"].clone();
    let req: Value = s
        .admin(
            reqwest::Method::GET,
            &format!("/admin/login-requests/{again}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(req["prompt"], json!(["login"]));
    assert_eq!(req["session"]["subject"], "user-9");
    assert_eq!(req["session"]["username"], "ada");
}

both_backends!(
    sign_in_with_the_product,
    consent_at_the_product,
    challenge_misuse,
    prompt_login_reports_the_known_session,
);
