//! The protocol core: OAuth 2.1 and OpenID Connect request validation and
//! decisions, free of I/O.
//!
//! Nothing here touches the network, the database, the clock or a random number
//! generator: the HTTP layer loads rows, passes `now` and fresh random values in,
//! calls `validate` then `decide`, and carries out the result.

pub mod assertion_grant;
pub mod authorize;
pub mod challenge;
pub mod claims;
pub mod client_assertion;
pub mod client_auth;
pub mod client_metadata;
pub mod dpop;
pub mod error;
pub mod form;
pub mod id_token;
pub mod jwk;
pub mod jws;
pub mod par;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod resource;
pub mod scope;
pub mod token;
pub mod types;

pub use error::{ErrorCode, OAuthError};
