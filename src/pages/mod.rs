//! Every page a person sees comes from a template in `templates/` (minijinja, HTML
//! auto-escaping on, undefined variables are errors), rendered from a typed context.
//! An operator may replace any of them with a file of the same name in
//! `templates_dir`; overrides are parsed and rendered against sample contexts at
//! start, so a broken one stops the server with its file named instead of failing
//! later in front of a person. The brand's files (`brand_dir`) are read at start too
//! and served from memory at `/brand/NAME`.

use crate::config::ConfigError;
use crate::config::brand::{BrandSettings, Palette, is_asset_name};
use minijinja::{Environment, UndefinedBehavior};
use poem::Response;
use poem::http::{StatusCode, header};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The built-in templates, compiled into the binary.
const BUILTIN: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("forms.html", include_str!("../../templates/forms.html")),
    (
        "app_fields.html",
        include_str!("../../templates/app_fields.html"),
    ),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("apps.html", include_str!("../../templates/apps.html")),
    ("app.html", include_str!("../../templates/app.html")),
    (
        "app_secret.html",
        include_str!("../../templates/app_secret.html"),
    ),
    (
        "authorized.html",
        include_str!("../../templates/authorized.html"),
    ),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "signed_out.html",
        include_str!("../../templates/signed_out.html"),
    ),
];

const STYLESHEET: &str = include_str!("../../templates/latchkey.css");

/// Pages load only our stylesheet and images from this server or https origins (the
/// logo, app icons); no scripts, no framing (clickjacking a consent page would be
/// granting access by proxy). No `form-action`: browsers apply it to the redirect
/// that follows the consent form, which goes to the app's origin.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https:; frame-ancestors 'none'; base-uri 'none'";
/// The settings pages also run one script of ours (the copy button).
pub const SETTINGS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Override files larger than this are refused at start.
const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;
/// Brand files: at most this many, each at most `MAX_ASSET_BYTES`.
const MAX_ASSETS: usize = 64;
const MAX_ASSET_BYTES: u64 = 2 * 1024 * 1024;

/// What every page receives about the brand.
#[derive(Debug, Clone, Serialize)]
pub struct BrandView {
    pub product_name: String,
    pub logo_url: Option<String>,
    pub support_url: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
}

/// A file of `brand_dir`, served at `/brand/NAME`.
#[derive(Debug)]
pub struct Asset {
    pub content_type: &'static str,
    pub bytes: bytes::Bytes,
}

/// The signed-in person, as the layout shows them.
#[derive(Debug, Serialize)]
pub struct SignedInView<'a> {
    pub username: &'a str,
    pub name: Option<&'a str>,
    pub csrf_token: &'a str,
    /// Where sign-in leads after signing out from this page.
    pub next: &'a str,
}

/// The variables every page receives, and the page's own.
#[derive(Serialize)]
struct Context<'a, P: Serialize> {
    brand: &'a BrandView,
    lang: &'a str,
    stylesheet: &'a str,
    request_id: &'a str,
    signed_in: Option<&'a SignedInView<'a>>,
    #[serde(flatten)]
    page: &'a P,
}

/// The templates, the brand and its files, loaded once at start.
pub struct Pages {
    env: Environment<'static>,
    /// The built-ins alone, to fall back on if an override fails at run time
    /// (`None` without overrides).
    builtin: Option<Environment<'static>>,
    brand: BrandView,
    lang: String,
    stylesheet_href: String,
    pub stylesheet: bytes::Bytes,
    assets: HashMap<String, Asset>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A misspelt variable is an error, never an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // HTML escaping for every `.html` template (minijinja's default callback).
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env
}

fn builtin_environment() -> Result<Environment<'static>, ConfigError> {
    let mut env = environment();
    for (name, source) in BUILTIN {
        env.add_template(name, source)
            .map_err(|e| ConfigError(format!("built-in template {name}: {e}")))?;
    }
    Ok(env)
}

impl Pages {
    /// Loads the templates (with overrides), the brand's files and the stylesheet.
    pub fn load(brand: &BrandSettings) -> Result<Self, ConfigError> {
        let mut env = builtin_environment()?;
        let mut overridden = Vec::new();
        if let Some(dir) = &brand.templates_dir {
            for (name, path, source) in read_overrides(dir)? {
                env.add_template_owned(name.clone(), source).map_err(|e| {
                    ConfigError(format!(
                        "template override {}: {e}\n{}",
                        path.display(),
                        e.display_debug_info()
                    ))
                })?;
                overridden.push((name, path));
            }
        }
        let assets = match &brand.brand_dir {
            Some(dir) => read_assets(dir)?,
            None => HashMap::new(),
        };
        if let Some(name) = brand
            .logo_url
            .as_deref()
            .and_then(|u| u.strip_prefix("/brand/"))
            && !assets.contains_key(name)
        {
            return Err(ConfigError(format!(
                "logo_url /brand/{name}: there is no such file in brand_dir"
            )));
        }
        let stylesheet = stylesheet(&Palette::from_accent(brand.accent));
        let version = crate::oauth::types::sha256(stylesheet.as_bytes());
        let stylesheet_href = format!(
            "/assets/latchkey.css?v={}",
            version[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let pages = Self {
            builtin: if overridden.is_empty() {
                None
            } else {
                Some(builtin_environment()?)
            },
            env,
            brand: BrandView {
                product_name: brand.product_name.clone(),
                logo_url: brand.logo_url.clone(),
                support_url: brand.support_url.clone(),
                terms_url: brand.terms_url.clone(),
                privacy_url: brand.privacy_url.clone(),
            },
            lang: brand.locale.clone(),
            stylesheet_href,
            stylesheet: stylesheet.into(),
            assets,
        };
        pages.check(&overridden)?;
        Ok(pages)
    }

    /// Renders every page with sample contexts (signed in and not, with and without
    /// optional values), so an override that refers to a variable the page does not
    /// have, or fails any other way, is found now.
    fn check(&self, overridden: &[(String, PathBuf)]) -> Result<(), ConfigError> {
        for (template, page, who) in samples::all() {
            if let Err(e) = self.try_render(&self.env, template, who.as_ref(), &page) {
                let culprit = e
                    .name()
                    .and_then(|n| overridden.iter().find(|(name, _)| name == n))
                    .or_else(|| overridden.iter().find(|(name, _)| name == template));
                return Err(ConfigError(match culprit {
                    // With the offending line and the variables it saw.
                    Some((_, path)) => format!(
                        "template override {} fails to render {template}: {e}\n{}",
                        path.display(),
                        e.display_debug_info()
                    ),
                    None => format!("built-in template {template} fails to render: {e}"),
                }));
            }
        }
        Ok(())
    }

    fn try_render<'a, P: Serialize>(
        &self,
        env: &Environment<'static>,
        template: &str,
        who: Option<&'a SignedInView<'a>>,
        page: &P,
    ) -> Result<String, minijinja::Error> {
        let request_id = crate::request_id::request_id();
        let ctx = Context {
            brand: &self.brand,
            lang: &self.lang,
            stylesheet: &self.stylesheet_href,
            request_id: &request_id,
            signed_in: who,
            page,
        };
        env.get_template(template)?.render(ctx)
    }

    /// The HTML of `template` for `page`. An override that fails at run time (it
    /// passed the start-up check, so some value took it down an unchecked path) is
    /// logged and the built-in page shown instead.
    pub fn render<P: Serialize>(
        &self,
        template: &str,
        who: Option<&SignedInView<'_>>,
        page: &P,
    ) -> Option<String> {
        match self.try_render(&self.env, template, who, page) {
            Ok(html) => return Some(html),
            Err(e) => {
                tracing::error!(request_id = %crate::request_id::request_id(), template, error = %e, "page template failed")
            }
        }
        let builtin = self.builtin.as_ref()?;
        match self.try_render(builtin, template, who, page) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::error!(request_id = %crate::request_id::request_id(), template, error = %e, "built-in page template failed");
                None
            }
        }
    }

    /// A complete response: the page, or a bare 500 when no template could render.
    pub fn respond<P: Serialize>(
        &self,
        status: StatusCode,
        template: &str,
        who: Option<&SignedInView<'_>>,
        page: &P,
    ) -> Response {
        let csp = if matches!(
            template,
            "apps.html" | "app.html" | "app_secret.html" | "authorized.html"
        ) {
            SETTINGS_CSP
        } else {
            PAGE_CSP
        };
        let (status, body) = match self.render(template, who, page) {
            Some(html) => (status, html),
            None => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown. Please try again later.".to_owned(),
            ),
        };
        Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .header(header::CONTENT_SECURITY_POLICY, csp)
            .header(header::CACHE_CONTROL, "no-store")
            .body(body)
    }

    pub fn brand(&self) -> &BrandView {
        &self.brand
    }

    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.get(name)
    }
}

/// The stylesheet: the accent for each scheme, then the fixed rules.
fn stylesheet(p: &Palette) -> String {
    format!(
        ":root {{ --accent: {}; --accent-fg: {}; }}\n@media (prefers-color-scheme: dark) {{ :root {{ --accent: {}; --accent-fg: {}; }} }}\n{STYLESHEET}",
        p.light_accent.hex(),
        p.light_on_accent.hex(),
        p.dark_accent.hex(),
        p.dark_on_accent.hex(),
    )
}

/// The plain files of the directory named by setting `setting` (hidden files and
/// subdirectories skipped), sorted by name: each passes `accept` (which says why
/// not), at most `max_files` of at most `max_bytes` each.
fn read_files(
    setting: &str,
    dir: &Path,
    max_files: usize,
    max_bytes: u64,
    accept: impl Fn(&str) -> Result<(), String>,
) -> Result<Vec<(String, PathBuf, Vec<u8>)>, ConfigError> {
    let unreadable = |e: std::io::Error| {
        ConfigError(format!("{setting} {}: cannot read it: {e}", dir.display()))
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || path.is_dir() {
            continue;
        }
        let refuse = |why: String| ConfigError(format!("{setting} file {}: {why}", path.display()));
        accept(&name).map_err(refuse)?;
        if found.len() >= max_files {
            return Err(ConfigError(format!(
                "{setting} {}: more than {max_files} files",
                dir.display()
            )));
        }
        if entry.metadata().map_err(unreadable)?.len() > max_bytes {
            return Err(refuse(format!("larger than {max_bytes} bytes")));
        }
        let bytes = std::fs::read(&path).map_err(|e| refuse(format!("cannot read it: {e}")))?;
        found.push((name, path, bytes));
    }
    found.sort();
    Ok(found)
}

/// The override files: each must have the name of a built-in template.
fn read_overrides(dir: &Path) -> Result<Vec<(String, PathBuf, String)>, ConfigError> {
    let known = |name: &str| {
        if BUILTIN.iter().any(|(n, _)| *n == name) {
            return Ok(());
        }
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "no built-in page has this name (they are: {})",
            names.join(", ")
        ))
    };
    read_files(
        "templates_dir",
        dir,
        BUILTIN.len(),
        MAX_TEMPLATE_BYTES,
        known,
    )?
    .into_iter()
    .map(|(name, path, bytes)| match String::from_utf8(bytes) {
        Ok(source) => Ok((name, path, source)),
        Err(_) => Err(ConfigError(format!(
            "templates_dir file {}: not UTF-8 text",
            path.display()
        ))),
    })
    .collect()
}

fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "css" => "text/css; charset=utf-8",
        "woff2" => "font/woff2",
        _ => return None,
    })
}

/// The files of `brand_dir`, read once.
fn read_assets(dir: &Path) -> Result<HashMap<String, Asset>, ConfigError> {
    let servable = |name: &str| match content_type(name) {
        Some(_) if is_asset_name(name) => Ok(()),
        _ => Err(
            "serve only png, svg, jpg, gif, webp, ico, css or woff2 files with plain names"
                .to_owned(),
        ),
    };
    Ok(
        read_files("brand_dir", dir, MAX_ASSETS, MAX_ASSET_BYTES, servable)?
            .into_iter()
            .filter_map(|(name, _, bytes)| {
                let content_type = content_type(&name)?;
                Some((
                    name,
                    Asset {
                        content_type,
                        bytes: bytes.into(),
                    },
                ))
            })
            .collect(),
    )
}

mod samples;
pub mod views;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::brand::BrandArgs;

    fn pages(input: BrandArgs) -> Result<Pages, ConfigError> {
        Pages::load(&BrandSettings::validate(input).unwrap())
    }

    #[test]
    fn every_builtin_page_renders() {
        // `load` renders every page against its samples and fails on any error.
        let p = pages(BrandArgs::default()).unwrap();
        for (template, page, who) in samples::all() {
            let html = p.render(template, who.as_ref(), &page).unwrap();
            assert!(html.starts_with("<!doctype html>"), "{template}");
            assert_eq!(html.matches("<h1").count(), 1, "{template}: one h1");
            assert!(html.contains(r#"<html lang="en">"#), "{template}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let p = pages(BrandArgs::default()).unwrap();
        let page = crate::pages::views::ErrorPage {
            status: 400,
            title: "<img src=x onerror=alert(1)>".into(),
            message: "\"'&".into(),
            advice: String::new(),
            detail: None,
        };
        let html = p.render("error.html", None, &page).unwrap();
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("&quot;&#x27;&amp;"), "{html}");
    }

    #[test]
    fn overrides_replace_pages_and_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let input = || BrandArgs {
            templates_dir: Some(dir.path().to_owned()),
            ..BrandArgs::default()
        };
        std::fs::write(
            dir.path().join("error.html"),
            "{% extends \"layout.html\" %}{% block title %}Oops{% endblock %}{% block content %}<h1>Our own: {{ title }}</h1>{% endblock %}",
        )
        .unwrap();
        let p = pages(input()).unwrap();
        let page = crate::pages::views::ErrorPage {
            status: 404,
            title: "Gone".into(),
            message: String::new(),
            advice: String::new(),
            detail: None,
        };
        assert!(
            p.render("error.html", None, &page)
                .unwrap()
                .contains("Our own: Gone")
        );

        // A syntax error names the file.
        std::fs::write(dir.path().join("error.html"), "{% if %}").unwrap();
        let err = pages(input()).err().unwrap().to_string();
        assert!(
            err.contains("error.html") && err.contains(&dir.path().display().to_string()),
            "{err}"
        );
        // A variable the page does not have, too.
        std::fs::write(dir.path().join("error.html"), "{{ no_such_thing.name }}").unwrap();
        let err = pages(input()).err().unwrap().to_string();
        assert!(
            err.contains("error.html") && err.contains("fails to render"),
            "{err}"
        );
        // An unknown name is a typo, not a page.
        std::fs::remove_file(dir.path().join("error.html")).unwrap();
        std::fs::write(dir.path().join("consnet.html"), "x").unwrap();
        let err = pages(input()).err().unwrap().to_string();
        assert!(err.contains("consnet.html"), "{err}");
    }

    #[test]
    fn a_broken_layout_override_names_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("layout.html"), "{{ brand.no_such_member }}").unwrap();
        let err = pages(BrandArgs {
            templates_dir: Some(dir.path().to_owned()),
            ..BrandArgs::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("layout.html"), "{err}");
    }

    #[test]
    fn brand_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("logo.svg"), "<svg/>").unwrap();
        let input = |logo: &str| BrandArgs {
            brand_dir: Some(dir.path().to_owned()),
            logo_url: Some(logo.to_owned()),
            ..BrandArgs::default()
        };
        let p = pages(input("/brand/logo.svg")).unwrap();
        assert_eq!(p.asset("logo.svg").unwrap().content_type, "image/svg+xml");
        let err = pages(input("/brand/missing.svg"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("missing.svg"), "{err}");
        std::fs::write(dir.path().join("run.sh"), "#!/bin/sh").unwrap();
        let err = pages(input("/brand/logo.svg")).err().unwrap().to_string();
        assert!(err.contains("run.sh"), "{err}");
    }
}
