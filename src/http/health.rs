//! Liveness and readiness probes for orchestrators and load balancers.

use super::ApiTags;
use crate::services::state::AppState;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// Probe result.
#[derive(Debug, Clone, Object)]
pub struct HealthStatus {
    /// `ok`; `unavailable` when a dependency is down; `draining` while shutting down.
    pub status: String,
    /// Readiness only: is the database reachable?
    #[oai(skip_serializing_if_is_none)]
    pub database: Option<bool>,
    /// Readiness only: is a signing key loaded?
    #[oai(skip_serializing_if_is_none)]
    pub signing_key: Option<bool>,
    /// Readiness only: is this instance shutting down?
    #[oai(skip_serializing_if_is_none)]
    pub draining: Option<bool>,
}

#[derive(ApiResponse)]
pub enum LiveResponse {
    /// The process is serving HTTP.
    #[oai(status = 200)]
    Live(Json<HealthStatus>),
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
    /// Not ready: a dependency is down.
    #[oai(status = 503)]
    NotReady(Json<HealthStatus>),
}

pub struct HealthApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    ///
    /// 200 while the process serves HTTP.
    #[oai(path = "/healthz", method = "get", operation_id = "getHealth")]
    async fn healthz(&self) -> LiveResponse {
        LiveResponse::Live(Json(HealthStatus {
            status: "ok".to_owned(),
            database: None,
            signing_key: None,
            draining: None,
        }))
    }

    /// Readiness
    ///
    /// 200 when the database answers and a signing key is loaded; 503 otherwise,
    /// and from the moment shutdown starts (`draining: true`).
    #[oai(path = "/readyz", method = "get", operation_id = "getReadiness")]
    async fn readyz(&self) -> ReadyResponse {
        if self.state.lifecycle.is_draining() {
            return ReadyResponse::NotReady(Json(HealthStatus {
                status: "draining".to_owned(),
                database: None,
                signing_key: None,
                draining: Some(true),
            }));
        }
        let database = match self.state.db.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness: database unreachable");
                false
            }
        };
        // Can the active key actually sign? (One probe signature per check.)
        let signing_key = self
            .state
            .keys
            .get()
            .active()
            .sign_jwt(&serde_json::json!({ "probe": true }))
            .is_ok();
        let ready = database && signing_key;
        let body = Json(HealthStatus {
            status: if ready { "ok" } else { "unavailable" }.to_owned(),
            database: Some(database),
            signing_key: Some(signing_key),
            draining: Some(false),
        });
        if ready {
            ReadyResponse::Ready(body)
        } else {
            ReadyResponse::NotReady(body)
        }
    }
}

/// `GET /metrics`: the exposition for Prometheus.
#[poem::handler]
pub fn scrape(poem::web::Data(state): poem::web::Data<&AppState>) -> poem::Response {
    poem::Response::builder()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .header(poem::http::header::CACHE_CONTROL, "no-store")
        .body(state.metrics.render(&state.db, &state.keys))
}
