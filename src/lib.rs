//! Latchkey: a self-hostable OAuth 2.1 authorization server.
//!
//! Rooms, top to bottom; each imports only rooms below it (README, "Layout", has one
//! line per room and keeps it true):
//! `cli` → `server` → `app` (the composition root) → `http`, `web` (handlers) →
//! `services` (`AppState` and what handlers call) → `pages` → `config` → `store`,
//! `fetch`, `keys` → `oauth` (pure protocol rules) → leaves (`clock`, `random`,
//! `cidr`, `request_id`).

pub mod app;
pub mod cidr;
pub mod cli;
pub mod clock;
pub mod config;
pub mod fetch;
pub mod http;
pub mod keys;
pub mod oauth;
pub mod pages;
pub mod random;
pub mod request_id;
pub mod server;
pub mod services;
pub mod store;
pub mod web;
