//! Application state and the one constructor of the HTTP application, used by
//! `serve` and by the integration tests alike.

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{self, discovery::Documents};
use crate::keys::KeySet;
use crate::oauth::claims::TokenPolicy;
use crate::store::Db;
use crate::web;
use poem::{Endpoint, EndpointExt, Route, get, post};
use std::sync::Arc;

/// Everything a request handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub keys: Arc<KeySet>,
    pub clock: Arc<dyn Clock>,
    /// Derived from settings once, not per request.
    pub policy: Arc<TokenPolicy>,
    pub documents: Arc<Documents>,
}

impl AppState {
    pub fn new(settings: Settings, db: Db, keys: KeySet, clock: Arc<dyn Clock>) -> Self {
        let policy = TokenPolicy {
            issuer: settings.issuer.clone(),
            resources: settings.resources.clone(),
            default_audience: settings.default_audience.clone(),
            access_token_ttl: settings.access_token_ttl,
        };
        let documents = Documents::build(&settings);
        Self {
            settings: Arc::new(settings),
            db,
            keys: Arc::new(keys),
            clock,
            policy: Arc::new(policy),
            documents: Arc::new(documents),
        }
    }
}

/// Builds the whole HTTP application.
pub fn build(state: &AppState) -> impl Endpoint + 'static {
    let api = http::api_service(state);
    let spec = api.spec_endpoint();
    let docs = api.rapidoc();
    Route::new()
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .at(
            "/oauth/authorize",
            get(http::authorize::authorize_get).post(http::authorize::authorize_post),
        )
        .at(
            "/login",
            get(web::login::login_page).post(web::login::login_submit),
        )
        .at("/logout", post(web::login::logout))
        .at("/account", get(web::login::home))
        .at("/assets/latchkey.css", get(web::stylesheet))
        .data(state.clone())
        .around(http::errors::shape_errors)
        .around(http::security_headers)
        .around(http::access_log)
}
