//! Sample contexts for every page, built from the same types the handlers use: the
//! start-up check renders each template with them, and so do the tests.

use super::SignedInView;
use super::views::*;

const WHO: SignedInView<'static> = SignedInView {
    username: "sample",
    name: Some("Sample Person"),
    csrf_token: "csrf",
    next: "/account",
};

fn form(creating: bool) -> AppForm {
    AppForm {
        name: "Sample".into(),
        description: String::new(),
        website: String::new(),
        icon_url: String::new(),
        redirect_uris: "https://app.example/cb".into(),
        post_logout_redirect_uris: "https://app.example/signed-out".into(),
        creating,
        public: false,
        grant_types: vec![Choice {
            value: "authorization_code".into(),
            label: "Authorization code".into(),
            checked: true,
        }],
        scopes: vec![Choice {
            value: "profile".into(),
            label: "Your name".into(),
            checked: false,
        }],
    }
}

/// (template, page context, signed-in person) triples to render.
pub fn all() -> Vec<(
    &'static str,
    serde_json::Value,
    Option<SignedInView<'static>>,
)> {
    let v = |x: serde_json::Result<serde_json::Value>| x.unwrap_or_default();
    let mut out = Vec::new();
    for error in [None, Some("Incorrect username or password.".to_owned())] {
        out.push((
            "login.html",
            v(serde_json::to_value(LoginPage {
                next: "/account".into(),
                username: "sample".into(),
                error: error.clone(),
                csrf_token: "csrf".into(),
                again: error.is_none(),
            })),
            None,
        ));
        out.push((
            "apps.html",
            v(serde_json::to_value(AppsPage {
                apps: vec![AppItem {
                    id: "id".into(),
                    name: "App".into(),
                    kind: "public".into(),
                }],
                form: form(true),
                error: error.clone(),
            })),
            Some(WHO),
        ));
        out.push((
            "app.html",
            v(serde_json::to_value(AppPage {
                app: AppSummary {
                    id: "id".into(),
                    name: "App".into(),
                    kind: "confidential".into(),
                    confidential: error.is_some(),
                    signs_with_key: false,
                },
                form: form(false),
                error,
            })),
            Some(WHO),
        ));
    }
    for (verified, optional) in [
        (true, None),
        (false, Some("https://app.example".to_owned())),
    ] {
        out.push((
            "consent.html",
            v(serde_json::to_value(ConsentPage {
                client: ConsentClient {
                    client_id: "id".into(),
                    name: "App".into(),
                    description: optional.clone().unwrap_or_default(),
                    website: optional.clone(),
                    logo_url: optional.clone(),
                    redirect_host: if verified {
                        "app.example".into()
                    } else {
                        "cursor://anysphere.cursor-mcp".into()
                    },
                    redirect_to_app: !verified,
                    verified,
                    // Sample both: a document client, and one that is not.
                    document_host: optional.as_ref().map(|_| "agent.example".into()),
                },
                scopes: vec![ScopeView {
                    name: "profile".into(),
                    description: "Your name".into(),
                }],
                // Sample a step-up too: some of it granted before.
                already: optional
                    .as_ref()
                    .map(|_| ScopeView {
                        name: "email".into(),
                        description: "Your email address".into(),
                    })
                    .into_iter()
                    .collect(),
                params: vec![("client_id".into(), "id".into())],
                csrf_token: "csrf".into(),
            })),
            Some(WHO),
        ));
        out.push((
            "logout.html",
            v(serde_json::to_value(LogoutPage {
                client_name: optional.clone(),
                params: vec![("client_id".into(), "id".into())],
                csrf_token: "csrf".into(),
            })),
            Some(WHO),
        ));
        out.push((
            "signed_out.html",
            v(serde_json::to_value(SignedOutPage {
                client_name: optional.clone(),
            })),
            None,
        ));
        out.push((
            "error.html",
            v(serde_json::to_value(ErrorPage {
                status: 400,
                title: "Title".into(),
                message: "Message".into(),
                advice: "Advice".into(),
                detail: optional.clone(),
            })),
            verified.then_some(WHO),
        ));
        out.push((
            "app_secret.html",
            v(serde_json::to_value(SecretPage {
                title: "App created".into(),
                note: "Ready".into(),
                client_id: "id".into(),
                client_secret: optional.clone(),
            })),
            Some(WHO),
        ));
        out.push((
            "authorized.html",
            v(serde_json::to_value(AuthorizedPage {
                grants: if verified {
                    Vec::new()
                } else {
                    vec![GrantItem {
                        client_id: "id".into(),
                        revoke_path: "/settings/authorized/id/revoke".into(),
                        name: "App".into(),
                        scopes: vec!["profile".into()],
                        first_authorized: "2026-01-01 00:00 UTC".into(),
                        last_used: optional.clone(),
                    }]
                },
            })),
            Some(WHO),
        ));
    }
    out.push(("account.html", serde_json::json!({}), Some(WHO)));
    out
}
