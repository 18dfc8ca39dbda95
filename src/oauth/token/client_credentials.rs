//! The client credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2).

use crate::oauth::OAuthError;
use crate::oauth::claims::{AccessTokenClaims, TokenPolicy};
use crate::oauth::form::FormParams;
use crate::oauth::scope::{ADMIN_SCOPE, ScopeCatalogue, ScopeSet};
use crate::oauth::types::{ClientType, GrantType, RegisteredClient};

/// A validated client credentials request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsRequest {
    /// `None` when the client named no scope: it then gets all it is allowed.
    pub scope: Option<ScopeSet>,
    /// RFC 8707 `resource` values, in request order.
    pub resources: Vec<String>,
}

/// §4.4.2: reads `scope` and `resource` from the form.
pub fn validate(form: &FormParams) -> Result<ClientCredentialsRequest, OAuthError> {
    let scope = form.single("scope")?.map(ScopeSet::parse).transpose()?;
    let resources = form.all("resource").map(str::to_owned).collect();
    Ok(ClientCredentialsRequest { scope, resources })
}

/// §4.4.3: decides what token an authenticated client receives.
pub fn decide(
    client: &RegisteredClient,
    request: &ClientCredentialsRequest,
    catalogue: &ScopeCatalogue,
    policy: &TokenPolicy,
    now: i64,
    jti: String,
) -> Result<AccessTokenClaims, OAuthError> {
    // §4.4: only confidential clients may use this grant; a public client's
    // "credentials" are known to anyone who has the app.
    if client.client_type != ClientType::Confidential
        || !client.allows_grant(GrantType::ClientCredentials)
    {
        return Err(OAuthError::unauthorized_client(
            "this client is not allowed to use the client_credentials grant",
        ));
    }

    // RFC 6749 §3.3: the server may fully or partially ignore the request, but
    // silently granting less would hide a client bug, so an unknown or disallowed
    // scope is refused.
    let scope = match &request.scope {
        Some(requested) => {
            // The admin scope is outside the catalogue; the client's own list
            // (checked next) says whether it may have it.
            catalogue.check_known(&ScopeSet::from_trusted(
                requested.iter().filter(|s| *s != ADMIN_SCOPE),
            ))?;
            if let Some(denied) = requested.difference(&client.scopes).next() {
                return Err(OAuthError::invalid_scope(format!(
                    "this client is not allowed the scope `{denied}`"
                )));
            }
            requested.clone()
        }
        None => ScopeSet::from_trusted(
            client
                .scopes
                .iter()
                .filter(|s| catalogue.names().contains(s) || *s == ADMIN_SCOPE),
        ),
    };

    let aud = policy.audience(&request.resources)?;
    Ok(policy.claims(
        client.id.to_string(),
        client.id.as_str(),
        &scope,
        aud,
        now,
        jti,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use crate::oauth::claims::Audience;
    use crate::oauth::client_auth::hash_secret;
    use crate::oauth::scope::ScopeEntry;
    use crate::oauth::types::ClientId;

    const NOW: i64 = 1_700_000_000;

    fn catalogue() -> ScopeCatalogue {
        ScopeCatalogue::new(vec![
            ScopeEntry {
                name: "orders:read".into(),
                description: "d".into(),
            },
            ScopeEntry {
                name: "orders:write".into(),
                description: "d".into(),
            },
        ])
        .unwrap()
    }

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "https://auth.example".into(),
            resources: crate::oauth::resource::ResourceSet::new(vec!["https://api.example".into()])
                .unwrap(),
            default_audience: "https://api.example".into(),
            access_token_ttl: 600,
        }
    }

    fn client() -> RegisteredClient {
        RegisteredClient {
            id: ClientId::new("svc"),
            client_type: ClientType::Confidential,
            secret_hash: Some(hash_secret("s")),
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::parse("orders:read orders:write gone").unwrap(),
            redirect_uris: vec![],
            self_described: false,
            keys: None,
            dpop_bound: false,
            require_par: false,
            exchange: Default::default(),
        }
    }

    fn run(body: &[u8], client: &RegisteredClient) -> Result<AccessTokenClaims, OAuthError> {
        let req = validate(&FormParams::parse(body).unwrap())?;
        decide(client, &req, &catalogue(), &policy(), NOW, "jti-1".into())
    }

    #[test]
    fn no_scope_means_all_allowed_known_scopes() {
        let c = run(b"grant_type=client_credentials", &client()).unwrap();
        assert_eq!(c.scope, "orders:read orders:write");
        assert_eq!(c.sub, "svc");
        assert_eq!(c.client_id, "svc");
        assert_eq!(c.exp, NOW + 600);
        assert_eq!(c.iat, NOW);
        assert_eq!(c.aud, Audience::One("https://api.example".into()));
    }

    #[test]
    fn narrower_scope_is_granted_as_asked() {
        let c = run(b"scope=orders:read", &client()).unwrap();
        assert_eq!(c.scope, "orders:read");
    }

    #[test]
    fn unknown_scope_is_invalid_scope() {
        let err = run(b"scope=nope", &client()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn scope_outside_allow_list_is_invalid_scope() {
        let err = run(b"scope=apps:read", &client()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
        assert!(err.description.contains("apps:read"));
    }

    #[test]
    fn unknown_resource_is_invalid_target() {
        let err = run(b"resource=https%3A%2F%2Fother.example", &client()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn client_without_the_grant_is_unauthorized() {
        let mut c = client();
        c.grant_types = vec![GrantType::AuthorizationCode];
        assert_eq!(
            run(b"", &c).unwrap_err().code,
            ErrorCode::UnauthorizedClient
        );
        let mut p = client();
        p.client_type = ClientType::Public;
        assert_eq!(
            run(b"", &p).unwrap_err().code,
            ErrorCode::UnauthorizedClient
        );
    }
}
