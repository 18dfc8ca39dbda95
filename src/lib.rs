//! Latchkey: a self-hostable OAuth 2.1 authorization server.

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
