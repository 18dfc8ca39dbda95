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
    }
}
