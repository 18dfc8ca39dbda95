//! A test certificate authority and an HTTPS server on loopback that publishes
//! Client ID Metadata Documents (and misbehaves on request), counting every
//! request it gets, so tests can tell whether Latchkey fetched at all.

use poem::listener::{
    AcceptorExt, IntoTlsConfigStream, RustlsCertificate, RustlsConfig, TcpAcceptor,
};
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, handler};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// A CA and a server certificate for `localhost`, `127.0.0.1` and `::1`.
pub struct TestCa {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    dir: TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Latchkey test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            dir,
        };
        std::fs::write(ca.ca_file(), &ca.ca_pem).unwrap();
        ca
    }

    /// The CA certificate as a PEM file, for `--fetch-extra-ca`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Makes a Latchkey with `args` trust this CA for its fetches and reach
    /// loopback, where the tests' document servers run.
    pub fn trusted_by(&self, args: &mut latchkey::config::SettingsArgs) {
        args.fetch.fetch_extra_ca = Some(self.ca_file());
        args.fetch.fetch_allow_private = Some("127.0.0.0/8,::1/128".into());
    }
}

/// What the document server answers at one path.
#[derive(Clone)]
pub enum Answer {
    /// A JSON body (`{url}` in it becomes the document's own URL), with headers.
    Json(String, Vec<(&'static str, String)>),
    /// The same, after a delay in milliseconds.
    Slow(u64, String),
    /// Another content type.
    Typed(&'static str, String),
    /// A redirect to `Location`.
    Redirect(String),
}

#[derive(Default)]
struct Shared {
    answers: HashMap<String, Answer>,
    hits: HashMap<String, usize>,
    base: String,
}

/// The HTTPS document server.
#[derive(Clone)]
pub struct DocServer {
    /// `https://localhost:PORT`
    pub base: String,
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

#[handler]
async fn serve(req: &Request, Data(shared): Data<&Arc<Mutex<Shared>>>) -> Response {
    let path = req.uri().path().to_owned();
    let (answer, url) = {
        let mut s = shared.lock().unwrap();
        *s.hits.entry(path.clone()).or_default() += 1;
        (s.answers.get(&path).cloned(), format!("{}{path}", s.base))
    };
    let json = |body: &str| body.replace("{url}", &url);
    match answer {
        None => Response::builder()
            .status(poem::http::StatusCode::NOT_FOUND)
            .finish(),
        Some(Answer::Json(body, headers)) => {
            let mut b = Response::builder().content_type("application/json");
            for (k, v) in headers {
                b = b.header(k, v);
            }
            b.body(json(&body))
        }
        Some(Answer::Slow(ms, body)) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Response::builder()
                .content_type("application/json")
                .body(json(&body))
        }
        Some(Answer::Typed(ct, body)) => Response::builder().content_type(ct).body(json(&body)),
        Some(Answer::Redirect(to)) => Response::builder()
            .status(poem::http::StatusCode::FOUND)
            .header("location", to)
            .finish(),
    }
}

impl DocServer {
    /// Starts the server on 127.0.0.1 with `ca`'s server certificate.
    pub async fn start(ca: &TestCa) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("https://localhost:{port}");
        let shared = Arc::new(Mutex::new(Shared {
            base: base.clone(),
            ..Default::default()
        }));
        let config = RustlsConfig::new().fallback(
            RustlsCertificate::new()
                .cert(ca.cert_pem.clone())
                .key(ca.key_pem.clone()),
        );
        let acceptor = TcpAcceptor::from_tokio(listener)
            .unwrap()
            .rustls(config.into_stream().unwrap());
        let app = Route::new().at("/*path", serve).data(shared.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Self { base, port, shared }
    }

    /// Answers `path` with `answer`; returns the document URL.
    pub fn route(&self, path: &str, answer: Answer) -> String {
        self.shared
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), answer);
        format!("{}{path}", self.base)
    }

    /// A valid public-client document for `path` with `redirect_uri`, cacheable
    /// for `max_age` seconds.
    pub fn document(&self, path: &str, redirect_uri: &str, max_age: u64) -> String {
        self.route(
            path,
            Answer::Json(
                document_json(redirect_uri),
                vec![("cache-control", format!("public, max-age={max_age}"))],
            ),
        )
    }

    /// Requests received at `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received in all.
    pub fn total_hits(&self) -> usize {
        self.shared.lock().unwrap().hits.values().sum()
    }
}

/// A metadata document body (`{url}` is replaced by its URL when served).
pub fn document_json(redirect_uri: &str) -> String {
    serde_json::json!({
        "client_id": "{url}",
        "client_name": "Agent <b>Smith</b>",
        "client_uri": "https://agent.example",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "profile email offline_access",
    })
    .to_string()
}
