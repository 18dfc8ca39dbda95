//! The operator's brand: product name, logo, accent colour, links and locale, as
//! validated settings; and the colours derived from the accent so that text and
//! buttons keep WCAG 2.x AA contrast (4.5:1) in the light and the dark scheme,
//! whatever colour the operator picks.

use super::ConfigError;
use super::file::FileConfig;
use std::path::PathBuf;
use url::Url;

/// The operator's brand on every page (validated into `BrandSettings` below).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct BrandArgs {
    /// Product name shown on every page [default: Latchkey]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_PRODUCT_NAME",
        value_name = "NAME"
    )]
    pub product_name: Option<String>,
    /// Logo: an https URL, or /brand/FILE for a file in --brand-dir
    #[arg(long, global = true, env = "LATCHKEY_LOGO_URL", value_name = "URL")]
    pub logo_url: Option<String>,
    /// Accent colour of links and buttons, #rrggbb [default: #2f5bea]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_ACCENT_COLOR",
        value_name = "COLOR"
    )]
    pub accent_color: Option<String>,
    /// Support link shown at the foot of every page (https, http or mailto)
    #[arg(long, global = true, env = "LATCHKEY_SUPPORT_URL", value_name = "URL")]
    pub support_url: Option<String>,
    /// Terms of service link shown on the consent page
    #[arg(long, global = true, env = "LATCHKEY_TERMS_URL", value_name = "URL")]
    pub terms_url: Option<String>,
    /// Privacy policy link shown on the consent page
    #[arg(long, global = true, env = "LATCHKEY_PRIVACY_URL", value_name = "URL")]
    pub privacy_url: Option<String>,
    /// Directory whose files are served at /brand/NAME (logo, favicon, CSS)
    #[arg(long, global = true, env = "LATCHKEY_BRAND_DIR", value_name = "DIR")]
    pub brand_dir: Option<PathBuf>,
    /// Directory of template overrides replacing built-in pages of the same name
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_TEMPLATES_DIR",
        value_name = "DIR"
    )]
    pub templates_dir: Option<PathBuf>,
    /// Language of the pages, a BCP 47 tag for <html lang> [default: en]
    #[arg(long, global = true, env = "LATCHKEY_LOCALE", value_name = "TAG")]
    pub locale: Option<String>,
}

/// The brand settings, validated (files are read later, by `Pages::load`).
#[derive(Debug, Clone)]
pub struct BrandSettings {
    pub product_name: String,
    /// An `https://` URL, or `/brand/FILE` naming a file of `brand_dir`.
    pub logo_url: Option<String>,
    pub accent: Rgb,
    pub support_url: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
    /// Files served at `/brand/NAME` (a logo, a favicon, a stylesheet of overrides).
    pub brand_dir: Option<PathBuf>,
    /// Templates that replace built-in pages of the same name.
    pub templates_dir: Option<PathBuf>,
    /// BCP 47 language tag for `<html lang>`.
    pub locale: String,
}

/// Latchkey's own blue.
pub const DEFAULT_ACCENT: Rgb = Rgb(0x2f, 0x5b, 0xea);

impl BrandSettings {
    /// `input` holds the merged flags, environment and TOML values.
    pub fn validate(input: BrandArgs) -> Result<Self, ConfigError> {
        let product_name = input
            .product_name
            .unwrap_or_else(|| "Latchkey".to_owned())
            .trim()
            .to_owned();
        if product_name.is_empty()
            || product_name.chars().count() > 60
            || product_name.chars().any(char::is_control)
        {
            return Err(ConfigError(
                "product_name must be 1 to 60 characters without control characters".to_owned(),
            ));
        }
        let logo_url = input
            .logo_url
            .filter(|s| !s.is_empty())
            .map(|raw| {
                if let Some(name) = raw.strip_prefix("/brand/") {
                    if !is_asset_name(name) {
                        return Err(ConfigError(format!(
                            "logo_url `{raw}`: a local logo is /brand/FILE, FILE a plain file name in brand_dir"
                        )));
                    }
                    if input.brand_dir.is_none() {
                        return Err(ConfigError(format!(
                            "logo_url `{raw}` names a file in brand_dir, but brand_dir is not set"
                        )));
                    }
                    Ok(raw)
                } else {
                    // The page CSP admits images from https origins and this server only.
                    web_url("logo_url", &raw, &["https"])
                }
            })
            .transpose()?;
        let accent = match input.accent_color.as_deref().filter(|s| !s.is_empty()) {
            Some(raw) => Rgb::parse(raw).ok_or_else(|| {
                ConfigError(format!(
                    "accent_color `{}` is not a colour like #2f5bea or #25e",
                    raw.escape_default()
                ))
            })?,
            None => DEFAULT_ACCENT,
        };
        let link = |name: &str, raw: Option<String>, schemes: &[&str]| {
            raw.filter(|s| !s.is_empty())
                .map(|r| web_url(name, &r, schemes))
                .transpose()
        };
        let locale = input.locale.unwrap_or_else(|| "en".to_owned());
        if !is_language_tag(&locale) {
            return Err(ConfigError(format!(
                "locale `{}` is not a language tag such as en, de or pt-BR",
                locale.escape_default()
            )));
        }
        Ok(Self {
            product_name,
            logo_url,
            accent,
            support_url: link(
                "support_url",
                input.support_url,
                &["https", "http", "mailto"],
            )?,
            terms_url: link("terms_url", input.terms_url, &["https", "http"])?,
            privacy_url: link("privacy_url", input.privacy_url, &["https", "http"])?,
            brand_dir: input.brand_dir,
            templates_dir: input.templates_dir,
            locale,
        })
    }
}

fn web_url(name: &str, raw: &str, schemes: &[&str]) -> Result<String, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError(format!("{name} `{raw}` is not a valid URL: {e}")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(ConfigError(format!(
            "{name} `{raw}` must be a {} URL",
            schemes.join(" or ")
        )));
    }
    Ok(raw.to_owned())
}

/// A file name we serve from `brand_dir`: one path segment, no hidden files, so a
/// request can never reach outside the directory.
pub fn is_asset_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A BCP 47 tag of the usual shape: letters and digits in hyphenated subtags.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` or `#rgb`.
    pub fn parse(raw: &str) -> Option<Self> {
        let hex = raw.strip_prefix('#')?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).ok();
        match hex.len() {
            6 => {
                let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
                Some(Self(byte(0)?, byte(2)?, byte(4)?))
            }
            3 => Some(Self(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            _ => None,
        }
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2.x relative luminance.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let s = f64::from(c) / 255.0;
            if s <= 0.040_45 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }

    /// WCAG 2.x contrast ratio, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Mixed with `toward` by `t` (0 = self, 1 = toward).
    fn mix(self, toward: Rgb, t: f64) -> Rgb {
        let m = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Rgb(
            m(self.0, toward.0),
            m(self.1, toward.1),
            m(self.2, toward.2),
        )
    }

    /// The nearest mix toward `toward` that contrasts at least `ratio` with every
    /// colour of `against`.
    fn until_contrast(self, toward: Rgb, against: &[Rgb], ratio: f64) -> Rgb {
        (0..=40)
            .map(|step| self.mix(toward, f64::from(step) / 40.0))
            .find(|c| against.iter().all(|bg| c.contrast(*bg) >= ratio))
            .unwrap_or(toward)
    }
}

/// Backgrounds of the two schemes (page and card), as in the stylesheet.
pub const LIGHT_BACKGROUNDS: [Rgb; 2] = [Rgb(0xf3, 0xf5, 0xf9), Rgb(0xff, 0xff, 0xff)];
pub const DARK_BACKGROUNDS: [Rgb; 2] = [Rgb(0x12, 0x15, 0x1b), Rgb(0x1b, 0x1f, 0x27)];
const BLACK: Rgb = Rgb(0, 0, 0);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
/// WCAG 2.x AA for normal text.
pub const AA: f64 = 4.5;

/// The accent as each scheme uses it: for links, the brand name, focus rings and
/// filled buttons, with the text colour on those buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    pub light_accent: Rgb,
    pub light_on_accent: Rgb,
    pub dark_accent: Rgb,
    pub dark_on_accent: Rgb,
}

impl Palette {
    /// Darkens the accent for light backgrounds and lightens it for dark ones only
    /// as far as AA needs, so a brand colour stays recognisable.
    pub fn from_accent(accent: Rgb) -> Self {
        let light_accent = accent.until_contrast(BLACK, &LIGHT_BACKGROUNDS, AA);
        let dark_accent = accent.until_contrast(WHITE, &DARK_BACKGROUNDS, AA);
        let on = |bg: Rgb| {
            if bg.contrast(WHITE) >= bg.contrast(Rgb(0x0b, 0x0d, 0x12)) {
                WHITE
            } else {
                Rgb(0x0b, 0x0d, 0x12)
            }
        };
        Self {
            light_accent,
            light_on_accent: on(light_accent),
            dark_accent,
            dark_on_accent: on(dark_accent),
        }
    }
}

/// The brand from its flags, then the file.
pub(super) fn brand(b: &BrandArgs, file: &mut FileConfig) -> Result<BrandSettings, ConfigError> {
    BrandSettings::validate(BrandArgs {
        product_name: b.product_name.clone().or(file.product_name.take()),
        logo_url: b.logo_url.clone().or(file.logo_url.take()),
        accent_color: b.accent_color.clone().or(file.accent_color.take()),
        support_url: b.support_url.clone().or(file.support_url.take()),
        terms_url: b.terms_url.clone().or(file.terms_url.take()),
        privacy_url: b.privacy_url.clone().or(file.privacy_url.take()),
        brand_dir: b.brand_dir.clone().or(file.brand_dir.take()),
        templates_dir: b.templates_dir.clone().or(file.templates_dir.take()),
        locale: b.locale.clone().or(file.locale.take()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> BrandArgs {
        BrandArgs::default()
    }

    #[test]
    fn colours_parse() {
        assert_eq!(Rgb::parse("#2f5bea"), Some(Rgb(0x2f, 0x5b, 0xea)));
        assert_eq!(Rgb::parse("#FFF"), Some(WHITE));
        assert_eq!(Rgb::parse("2f5bea"), None);
        assert_eq!(Rgb::parse("#2f5be"), None);
        assert_eq!(Rgb::parse("#ggg"), None);
        assert_eq!(Rgb::parse("#+1+2+3"), None);
        assert_eq!(Rgb(0x2f, 0x5b, 0xea).hex(), "#2f5bea");
    }

    #[test]
    fn contrast_follows_wcag() {
        assert!((BLACK.contrast(WHITE) - 21.0).abs() < 1e-9);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        let grey = Rgb(0x76, 0x76, 0x76);
        assert!((grey.contrast(WHITE) - 4.54).abs() < 0.01);
    }

    #[test]
    fn every_accent_gets_aa_in_both_schemes() {
        for accent in [
            Rgb(0xff, 0xff, 0x00),
            Rgb(0xff, 0xff, 0xff),
            Rgb(0, 0, 0),
            Rgb(0xe1, 0x1d, 0x48),
            DEFAULT_ACCENT,
            Rgb(0x7f, 0x7f, 0x7f),
        ] {
            let p = Palette::from_accent(accent);
            for bg in LIGHT_BACKGROUNDS {
                assert!(p.light_accent.contrast(bg) >= AA, "{accent:?} light");
            }
            for bg in DARK_BACKGROUNDS {
                assert!(p.dark_accent.contrast(bg) >= AA, "{accent:?} dark");
            }
            assert!(
                p.light_accent.contrast(p.light_on_accent) >= AA,
                "{accent:?}"
            );
            assert!(p.dark_accent.contrast(p.dark_on_accent) >= AA, "{accent:?}");
        }
        // A dark enough accent is kept as it is in the light scheme.
        assert_eq!(
            Palette::from_accent(Rgb(0, 0x33, 0x66)).light_accent,
            Rgb(0, 0x33, 0x66)
        );
    }

    #[test]
    fn settings_are_validated() {
        let ok = BrandSettings::validate(input()).unwrap();
        assert_eq!(ok.product_name, "Latchkey");
        assert_eq!(ok.locale, "en");
        let bad = |i: BrandArgs, needle: &str| {
            let err = BrandSettings::validate(i).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        };
        bad(
            BrandArgs {
                product_name: Some(" ".into()),
                ..input()
            },
            "product_name",
        );
        bad(
            BrandArgs {
                logo_url: Some("http://cdn.example/logo.png".into()),
                ..input()
            },
            "https",
        );
        bad(
            BrandArgs {
                logo_url: Some("/brand/logo.png".into()),
                ..input()
            },
            "brand_dir",
        );
        bad(
            BrandArgs {
                logo_url: Some("/brand/../etc/passwd".into()),
                brand_dir: Some("/tmp".into()),
                ..input()
            },
            "plain file name",
        );
        bad(
            BrandArgs {
                accent_color: Some("blue".into()),
                ..input()
            },
            "accent_color",
        );
        bad(
            BrandArgs {
                terms_url: Some("javascript:alert(1)".into()),
                ..input()
            },
            "terms_url",
        );
        bad(
            BrandArgs {
                locale: Some("en_US".into()),
                ..input()
            },
            "locale",
        );
        let good = BrandSettings::validate(BrandArgs {
            locale: Some("pt-BR".into()),
            support_url: Some("mailto:help@shocking.example".into()),
            ..input()
        })
        .unwrap();
        assert_eq!(good.locale, "pt-BR");
    }

    #[test]
    fn asset_names_stay_in_the_directory() {
        assert!(is_asset_name("logo.svg"));
        assert!(is_asset_name("brand-2_x.png"));
        assert!(!is_asset_name("../x"));
        assert!(!is_asset_name(".env"));
        assert!(!is_asset_name("a/b"));
        assert!(!is_asset_name(""));
    }
}
