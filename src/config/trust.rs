//! Trusted issuers (`[[trusted_issuers]]` in `latchkey.toml`): whose signed tokens
//! the JWT-bearer grant and token exchange accept, what for, and how a workload's
//! subject becomes a client. Only the file configures them: a trust decision is the
//! operator's, written down where it can be reviewed.

use super::ConfigError;
use crate::oauth::assertion_grant::{IssuerKeys, SubjectPattern, TrustedIssuer, Use, WorkloadRule};
use crate::oauth::jwk::{Alg, ClientKeySet, Reading};
use crate::oauth::scope::ScopeSet;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// The default cap on an assertion's lifetime, seconds: a Kubernetes projected
/// token lives an hour by default; GitHub's OIDC tokens minutes.
pub const DEFAULT_MAX_LIFETIME: u64 = 3600;

/// One `[[trusted_issuers]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerFile {
    issuer: String,
    jwks_uri: Option<String>,
    jwks_file: Option<PathBuf>,
    audiences: Option<Vec<String>>,
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    uses: Vec<String>,
    max_lifetime: Option<u64>,
    #[serde(default)]
    link_by_email: bool,
    #[serde(default)]
    provision: bool,
    #[serde(default)]
    workloads: Vec<WorkloadFile>,
}

/// One `[[trusted_issuers.workloads]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkloadFile {
    subject: String,
    client_id: String,
    #[serde(default)]
    scope: String,
}

/// Reads the trusted issuers; `issuer` is this server's (the default audience),
/// `algorithms` those the profile allows.
pub(super) fn trusted_issuers(
    tables: Vec<IssuerFile>,
    issuer: &str,
    algorithms: &[Alg],
) -> Result<Vec<Arc<TrustedIssuer>>, ConfigError> {
    let mut out: Vec<Arc<TrustedIssuer>> = Vec::with_capacity(tables.len());
    for t in tables {
        let name = t.issuer.trim_end_matches('/').to_owned();
        let err = |why: String| ConfigError(format!("trusted issuer `{name}`: {why}"));
        if name.is_empty() {
            return Err(ConfigError(
                "a [[trusted_issuers]] table has an empty `issuer`".to_owned(),
            ));
        }
        if out.iter().any(|o| o.issuer == name) {
            return Err(err("listed twice".to_owned()));
        }
        if name == issuer {
            return Err(err(
                "is this server itself: its own tokens need no trust entry".to_owned(),
            ));
        }
        let keys = match (t.jwks_uri, t.jwks_file) {
            (Some(uri), None) => {
                let url = url::Url::parse(&uri)
                    .map_err(|e| err(format!("jwks_uri `{uri}` is not a URL: {e}")))?;
                if url.scheme() != "https" {
                    return Err(err(format!("jwks_uri `{uri}` must be https")));
                }
                IssuerKeys::Uri(uri)
            }
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err(format!("cannot read jwks_file {}: {e}", path.display())))?;
                let set = ClientKeySet::parse_text(&text, Reading::Fetched)
                    .map_err(|e| err(format!("jwks_file {}: {e}", path.display())))?;
                IssuerKeys::Set(Arc::new(set))
            }
            _ => return Err(err("give exactly one of jwks_uri and jwks_file".to_owned())),
        };
        let mut uses = Vec::new();
        for u in &t.uses {
            let parsed = Use::parse(u).ok_or_else(|| {
                err(format!(
                    "use `{}` is not one of workload, id-jag, subject_token",
                    u.escape_default()
                ))
            })?;
            if !uses.contains(&parsed) {
                uses.push(parsed);
            }
        }
        if uses.is_empty() {
            return Err(err(
                "`uses` is empty: say what its tokens are for (workload, id-jag, subject_token)"
                    .to_owned(),
            ));
        }
        let algorithms = match t.algorithms {
            None => algorithms.to_vec(),
            Some(list) => {
                let mut out = Vec::new();
                for a in list {
                    match Alg::parse(&a) {
                        Some(alg) if algorithms.contains(&alg) => out.push(alg),
                        _ => {
                            let names: Vec<&str> = algorithms.iter().map(|a| a.as_str()).collect();
                            return Err(err(format!(
                                "algorithm `{}` is not one of {}",
                                a.escape_default(),
                                names.join(", ")
                            )));
                        }
                    }
                }
                if out.is_empty() {
                    return Err(err("`algorithms` is empty".to_owned()));
                }
                out
            }
        };
        let audiences = match t.audiences {
            None => vec![issuer.to_owned()],
            Some(list) if list.is_empty() || list.iter().any(String::is_empty) => {
                return Err(err(
                    "`audiences` must name at least one non-empty value".to_owned()
                ));
            }
            Some(list) => list,
        };
        let max_lifetime = t.max_lifetime.unwrap_or(DEFAULT_MAX_LIFETIME);
        if !(60..=86_400).contains(&max_lifetime) {
            return Err(err(format!(
                "max_lifetime {max_lifetime} is out of range: use 60 to 86400 seconds (a grant's jti is remembered until it expires)"
            )));
        }
        let max_lifetime = max_lifetime as i64;
        if !uses.contains(&Use::Workload) && !t.workloads.is_empty() {
            return Err(err(
                "has [[trusted_issuers.workloads]] rules but `uses` lacks workload".to_owned(),
            ));
        }
        if uses.contains(&Use::Workload) && t.workloads.is_empty() {
            return Err(err(
                "is trusted for workloads but has no [[trusted_issuers.workloads]] rule mapping a subject to a client".to_owned(),
            ));
        }
        let mut workloads = Vec::with_capacity(t.workloads.len());
        for w in t.workloads {
            let subject = SubjectPattern::new(&w.subject).map_err(err)?;
            if w.client_id.is_empty() {
                return Err(err(format!(
                    "the workload rule for `{}` names no client_id",
                    w.subject.escape_default()
                )));
            }
            let scope = ScopeSet::parse(&w.scope).map_err(|e| {
                err(format!(
                    "the workload rule for `{}`: {}",
                    w.subject.escape_default(),
                    e.description
                ))
            })?;
            workloads.push(WorkloadRule {
                subject,
                client_id: w.client_id,
                scope,
            });
        }
        if (t.link_by_email || t.provision) && !uses.contains(&Use::IdJag) {
            return Err(err(
                "link_by_email and provision apply to people (uses = id-jag)".to_owned(),
            ));
        }
        out.push(Arc::new(TrustedIssuer {
            issuer: name,
            keys,
            algorithms,
            audiences,
            uses,
            max_lifetime,
            workloads,
            link_by_email: t.link_by_email,
            provision: t.provision,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Arc<TrustedIssuer>>, ConfigError> {
        #[derive(Deserialize)]
        struct F {
            trusted_issuers: Vec<IssuerFile>,
        }
        let f: F = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        trusted_issuers(
            f.trusted_issuers,
            "https://auth.example",
            &super::super::client_auth::algorithms(false),
        )
    }

    #[test]
    fn the_documented_shape() {
        let got = parse(
            r#"
            [[trusted_issuers]]
            issuer = "https://ci.example.test"
            jwks_uri = "https://ci.example.test/.well-known/jwks"
            audiences = ["https://auth.example.test"]
            uses = ["workload"]
            [[trusted_issuers.workloads]]
            subject = "repo:acme/*:ref:refs/heads/main"
            client_id = "deployer"
            scope = "deploy:write"
            "#,
        )
        .unwrap();
        let t = &got[0];
        assert_eq!(t.issuer, "https://ci.example.test");
        assert_eq!(t.audiences, vec!["https://auth.example.test"]);
        assert_eq!(t.max_lifetime, 3600);
        assert!(t.trusted_for(Use::Workload) && !t.trusted_for(Use::IdJag));
        let rule = t
            .workload_rule("repo:acme/web:ref:refs/heads/main")
            .unwrap();
        assert_eq!(rule.client_id, "deployer");
        assert!(
            t.workload_rule("repo:acme/web:ref:refs/heads/dev")
                .is_none()
        );
    }

    #[test]
    fn mistakes_are_named() {
        let base = "[[trusted_issuers]]\nissuer = \"https://i.example\"\n";
        let err = |extra: &str| parse(&format!("{base}{extra}")).unwrap_err().0;
        assert!(err("uses = [\"id-jag\"]").contains("exactly one of jwks_uri"));
        let uri = "jwks_uri = \"https://i.example/jwks\"\n";
        assert!(err(&format!("{uri}uses = []")).contains("`uses` is empty"));
        assert!(err(&format!("{uri}uses = [\"everything\"]")).contains("not one of"));
        assert!(
            err(&format!("{uri}uses = [\"workload\"]"))
                .contains("no [[trusted_issuers.workloads]]")
        );
        assert!(
            err(&format!(
                "{uri}uses = [\"id-jag\"]\nalgorithms = [\"HS256\"]"
            ))
            .contains("HS256")
        );
        assert!(err("jwks_uri = \"http://i.example/jwks\"\nuses = [\"id-jag\"]").contains("https"));
        assert!(
            err(&format!(
                "{uri}uses = [\"workload\"]\n[[trusted_issuers.workloads]]\nsubject = \"*\"\nclient_id = \"c\""
            ))
            .contains("every subject")
        );
        assert!(
            err(&format!("{uri}uses = [\"id-jag\"]\nmax_lifetime = 999999"))
                .contains("out of range")
        );
        assert!(err(&format!("{uri}uses = [\"id-jag\"]\ntypo = 1")).contains("typo"));
    }
}
