//! The composition root: the one constructor of the HTTP application (every route
//! and middleware) and the background tasks each instance runs, used by `serve` and
//! by the integration tests alike. Nothing but `cli`, `server` and tests imports it.

use crate::http::{self, discovery::Documents};
use crate::keys::KeySet;
use crate::services::state::AppState;
use crate::web;
use poem::{Endpoint, EndpointExt, Route, get, post};
use std::sync::Arc;

/// Builds the whole HTTP application.
pub fn build(state: &AppState) -> impl Endpoint + 'static {
    let documents = Arc::new(Documents::build(&state.settings));
    let api = http::api_service(state, documents.clone());
    state.metrics.set_routes(http::route_templates(&api));
    let spec = api.spec_endpoint();
    let docs = api.rapidoc();
    let mut route = Route::new();
    if let Some(path) = http::discovery::issuer_path(&state.settings.issuer) {
        route = route
            .at(
                format!("/.well-known/oauth-authorization-server{path}"),
                get(http::discovery::server_metadata_at_path),
            )
            .at(
                format!("/.well-known/openid-configuration{path}"),
                get(http::discovery::openid_configuration_at_path),
            );
    }
    if state.settings.metrics_public {
        route = route.at("/metrics", get(http::health::scrape));
    }
    let metrics = state.metrics.clone();
    route
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .at(
            "/oauth/authorize",
            get(http::authorize::authorize_get).post(http::authorize::authorize_post),
        )
        .at(
            "/oauth/authorize/continue",
            get(http::authorize::delegated::continue_authorization),
        )
        .at(
            "/login",
            get(web::login::login_page).post(web::login::login_submit),
        )
        .at("/logout", post(web::login::logout))
        .at(
            "/oauth/logout",
            get(web::end_session::end_session_get).post(web::end_session::end_session_post),
        )
        .at("/account", get(web::login::home))
        .at("/assets/latchkey.css", get(web::stylesheet))
        .at("/assets/copy.js", get(web::settings::copy_js))
        .at("/brand/:name", get(web::brand_asset))
        .at(
            "/settings/apps",
            get(web::settings::apps).post(web::settings::create_app),
        )
        .at(
            "/settings/apps/:id",
            get(web::settings::app).post(web::settings::update_app),
        )
        .at(
            "/settings/apps/:id/secret",
            post(web::settings::rotate_secret),
        )
        .at("/settings/apps/:id/delete", post(web::settings::delete_app))
        .at("/settings/authorized", get(web::settings::authorized))
        .at(
            "/settings/authorized/:client_id/revoke",
            post(web::settings::revoke),
        )
        .around(http::limits::address_limits)
        .around(http::outage::answer_outages)
        .data(state.clone())
        .data(documents)
        // Boxed so the middleware stack's type stays within the compiler's limits.
        .boxed()
        .around(http::errors::shape_errors)
        .around(http::limits::request_size_limits)
        .around(http::security_headers)
        .around(http::cors::public_cors)
        .around(move |ep, req| http::access_log(ep, req, metrics.clone()))
}

/// Background work every instance does: pick up key changes (new files, a rotation
/// coming due, a retired key expiring) every `key_poll`, and purge expired rows every
/// ten minutes. Used by `serve` and by the tests.
pub fn spawn_background(state: &AppState, key_poll: std::time::Duration) {
    let keys_state = state.clone();
    tokio::spawn(async move {
        let dir = keys_state.settings.keys_dir.clone();
        let mut seen = crate::keys::fingerprint(&dir);
        let mut tick = tokio::time::interval(key_poll);
        loop {
            tick.tick().await;
            let now = keys_state.clock.now();
            let ttl = keys_state.settings.signed_token_ttl();
            let current = keys_state.keys.get();
            let fingerprint = crate::keys::fingerprint(&dir);
            if fingerprint == seen {
                // Nothing new on disk, but time alone can activate a next key or
                // expire a retired one: recompute states from the parsed keys.
                if let Some(set) = current.at_time(now, ttl)
                    && !set.same_states(&current)
                {
                    tracing::info!(active = %set.active().kid, "signing key states changed");
                    keys_state.keys.replace(set);
                }
                continue;
            }
            let dir2 = dir.clone();
            let kek = keys_state.settings.key_encryption.clone();
            match tokio::task::spawn_blocking(move || KeySet::load(&dir2, now, ttl, kek.as_ref()))
                .await
            {
                Ok(Ok(set)) => {
                    tracing::info!(active = %set.active().kid, "signing keys reloaded from disk");
                    keys_state.keys.replace(set);
                    seen = fingerprint;
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reloading signing keys failed; keeping the current ones")
                }
                Err(e) => tracing::error!(error = %e, "key reload task failed"),
            }
        }
    });
    let cache_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::services::client_cache::POLL);
        loop {
            tick.tick().await;
            let counters = match crate::store::counters::read(&cache_state.db).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change counters failed; dropping the client cache and the revoked-token set");
                    // Without the counters, changes elsewhere would go unseen: hold
                    // nothing (clients load, revocations are checked, from the database).
                    cache_state.client_cache.clear();
                    cache_state.revoked.clear();
                    continue;
                }
            };
            cache_state.client_cache.poll(counters.clients);
            let now = cache_state.clock.now();
            if let Err(e) = cache_state
                .revoked
                .poll(&cache_state.db, counters.revoked_access_tokens, now)
                .await
            {
                tracing::warn!(error = %e, "reloading revoked access tokens failed; checking the database instead");
                cache_state.revoked.clear();
            }
        }
    });
    let limits = state.limits.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.sweep();
        }
    });
    let purge_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let keep = purge_state.settings.access_token_ttl + 60;
            match crate::store::tokens::purge_expired(
                &purge_state.db,
                purge_state.clock.now(),
                keep,
            )
            .await
            {
                Ok(purged) => tracing::debug!(?purged, "purged expired rows"),
                Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
            }
            match crate::store::jtis::purge_expired(&purge_state.db, purge_state.clock.now()).await
            {
                Ok(n) => tracing::debug!(deleted = n, "expired assertion ids swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping expired assertion ids failed"),
            }
            match crate::store::pushed::purge_expired(&purge_state.db, purge_state.clock.now())
                .await
            {
                Ok(n) => tracing::debug!(deleted = n, "expired pushed requests swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping pushed requests failed"),
            }
            let before = purge_state.clock.now() - purge_state.settings.audit_retention;
            match crate::store::audit::purge_before(&purge_state.db, before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "audit records past audit_retention deleted"),
                Err(e) => tracing::warn!(error = %e, "purging old audit records failed"),
            }
        }
    });
}
