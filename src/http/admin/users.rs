//! `/admin/users`: local accounts and delegated identities, their grants and
//! sessions. Creation and password rules are `crate::services::users`', shared with the CLI.

use super::{AdminCaller, AdminError, AdminResult, AdminScope, by, page_size, paged};
use crate::http::ApiTags;
use crate::http::api::{Deleted, Done, Grant, GrantList};
use crate::services::state::AppState;
use crate::services::users::{self, DELEGATED, Profile};
use crate::store::models::UserRow;
use crate::store::{self};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// A user: a local account or an identity a product vouched for.
#[derive(Debug, Clone, Object)]
pub struct User {
    /// The stable id, `sub` in tokens. A delegated identity's id is the
    /// product's subject.
    pub id: String,
    /// `local` (signs in with a password here) or `delegated` (signs in at the
    /// product).
    pub source: String,
    /// The username: a local account's sign-in name, or the `preferred_username`
    /// the product gave (else the subject).
    pub username: String,
    /// Display name (`name` claim).
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Email address (`email` claim).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Whether whoever set the address vouched for it (`email_verified`).
    pub email_verified: bool,
    /// A disabled user cannot sign in.
    pub disabled: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Last change (for a delegated identity, its last sign-in), seconds since the
    /// epoch.
    pub updated_at: i64,
}

pub fn user_of(row: &UserRow) -> User {
    User {
        id: row.id.clone(),
        source: row.source.clone(),
        username: row.display_username().to_owned(),
        name: row.name.clone(),
        email: row.email.clone(),
        email_verified: row.email_verified,
        disabled: row.disabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A new local account.
#[derive(Debug, Clone, Object)]
pub struct NewUser {
    /// 1 to 64 letters, digits, `. _ - @`.
    pub username: String,
    /// At least 8 characters.
    #[oai(write_only)]
    pub password: String,
    /// Display name.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Email address.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Whether you vouch for the address (Latchkey sends no mail). Default false.
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
}

/// Changes to a user: absent fields stay; `null` clears `name` and `email`.
#[derive(Debug, Clone, Object)]
pub struct UserChanges {
    /// Display name, or `null` to remove it.
    pub name: MaybeUndefined<String>,
    /// Email address, or `null` to remove it (it is then unverified).
    pub email: MaybeUndefined<String>,
    /// Whether you vouch for the address.
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
    /// `true` ends the user's sessions and revokes their tokens at once, and
    /// refuses their sign-ins until set back to `false`.
    #[oai(skip_serializing_if_is_none)]
    pub disabled: Option<bool>,
}

/// A new password.
#[derive(Debug, Clone, Object)]
pub struct NewPassword {
    /// At least 8 characters.
    #[oai(write_only)]
    pub password: String,
}

/// One page of users.
#[derive(Debug, Clone, Object)]
pub struct UserList {
    /// Ordered by id.
    pub users: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// A browser session of a user.
#[derive(Debug, Clone, Object)]
pub struct Session {
    /// When the user signed in, seconds since the epoch.
    pub created_at: i64,
    /// Last activity (to the minute), seconds since the epoch.
    pub last_seen_at: i64,
    /// When it ends at the latest, seconds since the epoch.
    pub expires_at: i64,
    /// `false` for a delegated sign-in without `remember`: it serves one
    /// authorization.
    pub persistent: bool,
}

/// A user's sessions.
#[derive(Debug, Clone, Object)]
pub struct SessionList {
    /// Newest first.
    pub sessions: Vec<Session>,
}

#[derive(ApiResponse)]
pub enum UserCreated {
    /// The new user.
    #[oai(status = 201)]
    Created(Json<User>),
}

async fn find(state: &AppState, id: &str) -> AdminResult<UserRow> {
    store::users::find_user(&state.db, id)
        .await?
        .ok_or_else(|| AdminError::not_found("user"))
}

pub struct AdminUsersApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminUsersApi {
    /// List users
    ///
    /// Local accounts and delegated identities, a page at a time. `search`
    /// matches the id, username, name or email, ignoring case.
    #[oai(path = "/admin/users", method = "get", operation_id = "adminListUsers")]
    async fn list(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// Text to look for (at most 100 characters).
        search: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> AdminResult<Done<UserList>> {
        caller.check(&self.state).await?;
        let limit = page_size(limit.0)?;
        let search = search.0.filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(AdminError::bad_request(
                "search is limited to 100 characters",
            ));
        }
        let rows = store::users::page_users(
            &self.state.db,
            search.as_deref(),
            cursor.0.as_deref(),
            limit + 1,
        )
        .await?;
        let (rows, next_cursor) = paged(rows, limit, |r| r.id.clone());
        Ok(Done::Ok(Json(UserList {
            users: rows.iter().map(user_of).collect(),
            next_cursor,
        })))
    }

    /// Create a local user
    ///
    /// A local account signs in with its password on Latchkey's sign-in page.
    /// Delegated identities are made by accepting login challenges instead.
    #[oai(
        path = "/admin/users",
        method = "post",
        operation_id = "adminCreateUser"
    )]
    async fn create(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        body: Json<NewUser>,
    ) -> AdminResult<UserCreated> {
        let claims = caller.check(&self.state).await?;
        let NewUser {
            username,
            password,
            name,
            email,
            email_verified,
        } = body.0;
        let profile = Profile {
            email,
            email_verified: email_verified.unwrap_or(false),
            name,
        };
        let row = users::create_user(
            &self.state.db,
            &username,
            password,
            profile,
            self.state.clock.now(),
        )
        .await?;
        self.state
            .audit(by(&claims, "admin.user_created").subject(&row.id))
            .await;
        Ok(UserCreated::Created(Json(user_of(&row))))
    }

    /// Get a user
    #[oai(
        path = "/admin/users/:id",
        method = "get",
        operation_id = "adminGetUser"
    )]
    async fn get(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
    ) -> AdminResult<Done<User>> {
        caller.check(&self.state).await?;
        Ok(Done::Ok(Json(user_of(&find(&self.state, &id.0).await?))))
    }

    /// Change a user
    ///
    /// Disabling ends the user's sessions and revokes every token they hold at
    /// once (their consents stay). A delegated identity's name and email are
    /// replaced again by the product's claims at its next sign-in.
    #[oai(
        path = "/admin/users/:id",
        method = "patch",
        operation_id = "adminUpdateUser"
    )]
    async fn update(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
        body: Json<UserChanges>,
    ) -> AdminResult<Done<User>> {
        let claims = caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        let changes = body.0;
        let clearable = |v: MaybeUndefined<String>| match v {
            MaybeUndefined::Value(s) => Some(Some(s)),
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Undefined => None,
        };
        let name = clearable(changes.name);
        if let Some(Some(n)) = &name
            && (n.is_empty() || n.chars().count() > 254 || n.chars().any(char::is_control))
        {
            return Err(AdminError::bad_request(
                "name must be 1 to 254 characters without control characters",
            ));
        }
        let email = clearable(changes.email);
        if let Some(Some(e)) = &email {
            users::validate_email(e)?;
        }
        let has_email = match &email {
            Some(e) => e.is_some(),
            None => row.email.is_some(),
        };
        // Vouching for no address means nothing: an email cleared is unverified.
        let email_verified = match (changes.email_verified, has_email) {
            (_, false) => Some(false),
            (v, true) => v,
        };
        let now = self.state.clock.now();
        let diff = store::users::UserChanges {
            name,
            email,
            email_verified,
            disabled: changes.disabled,
            updated_at: now,
        };
        if !store::users::update_user(&self.state.db, &row.id, &diff).await? {
            return Err(AdminError::not_found("user"));
        }
        if changes.disabled == Some(true) && !row.disabled {
            let (sessions, families) =
                store::users::end_everything(&self.state.db, &row.id, false, now).await?;
            self.state
                .audit(
                    by(&claims, "admin.user_disabled")
                        .subject(&row.id)
                        .detail("sessions", sessions)
                        .detail("families", families),
                )
                .await;
        } else {
            self.state
                .audit(by(&claims, "admin.user_updated").subject(&row.id))
                .await;
        }
        Ok(Done::Ok(Json(user_of(&find(&self.state, &row.id).await?))))
    }

    /// Set a local user's password
    ///
    /// Their sessions end (they sign in again with the new password); their apps'
    /// tokens stay. Delegated identities have no password here (409).
    #[oai(
        path = "/admin/users/:id/password",
        method = "put",
        operation_id = "adminSetUserPassword"
    )]
    async fn set_password(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
        body: Json<NewPassword>,
    ) -> AdminResult<Deleted> {
        let claims = caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        if row.source == DELEGATED {
            return Err(AdminError::conflict(
                "this identity signs in at the product; it has no password here",
            ));
        }
        let now = self.state.clock.now();
        if !users::set_password(&self.state.db, &row.id, body.0.password, now).await? {
            return Err(AdminError::not_found("user"));
        }
        store::sessions::delete_for_user(&self.state.db, &row.id).await?;
        self.state
            .audit(by(&claims, "admin.password_set").subject(&row.id))
            .await;
        Ok(Deleted::NoContent)
    }

    /// Delete a user
    ///
    /// Their sessions, consents and tokens go with them: refresh tokens stop
    /// working and access tokens turn inactive at introspection.
    #[oai(
        path = "/admin/users/:id",
        method = "delete",
        operation_id = "adminDeleteUser"
    )]
    async fn delete(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
    ) -> AdminResult<Deleted> {
        let claims = caller.check(&self.state).await?;
        if !store::users::delete_user_by_id(&self.state.db, &id.0).await? {
            return Err(AdminError::not_found("user"));
        }
        self.state
            .audit(by(&claims, "admin.user_deleted").subject(&id.0))
            .await;
        Ok(Deleted::NoContent)
    }

    /// List a user's grants
    ///
    /// The apps the user has authorized.
    #[oai(
        path = "/admin/users/:id/grants",
        method = "get",
        operation_id = "adminListUserGrants"
    )]
    async fn grants(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
    ) -> AdminResult<Done<GrantList>> {
        caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        let grants = store::grants::list_grants(&self.state.db, &row.id)
            .await?
            .into_iter()
            .map(Grant::from)
            .collect();
        Ok(Done::Ok(Json(GrantList { grants })))
    }

    /// Revoke all of a user's grants
    ///
    /// Withdraws every consent and revokes every token the user's apps hold, and
    /// ends the user's sessions: each app must ask again.
    #[oai(
        path = "/admin/users/:id/grants",
        method = "delete",
        operation_id = "adminRevokeUserGrants"
    )]
    async fn revoke_grants(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
    ) -> AdminResult<Deleted> {
        let claims = caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        let (sessions, families) =
            store::users::end_everything(&self.state.db, &row.id, true, self.state.clock.now())
                .await?;
        self.state
            .audit(
                by(&claims, "consent.revoked")
                    .subject(&row.id)
                    .detail("all", true)
                    .detail("sessions", sessions)
                    .detail("families", families),
            )
            .await;
        Ok(Deleted::NoContent)
    }

    /// List a user's sessions
    #[oai(
        path = "/admin/users/:id/sessions",
        method = "get",
        operation_id = "adminListUserSessions"
    )]
    async fn sessions(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
    ) -> AdminResult<Done<SessionList>> {
        caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        let now = self.state.clock.now();
        let sessions = store::sessions::list_for_user(&self.state.db, &row.id)
            .await?
            .into_iter()
            .filter(|s| s.expires_at > now)
            .map(|s| Session {
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                persistent: s.persistent,
            })
            .collect();
        Ok(Done::Ok(Json(SessionList { sessions })))
    }

    /// End all of a user's sessions
    ///
    /// Signs the user out everywhere; the tokens their apps hold stay.
    #[oai(
        path = "/admin/users/:id/sessions",
        method = "delete",
        operation_id = "adminRevokeUserSessions"
    )]
    async fn revoke_sessions(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The user's id.
        id: Path<String>,
    ) -> AdminResult<Deleted> {
        let claims = caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        let n = store::sessions::delete_for_user(&self.state.db, &row.id).await?;
        self.state
            .audit(
                by(&claims, "admin.sessions_ended")
                    .subject(&row.id)
                    .detail("sessions", n),
            )
            .await;
        Ok(Deleted::NoContent)
    }
}
