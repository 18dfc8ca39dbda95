//! An MCP server protected by Latchkey: MCP clients (Claude, an IDE, the MCP SDKs)
//! find Latchkey through this server's RFC 9728 metadata, sign the person in there
//! — with a Client ID Metadata Document or dynamic registration, no
//! pre-registration — and call its tools with the access token.
//!
//! Run Latchkey with this server's URL among its resources and a scope for it
//! (README "Put an MCP server behind Latchkey"), then:
//!
//! ```sh
//! cargo run --example mcp_server
//! ```
//!
//! Settings (environment): `ISSUER` (default http://127.0.0.1:8080), `MCP_URL`
//! (this server's public URL, default http://127.0.0.1:9001/mcp), `MCP_SCOPE`
//! (default `mcp:tools`), `MCP_WRITE_SCOPE` (what `save_note` needs besides, default
//! `mcp:write`), `BIND` (default: the host and port of `MCP_URL`).

mod server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let settings = server::Settings {
        issuer: env("ISSUER", "http://127.0.0.1:8080"),
        resource: env("MCP_URL", "http://127.0.0.1:9001/mcp"),
        scope: env("MCP_SCOPE", "mcp:tools"),
        write_scope: env("MCP_WRITE_SCOPE", "mcp:write"),
    };
    let url = url::Url::parse(&settings.resource)?;
    let default_bind = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port_or_known_default().unwrap_or(80)
    );
    let bind = env("BIND", &default_bind);
    println!(
        "MCP server at {} (listening on {bind}), tokens from {}, scope {}",
        settings.resource, settings.issuer, settings.scope
    );
    let app = server::endpoint(settings).await?;
    poem::Server::new(poem::listener::TcpListener::bind(bind))
        .run(app)
        .await?;
    Ok(())
}
