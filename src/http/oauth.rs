//! `POST /oauth/revoke` (RFC 7009), `POST /oauth/introspect` (RFC 7662) and
//! `GET`/`POST /oauth/userinfo` (OpenID Connect Core §5.3).

use super::bearer::{TokenRefusal, active_access_token};
use super::errors::{Failure, OAuthErrorBody, OAuthResponse};
use super::payloads::OAuthForm;
use super::{ApiTags, ClientAuthHeader, authenticate_client};
use crate::oauth::OAuthError;
use crate::oauth::claims::{Audience, family_of_jti};
use crate::oauth::form::FormParams;
use crate::oauth::id_token::ProfileClaims;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::{ClientType, RefreshToken};
use crate::services::state::AppState;
use crate::store::{self, StoreError};
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
};

/// A token named to the revocation (RFC 7009 §2.1) or introspection (RFC 7662 §2.1)
/// endpoint, form-encoded.
#[derive(Debug, Clone, Object)]
pub struct TokenReference {
    /// The refresh token or access token.
    pub token: String,
    /// `refresh_token` or `access_token`; a hint only (the token's form decides).
    #[oai(skip_serializing_if_is_none)]
    pub token_type_hint: Option<String>,
    /// For `client_secret_post` (or a public client revoking): the caller's client id.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    /// For `client_secret_post`: the caller's client secret.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
    /// For `private_key_jwt`:
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    #[oai(skip_serializing_if_is_none)]
    pub client_assertion_type: Option<String>,
    /// For `private_key_jwt`: a JWT signed with one of the caller's registered keys.
    #[oai(skip_serializing_if_is_none)]
    pub client_assertion: Option<String>,
}

/// What the server knows about a token (RFC 7662 §2.2). Inactive tokens get
/// `{"active": false}` and nothing else.
#[derive(Debug, Clone, Default, Object)]
pub struct Introspection {
    /// Whether the token is usable right now.
    pub active: bool,
    /// Space-separated scopes.
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    /// The user's username, for tokens issued to a user.
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// `Bearer` or `DPoP` (RFC 9449 §6.2) for access tokens, `refresh_token` for
    /// refresh tokens.
    #[oai(skip_serializing_if_is_none)]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[oai(skip_serializing_if_is_none)]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[oai(skip_serializing_if_is_none)]
    pub iat: Option<i64>,
    /// Subject: the user id, or the client id for client credentials.
    #[oai(skip_serializing_if_is_none)]
    pub sub: Option<String>,
    /// Audiences (access tokens).
    #[oai(skip_serializing_if_is_none)]
    pub aud: Option<Vec<String>>,
    /// The issuer.
    #[oai(skip_serializing_if_is_none)]
    pub iss: Option<String>,
    /// The token's unique id (access tokens).
    #[oai(skip_serializing_if_is_none)]
    pub jti: Option<String>,
    // DPoP-bound tokens: the key they are bound to. (No doc comment: a described
    // `$ref` becomes `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub cnf: Option<TokenConfirmation>,
}

/// The key a token is bound to (RFC 7800 §3.1, RFC 9449 §6).
#[derive(Debug, Clone, Object)]
pub struct TokenConfirmation {
    /// The RFC 7638 SHA-256 thumbprint of the DPoP key, base64url.
    pub jkt: String,
}

/// The token's user, by scope (OpenID Connect Core §5.1, §5.4).
#[derive(Debug, Clone, Object)]
pub struct UserInfo {
    /// The user id: `sub` of their access and ID tokens.
    pub sub: String,
    /// Display name (scope `profile`).
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Username (scope `profile`).
    #[oai(skip_serializing_if_is_none)]
    pub preferred_username: Option<String>,
    /// Username again, under the name Latchkey used before OpenID Connect (scope
    /// `profile`).
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// Email address (scope `email`).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Whether the address is known to be the user's (scope `email`).
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
}

/// The (empty) body of a revocation response.
#[derive(Debug, Clone, Default, Object)]
pub struct Revoked {
    /// Always `true`: the request was accepted. It does not tell whether the token
    /// existed (RFC 7009 §2.2).
    pub accepted: bool,
}

pub type RevokeResponse = OAuthResponse<Json<Revoked>>;
pub type IntrospectResponse = OAuthResponse<Json<Introspection>>;

#[derive(ApiResponse)]
pub enum UserInfoResponse {
    /// The user's profile.
    #[oai(status = 200)]
    Ok(
        Json<UserInfo>,
        /// A new DPoP server nonce, when the one used is about to expire.
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
    ),
    /// No token, or it is not an active user token (`invalid_token`, RFC 6750
    /// §3.1), or its DPoP proof is refused (`invalid_dpop_proof`, `use_dpop_nonce`:
    /// RFC 9449 §7.1).
    #[oai(status = 401)]
    Unauthorized(
        Json<OAuthErrorBody>,
        /// A `Bearer` and a `DPoP` challenge, the error on the scheme that failed.
        #[oai(header = "WWW-Authenticate")]
        String,
        /// The DPoP server nonce to put in the next proof.
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
    ),
    /// The token carries none of `openid`, `profile`, `email`
    /// (`insufficient_scope`, RFC 6750 §3.1).
    #[oai(status = 403)]
    Forbidden(
        Json<OAuthErrorBody>,
        /// `Bearer error="insufficient_scope"` with the scope needed.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// The server failed.
    #[oai(status = 500)]
    ServerError(Json<OAuthErrorBody>),
}

/// An `Authorization: Bearer` access token, documented as the `BearerToken` scheme.
pub struct BearerAuth(pub Option<String>);

impl<'a> ApiExtractor<'a> for BearerAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "BearerToken",
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An access token issued by this server (RFC 6750). A DPoP-bound token (token_type DPoP) goes as `Authorization: DPoP <token>` instead, with a `DPoP` proof header whose `ath` is the token's hash (RFC 9449 §7).",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["BearerToken"]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(super::bearer::bearer_token(request)))
    }
}

/// Whose access token a request carries.
enum TokenOwner {
    User(
        Box<crate::oauth::claims::AccessTokenClaims>,
        crate::store::models::UserRow,
    ),
    Client,
    Nobody,
}

pub struct OAuthApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::OAuth")]
impl OAuthApi {
    /// Revoke a token
    ///
    /// RFC 7009. A refresh token takes its whole family with it (every refresh and
    /// access token of that authorization); an access token is denied by its `jti`
    /// until it expires. Answers 200 whether or not the token was known.
    #[oai(path = "/oauth/revoke", method = "post", operation_id = "revokeToken")]
    async fn revoke(
        &self,
        req: &poem::Request,
        auth: ClientAuthHeader,
        form: OAuthForm<TokenReference>,
    ) -> RevokeResponse {
        let address = super::limits::caller_address(&self.state, req);
        let outcome = self
            .do_revoke(auth.0.as_deref(), address, &form.params)
            .await;
        RevokeResponse::from_outcome(
            "revocation",
            outcome.map(|()| Json(Revoked { accepted: true })),
        )
    }

    /// Introspect a token
    ///
    /// RFC 7662, for resource servers that prefer asking to verifying JWTs locally,
    /// and the only way to learn that an access token was revoked before its `exp`.
    /// The caller authenticates as a confidential client.
    #[oai(
        path = "/oauth/introspect",
        method = "post",
        operation_id = "introspectToken"
    )]
    async fn introspect(
        &self,
        req: &poem::Request,
        auth: ClientAuthHeader,
        form: OAuthForm<TokenReference>,
    ) -> IntrospectResponse {
        let address = super::limits::caller_address(&self.state, req);
        let outcome = self
            .do_introspect(auth.0.as_deref(), address, &form.params)
            .await;
        IntrospectResponse::from_outcome("introspection", outcome.map(Json))
    }

    /// The token's user
    ///
    /// OpenID Connect UserInfo (Core §5.3): the user an access token was issued
    /// for. `sub` always; `name`, `preferred_username` (and `username`) with scope
    /// `profile`; `email` and `email_verified` with scope `email`. The token must
    /// carry `openid`, `profile` or `email`.
    #[oai(path = "/oauth/userinfo", method = "get", operation_id = "getUserInfo")]
    async fn userinfo(&self, req: &poem::Request, _auth: BearerAuth) -> UserInfoResponse {
        self.user_info(req).await
    }

    /// The token's user (POST)
    ///
    /// The same as `GET /oauth/userinfo` (Core §5.3.1: both methods); the access
    /// token goes in the `Authorization` header.
    #[oai(
        path = "/oauth/userinfo",
        method = "post",
        operation_id = "postUserInfo"
    )]
    async fn userinfo_post(&self, req: &poem::Request, _auth: BearerAuth) -> UserInfoResponse {
        self.user_info(req).await
    }
}

impl OAuthApi {
    async fn user_info(&self, req: &poem::Request) -> UserInfoResponse {
        let state = &self.state;
        let access =
            super::bearer::resource_access(state, &super::bearer::ResourceRequest::of(req)).await;
        let nonce = access.nonce;
        let refused = |refusal: &TokenRefusal| {
            let code = match refusal {
                TokenRefusal::Missing | TokenRefusal::Malformed => "invalid_request",
                TokenRefusal::Proof(r) if r.reason == crate::oauth::dpop::Reason::Nonce => {
                    "use_dpop_nonce"
                }
                TokenRefusal::Proof(_) => "invalid_dpop_proof",
                _ => "invalid_token",
            };
            UserInfoResponse::Unauthorized(
                Json(OAuthErrorBody {
                    error: code.to_owned(),
                    error_description: refusal.message(),
                }),
                super::bearer::challenge(state, refusal, None),
                nonce.clone(),
            )
        };
        let invalid = |description: &'static str| refused(&TokenRefusal::Invalid(description));
        let claims = match access.outcome {
            Ok(claims) => claims,
            Err(TokenRefusal::Internal(e)) => {
                tracing::error!(error = %e, "userinfo failed");
                return UserInfoResponse::ServerError(Json(OAuthErrorBody::from(
                    &OAuthError::server_error(),
                )));
            }
            Err(refusal) => return refused(&refusal),
        };
        let result = async {
            if family_of_jti(&claims.jti).is_none() {
                return Ok(TokenOwner::Client);
            }
            let user = store::users::find_user(&state.db, &claims.sub).await?;
            Ok::<_, StoreError>(match user {
                Some(u) => TokenOwner::User(Box::new(claims), u),
                None => TokenOwner::Nobody,
            })
        }
        .await;
        match result {
            Ok(TokenOwner::User(claims, user)) => {
                let scope = ScopeSet::from_trusted(claims.scope.split_whitespace());
                // Core §5.3 asks for `openid`; a plain OAuth token with a profile
                // scope keeps working, as it did before OpenID Connect.
                if !["openid", "profile", "email"]
                    .iter()
                    .any(|s| scope.contains(s))
                {
                    return UserInfoResponse::Forbidden(
                        Json(OAuthErrorBody {
                            error: "insufficient_scope".to_owned(),
                            error_description:
                                "the access token needs the openid, profile or email scope"
                                    .to_owned(),
                        }),
                        r#"Bearer realm="latchkey", error="insufficient_scope", scope="openid""#
                            .to_owned(),
                    );
                }
                let identity = user.identity();
                let profile = ProfileClaims::for_scope(&identity, &scope);
                UserInfoResponse::Ok(
                    Json(UserInfo {
                        sub: user.id.clone(),
                        name: profile.name,
                        username: profile.preferred_username.clone(),
                        preferred_username: profile.preferred_username,
                        email: profile.email,
                        email_verified: profile.email_verified,
                    }),
                    nonce,
                )
            }
            Ok(TokenOwner::Client) => invalid("this token was issued to a client, not a user"),
            Ok(TokenOwner::Nobody) => invalid("the access token is invalid, expired or revoked"),
            Err(e) => {
                tracing::error!(error = %e, "userinfo failed");
                UserInfoResponse::ServerError(Json(OAuthErrorBody::from(
                    &OAuthError::server_error(),
                )))
            }
        }
    }
}

/// The `token` parameter (required) and a well-formed `token_type_hint`.
fn token_param(form: &FormParams) -> Result<String, OAuthError> {
    form.single("token_type_hint")?;
    form.single("token")?
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::invalid_request("the token parameter is required"))
}

impl OAuthApi {
    async fn do_revoke(
        &self,
        authorization: Option<&str>,
        address: Option<std::net::IpAddr>,
        form: &FormParams,
    ) -> Result<(), Failure> {
        let token = token_param(form)?;
        let client = authenticate_client(&self.state, authorization, address, form).await?;
        let state = &self.state;
        state
            .limits
            .revoke
            .check(&crate::services::limits::client_key(client.id.as_str()))?;
        let now = state.clock.now();
        if token.starts_with(RefreshToken::PREFIX) {
            let hash = RefreshToken::new(token).hash();
            if let Some((_, family, _)) = store::tokens::find_refresh(&state.db, &hash).await?
                // §2.1: only the client the token was issued to may revoke it.
                && family.client_id == client.id.as_str()
            {
                store::tokens::revoke_family(&state.db, &family.id, now).await?;
                tracing::info!(client_id = %client.id, family = %family.id, "refresh token family revoked");
            }
        } else if let Some(claims) = state
            .keys
            .get()
            .verify_access_token(&token, &state.settings.issuer)
            && claims.client_id == client.id.as_str()
        {
            store::tokens::revoke_access_token(&state.db, &claims.jti, claims.exp).await?;
            state.revoked.insert(&claims.jti);
            tracing::info!(client_id = %client.id, "access token revoked");
        }
        Ok(())
    }

    async fn do_introspect(
        &self,
        authorization: Option<&str>,
        address: Option<std::net::IpAddr>,
        form: &FormParams,
    ) -> Result<Introspection, Failure> {
        let token = token_param(form)?;
        let client = authenticate_client(&self.state, authorization, address, form).await?;
        // A public client's id is no secret; letting it introspect would let anyone.
        if client.client_type != ClientType::Confidential {
            return Err(OAuthError::invalid_client(
                "only confidential clients may introspect tokens",
            )
            .into());
        }
        let state = &self.state;
        let inactive = Introspection::default();
        if token.starts_with(RefreshToken::PREFIX) {
            let hash = RefreshToken::new(token).hash();
            let Some((row, family, user)) = store::tokens::find_refresh(&state.db, &hash).await?
            else {
                return Ok(inactive);
            };
            let live = family.revoked_at.is_none()
                && family.current_hash.as_deref() == Some(&hash[..])
                && row.expires_at > state.clock.now();
            if !live {
                return Ok(inactive);
            }
            return Ok(Introspection {
                active: true,
                scope: Some(family.scopes),
                client_id: Some(family.client_id),
                username: Some(user.username),
                token_type: Some("refresh_token".to_owned()),
                exp: Some(row.expires_at),
                iat: Some(row.issued_at),
                sub: Some(family.user_id),
                iss: Some(state.settings.issuer.clone()),
                ..Default::default()
            });
        }
        let Some(claims) = active_access_token(state, &token).await? else {
            return Ok(inactive);
        };
        let username = if family_of_jti(&claims.jti).is_some() {
            store::users::find_user(&state.db, &claims.sub)
                .await?
                .map(|u| u.username)
        } else {
            None
        };
        let token_type = claims.token_type();
        Ok(Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            username,
            token_type: Some(token_type.to_owned()),
            cnf: claims.cnf.map(|c| TokenConfirmation { jkt: c.jkt }),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub),
            aud: Some(match claims.aud {
                Audience::One(a) => vec![a],
                Audience::Many(list) => list,
            }),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
        })
    }
}
