//! Hostile and malformed input: always a 4xx with a JSON body, never a 5xx or a hang,
//! and the server stays healthy.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, TestApp, expect_oauth_error};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FORM: &str = "application/x-www-form-urlencoded";

async fn assert_healthy(app: &TestApp) {
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

async fn malformed_token_requests(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (FORM, vec![]),
        (FORM, b"\x00\x01garbage&&==&=&%".to_vec()),
        (
            FORM,
            b"grant_type=client_credentials&scope=\xff\xfe".to_vec(),
        ),
        (FORM, b"grant_type=client%FF".to_vec()),
        (FORM, b"%%%%%%".to_vec()),
        (
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        ("text/plain", b"grant_type=client_credentials".to_vec()),
        ("multipart/form-data; boundary=x", b"--x--".to_vec()),
    ];
    for (content_type, body) in bodies {
        let resp = app
            .post_raw("/oauth/token", content_type, body.clone())
            .await;
        let status = resp.status().as_u16();
        assert!(
            (400..500).contains(&status),
            "{content_type} {body:?}: {status}"
        );
        let json: Value = resp.json().await.expect("JSON error body");
        assert!(json["error"].is_string(), "{json}");
    }
    // No content type at all.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_request").await;
    assert_healthy(&app).await;
}

async fn oversized_bodies_are_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let mut big = b"grant_type=client_credentials&scope=".to_vec();
    big.resize(1024 * 1024, b'a');
    let addr = app.base.trim_start_matches("http://").to_owned();

    // A declared megabyte is refused from the headers alone, before any body is read.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"error\":\"invalid_request\""), "{text}");
    drop(stream);

    // A client that sends the megabyte anyway gets the 413 — or, when the server has
    // already closed the connection under it, a transport error; never a 2xx or 5xx.
    match app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", FORM)
        .body(big.clone())
        .send()
        .await
    {
        Ok(resp) => {
            expect_oauth_error(resp, 413, "invalid_request").await;
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }

    // The same megabyte without a Content-Length (chunked): refused while reading.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.chunks(16 * 1024) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break; // the server may close early once over the limit
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server answers instead of hanging")
        .ok();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"error\":\"invalid_request\""), "{text}");

    // Oversized bodies elsewhere get a problem document.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /healthz HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = stream.read(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert_healthy(&app).await;
}

async fn wrong_methods_and_paths(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url("/oauth/token"))
            .send()
            .await
            .unwrap();
        let body = expect_oauth_error(resp, 405, "invalid_request").await;
        eprintln!("{method} /oauth/token -> {body}");
    }
    let resp = app
        .http
        .post(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["status"], 405);

    let resp = app.http.get(app.url("/no/such/path")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["type"], "urn:latchkey:problem:not-found");
    assert_eq!(problem["status"], 404);
    assert_healthy(&app).await;
}

async fn hostile_headers(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(None).await;
    let header_values: Vec<Vec<u8>> = vec![
        b"Basic \xff\xfe".to_vec(),
        b"Basic ".to_vec(),
        b"basic Og==".to_vec(), // ":"
        format!("Basic {}", "A".repeat(8000)).into_bytes(),
        b"Bearer x".to_vec(),
    ];
    for value in header_values {
        let resp = app
            .http
            .post(app.url("/oauth/token"))
            .header(
                "authorization",
                reqwest::header::HeaderValue::from_bytes(&value).unwrap(),
            )
            .header("content-type", FORM)
            .body(format!(
                "grant_type=client_credentials&client_id={}",
                client.id
            ))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{value:?}: {status}");
        let json: Value = resp.json().await.unwrap();
        assert!(json["error"].is_string());
    }
    assert_healthy(&app).await;
}

/// A request target over 8 KiB gets 414, a header block over 16 KiB or 100 fields
/// 431 — in the OAuth error shape on /oauth/ paths, a problem elsewhere — and the
/// sizes just under the limits are served.
async fn oversized_targets_and_headers(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let get = |path: String, headers: Vec<(String, String)>| {
        let mut req = app.http.get(app.url(&path));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async move { req.send().await.unwrap() }
    };
    // Just under: served (the discovery document ignores the query).
    let fits = format!("/.well-known/jwks.json?x={}", "a".repeat(8000));
    assert_eq!(get(fits, vec![]).await.status(), 200);
    let long = format!("/.well-known/jwks.json?x={}", "a".repeat(8200));
    let resp = get(long, vec![]).await;
    assert_eq!(resp.status(), 414);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["type"], "urn:latchkey:problem:uri-too-long");
    let resp = get(
        format!("/oauth/authorize?state={}", "s".repeat(9000)),
        vec![],
    )
    .await;
    assert_eq!(resp.status(), 414);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"], "invalid_request");
    // One huge header; many medium ones; both 431.
    let big = vec![("x-big".to_owned(), "v".repeat(17 * 1024))];
    let resp = get("/healthz".to_owned(), big).await;
    assert_eq!(resp.status(), 431);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "urn:latchkey:problem:header-fields-too-large"
    );
    let many: Vec<(String, String)> = (0..90)
        .map(|i| (format!("x-h{i}"), "v".repeat(200)))
        .collect();
    assert_eq!(get("/healthz".to_owned(), many).await.status(), 431);
    let some: Vec<(String, String)> = (0..40)
        .map(|i| (format!("x-h{i}"), "v".repeat(200)))
        .collect();
    assert_eq!(get("/healthz".to_owned(), some).await.status(), 200);
    assert_healthy(&app).await;
}

both_backends!(
    malformed_token_requests,
    oversized_bodies_are_refused,
    wrong_methods_and_paths,
    hostile_headers,
    oversized_targets_and_headers,
);
