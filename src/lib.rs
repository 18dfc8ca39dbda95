//! Latchkey: a self-hostable OAuth 2.1 authorization server.

pub mod app;
pub mod audit;
pub mod cli;
pub mod client_cache;
pub mod clients;
pub mod clock;
pub mod config;
pub mod fetch;
pub mod http;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod pages;
pub mod random;
pub mod request_id;
pub mod revocations;
pub mod server;
pub mod store;
pub mod users;
pub mod web;
