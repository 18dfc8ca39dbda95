//! The command line: `serve`, `migrate`, `clients …`, `keys …`, `openapi`.
//!
//! Commands that print data print JSON on stdout; logs go to stderr.
//!
//! One file at ~620 lines: the command table and each command's few lines of wiring
//! read best in one place (the work itself lives in `services`, `store` and `keys`).

use crate::app;
use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, SettingsArgs};
use crate::keys::KeySet;
use crate::oauth::registration::ClientMetadata;
use crate::oauth::types::GrantType;
use crate::services::clients::{self, ClientError};
use crate::services::state::AppState;
use crate::store::{self, Db};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use poem::EndpointExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A self-hostable OAuth 2.1 authorization server"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first unless --no-migrate)
    Serve {
        /// Leave migrations to `latchkey migrate`
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit
    Migrate,
    /// Manage OAuth clients
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage users who sign in
    #[command(subcommand)]
    Users(UsersCommand),
    /// Inspect signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the audit trail
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the OpenAPI document
    Openapi {
        /// YAML instead of JSON
        #[arg(long)]
        yaml: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print security events as JSON lines, oldest first
    List {
        /// From this time: Unix seconds, 2026-12-03T10:00:00Z, or an age such as 90m, 12h, 7d [default: 1d]
        #[arg(long, value_name = "TIME", default_value = "1d")]
        since: String,
        /// Only events of this kind, e.g. client.deleted, sign_in.failure
        #[arg(long, value_name = "KIND")]
        event: Option<String>,
        /// Only events about this client, user or key id
        #[arg(long, value_name = "ID")]
        subject: Option<String>,
        /// At most this many events [default: all]
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
// Parsed once per process; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ClientsCommand {
    /// Register a client; prints its id and (for confidential clients) its secret, once
    Create {
        /// Display name
        #[arg(long)]
        name: String,
        /// Allowed scopes, space-separated [default: every scope in the catalogue]
        #[arg(long)]
        scope: Option<String>,
        /// Allowed grant type (repeatable) [default: client_credentials; public
        /// clients and clients with redirect URIs: authorization_code refresh_token]
        #[arg(long = "grant-type", value_parser = parse_grant_type)]
        grant_types: Vec<GrantType>,
        /// Redirect URI (repeatable): https, or http on 127.0.0.1 / [::1] / localhost
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (no secret; must use PKCE)
        #[arg(long)]
        public: bool,
        /// Description shown on consent pages
        #[arg(long, default_value = "")]
        description: String,
        /// Website shown on consent pages
        #[arg(long)]
        website: Option<String>,
        /// Where the app may send people after signing them out (repeatable;
        /// OpenID Connect RP-Initiated Logout)
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// How the client authenticates: client_secret_basic (a secret, the
        /// default), or private_key_jwt (an assertion signed with its own key: no
        /// secret; needs --jwks or --jwks-uri)
        #[arg(long, value_name = "METHOD")]
        token_endpoint_auth_method: Option<String>,
        /// private_key_jwt: a file holding the client's public JWK Set
        #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
        jwks: Option<std::path::PathBuf>,
        /// private_key_jwt: the https URL where the client publishes its JWK Set
        #[arg(long, value_name = "URL")]
        jwks_uri: Option<String>,
        /// Refuse the client any token without a DPoP proof (RFC 9449 §5.2)
        #[arg(long)]
        dpop_bound_access_tokens: bool,
        /// Refuse the client's authorization requests unless pushed to /oauth/par
        /// first (RFC 9126 §6)
        #[arg(long = "require-par")]
        require_par: bool,
    },
    /// List clients (never their secrets)
    List,
    /// Delete a client
    Delete {
        /// Client ids are base64url and may begin with `-`; taken as the id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Replace a confidential client's secret; prints the new one, once
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Make an initial access token for `--registration token`; prints it, once
    InitialToken {
        /// Seconds until it expires (usable any number of times until then)
        #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(60..=31_536_000))]
        expires_in: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input, never from argv
    Create {
        username: String,
        /// Read the password from standard input (required: passwords never go in argv)
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        email: Option<String>,
        /// The address is known to be the user's (released as `email_verified: true`
        /// in ID tokens and UserInfo; otherwise false: Latchkey sends no mail)
        #[arg(long, requires = "email")]
        email_verified: bool,
        /// Display name
        #[arg(long)]
        name: Option<String>,
    },
    /// List users
    List,
    /// Delete a user (by id or username), with their sessions, consents and tokens
    Delete {
        /// User ids are base64url and may begin with `-`; taken as the id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state: next, active, retired, expired
    List,
    /// Add a key: published in JWKS at once, signing only after a propagation delay
    Rotate {
        /// Algorithm of the new key [default: the signing_alg setting]
        #[arg(long)]
        alg: Option<String>,
        /// Seconds until the new key signs; at least the JWKS cache lifetime (300)
        /// so resource servers that cached the JWKS see it before any token
        #[arg(long, default_value_t = 360)]
        activate_in: i64,
    },
    /// Stop a key signing now; it stays published until its tokens have expired
    Retire {
        /// The key id from `keys list`. Key ids are base64url, so one may begin with
        /// `-`; it is still taken as the id, not as an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

fn parse_grant_type(raw: &str) -> Result<GrantType, String> {
    raw.parse()
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.settings)?;
    match cli.command {
        Command::Serve { no_migrate } => serve(settings, no_migrate).await,
        Command::Migrate => {
            let applied = store::migrate::run(&settings.database).await?;
            print_json(&json!({ "applied": applied }))
        }
        Command::Clients(cmd) => clients_command(settings, cmd).await,
        Command::Users(cmd) => users_command(settings, cmd).await,
        Command::Keys(cmd) => keys_command(&settings, cmd).await,
        Command::Audit(cmd) => audit_command(&settings, cmd).await,
        Command::Openapi { yaml } => {
            let spec = crate::http::spec_document(&settings.issuer);
            println!("{}", if yaml { spec.spec_yaml() } else { spec.spec() });
            Ok(())
        }
    }
}

/// Seconds the JWKS may be cached (`Cache-Control: max-age`); rotation waits longer.
const JWKS_MAX_AGE: i64 = 300;

async fn keys_command(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    let dir = settings.keys_dir.clone();
    let now = SystemClock.now();
    let ttl = settings.signed_token_ttl();
    let kek = settings.key_encryption.clone();
    match cmd {
        KeysCommand::List => {
            let keys =
                tokio::task::spawn_blocking(move || KeySet::load(&dir, now, ttl, kek.as_ref()))
                    .await??;
            let list: Vec<_> = keys
                .keys()
                .map(|(k, state)| {
                    json!({
                        "kid": k.kid,
                        "alg": k.alg().as_str(),
                        "state": state.as_str(),
                        "active": state == crate::keys::lifecycle::KeyState::Active,
                        "activate_at": k.schedule.activate_at,
                        "retired_at": k.schedule.retired_at,
                        "file": k.path.display().to_string(),
                    })
                })
                .collect();
            print_json(&json!(list))
        }
        KeysCommand::Rotate { alg, activate_in } => {
            let alg = match alg {
                Some(a) => crate::keys::Alg::parse(&a)
                    .with_context(|| format!("unknown algorithm {a}: use RS256, ES256 or EdDSA"))?,
                None => settings.signing_alg,
            };
            if activate_in < 0 {
                bail!("--activate-in must not be negative");
            }
            if activate_in < JWKS_MAX_AGE {
                eprintln!(
                    "warning: the new key signs in {activate_in}s, before resource servers' JWKS caches ({JWKS_MAX_AGE}s) are sure to have it"
                );
            }
            let activate_at = now + activate_in;
            let kid = tokio::task::spawn_blocking(move || {
                crate::keys::rotate(&dir, alg, activate_at, kek.as_ref())
            })
            .await??;
            let event = by_cli("key.rotated", &kid)
                .detail("alg", alg.as_str())
                .detail("activate_at", activate_at);
            audit_key_change(settings, now, event).await;
            print_json(&json!({ "kid": kid, "alg": alg.as_str(), "activate_at": activate_at }))
        }
        KeysCommand::Retire { kid } => {
            let k = kid.clone();
            tokio::task::spawn_blocking(move || {
                crate::keys::retire(&dir, &k, now, ttl, kek.as_ref())
            })
            .await??;
            let event = by_cli("key.retired", &kid).detail("published_until", now + ttl);
            audit_key_change(settings, now, event).await;
            print_json(&json!({ "retired": kid, "published_until": now + ttl }))
        }
    }
}

async fn audit_command(settings: &Settings, cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        since,
        event,
        subject,
        limit,
    } = cmd;
    let now = SystemClock.now();
    let since = crate::services::audit::parse_since(&since, now).map_err(anyhow::Error::msg)?;
    let db = open_db(settings).await?;
    let mut filter = store::audit::Filter {
        since,
        event,
        subject,
        after: None,
        limit: 500,
    };
    let mut left = limit.unwrap_or(usize::MAX);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    while left > 0 {
        let page = store::audit::list_events(&db, &filter).await?;
        for row in page.iter().take(left) {
            // The admin API's rendering, so both read the same.
            let event = crate::http::admin::audit::AuditEvent::from(row);
            writeln!(
                out,
                "{}",
                poem_openapi::types::ToJSON::to_json_string(&event)
            )?;
        }
        left = left.saturating_sub(page.len());
        match page.last() {
            Some(last) if page.len() as i64 == filter.limit => {
                filter.after = Some((last.at, last.id.clone()));
            }
            _ => break,
        }
    }
    Ok(())
}

/// An audit event done from the command line, about `subject`.
fn by_cli<'a>(kind: &'static str, subject: &'a str) -> crate::services::audit::Event<'a> {
    crate::services::audit::Event::new(kind, crate::services::audit::Actor::Cli).subject(subject)
}

/// Key files are the truth, so a key change stands even when its audit record
/// cannot be written; the operator is told.
async fn audit_key_change(settings: &Settings, now: i64, event: crate::services::audit::Event<'_>) {
    match open_db(settings).await {
        Ok(db) => crate::services::audit::record(&db, now, event).await,
        Err(e) => eprintln!("warning: the key change is done but not in the audit trail: {e}"),
    }
}

async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database).await?;
    store::migrate::run(&settings.database).await?;
    Ok(db)
}

async fn clients_command(settings: Settings, cmd: ClientsCommand) -> anyhow::Result<()> {
    let db = open_db(&settings).await?;
    let now = SystemClock.now();
    match cmd {
        ClientsCommand::InitialToken { expires_in } => {
            let token =
                crate::services::clients::create_initial_token(&db, now, expires_in).await?;
            print_json(&json!({
                "initial_access_token": token,
                "expires_at": now + expires_in,
            }))
        }
        ClientsCommand::Create {
            name,
            scope,
            grant_types,
            redirect_uris,
            public,
            description,
            website,
            post_logout_redirect_uris,
            token_endpoint_auth_method,
            jwks,
            jwks_uri,
            dpop_bound_access_tokens,
            require_par,
        } => {
            let jwks = match jwks {
                None => None,
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(
                        serde_json::from_str(&text)
                            .with_context(|| format!("{} is not a JSON JWK Set", path.display()))?,
                    )
                }
            };
            let method = token_endpoint_auth_method.as_deref();
            if method == Some("none") && !public {
                bail!("token_endpoint_auth_method none is a public client: pass --public");
            }
            let keys = match crate::oauth::registration::keys_metadata(method, jwks, jwks_uri) {
                Ok(keys) => keys,
                Err(e) => bail!("{}", e.description),
            };
            let meta = ClientMetadata {
                name,
                description,
                website,
                icon_url: None,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types,
                scope,
                public,
                application_type: None,
                keys,
                dpop_bound_access_tokens,
                require_pushed_authorization_requests: require_par,
            };
            let origin = clients::Origin {
                operator: true,
                ..Default::default()
            };
            let created =
                match clients::create_client(&db, &settings.scopes, meta, origin, now).await {
                    Ok(c) => c,
                    Err(ClientError::Invalid(e)) => bail!("{}", e.description),
                    Err(ClientError::Store(e)) => return Err(e.into()),
                };
            let row = &created.row;
            crate::services::audit::record(&db, now, by_cli("client.created", &row.id)).await;
            let mut out = client_json(row)?;
            if let Some(secret) = created.client_secret {
                out["client_secret"] = json!(secret);
            }
            print_json(&out)
        }
        ClientsCommand::List => {
            let rows = store::clients::list_clients(&db).await?;
            let list = rows
                .iter()
                .map(client_json)
                .collect::<anyhow::Result<Vec<_>>>()?;
            print_json(&json!(list))
        }
        ClientsCommand::Delete { client_id } => {
            if !store::clients::delete_client(&db, &client_id).await? {
                bail!("no client with id {client_id}");
            }
            crate::services::audit::record(&db, now, by_cli("client.deleted", &client_id)).await;
            print_json(&json!({ "deleted": client_id }))
        }
        ClientsCommand::RotateSecret { client_id } => {
            match clients::rotate_secret(&db, &client_id, now).await? {
                Some(secret) => {
                    crate::services::audit::record(
                        &db,
                        now,
                        by_cli("client.secret_rotated", &client_id),
                    )
                    .await;
                    print_json(&json!({ "client_id": client_id, "client_secret": secret }))
                }
                None => bail!("no confidential client with id {client_id}"),
            }
        }
    }
}

async fn users_command(settings: Settings, cmd: UsersCommand) -> anyhow::Result<()> {
    let db = open_db(&settings).await?;
    match cmd {
        UsersCommand::Create {
            username,
            password_stdin: _,
            email,
            email_verified,
            name,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            match crate::services::users::create_user(
                &db,
                &username,
                password,
                crate::services::users::Profile {
                    email,
                    email_verified,
                    name,
                },
                SystemClock.now(),
            )
            .await
            {
                Ok(user) => print_json(&json!({ "id": user.id, "username": user.username })),
                Err(e) => bail!("{e}"),
            }
        }
        UsersCommand::List => {
            let users = store::users::list_users(&db).await?;
            let list: Vec<_> = users
                .iter()
                .map(|u| json!({ "id": u.id, "username": u.username, "email": u.email, "email_verified": u.email_verified, "name": u.name, "created_at": u.created_at }))
                .collect();
            print_json(&json!(list))
        }
        UsersCommand::Delete { user } => {
            if !store::users::delete_user(&db, &user).await? {
                bail!("no user {user}");
            }
            print_json(&json!({ "deleted": user }))
        }
    }
}

fn client_json(row: &store::models::ClientRow) -> anyhow::Result<serde_json::Value> {
    Ok(json!({
        "client_id": row.id,
        "client_type": row.client_type,
        "name": row.name,
        "description": row.description,
        "website": row.website,
        "redirect_uris": row.redirect_uri_list()?,
        "post_logout_redirect_uris": row.post_logout_redirect_uri_list()?,
        "grant_types": row.grant_types.split_whitespace().collect::<Vec<_>>(),
        "scope": row.scopes,
        "token_endpoint_auth_method": row.auth_method(),
        "jwks": crate::services::clients::keys_of(row)?.and_then(|k| match k {
            crate::oauth::registration::KeysMetadata::Jwks(set) => Some(set),
            crate::oauth::registration::KeysMetadata::Uri(_) => None,
        }),
        "jwks_uri": row.jwks_uri,
        "dpop_bound_access_tokens": row.dpop_bound_access_tokens,
        "require_pushed_authorization_requests": row.require_pushed_authorization_requests,
        "created_at": row.created_at,
    }))
}

async fn serve(settings: Settings, no_migrate: bool) -> anyhow::Result<()> {
    // Templates and brand files first: a broken override stops the server before
    // it touches the database.
    let pages = crate::pages::Pages::load(&settings.brand)?;
    let db = Db::connect(&settings.database).await?;
    if no_migrate {
        let pending = store::migrate::pending(&settings.database).await?;
        if !pending.is_empty() {
            anyhow::bail!(
                "the database lacks {} migration(s) ({}): run `latchkey migrate` first, or serve without --no-migrate",
                pending.len(),
                pending.join(", ")
            );
        }
    } else {
        let applied = store::migrate::run(&settings.database).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied database migrations");
        }
    }
    let dir = settings.keys_dir.clone();
    let alg = settings.signing_alg;
    let (now, ttl) = (SystemClock.now(), settings.signed_token_ttl());
    let kek = settings.key_encryption.clone();
    let keys = tokio::task::spawn_blocking(move || {
        KeySet::load_or_generate(&dir, alg, now, ttl, kek.as_ref())
    })
    .await
    .context("key loading task failed")??;
    let bind = settings.bind;
    let key_poll = settings.key_poll_interval;
    let issuer = settings.issuer.clone();
    let connections = settings.connections;
    let metrics_bind = settings.metrics_bind;
    let backend = db.backend_name();
    let kid = keys.active().kid.clone();
    let state = AppState::new(settings, pages, db, keys, Arc::new(SystemClock))?;
    app::spawn_background(&state, Duration::from_secs(key_poll));
    let app = app::build(&state);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    if let Some(addr) = metrics_bind {
        let metrics_listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (metrics_bind)"))?;
        let route = poem::Route::new()
            .at("/metrics", poem::get(crate::http::health::scrape))
            .data(state.clone());
        tracing::info!(%addr, "serving metrics at /metrics");
        tokio::spawn(async move {
            let acceptor = match poem::listener::TcpAcceptor::from_tokio(metrics_listener) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "metrics listener failed");
                    return;
                }
            };
            if let Err(e) = poem::Server::new_with_acceptor(acceptor).run(route).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    tracing::info!(%bind, %issuer, database = backend, signing_kid = %kid, "latchkey is serving");
    let stopped = crate::server::serve(
        listener,
        app,
        connections,
        state.lifecycle.clone(),
        shutdown_signal(),
    )
    .await?;
    tracing::info!(cut_off = stopped.cut_off, "latchkey stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Key, client and user ids are base64url, and about 1 in 32 begins with `-`.
    #[test]
    fn ids_beginning_with_a_hyphen_are_ids() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["latchkey"], args].concat())
                .unwrap_or_else(|e| panic!("{args:?}: {e}"))
                .command
        };
        match parse(&["keys", "retire", "-fQx2b"]) {
            Command::Keys(KeysCommand::Retire { kid }) => assert_eq!(kid, "-fQx2b"),
            other => panic!("{other:?}"),
        }
        match parse(&["clients", "delete", "-Ab3"]) {
            Command::Clients(ClientsCommand::Delete { client_id }) => assert_eq!(client_id, "-Ab3"),
            other => panic!("{other:?}"),
        }
        match parse(&["clients", "rotate-secret", "-Ab3"]) {
            Command::Clients(ClientsCommand::RotateSecret { client_id }) => {
                assert_eq!(client_id, "-Ab3")
            }
            other => panic!("{other:?}"),
        }
        match parse(&["users", "delete", "-uX"]) {
            Command::Users(UsersCommand::Delete { user }) => assert_eq!(user, "-uX"),
            other => panic!("{other:?}"),
        }
    }
}
