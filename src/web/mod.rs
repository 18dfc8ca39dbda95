//! The pages a person sees: sign-in, consent, errors. Plain server-rendered HTML with
//! one stylesheet and no scripts, so the CSP can forbid scripts outright.

pub mod login;
pub mod session;
pub mod settings;

use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Pages load only our stylesheet and https images (app icons); no scripts, no
/// framing (clickjacking a consent page would be granting access by proxy).
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'";

/// A full page around `body`.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_in(status, title, body, "card")
}

/// A full page around `body`, in a `<main>` of class `class`.
pub fn page_in(status: StatusCode, title: &str, body: &str, class: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · Latchkey</title>
<link rel="stylesheet" href="/assets/latchkey.css">
</head>
<body>
<main class="{class}">
<div class="brand">Latchkey</div>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
    );
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, PAGE_CSP)
        .header(header::CACHE_CONTROL, "no-store")
        .body(html)
}

/// An error page: what went wrong, and that the application did not get access.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        &format!(
            r#"<h1>{}</h1>
<p class="lead">{}</p>"#,
            esc(title),
            esc(message)
        ),
    )
}

pub const STYLESHEET: &str = r#"
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #f3f5f9; --card: #fff; --line: #dde2ea; --accent: #2f5bea; --accent-fg: #fff; --danger: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #a2aaba; --bg: #12151b; --card: #1b1f27; --line: #2c323d; --accent: #6d8dff; --accent-fg: #0b0d12; --danger: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; padding: 24px; }
.card { width: 100%; max-width: 440px; background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 32px; box-shadow: 0 8px 30px rgba(0,0,0,.06); }
.brand { font-weight: 700; letter-spacing: .02em; color: var(--accent); margin-bottom: 20px; }
h1 { font-size: 1.35rem; margin: 0 0 8px; }
.lead { color: var(--muted); margin: 0 0 20px; }
label { display: block; font-weight: 600; margin: 14px 0 6px; }
input[type=text], input[type=password] { width: 100%; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; font: inherit; background: transparent; color: inherit; }
input:focus, button:focus { outline: 2px solid var(--accent); outline-offset: 1px; }
button { font: inherit; font-weight: 600; padding: 10px 16px; border-radius: 8px; border: 1px solid var(--line); background: transparent; color: inherit; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
.actions { display: flex; gap: 12px; margin-top: 24px; }
.actions button { flex: 1; }
.error { color: var(--danger); margin: 12px 0 0; }
.app { display: flex; gap: 14px; align-items: center; margin-bottom: 16px; }
.app img { width: 48px; height: 48px; border-radius: 10px; }
.app .name { font-weight: 700; font-size: 1.1rem; }
.muted { color: var(--muted); font-size: .92rem; }
ul.scopes { list-style: none; padding: 0; margin: 8px 0 0; border: 1px solid var(--line); border-radius: 10px; }
ul.scopes li { padding: 10px 14px; border-top: 1px solid var(--line); }
ul.scopes li:first-child { border-top: 0; }
ul.scopes code { font-size: .85rem; color: var(--muted); }
a { color: var(--accent); }
.card.wide { max-width: 720px; }
h2 { font-size: 1.1rem; margin: 28px 0 8px; }
nav.tabs { display: flex; gap: 16px; margin-bottom: 20px; font-weight: 600; }
nav.tabs a { text-decoration: none; }
nav.tabs a[aria-current=page] { color: var(--fg); border-bottom: 2px solid var(--accent); }
textarea, input[type=text] { width: 100%; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; font: inherit; background: transparent; color: inherit; }
fieldset { border: 1px solid var(--line); border-radius: 10px; margin: 16px 0 0; padding: 8px 14px; }
legend { font-weight: 600; padding: 0 4px; }
label.check { font-weight: 400; margin: 6px 0; }
ul.items { list-style: none; padding: 0; margin: 8px 0 0; border: 1px solid var(--line); border-radius: 10px; }
ul.items li { display: flex; justify-content: space-between; align-items: center; gap: 12px; padding: 12px 14px; border-top: 1px solid var(--line); }
ul.items li:first-child { border-top: 0; }
ul.items .name { font-weight: 700; }
.badge { font-size: .8rem; border: 1px solid var(--line); border-radius: 999px; padding: 1px 8px; color: var(--muted); }
.copyable { display: flex; gap: 8px; }
input.secret { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9rem; }
.warning { color: var(--danger); font-weight: 600; }
button.danger { color: var(--danger); border-color: var(--danger); }
a.button { display: inline-block; font-weight: 600; padding: 10px 16px; border-radius: 8px; background: var(--accent); color: var(--accent-fg); text-decoration: none; text-align: center; flex: 1; }
"#;

/// `GET /assets/latchkey.css`.
#[poem::handler]
pub fn stylesheet() -> impl IntoResponse {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .body(STYLESHEET)
}

/// Is `next` a path on this server? Only those are followed after sign-in, so the
/// login page cannot be used to send people elsewhere (an open redirect).
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 4096
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn local_paths_only() {
        assert!(is_local_path("/oauth/authorize?client_id=x"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("/a\nb"));
        assert!(!is_local_path(""));
    }
}
