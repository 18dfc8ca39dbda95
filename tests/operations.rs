//! Operating the real `latchkey serve`: signals and graceful shutdown, limits on what
//! a client may send (slowloris, oversized heads, the connection cap).
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::process::{Server, free_port, latchkey, run_ok, wait_ready};
use common::{Backend, TestDb};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `latchkey serve` on a free port with its log in `dir/server.log`.
async fn start(dir: &Path, db_url: &str, extra: &[&str]) -> (Server, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let server = Server(
        latchkey(dir, db_url)
            .env("LATCHKEY_LOG", "info")
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_ready(&base).await;
    (server, base)
}

fn service_client(dir: &Path, db_url: &str) -> (String, String) {
    let made = run_ok(latchkey(dir, db_url).args(["clients", "create", "--name", "svc"]));
    (
        made["client_id"].as_str().unwrap().to_owned(),
        made["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap()
}

fn signal(server: &Server, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends `head` on a fresh connection and reads the whole response (the server
/// closes or the read times out).
async fn raw_exchange(addr: &str, head: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(head).await.unwrap();
    read_response(&mut conn).await
}

async fn read_response(conn: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn token_form() -> &'static str {
    "grant_type=client_credentials"
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

/// SIGTERM while eight callers hit the token endpoint and one request is half sent:
/// `/readyz` is 503 at once, requests keep being served through `shutdown_delay`,
/// then new connections are refused, the half-sent request is finished, and the
/// process exits 0. Every request that reached the server got a 200.
async fn sigterm_under_load_fails_no_started_request(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latchkey.toml"), "shutdown_delay = 2\n").unwrap();
    let (id, secret) = service_client(dir.path(), &db.url);
    let (mut server, base) = start(dir.path(), &db.url, &["--shutdown-grace", "10"]).await;
    let addr = base.trim_start_matches("http://").to_owned();

    // The half-sent request: head now, body after accepting has stopped.
    let form = token_form();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        format!(
            "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            basic(&id, &secret),
            form.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();

    let signalled = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (base, id, secret, signalled) =
            (base.clone(), id.clone(), secret.clone(), signalled.clone());
        workers.push(tokio::spawn(async move {
            // A new connection per request: a refused connection is a request that
            // never started; anything else must be a 200.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let (mut ok, mut ok_after_signal) = (0u32, 0u32);
            loop {
                let after_signal = signalled.load(Ordering::SeqCst);
                let sent = http
                    .post(format!("{base}/oauth/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                match sent {
                    Ok(resp) => {
                        let status = resp.status();
                        let body = resp.text().await;
                        assert_eq!(status, 200, "a started request failed: {body:?}");
                        assert!(body.unwrap().contains("access_token"));
                        ok += 1;
                        if after_signal {
                            ok_after_signal += 1;
                        }
                    }
                    Err(e) if e.is_connect() && signalled.load(Ordering::SeqCst) => {
                        return (ok, ok_after_signal);
                    }
                    Err(e) => panic!("a request failed without a response: {e:?}"),
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(700)).await;
    signalled.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    signal(&server, "TERM");

    // Readiness fails at once, while requests are still being served.
    let http = reqwest::Client::new();
    let ready = loop {
        let resp = http.get(format!("{base}/readyz")).send().await.unwrap();
        if resp.status() == 503 {
            break resp.json::<Value>().await.unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_millis(1500),
            "readyz stayed 200"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ready["status"], "draining");
    assert_eq!(ready["draining"], true);

    let mut total = 0;
    let mut after = 0;
    for w in workers {
        let (ok, ok_after) = w.await.unwrap();
        total += ok;
        after += ok_after;
    }
    assert!(
        total > 0 && after > 0,
        "{total} served, {after} after SIGTERM"
    );
    let refused_at = t0.elapsed();
    assert!(
        refused_at >= Duration::from_millis(1900),
        "connections were refused before shutdown_delay ended: {refused_at:?}"
    );
    // Accepting has stopped: a new connection is refused.
    assert!(TcpStream::connect(&addr).await.is_err());

    // The request that was in flight all along is finished.
    slow.write_all(form.as_bytes()).await.unwrap();
    let answer = read_response(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"));
    assert!(answer.to_ascii_lowercase().contains("connection: close"));

    let status = tokio::task::spawn_blocking(move || server.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let log = log_of(dir.path());
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("latchkey stopped"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

both_backends!(
    sigterm_under_load_fails_no_started_request,
    hostile_clients_are_cut_off_and_others_served,
    metrics_count_what_happened,
    audit_trail_says_who_did_what
);

/// Oversized heads are refused by the listener; hundreds of connections dribbling
/// their headers (slowloris) are cut off after `header_timeout` while normal
/// requests keep being answered; past `max_connections` new connections wait, with
/// one log line, and are served once the slow ones are cut off.
async fn hostile_clients_are_cut_off_and_others_served(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latchkey.toml"), "header_timeout = 2\n").unwrap();
    let (id, secret) = service_client(dir.path(), &db.url);
    let (_server, base) = start(dir.path(), &db.url, &["--max-connections", "400"]).await;
    let addr = base.trim_start_matches("http://").to_owned();

    // A 20 KiB header, 101 headers, a 9 KiB target, a 40 KiB head.
    let big = "a".repeat(20 * 1024);
    let answer = raw_exchange(
        &addr,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = raw_exchange(
        &addr,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let long = "a".repeat(9 * 1024);
    let answer = raw_exchange(
        &addr,
        format!("GET /healthz?{long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    let huge = "a".repeat(40 * 1024);
    let answer = raw_exchange(
        &addr,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: {huge}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // 300 slow clients: each sends part of a head and then one byte a second.
    let held_start = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut conn = TcpStream::connect(&addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(conn);
    }
    let dribble = tokio::spawn(async move {
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for conn in &mut slow {
                let _ = conn.write_all(b"X-Slow: 1\r\n").await;
            }
        }
        slow
    });

    // Meanwhile normal callers are served, and fast.
    let http = reqwest::Client::new();
    let mut served = 0;
    let mut slowest = Duration::ZERO;
    while held_start.elapsed() < Duration::from_secs(4) {
        let t = Instant::now();
        let resp = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        slowest = slowest.max(t.elapsed());
        served += 1;
    }
    let mut slow = dribble.await.unwrap();
    eprintln!(
        "slowloris: 300 held connections; {served} token requests served meanwhile, slowest {slowest:?}"
    );
    assert!(served >= 20, "only {served} requests served");
    // Every slow connection was closed by the server within the header timeout.
    let mut closed = 0;
    for conn in &mut slow {
        let mut rest = Vec::new();
        if tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut rest))
            .await
            .is_ok()
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "slow connections left open");
    drop(slow);

    // An idle keep-alive connection is closed after the header timeout too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest)).await;
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "idle connection kept open"
    );

    // Past the cap: 400 held connections fill it; the next one waits, then is served
    // once the held ones are cut off.
    let mut held = Vec::new();
    for _ in 0..400 {
        let mut conn = TcpStream::connect(&addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let resp = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "a connection past the cap was served at once ({waited:?})"
    );
    drop(held);
    let log = log_of(dir.path());
    assert!(
        log.contains("connection limit reached"),
        "no log line at the cap: {log}"
    );
}

/// A PostgreSQL server of this test's own (initdb in a temporary directory, a free
/// port), so stopping it does not disturb the other tests' server.
struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// `None` (the test skips, loudly) where PostgreSQL is not installed, unless
    /// `LATCHKEY_REQUIRE_POSTGRES` is set, as in CI.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("LATCHKEY_REQUIRE_POSTGRES").is_none(),
                "LATCHKEY_REQUIRE_POSTGRES is set but no /usr/lib/postgresql/*/bin/initdb"
            );
            eprintln!("SKIPPED (PostgreSQL outage): PostgreSQL's binaries are not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let pg = Self {
            bin,
            dir,
            port: free_port(),
        };
        if is_root() {
            // PostgreSQL refuses to run as root.
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres"])
                .arg(pg.dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = pg.dir.path().join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        pg.ctl("start");
        Some(pg)
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut cmd = std::process::Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            std::process::Command::new(path)
        }
    }

    fn ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(&data).arg("-w");
        match action {
            "start" => {
                cmd.arg("-l")
                    .arg(self.dir.path().join("log"))
                    .arg("-o")
                    .arg(format!(
                        "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                        self.port,
                        self.dir.path().display()
                    ));
                cmd.arg("start");
            }
            _ => {
                cmd.args(["-m", "fast", "stop"]);
            }
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "pg_ctl {action}: {out:?}");
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// How long the outage test keeps PostgreSQL stopped.
const OUTAGE: Duration = Duration::from_secs(60);

/// PostgreSQL stopped mid-run: requests that need it get a quick 503 with
/// `Retry-After`, `/readyz` is 503; when it comes back the pool reconnects by
/// itself, and the refresh token tried during the outage was not rotated.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_outage_answers_503_and_recovers() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let backend = Backend::Postgres(pg.admin_url());
    let flow = common::flow::public_flow(&backend).await;
    let app = &flow.app;
    let tokens = flow.tokens("profile").await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    pg.ctl("stop");
    let stopped = Instant::now();
    let t = Instant::now();
    let resp = flow.refresh(&refresh, None).await;
    let first_503 = t.elapsed();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(first_503 < Duration::from_secs(4), "503 took {first_503:?}");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], false);
    // A page answers 503 too, as a page; the management API as a problem document.
    let page = flow
        .browser
        .http
        .get(app.url("/settings/authorized"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Temporarily unavailable")
    );
    // A minute without the database: every request is answered at once, none hangs.
    let mut answered = 0;
    while stopped.elapsed() < OUTAGE {
        let t = Instant::now();
        let resp = flow.refresh(&refresh, None).await;
        assert_eq!(resp.status(), 503);
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        answered += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    pg.ctl("start");
    let restarted = Instant::now();
    let rotated: Value = loop {
        let resp = flow.refresh(&refresh, None).await;
        if resp.status() == 200 {
            break resp.json().await.unwrap();
        }
        assert_eq!(resp.status(), 503, "{:?}", resp.text().await);
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "no recovery after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let recovery = restarted.elapsed();
    eprintln!(
        "outage: first 503 after {first_503:?}; {answered} refreshes answered 503 while PostgreSQL was down for {:?}; first success {recovery:?} after it came back",
        restarted - stopped
    );
    // The new refresh token works; the one tried during the outage was rotated only
    // now, once, so presenting it again is reuse.
    let next = rotated["refresh_token"].as_str().unwrap();
    let again = flow.refresh(next, None).await;
    assert_eq!(again.status(), 200);
    let reuse = flow.refresh(&refresh, None).await;
    assert_eq!(reuse.status(), 400);
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A SQLite file that cannot be written (a read-only volume): reads go on, writes
/// get 503 with `Retry-After` and one clear log line, nothing panics.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_read_only_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let url = format!("sqlite://{}", data.join("lk.db").display());
    let (id, secret) = service_client(dir.path(), &url);
    // Root writes through file modes, so the server drops to `nobody` for this.
    let mut command = if is_root() {
        let ok = std::process::Command::new("chown")
            .args(["-R", "nobody"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(ok.success());
        let mut setpriv = std::process::Command::new("setpriv");
        setpriv
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(common::process::BIN);
        setpriv
    } else {
        std::process::Command::new(common::process::BIN)
    };
    command
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("LATCHKEY_DATABASE_URL", &url);
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") && key != "LATCHKEY_DATABASE_URL" {
            command.env_remove(key);
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.join("lk.db"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let _server = Server(
        command
            .env("LATCHKEY_LOG", "info")
            .args([
                "serve",
                "--no-migrate",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    // Reading works: a client-credentials token needs no write.
    let resp = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Writing is refused with a 503, in the OAuth shape at /oauth/register.
    let resp = http
        .post(format!("{base}/oauth/register"))
        .json(&serde_json::json!({"redirect_uris": ["https://app.example/cb"], "client_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let log = log_of(dir.path());
    assert!(
        log.contains("attempt to write a readonly database"),
        "{log}"
    );
    assert!(log.contains("answered 503"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// The value of the sample `name{labels}` in a Prometheus exposition.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// With `metrics_public`, `GET /metrics` on the public listener counts requests by
/// route template and status class, tokens by grant and algorithm, refresh reuse,
/// code replays, rate-limit refusals, sign-ins, client-cache lookups, and shows the
/// pool and the keys.
/// A refresh token presented twice (reuse) and a code exchanged twice (replay):
/// each second attempt is refused. Returns the refresh token and the code.
async fn reuse_a_refresh_token_and_replay_a_code(flow: &common::flow::Flow) -> (String, String) {
    let tokens = flow.tokens("profile").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(flow.refresh(refresh, None).await.status(), 200);
    assert_eq!(flow.refresh(refresh, None).await.status(), 400);
    let (verifier, challenge) = common::pkce_pair();
    let code = flow.code(&challenge, "profile").await;
    assert_eq!(flow.exchange(&code, &verifier).await.status(), 200);
    assert_eq!(flow.exchange(&code, &verifier).await.status(), 400);
    (refresh.to_owned(), code)
}

async fn metrics_count_what_happened(backend: Backend) {
    let app = common::TestApp::builder()
        .config("metrics_public = true\nrate_limit_register = \"1/1m\"\n")
        .spawn(&backend)
        .await;
    let flow = common::flow::public_flow_with(app).await;
    let app = &flow.app;
    let svc = app.client(None).await;
    for _ in 0..2 {
        let resp = app
            .token_basic(&svc, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(resp.status(), 200);
    }
    reuse_a_refresh_token_and_replay_a_code(&flow).await;
    // A wrong password, and registration over its limit.
    let stranger = common::Browser::new(app);
    assert_eq!(stranger.try_login("alice", "wrong").await.status(), 401);
    let register = |name: &'static str| {
        app.http
            .post(app.url("/oauth/register"))
            .json(&serde_json::json!({"redirect_uris": ["https://app.example/cb"], "client_name": name}))
            .send()
    };
    assert_eq!(register("one").await.unwrap().status(), 201);
    assert_eq!(register("two").await.unwrap().status(), 429);
    let _ = app
        .http
        .get(app.url("/api/apps/nosuchapp"))
        .send()
        .await
        .unwrap();

    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    let rs = "alg=\"RS256\"";
    assert_eq!(
        sample(
            &text,
            &format!("latchkey_tokens_issued_total{{grant=\"client_credentials\",{rs}}}")
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("latchkey_tokens_issued_total{{grant=\"authorization_code\",{rs}}}")
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("latchkey_tokens_issued_total{{grant=\"refresh_token\",{rs}}}")
        ),
        1.0
    );
    assert_eq!(sample(&text, "latchkey_refresh_token_reuse_total"), 1.0);
    assert_eq!(
        sample(&text, "latchkey_authorization_code_replays_total"),
        1.0
    );
    assert_eq!(
        sample(&text, "latchkey_rate_limited_total{name=\"register\"}"),
        1.0
    );
    assert_eq!(
        sample(&text, "latchkey_sign_ins_total{outcome=\"failure\"}"),
        1.0
    );
    assert!(sample(&text, "latchkey_sign_ins_total{outcome=\"success\"}") >= 1.0);
    assert!(
        sample(
            &text,
            "latchkey_client_cache_lookups_total{outcome=\"hit\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &text,
            "latchkey_client_cache_lookups_total{outcome=\"miss\"}"
        ) >= 1.0
    );
    // Requests by route template (never the raw path) and status class.
    let token_ok =
        "latchkey_http_requests_total{route=\"/oauth/token\",method=\"POST\",status=\"2xx\"}";
    assert!(sample(&text, token_ok) >= 5.0);
    assert!(
        sample(
            &text,
            "latchkey_http_requests_total{route=\"/oauth/register\",method=\"POST\",status=\"4xx\"}"
        ) >= 1.0
    );
    assert!(text.contains("route=\"/api/apps/{id}\""), "{text}");
    assert!(!text.contains("nosuchapp"));
    assert!(
        sample(
            &text,
            "latchkey_http_request_duration_seconds_count{route=\"/oauth/token\",method=\"POST\"}"
        ) >= 7.0
    );
    assert!(sample(&text, "latchkey_db_query_duration_seconds_count") >= 1.0);
    assert!(sample(&text, "latchkey_db_pool_connections{state=\"max\"}") >= 1.0);
    assert_eq!(
        sample(&text, "latchkey_signing_keys{state=\"active\"}"),
        1.0
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

/// `--metrics-bind` serves `/metrics` on its own address and not on the public one;
/// without it or `metrics_public` there is no `/metrics` at all.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_on_their_own_address() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let (_server, base) = start(
        dir.path(),
        &db.url,
        &["--metrics-bind", &format!("127.0.0.1:{metrics_port}")],
    )
    .await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let text = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The readiness probe wait_ready made is counted.
    assert!(
        sample(
            &text,
            "latchkey_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"2xx\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &text,
            "latchkey_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"4xx\"}"
        ) >= 1.0
    );
}

/// Lists the audit trail through the CLI, as an operator on the server would.
fn audit_cli(db_url: &str, args: &[&str]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path(), db_url)
        .args(["audit", "list"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Sign-ins (with the address, never the password), consent, refresh reuse, code
/// replay, client changes by the CLI, a person and an admin token, all in the
/// trail; the CLI and the admin API read it, filtered and in pages.
async fn audit_trail_says_who_did_what(backend: Backend) {
    let flow = common::flow::public_flow(&backend).await;
    let app = &flow.app;
    let url = app.db.url.clone();
    let stranger = common::Browser::new(app);
    assert_eq!(
        stranger
            .try_login("alice", "not-her-password")
            .await
            .status(),
        401
    );
    let (refresh, code) = reuse_a_refresh_token_and_replay_a_code(&flow).await;

    // A client made with the CLI, whose log names the event under `audit`.
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path(), &url)
        .env("LATCHKEY_LOG", "info")
        .args(["clients", "create", "--name", "billing"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("audit") && stderr.contains("client.created"),
        "{stderr}"
    );
    let billing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let billing_id = billing["client_id"].as_str().unwrap().to_owned();

    // A person's token cannot read the trail.
    let person = flow.tokens("profile").await;
    let resp = app
        .http
        .get(app.url("/admin/audit"))
        .bearer_auth(person["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // An operator deletes it, and takes alice's consents away.
    let admin = app.admin_client().await;
    let resp = app
        .token_basic(&admin, &[("grant_type", "client_credentials")])
        .await;
    let admin_token = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .http
        .delete(app.url(&format!("/admin/clients/{billing_id}")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .http
        .delete(app.url(&format!("/admin/users/{}/grants", flow.user_id)))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let all = audit_cli(&url, &["--since", "0"]);
    let kinds: Vec<&str> = all.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for kind in [
        "sign_in.success",
        "sign_in.failure",
        "consent.granted",
        "token.refresh_reuse",
        "token.code_replay",
        "client.created",
        "client.deleted",
        "consent.revoked",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let failure = all
        .iter()
        .find(|e| e["event"] == "sign_in.failure")
        .unwrap();
    assert_eq!(failure["address"], "127.0.0.1");
    assert_eq!(failure["detail"]["username"], "alice");
    assert_eq!(failure["actor_kind"], "anonymous");
    let text = serde_json::to_string(&all).unwrap();
    for secret in ["not-her-password", common::flow::PASSWORD, &refresh, &code] {
        assert!(!text.contains(secret), "a secret is in the audit trail");
    }
    let success = all
        .iter()
        .find(|e| e["event"] == "sign_in.success")
        .unwrap();
    assert_eq!(success["actor"], flow.user_id.as_str());
    let created = all
        .iter()
        .find(|e| e["event"] == "client.created" && e["subject"] == billing_id.as_str())
        .unwrap();
    assert_eq!(created["actor_kind"], "cli");
    let reuse = all
        .iter()
        .find(|e| e["event"] == "token.refresh_reuse")
        .unwrap();
    assert_eq!(reuse["actor"], flow.client_id.as_str());

    // Who deleted billing? The CLI's filter and the admin API say: the operator.
    let deleted = audit_cli(
        &url,
        &[
            "--since",
            "0",
            "--subject",
            &billing_id,
            "--event",
            "client.deleted",
        ],
    );
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["actor_kind"], "admin");
    assert_eq!(deleted[0]["actor"], admin.id.as_str());
    let page: Value = app
        .http
        .get(app.url(&format!("/admin/audit?since=0&subject={billing_id}")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["client.created", "client.deleted"]);
    assert_eq!(page["events"][1]["actor"], admin.id.as_str());

    // Pages of two cover everything once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/admin/audit?since=0&limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app
            .http
            .get(app.url(&path))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for e in page["events"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let ids: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ids);
    // A made-up cursor is a 400.
    let resp = app
        .http
        .get(app.url("/admin/audit?cursor=nonsense"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Retention: records older than the cut-off go, newer ones stay.
    let newest = all.iter().map(|e| e["at"].as_i64().unwrap()).max().unwrap();
    let gone = latchkey::store::audit::purge_before(&app.state.db, newest)
        .await
        .unwrap();
    let left = audit_cli(&url, &["--since", "0"]);
    assert_eq!(gone + left.len(), all.len());
    assert!(left.iter().all(|e| e["at"].as_i64().unwrap() >= newest));
}
