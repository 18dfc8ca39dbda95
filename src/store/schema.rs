//! Table definitions, shared by both backends (portable column types only).

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Nullable<Binary>,
        client_type -> Text,
        name -> Text,
        description -> Text,
        website -> Nullable<Text>,
        icon_url -> Nullable<Text>,
        redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        owner_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        token_endpoint_auth_method -> Nullable<Text>,
        registration_token_hash -> Nullable<Binary>,
        post_logout_redirect_uris -> Text,
        application_type -> Nullable<Text>,
        document_fetched_at -> Nullable<BigInt>,
        jwks -> Nullable<Text>,
        jwks_uri -> Nullable<Text>,
        dpop_bound_access_tokens -> Bool,
        require_pushed_authorization_requests -> Bool,
        token_exchange_audiences -> Nullable<Text>,
        id_jag_audiences -> Nullable<Text>,
    }
}

diesel::table! {
    linked_identities (id) {
        id -> Text,
        user_id -> Text,
        issuer -> Text,
        subject -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    pushed_requests (request_uri_hash) {
        request_uri_hash -> Binary,
        client_id -> Text,
        params -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    used_jtis (jti_hash) {
        jti_hash -> Binary,
        expires_at -> BigInt,
    }
}

diesel::table! {
    change_counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    initial_access_tokens (token_hash) {
        token_hash -> Binary,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        password_hash -> Text,
        created_at -> BigInt,
        email_verified -> Bool,
        source -> Text,
        preferred_username -> Nullable<Text>,
        disabled -> Bool,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Binary,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        persistent -> Bool,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> BigInt,
        event -> Text,
        actor_kind -> Text,
        actor -> Nullable<Text>,
        subject -> Nullable<Text>,
        address -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    challenges (challenge_hash) {
        challenge_hash -> Binary,
        kind -> Text,
        browser_hash -> Binary,
        client_id -> Text,
        request -> Text,
        scopes -> Text,
        user_id -> Nullable<Text>,
        session_hash -> Nullable<Binary>,
        created_at -> BigInt,
        expires_at -> BigInt,
        answered_at -> Nullable<BigInt>,
        answer -> Nullable<Text>,
        verifier_hash -> Nullable<Binary>,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scopes -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    token_families (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Text,
        scopes -> Text,
        resources -> Text,
        current_hash -> Nullable<Binary>,
        previous_hash -> Nullable<Binary>,
        rotated_at -> Nullable<BigInt>,
        retry_used -> Bool,
        activated_at -> Nullable<BigInt>,
        created_at -> BigInt,
        last_used_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        auth_time -> Nullable<BigInt>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Binary,
        family_id -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        redirect_uri_explicit -> Bool,
        scopes -> Text,
        resources -> Text,
        code_challenge -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        nonce -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        identity -> Nullable<Text>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Binary,
        family_id -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(linked_identities -> users (user_id));
diesel::joinable!(challenges -> users (user_id));
diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(refresh_tokens -> token_families (family_id));
diesel::joinable!(token_families -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    change_counters,
    challenges,
    clients,
    initial_access_tokens,
    users,
    linked_identities,
    sessions,
    consents,
    token_families,
    authorization_codes,
    refresh_tokens,
    revoked_access_tokens,
    used_jtis,
);
