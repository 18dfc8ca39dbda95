//! The checked-in OpenAPI document equals the generated one, and is good enough to
//! generate SDKs from. Regenerate with `LATCHKEY_UPDATE_OPENAPI=1 cargo test --test openapi`.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::collections::HashSet;

/// The spec is generated for the default issuer.
const ISSUER: &str = "http://127.0.0.1:8080";

fn check_file(path: &str, generated: &str) {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("LATCHKEY_UPDATE_OPENAPI").is_some() {
        std::fs::write(&full, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&full).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} differs from the spec the code generates; run `LATCHKEY_UPDATE_OPENAPI=1 cargo test --test openapi` and commit the result"
    );
}

#[test]
fn committed_spec_matches_generated() {
    let spec = latchkey::http::spec_document(ISSUER);
    check_file("openapi/latchkey.json", &(spec.spec() + "\n"));
    check_file("openapi/latchkey.yaml", &spec.spec_yaml());
}

fn spec() -> Value {
    serde_json::from_str(&latchkey::http::spec_document(ISSUER).spec()).unwrap()
}

#[test]
fn every_operation_is_named_tagged_and_described() {
    let spec = spec();
    let mut ids = HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                id.chars().next().unwrap().is_ascii_lowercase(),
                "{id}: camelCase"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id}: tags"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id}: summary"
            );
            for (status, resp) in op["responses"].as_object().unwrap() {
                assert!(
                    resp["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{id} {status}: description"
                );
                let code: u16 = status.parse().unwrap();
                if code >= 400 {
                    assert!(
                        resp["content"].as_object().is_some_and(|c| !c.is_empty()),
                        "{id} {status}: error schema"
                    );
                }
            }
        }
    }
}

#[test]
fn every_schema_and_field_is_described() {
    let spec = spec();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "schema {name}"
        );
        if let Some(props) = schema["properties"].as_object() {
            for (field, prop) in props {
                // A bare `$ref` carries the referenced schema's description (checked
                // in its own right); `allOf` wrappers are refused for SDK generators.
                assert!(
                    prop.get("allOf").is_none(),
                    "{name}.{field}: allOf breaks SDK generators"
                );
                let described = prop["description"].as_str().is_some_and(|d| !d.is_empty())
                    || prop["$ref"].is_string();
                assert!(described, "{name}.{field} has no description");
            }
        }
    }
}

#[test]
fn token_endpoint_takes_a_form_and_documents_client_auth() {
    let spec = spec();
    let op = &spec["paths"]["/oauth/token"]["post"];
    let content = op["requestBody"]["content"].as_object().unwrap();
    assert_eq!(
        content.keys().collect::<Vec<_>>(),
        ["application/x-www-form-urlencoded"]
    );
    let security = op["security"].as_array().unwrap();
    assert!(security.iter().any(|s| s.get("ClientBasic").is_some()));
    assert!(
        security
            .iter()
            .any(|s| s.as_object().is_some_and(|o| o.is_empty())),
        "client_secret_post needs no header"
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["ClientBasic"]["scheme"],
        "basic"
    );
    for status in ["200", "400", "401"] {
        assert!(op["responses"][status].is_object(), "{status}");
    }
}
