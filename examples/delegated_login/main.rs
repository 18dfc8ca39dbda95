//! A product with its own accounts in front of Latchkey: its sign-in (and consent)
//! pages answer Latchkey's challenges (README "Use your own sign-in page").
//!
//! ```sh
//! cargo run --release -- clients create --name "Shop backend" \
//!   --grant-type client_credentials --scope latchkey:admin      # note id and secret
//! cargo run --release -- serve --login-url http://localhost:4000/sign-in \
//!   --consent-url http://localhost:4000/consent
//! SHOP_CLIENT_ID=… SHOP_CLIENT_SECRET=… cargo run --example delegated_login
//! ```
//!
//! Settings (environment): `LATCHKEY_URL` (default http://127.0.0.1:8080),
//! `SHOP_CLIENT_ID`, `SHOP_CLIENT_SECRET` (required), `BIND` (default
//! 127.0.0.1:4000). Accounts: `ada` / `correct horse battery`, `grace` /
//! `staple battery horse`.

mod product;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str| std::env::var(k).ok();
    let settings = product::Settings {
        latchkey: env("LATCHKEY_URL").unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
        client_id: env("SHOP_CLIENT_ID").ok_or("set SHOP_CLIENT_ID")?,
        client_secret: env("SHOP_CLIENT_SECRET").ok_or("set SHOP_CLIENT_SECRET")?,
    };
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:4000".to_owned());
    println!(
        "Shop at http://{bind} (sign-in for Latchkey at {})",
        settings.latchkey
    );
    poem::Server::new(poem::listener::TcpListener::bind(bind))
        .run(product::endpoint(settings))
        .await?;
    Ok(())
}
