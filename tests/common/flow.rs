//! The authorization code flow with a public client, as the people tests and the
//! management API tests go through it.

use super::{Backend, Browser, TestApp, location, pkce_pair, query_of};
use serde_json::Value;

/// The redirect URI of the flow's client.
pub const CB: &str = "https://app.example/cb";
pub const PASSWORD: &str = "correct horse battery";

pub struct Flow {
    pub app: TestApp,
    pub browser: Browser,
    pub client_id: String,
    pub user_id: String,
}

/// A public client, a user, and a signed-in browser.
pub async fn public_flow(backend: &Backend) -> Flow {
    public_flow_with(TestApp::spawn(backend).await).await
}

pub async fn public_flow_with(app: TestApp) -> Flow {
    public_flow_scoped(app, "profile email").await
}

/// A public client allowed `scope`, a user `alice`, and her signed-in browser.
pub async fn public_flow_scoped(app: TestApp, scope: &str) -> Flow {
    let client_id = app.public_client(CB, scope).await;
    let user_id = app.user("alice", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("alice", PASSWORD).await;
    Flow {
        app,
        browser,
        client_id,
        user_id,
    }
}

impl Flow {
    /// This flow's user, browser and client, borrowed.
    pub fn party(&self) -> Party<'_> {
        Party {
            app: &self.app,
            browser: &self.browser,
            client_id: &self.client_id,
            redirect_uri: CB,
        }
    }

    pub fn query<'a>(&'a self, challenge: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
        self.party().query(challenge, scope)
    }

    pub async fn code(&self, challenge: &str, scope: &str) -> String {
        self.party().code(challenge, scope).await
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.party().exchange(code, verifier).await
    }

    pub async fn tokens(&self, scope: &str) -> Value {
        self.party().tokens(scope).await
    }

    pub async fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> reqwest::Response {
        self.party().refresh(refresh_token, scope).await
    }
}

/// A signed-in browser and a public client with a redirect URI, on an app.
#[derive(Clone, Copy)]
pub struct Party<'a> {
    pub app: &'a TestApp,
    pub browser: &'a Browser,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
}

impl<'a> Party<'a> {
    pub fn query(&self, challenge: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("scope", scope),
            ("state", "st-123"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]
    }

    /// Approves on the HTML consent page (or passes straight through when consent
    /// is remembered); returns the code.
    pub async fn code(&self, challenge: &str, scope: &str) -> String {
        self.code_with(challenge, scope, &[]).await
    }

    /// `code`, with `extra` parameters added to the authorization request.
    pub async fn code_with(&self, challenge: &str, scope: &str, extra: &[(&str, &str)]) -> String {
        let mut query = self.query(challenge, scope);
        query.extend_from_slice(extra);
        let first = self.browser.authorize(&query).await;
        let resp = if first.status() == 303 {
            first
        } else {
            self.browser.decide(&query, "approve").await
        };
        assert_eq!(resp.status(), 303);
        let to = location(&resp);
        assert!(to.starts_with(self.redirect_uri), "{to}");
        let q = query_of(&to);
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], self.app.base);
        q["code"].clone()
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.app
            .token_public(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id),
                ("code", code),
                ("redirect_uri", self.redirect_uri),
                ("code_verifier", verifier),
            ])
            .await
    }

    /// Exchanges `code`; it must succeed. Returns the token response body.
    pub async fn exchanged(&self, code: &str, verifier: &str) -> Value {
        let resp = self.exchange(code, verifier).await;
        assert_eq!(resp.status(), 200, "code exchange");
        resp.json().await.unwrap()
    }

    /// A full code exchange; returns the token response body.
    pub async fn tokens(&self, scope: &str) -> Value {
        let (verifier, challenge) = pkce_pair();
        let code = self.code(&challenge, scope).await;
        let resp = self.exchange(&code, &verifier).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        resp.json().await.unwrap()
    }

    pub async fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id),
            ("refresh_token", refresh_token),
        ];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.app.token_public(&form).await
    }
}
