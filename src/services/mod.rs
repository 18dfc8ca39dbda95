//! The services request handlers call: each file owns one kind of thing and the rules
//! for changing it, whoever asks (an HTTP handler, a page, the CLI, a background task).

pub mod audit;
pub mod client_cache;
pub mod client_documents;
pub mod client_keys;
pub mod clients;
pub mod limits;
pub mod metrics;
pub mod replay;
pub mod revocations;
pub mod state;
pub mod users;
