//! `POST /oauth/token` (RFC 6749 §3.2): client authentication, then the grant.

use super::errors::{Failure, OAuthResponse};
use super::payloads::OAuthForm;
use super::{ApiTags, ClientAuthHeader};
use crate::keys::SigningKey;
use crate::oauth::claims::family_jti;
use crate::oauth::form::FormParams;
use crate::oauth::id_token::{self, IdTokenInput, Identity};
use crate::oauth::scope::ScopeSet;
use crate::oauth::token::refresh_token::{PresentedToken, RefreshDecision};
use crate::oauth::token::{authorization_code, client_credentials, refresh_token};
use crate::oauth::types::{ClientType, GrantType, RefreshToken, RegisteredClient, sha256};
use crate::oauth::{OAuthError, token};
use crate::random::url_token;
use crate::services::audit::{Actor, Event};
use crate::services::state::AppState;
use crate::store;
use crate::store::models::RefreshTokenRow;
use crate::store::tokens::Replacement;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

pub use super::token_response::TokenSuccess;
use super::token_response::{dpop_refused, success};

/// The grant being exchanged. Grant types accepted at the token endpoint.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum TokenGrantType {
    /// RFC 6749 §4.1.3: exchange an authorization code (with its PKCE verifier).
    AuthorizationCode,
    /// RFC 6749 §6: exchange a refresh token for a new pair (it is rotated).
    RefreshToken,
    /// RFC 6749 §4.4: a confidential client acting on its own behalf.
    ClientCredentials,
    /// RFC 7523 §2.1: a signed JWT (`assertion`) from a trusted issuer — a
    /// workload's identity token, or an ID-JAG (typ `oauth-id-jag+jwt`).
    #[oai(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    /// RFC 8693: exchange `subject_token` for a narrower token (or, with
    /// `requested_token_type` ID-JAG, an ID-JAG for another server).
    #[oai(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// A token request (RFC 6749 §4.1.3, §6, §4.4.2), form-encoded.
#[derive(Debug, Clone, Object)]
pub struct TokenRequest {
    // No doc comment: the enum's own description travels with the `$ref`, and a
    // described `$ref` becomes an `allOf` that SDK generators choke on.
    pub grant_type: TokenGrantType,
    /// authorization_code: the code from the authorization response.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    /// authorization_code: the redirect URI of the authorization request, if it had one.
    #[oai(skip_serializing_if_is_none)]
    pub redirect_uri: Option<String>,
    /// authorization_code: the PKCE code verifier (RFC 7636).
    #[oai(skip_serializing_if_is_none)]
    pub code_verifier: Option<String>,
    /// refresh_token: the refresh token (`lk_rt_…`).
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
    /// Space-separated scopes wanted. client_credentials: default every scope the
    /// client is allowed; refresh_token: any subset of the original grant.
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    /// RFC 8707 resource indicators: the APIs the token is for (becomes `aud`).
    /// Repeat the parameter for several.
    #[oai(skip_serializing_if_is_none)]
    pub resource: Option<Vec<String>>,
    /// For `client_secret_post` (or public clients): the client identifier.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    /// For `client_secret_post`: the client secret. Prefer HTTP Basic.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
    /// For `private_key_jwt`:
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    #[oai(skip_serializing_if_is_none)]
    pub client_assertion_type: Option<String>,
    /// For `private_key_jwt` (RFC 7523 §2.2): a JWT signed with one of the client's
    /// registered keys — `iss` and `sub` the client_id, `aud` the issuer, a short
    /// `exp` and a `jti` never used before.
    #[oai(skip_serializing_if_is_none)]
    pub client_assertion: Option<String>,
}

pub type TokenResponse = OAuthResponse<Json<TokenSuccess>>;

pub struct TokenApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::OAuth")]
impl TokenApi {
    /// Obtain an access token
    ///
    /// The OAuth 2.0 token endpoint. Confidential clients authenticate with HTTP
    /// Basic (`client_secret_basic`, preferred), with `client_id` and
    /// `client_secret` in the body (`client_secret_post`), or with a signed
    /// `client_assertion` (`private_key_jwt`, no secret). The access token is a JWT
    /// (RFC 9068) that resource servers verify with the keys at `jwks_uri`.
    ///
    /// With a `DPoP` header (RFC 9449: a proof signed by the client's key, `htm`
    /// POST, `htu` this URL) every grant issues a DPoP-bound token; a public
    /// client's refresh token is then bound to the key too.
    #[oai(path = "/oauth/token", method = "post", operation_id = "issueToken")]
    async fn token(
        &self,
        req: &poem::Request,
        auth: ClientAuthHeader,
        form: OAuthForm<TokenRequest>,
    ) -> TokenResponse {
        let address = super::limits::caller_address(&self.state, req);
        // The proof first: a nonce refusal then costs the client no assertion.
        let proof =
            super::dpop::proof(&self.state, req.headers(), "POST", "/oauth/token", None).await;
        let nonce = super::dpop::nonce_header(&self.state, &proof);
        let outcome = match proof {
            Ok(proof) => {
                let jkt = proof.as_ref().map(|p| p.jkt.as_str());
                self.issue(auth.0.as_deref(), address, &form.params, jkt)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        TokenResponse::from_outcome("token endpoint", outcome.map(Json)).with_dpop_nonce(nonce)
    }
}

impl TokenApi {
    async fn issue(
        &self,
        authorization: Option<&str>,
        address: Option<std::net::IpAddr>,
        form: &FormParams,
        jkt: Option<&str>,
    ) -> Result<TokenSuccess, Failure> {
        let state = &self.state;
        let grant = token::grant_type(form)?;
        if grant == GrantType::JwtBearer
            && !crate::oauth::client_auth::has_credentials(authorization, form)
        {
            // RFC 7521 §4.1: a workload's assertion is its only credential.
            return super::assertion_grant::redeem(state, None, address, form, jkt).await;
        }
        let client = &super::authenticate_client(state, authorization, address, form).await?;
        if client.dpop_bound && jkt.is_none() {
            return Err(dpop_refused(
                "this client is registered with dpop_bound_access_tokens: send a DPoP proof",
            ));
        }
        if state.settings.profile.fapi2 && jkt.is_none() {
            return Err(dpop_refused(
                "this server runs the FAPI 2.0 profile: tokens are sender-constrained, send a DPoP proof",
            ));
        }
        // Per client after authentication: nobody can spend another client's budget
        // by sending its id with a wrong secret.
        state
            .limits
            .token
            .check(&crate::services::limits::client_key(client.id.as_str()))?;
        let now = state.clock.now();

        match grant {
            GrantType::ClientCredentials => {
                let request = client_credentials::validate(form)?;
                let claims = client_credentials::decide(
                    client,
                    &request,
                    &state.settings.scopes,
                    &state.policy,
                    now,
                    url_token::<16>(),
                )?
                .bound_to(jkt);
                let keys = state.keys.get();
                let access_token = keys.active().sign_jwt(&claims)?;
                state
                    .metrics
                    .token_issued("client_credentials", keys.active().alg().as_str());
                tracing::info!(client_id = %client.id, grant = "client_credentials", scope = %claims.scope, "issued access token");
                Ok(success(access_token, &claims, now, None, None))
            }
            GrantType::AuthorizationCode => self.exchange_code(client, form, now, jkt).await,
            GrantType::RefreshToken => self.refresh(client, form, now, jkt).await,
            GrantType::JwtBearer => {
                super::assertion_grant::redeem(state, Some(client), address, form, jkt).await
            }
            GrantType::TokenExchange => Err(OAuthError::unsupported_grant_type(
                "token exchange is not available on this server yet",
            )
            .into()),
        }
    }

    async fn exchange_code(
        &self,
        client: &RegisteredClient,
        form: &FormParams,
        now: i64,
        jkt: Option<&str>,
    ) -> Result<TokenSuccess, Failure> {
        let state = &self.state;
        let request = authorization_code::validate(form)?;
        let code_hash = sha256(request.code.as_bytes());
        let Some(row) = store::codes::redeem_code(&state.db, &code_hash, now).await? else {
            // Spent already? Then this is a replay: whoever holds the code is not to
            // be trusted, so every token issued from it dies (RFC 6749 §4.1.2).
            if let Some(spent) = store::codes::find_code(&state.db, &code_hash).await? {
                store::tokens::revoke_family(&state.db, &spent.family_id, now).await?;
                state.metrics.code_replays.inc();
                state
                    .audit(
                        Event::new("token.code_replay", Actor::Client(client.id.as_str()))
                            .detail("family", spent.family_id.as_str()),
                    )
                    .await;
                tracing::warn!(client_id = %client.id, family = %spent.family_id, "authorization code replayed; its tokens are revoked");
                return Err(OAuthError::invalid_grant("the code has already been used").into());
            }
            return Err(OAuthError::invalid_grant("the code is invalid").into());
        };
        let grant =
            authorization_code::decide(client, &request, &row.to_issued()?, &state.policy, now)?;
        // RFC 9449 §10: a code the authorization request bound with dpop_jkt is
        // redeemed only with a proof by that key. (The code is spent either way.)
        if let Some(bound) = row.dpop_jkt.as_deref()
            && jkt != Some(bound)
        {
            return Err(dpop_refused(
                "the code is bound (dpop_jkt) to another DPoP key than this proof's",
            ));
        }
        // §5: a public client's refresh tokens are bound to the key it proved.
        let family_jkt = jkt.filter(|_| client.client_type == ClientType::Public);
        let refresh = grant
            .refresh_token
            .then(|| new_refresh(&row.family_id, now, state.settings.refresh_token_ttl));
        let activated = store::tokens::activate_family(
            &state.db,
            &row.family_id,
            refresh.as_ref().map(|(_, r)| r),
            family_jkt,
            now,
        )
        .await?;
        if !activated {
            // A replay revoked the family between our redemption and now.
            return Err(OAuthError::invalid_grant("the code has already been used").into());
        }
        let claims = state
            .policy
            .claims(
                row.user_id.clone(),
                client.id.as_str(),
                &grant.scope,
                grant.audience,
                now,
                family_jti(&row.family_id, &url_token::<12>()),
            )
            .bound_to(jkt);
        let keys = state.keys.get();
        let access_token = keys.active().sign_jwt(&claims)?;
        let id_token = self.id_token(IdTokenFor {
            key: keys.active(),
            client,
            identity: row.identity()?,
            scope: &grant.scope,
            auth_time: row.auth_time,
            nonce: row.nonce.as_deref(),
            access_token: &access_token,
            now,
        })?;
        state
            .metrics
            .token_issued("authorization_code", keys.active().alg().as_str());
        tracing::info!(client_id = %client.id, grant = "authorization_code", scope = %claims.scope, "issued tokens");
        Ok(success(
            access_token,
            &claims,
            now,
            refresh.map(|(t, _)| t),
            id_token,
        ))
    }

    async fn refresh(
        &self,
        client: &RegisteredClient,
        form: &FormParams,
        now: i64,
        jkt: Option<&str>,
    ) -> Result<TokenSuccess, Failure> {
        let state = &self.state;
        let request = refresh_token::validate(form)?;
        let hash = request.token.hash();
        let Some((token, family_row, user)) = store::tokens::find_refresh(&state.db, &hash).await?
        else {
            return Err(refresh_token::unknown_token().into());
        };
        // §5: a family bound to a key refreshes only with a proof by that key. Not a
        // reason to revoke it: whoever holds the key still holds the family.
        if let Some(bound) = family_row.dpop_jkt.as_deref() {
            match jkt {
                Some(j) if j == bound => {}
                Some(_) => {
                    return Err(dpop_refused(
                        "this refresh token is bound to another DPoP key than this proof's",
                    ));
                }
                None => {
                    return Err(dpop_refused(
                        "this refresh token is DPoP-bound: send a proof made with its key",
                    ));
                }
            }
        }
        let bind_now = family_row.dpop_jkt.is_none() && client.client_type == ClientType::Public;
        let presented = PresentedToken {
            hash,
            expires_at: token.expires_at,
            family: family_row.to_family()?,
        };
        let decision = refresh_token::decide(
            client,
            &request,
            &presented,
            &state.policy,
            state.settings.refresh_reuse_interval,
            now,
        )?;
        let family = &presented.family;
        let (new_token, new_row) = new_refresh(&family.id, now, state.settings.refresh_token_ttl);
        let replaced = |grant, change| async move {
            store::tokens::replace_refresh(&state.db, &family.id, change, &new_row, now)
                .await
                .map(|won| won.then_some(grant))
        };
        let won = match decision {
            RefreshDecision::Rotate(grant) => {
                let change = Replacement {
                    expected_current: &hash,
                    previous: &hash,
                    rotated_at: now,
                    retry_used: false,
                };
                replaced(grant, change).await?
            }
            RefreshDecision::Retry { grant, successor } => {
                // The successor dies; the presented token stays `previous` and the
                // retry is spent, so it cannot be used again.
                let change = Replacement {
                    expected_current: &successor,
                    previous: &hash,
                    rotated_at: family.rotated_at.unwrap_or(now),
                    retry_used: true,
                };
                replaced(grant, change).await?
            }
            RefreshDecision::Reuse => None,
        };
        let Some(grant) = won else {
            // A rotated-out token, or one that lost a race to rotate: either way the
            // token was presented after it stopped being the live one. RFC 9700
            // §4.14.2: assume theft and revoke the whole family.
            store::tokens::revoke_family(&state.db, &family.id, now).await?;
            state.metrics.refresh_reuse.inc();
            state
                .audit(
                    Event::new("token.refresh_reuse", Actor::Client(client.id.as_str()))
                        .subject(&family.user_id)
                        .detail("family", family.id.as_str()),
                )
                .await;
            tracing::warn!(client_id = %client.id, family = %family.id, "refresh token reuse; family revoked");
            return Err(refresh_token::unknown_token().into());
        };
        let claims = state
            .policy
            .claims(
                family.user_id.clone(),
                client.id.as_str(),
                &grant.scope,
                grant.audience,
                now,
                family_jti(&family.id, &url_token::<12>()),
            )
            .bound_to(jkt);
        if bind_now && let Some(j) = jkt {
            // A public client's family issued without DPoP, now refreshed with a
            // proof: from here on its refresh tokens need that key.
            store::tokens::bind_family_key(&state.db, &family.id, j).await?;
        }
        let keys = state.keys.get();
        let access_token = keys.active().sign_jwt(&claims)?;
        // Core §12.2: the same sub, aud and auth_time as at sign-in; no nonce.
        let id_token = self.id_token(IdTokenFor {
            key: keys.active(),
            client,
            identity: Some(user.identity()),
            scope: &grant.scope,
            auth_time: family_row.auth_time,
            nonce: None,
            access_token: &access_token,
            now,
        })?;
        state
            .metrics
            .token_issued("refresh_token", keys.active().alg().as_str());
        tracing::info!(client_id = %client.id, grant = "refresh_token", scope = %claims.scope, "rotated refresh token");
        Ok(success(
            access_token,
            &claims,
            now,
            Some(new_token),
            id_token,
        ))
    }

    /// The ID token for an OpenID grant (scope has `openid`), else `None`.
    fn id_token(&self, t: IdTokenFor<'_>) -> Result<Option<String>, Failure> {
        if !id_token::is_openid(t.scope) {
            return Ok(None);
        }
        let state = &self.state;
        let Some(identity) = t.identity else {
            // Only a code issued before OpenID Connect was deployed lacks it.
            return Err(OAuthError::invalid_grant(
                "the code was issued without an identity; start the authorization again",
            )
            .into());
        };
        let key = t.key;
        let claims = id_token::claims(&IdTokenInput {
            issuer: &state.settings.issuer,
            client_id: t.client.id.as_str(),
            person: &identity,
            scope: t.scope,
            auth_time: t.auth_time,
            nonce: t.nonce,
            access_token: t.access_token,
            alg: key.alg().as_str(),
            ttl: state.settings.id_token_ttl,
            now: t.now,
        });
        Ok(Some(key.sign_id_token(&claims)?))
    }
}

/// What an ID token is issued for.
struct IdTokenFor<'a> {
    /// The key that signed the access token: both tokens from one key-set snapshot.
    key: &'a SigningKey,
    client: &'a RegisteredClient,
    /// The person it is about: from the code's snapshot, or the user row.
    identity: Option<Identity>,
    scope: &'a ScopeSet,
    auth_time: Option<i64>,
    nonce: Option<&'a str>,
    access_token: &'a str,
    now: i64,
}

/// A new refresh token and its row.
fn new_refresh(family_id: &str, now: i64, ttl: i64) -> (String, RefreshTokenRow) {
    let token = format!("{}{}", RefreshToken::PREFIX, url_token::<32>());
    let row = RefreshTokenRow {
        token_hash: sha256(token.as_bytes()).to_vec(),
        family_id: family_id.to_owned(),
        issued_at: now,
        expires_at: now + ttl,
    };
    (token, row)
}
