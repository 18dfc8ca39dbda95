//! A tiny product with its own accounts and sign-in page, which delegates OAuth to
//! Latchkey: Latchkey sends people here with a `login_challenge` (and, with
//! `consent_url`, a `consent_challenge`); this app signs them in its own way and
//! answers through Latchkey's admin API with an operator token.

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Body, EndpointExt, Request, Response, Route, get, handler};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where Latchkey is, and the operator client this app acts as.
#[derive(Clone)]
pub struct Settings {
    /// Latchkey's issuer URL.
    pub latchkey: String,
    /// A client with `latchkey:admin` (`latchkey clients create --grant-type
    /// client_credentials --scope latchkey:admin`).
    pub client_id: String,
    pub client_secret: String,
}

/// One of the product's own accounts.
pub struct Account {
    pub id: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub email: &'static str,
}

/// The product's user list (a real product has a database).
pub const ACCOUNTS: [Account; 2] = [
    Account {
        id: "shop-1001",
        username: "ada",
        password: "correct horse battery",
        name: "Ada Lovelace",
        email: "ada@shop.example",
    },
    Account {
        id: "shop-1002",
        username: "grace",
        password: "staple battery horse",
        name: "Grace Hopper",
        email: "grace@shop.example",
    },
];

const COOKIE: &str = "shop_session";

struct Product {
    settings: Settings,
    http: reqwest::Client,
    /// The product's own sessions: cookie value → account id.
    sessions: Mutex<HashMap<String, &'static str>>,
    /// The admin token and when to fetch a new one.
    token: Mutex<Option<(String, Instant)>>,
}

type Shared = Arc<Product>;

/// The product's pages.
pub fn endpoint(settings: Settings) -> impl poem::Endpoint {
    let product = Arc::new(Product {
        settings,
        http: reqwest::Client::new(),
        sessions: Mutex::default(),
        token: Mutex::default(),
    });
    Route::new()
        .at("/", get(home))
        .at("/sign-in", get(sign_in_page).post(sign_in_submit))
        .at("/consent", get(consent_page).post(consent_submit))
        .data(product)
}

impl Product {
    /// An admin token from client credentials, reused until shortly before expiry.
    async fn admin_token(&self) -> Result<String, String> {
        if let Some((t, until)) = self.token.lock().map_err(|e| e.to_string())?.clone()
            && Instant::now() < until
        {
            return Ok(t);
        }
        let resp: Value = self
            .http
            .post(format!("{}/oauth/token", self.settings.latchkey))
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "latchkey:admin"),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let token = resp["access_token"]
            .as_str()
            .ok_or_else(|| format!("no admin token: {resp}"))?
            .to_owned();
        let ttl = resp["expires_in"].as_u64().unwrap_or(60).saturating_sub(30);
        *self.token.lock().map_err(|e| e.to_string())? =
            Some((token.clone(), Instant::now() + Duration::from_secs(ttl)));
        Ok(token)
    }

    /// Calls Latchkey's admin API; the JSON answer of a 2xx, or its problem.
    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let token = self.admin_token().await?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.settings.latchkey))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let ok = resp.status().is_success();
        let value: Value = resp.json().await.map_err(|e| e.to_string())?;
        if ok {
            Ok(value)
        } else {
            Err(value["detail"]
                .as_str()
                .unwrap_or("the admin API refused")
                .to_owned())
        }
    }

    fn signed_in(&self, req: &Request) -> Option<&'static Account> {
        let value = req
            .header(header::COOKIE)?
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)?
            .1
            .to_owned();
        let id = *self.sessions.lock().ok()?.get(&value)?;
        ACCOUNTS.iter().find(|a| a.id == id)
    }

    /// Accepts the login challenge for `account`; where to send the browser.
    async fn accept(
        &self,
        challenge: &str,
        account: &Account,
        remember: bool,
    ) -> Result<String, String> {
        let answer = self
            .admin(
                reqwest::Method::PUT,
                &format!("/admin/login-requests/{}/accept", enc(challenge)),
                Some(json!({
                    "subject": account.id,
                    "remember": remember,
                    "name": account.name,
                    "email": account.email,
                    "email_verified": true,
                    "preferred_username": account.username,
                })),
            )
            .await?;
        answer["redirect_to"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no redirect_to".to_owned())
    }
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// HTML-escapes text for the pages below.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t} · Shop</title></head><body><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    );
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(html)
}

fn see_other(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .finish()
}

fn failed(e: &str) -> Response {
    page(
        StatusCode::BAD_GATEWAY,
        "Something went wrong",
        &format!("<p>{}</p>", esc(e)),
    )
}

fn query(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn form(body: Body) -> Vec<(String, String)> {
    let bytes = body.into_bytes_limit(16 * 1024).await.unwrap_or_default();
    url::form_urlencoded::parse(&bytes).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[handler]
async fn home(req: &Request, Data(p): Data<&Shared>) -> Response {
    let who = p
        .signed_in(req)
        .map_or_else(|| "nobody".to_owned(), |a| esc(a.name));
    let list: String = ACCOUNTS
        .iter()
        .map(|a| format!("<li>{} ({})</li>", esc(a.name), esc(a.username)))
        .collect();
    page(
        StatusCode::OK,
        "Shop",
        &format!("<p>Signed in: {who}</p><h2>Our users</h2><ul>{list}</ul>"),
    )
}

fn sign_in_form(status: StatusCode, challenge: &str, app: &str, error: Option<&str>) -> Response {
    let error = error.map_or_else(String::new, |e| format!("<p role=\"alert\">{}</p>", esc(e)));
    page(
        status,
        "Sign in to Shop",
        &format!(
            "<p>to continue to <strong>{app}</strong></p>{error}<form method=\"post\" action=\"/sign-in\">\
             <input type=\"hidden\" name=\"login_challenge\" value=\"{c}\">\
             <label for=\"username\">Username</label> <input id=\"username\" name=\"username\" autocomplete=\"username\"><br>\
             <label for=\"password\">Password</label> <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\"><br>\
             <label><input type=\"checkbox\" name=\"remember\" value=\"1\"> Keep me signed in</label><br>\
             <button type=\"submit\">Sign in</button></form>",
            app = esc(app),
            c = esc(challenge),
        ),
    )
}

/// `GET /sign-in?login_challenge=…`: someone already signed in to the product is
/// accepted at once, unless the app asked for a fresh sign-in.
#[handler]
async fn sign_in_page(req: &Request, Data(p): Data<&Shared>) -> Response {
    let Some(challenge) = query(req).remove("login_challenge") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Nothing to sign in to",
            "<p>Start from the app.</p>",
        );
    };
    let request = match p
        .admin(
            reqwest::Method::GET,
            &format!("/admin/login-requests/{}", enc(&challenge)),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let fresh = request["prompt"]
        .as_array()
        .is_some_and(|v| v.iter().any(|p| p == "login"));
    if let Some(account) = p.signed_in(req).filter(|_| !fresh) {
        return match p.accept(&challenge, account, false).await {
            Ok(to) => see_other(&to),
            Err(e) => failed(&e),
        };
    }
    let app = request["client"]["name"].as_str().unwrap_or("an app");
    sign_in_form(StatusCode::OK, &challenge, app, None)
}

/// `POST /sign-in`: the product checks the password its own way.
#[handler]
async fn sign_in_submit(body: Body, Data(p): Data<&Shared>) -> Response {
    let f = form(body).await;
    let challenge = field(&f, "login_challenge").unwrap_or_default().to_owned();
    let username = field(&f, "username").unwrap_or_default();
    let password = field(&f, "password").unwrap_or_default();
    let Some(account) = ACCOUNTS
        .iter()
        .find(|a| a.username == username && a.password == password)
    else {
        return sign_in_form(
            StatusCode::UNAUTHORIZED,
            &challenge,
            "the app",
            Some("Wrong username or password."),
        );
    };
    let remember = field(&f, "remember") == Some("1");
    let to = match p.accept(&challenge, account, remember).await {
        Ok(to) => to,
        Err(e) => return failed(&e),
    };
    let value = format!("{:032x}", rand_u128());
    if let Ok(mut s) = p.sessions.lock() {
        s.insert(value.clone(), account.id);
    }
    let mut resp = see_other(&to);
    if let Ok(v) = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax").parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// A random session id (std's randomly keyed hasher keeps the example free of an
/// RNG dependency; a real product uses its framework's sessions).
fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut out = 0u128;
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(out);
        out = (out << 64) | u128::from(h.finish());
    }
    out
}

/// `GET /consent?consent_challenge=…`: the product's own consent screen.
#[handler]
async fn consent_page(req: &Request, Data(p): Data<&Shared>) -> Response {
    let Some(challenge) = query(req).remove("consent_challenge") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Nothing to approve",
            "<p>Start from the app.</p>",
        );
    };
    let request = match p
        .admin(
            reqwest::Method::GET,
            &format!("/admin/consent-requests/{}", enc(&challenge)),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let scopes: String = request["requested_scope"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let name = esc(s["name"].as_str().unwrap_or_default());
            let about = esc(s["description"].as_str().unwrap_or_default());
            format!("<li><label><input type=\"checkbox\" name=\"scope\" value=\"{name}\" checked> {about} (<code>{name}</code>)</label></li>")
        })
        .collect();
    let app = esc(request["client"]["name"].as_str().unwrap_or("An app"));
    page(
        StatusCode::OK,
        "Allow access?",
        &format!(
            "<p><strong>{app}</strong> wants to:</p><form method=\"post\" action=\"/consent\">\
             <input type=\"hidden\" name=\"consent_challenge\" value=\"{c}\"><ul>{scopes}</ul>\
             <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            c = esc(&challenge)
        ),
    )
}

/// `POST /consent`: accept with the ticked scopes, or reject.
#[handler]
async fn consent_submit(body: Body, Data(p): Data<&Shared>) -> Response {
    let f = form(body).await;
    let challenge = enc(field(&f, "consent_challenge").unwrap_or_default());
    let answer = if field(&f, "decision") == Some("allow") {
        let grant: Vec<&str> = f
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str())
            .collect();
        p.admin(
            reqwest::Method::PUT,
            &format!("/admin/consent-requests/{challenge}/accept"),
            Some(json!({"grant_scope": grant, "remember": true})),
        )
        .await
    } else {
        p.admin(
            reqwest::Method::PUT,
            &format!("/admin/consent-requests/{challenge}/reject"),
            Some(json!({"error": "access_denied", "error_description": "the person declined at the product"})),
        )
        .await
    };
    match answer {
        Ok(a) => see_other(a["redirect_to"].as_str().unwrap_or("/")),
        Err(e) => failed(&e),
    }
}
