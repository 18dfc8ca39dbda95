//! Prometheus metrics (`GET /metrics`, text exposition format), off unless an
//! operator serves them (`metrics_bind`, `metrics_public`).
//!
//! Counters and histograms are updated where things happen; gauges that describe
//! state (the pool, the keys) are read when scraped. Route labels are route
//! templates (`/api/apps/{id}`), never raw paths, so a client cannot grow
//! the label set.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub method: Method,
    /// `2xx`, `4xx`, …
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
    pub method: Method,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Method {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
    OPTIONS,
    HEAD,
    OTHER,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub grant: &'static str,
    pub alg: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabel {
    pub name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AssertionLabels {
    /// `accepted` or `refused`.
    pub outcome: &'static str,
    /// The rule that failed (`client_assertion::Reason`), `none` when accepted.
    pub reason: &'static str,
}

impl AssertionLabels {
    fn of(refused: Option<&'static str>) -> Self {
        match refused {
            None => Self {
                outcome: "accepted",
                reason: "none",
            },
            Some(reason) => Self {
                outcome: "refused",
                reason,
            },
        }
    }
}

/// An authorization grant assertion (JWT-bearer grant): which kind, and its outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantAssertionLabels {
    /// `workload` or `id_jag`.
    pub kind: &'static str,
    pub outcome: &'static str,
    /// The rule that failed (`assertion_grant::Reason`), `none` when accepted.
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

/// One instance's metrics.
pub struct Metrics {
    registry: Registry,
    routes: OnceLock<Vec<Vec<&'static str>>>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram>,
    pub tokens_issued: Family<TokenLabels, Counter>,
    pub refresh_reuse: Counter,
    pub code_replays: Counter,
    pub rate_limited: Family<NameLabel, Counter>,
    pub sign_ins: Family<OutcomeLabel, Counter>,
    pub client_assertions: Family<AssertionLabels, Counter>,
    pub dpop_proofs: Family<AssertionLabels, Counter>,
    pub grant_assertions: Family<GrantAssertionLabels, Counter>,
    pub client_cache: Family<OutcomeLabel, Counter>,
    pub db_connections: Family<StateLabel, Gauge>,
    pub signing_keys: Family<StateLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status class",
            requests.clone(),
        );
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(
            new_latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request head to response head, by route template and method",
            request_seconds.clone(),
        );
        let tokens_issued = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Access tokens issued, by grant type and signing algorithm",
            tokens_issued.clone(),
        );
        let refresh_reuse = Counter::default();
        registry.register(
            "refresh_token_reuse",
            "Rotated-out refresh tokens presented again (their family was revoked)",
            refresh_reuse.clone(),
        );
        let code_replays = Counter::default();
        registry.register(
            "authorization_code_replays",
            "Authorization codes presented a second time (their tokens were revoked)",
            code_replays.clone(),
        );
        let rate_limited = Family::<NameLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by limiter",
            rate_limited.clone(),
        );
        let sign_ins = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "sign_ins",
            "Password sign-ins at /login, by outcome",
            sign_ins.clone(),
        );
        let client_assertions = Family::<AssertionLabels, Counter>::default();
        registry.register(
            "client_assertions",
            "private_key_jwt client assertions, by outcome and (when refused) the rule that failed",
            client_assertions.clone(),
        );
        let dpop_proofs = Family::<AssertionLabels, Counter>::default();
        registry.register(
            "dpop_proofs",
            "DPoP proofs, by outcome and (when refused) the rule that failed",
            dpop_proofs.clone(),
        );
        let grant_assertions = Family::<GrantAssertionLabels, Counter>::default();
        registry.register(
            "grant_assertions",
            "JWT-bearer grant assertions (workload tokens, ID-JAGs), by kind, outcome and (when refused) the rule that failed",
            grant_assertions.clone(),
        );
        let client_cache = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "client_cache_lookups",
            "Registered-client lookups, by whether the in-memory cache had the client",
            client_cache.clone(),
        );
        let db_connections = Family::<StateLabel, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool: open connections (open), idle ones (idle), requests waiting for one (waiting), the cap (max)",
            db_connections.clone(),
        );
        registry.register(
            "db_query_duration_seconds",
            "Time of each database call, connection checkout included",
            crate::store::QUERY_SECONDS.clone(),
        );
        let signing_keys = Family::<StateLabel, Gauge>::default();
        registry.register(
            "signing_keys",
            "Signing keys by state (active, next, retired)",
            signing_keys.clone(),
        );
        Self {
            registry,
            routes: OnceLock::new(),
            requests,
            request_seconds,
            tokens_issued,
            refresh_reuse,
            code_replays,
            rate_limited,
            sign_ins,
            client_assertions,
            dpop_proofs,
            grant_assertions,
            client_cache,
            db_connections,
            signing_keys,
        }
    }

    /// The route templates requests are labelled with (`{…}` matches one segment).
    pub fn set_routes(&self, templates: impl IntoIterator<Item = String>) {
        let mut routes: Vec<Vec<&'static str>> = templates
            .into_iter()
            .map(|t| {
                let t: &'static str = Box::leak(t.into_boxed_str());
                std::iter::once(t)
                    .chain(t.split('/').filter(|s| !s.is_empty()))
                    .collect()
            })
            .collect();
        routes.sort();
        routes.dedup();
        let _ = self.routes.set(routes);
    }

    /// The template `path` matches, or `other`.
    pub fn route_of(&self, path: &str) -> &'static str {
        let Some(routes) = self.routes.get() else {
            return "other";
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        routes
            .iter()
            .find(|route| {
                route.len() == segments.len() + 1
                    && route[1..].iter().zip(&segments).all(|(want, got)| {
                        (want.starts_with('{') && want.ends_with('}')) || want == got
                    })
            })
            .map_or("other", |route| route[0])
    }

    /// Counts one answered request.
    pub fn observe_request(
        &self,
        path: &str,
        method: &poem::http::Method,
        status: u16,
        seconds: f64,
    ) {
        let route = self.route_of(path);
        let method = Method::from(method);
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels { route, method })
            .observe(seconds);
    }

    pub fn token_issued(&self, grant: &'static str, alg: &'static str) {
        self.tokens_issued
            .get_or_create(&TokenLabels { grant, alg })
            .inc();
    }

    pub fn sign_in(&self, succeeded: bool) {
        let outcome = if succeeded { "success" } else { "failure" };
        self.sign_ins.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// A client assertion accepted (`None`) or refused for `reason`.
    pub fn client_assertion(&self, refused: Option<&'static str>) {
        self.client_assertions
            .get_or_create(&AssertionLabels::of(refused))
            .inc();
    }

    /// A DPoP proof accepted (`None`) or refused for `reason`.
    pub fn dpop_proof(&self, refused: Option<&'static str>) {
        self.dpop_proofs
            .get_or_create(&AssertionLabels::of(refused))
            .inc();
    }

    /// A JWT-bearer grant assertion of `kind` accepted (`None`) or refused.
    pub fn assertion_grant(&self, kind: &'static str, refused: Option<&'static str>) {
        let AssertionLabels { outcome, reason } = AssertionLabels::of(refused);
        self.grant_assertions
            .get_or_create(&GrantAssertionLabels {
                kind,
                outcome,
                reason,
            })
            .inc();
    }

    pub fn cache_lookup(&self, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.client_cache
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// The text exposition, gauges refreshed from the pool and the keys first.
    pub fn render(&self, db: &crate::store::Db, keys: &crate::keys::KeyRing) -> String {
        let pool = db.pool_status();
        for (name, value) in [
            ("open", pool.size),
            ("idle", pool.available),
            ("waiting", pool.waiting),
            ("max", pool.max_size),
        ] {
            self.db_connections
                .get_or_create(&StateLabel { state: name })
                .set(value as i64);
        }
        for (name, count) in keys.get().state_counts() {
            self.signing_keys
                .get_or_create(&StateLabel { state: name })
                .set(count as i64);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn new_latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl From<&poem::http::Method> for Method {
    fn from(m: &poem::http::Method) -> Self {
        use poem::http::Method as M;
        match *m {
            M::GET => Self::GET,
            M::POST => Self::POST,
            M::PUT => Self::PUT,
            M::PATCH => Self::PATCH,
            M::DELETE => Self::DELETE,
            M::OPTIONS => Self::OPTIONS,
            M::HEAD => Self::HEAD,
            _ => Self::OTHER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_labelled_by_their_template() {
        let m = Metrics::new();
        m.set_routes(
            [
                "/oauth/token",
                "/api/apps/{client_id}",
                "/api/apps",
                "/brand/{name}",
            ]
            .map(String::from),
        );
        assert_eq!(m.route_of("/oauth/token"), "/oauth/token");
        assert_eq!(m.route_of("/api/apps/abc"), "/api/apps/{client_id}");
        assert_eq!(m.route_of("/api/apps"), "/api/apps");
        assert_eq!(m.route_of("/api/apps/abc/more"), "other");
        assert_eq!(m.route_of("/nowhere"), "other");
        assert_eq!(m.route_of("/"), "other");
    }
}
