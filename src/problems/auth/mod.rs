//! auth-service problems: AU001 (login), AU002 (JWT verification), AU003 (refresh).

pub mod au001_login_fails;
pub mod au002_jwt_verification_fails;
pub mod au003_refresh_fails;
pub mod key_files;
pub mod login_limits;
pub mod verifier_settings;

use super::engine::{DockerView, Seen};
use crate::facts::of::docker::ContainerFacts;
use crate::text::Text;

/// The two spellings of the expected issuer: auth-service and user-api read `JWT_ISS`,
/// admin-api and the MCP server `JWT_ISSUER`.
pub const ISSUER_VARS: [&str; 2] = ["JWT_ISS", "JWT_ISSUER"];
/// The two spellings of the expected audience, read by the same services as [`ISSUER_VARS`].
pub const AUDIENCE_VARS: [&str; 2] = ["JWT_AUD", "JWT_AUDIENCE"];

/// What tokens should carry, and where that expectation comes from: `JWT_ISS`/`JWT_ISSUER` and
/// `JWT_AUD`/`JWT_AUDIENCE` from the environment or `.env`, else the auth-service container, in
/// that order; each source names the variable it came from (`JWT_ISS (.env)`).
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub issuer: Option<(String, String)>,
    pub audience: Option<(String, String)>,
    /// Both spellings set to different values (the services reading one expect another issuer
    /// than those reading the other), said.
    pub issuer_conflict: Option<Text>,
    pub audience_conflict: Option<Text>,
}

/// The first of `names` set in a container, as (name, value).
pub fn spelled<'a>(c: &'a ContainerFacts, names: &[&'static str]) -> Option<(&'static str, &'a str)> {
    names.iter().find_map(|n| c.env(n).map(|e| (*n, e.value.as_str())))
}

/// Two spellings that disagree: "JWT_ISS (.env) is \"a\" but JWT_ISSUER (environment) is \"b\": ...".
fn conflict(found: &[(String, String)]) -> Option<Text> {
    let [(a, asrc), (b, bsrc)] = found else { return None };
    (a != b).then(|| {
        crate::t!(
            "AU002/spellings-differ",
            first_source = asrc,
            first = format!("{a:?}"),
            second_source = bsrc,
            second = format!("{b:?}"),
        )
    })
}

impl Expected {
    pub fn from(vars: &dyn Fn(&str) -> Option<(String, String)>, docker: &DockerView) -> Expected {
        let auth = match docker.seen("auth-service") {
            Seen::Found(c) => Some(c),
            _ => None,
        };
        let read = |names: [&'static str; 2]| -> (Option<(String, String)>, Option<Text>) {
            let found: Vec<(String, String)> = names.iter().filter_map(|n| vars(n)).collect();
            if let Some(first) = found.first() {
                return (Some(first.clone()), conflict(&found));
            }
            let from_container = auth.and_then(|c| {
                spelled(c, &names).map(|(n, v)| (v.to_string(), format!("{n} ({} environment)", c.name)))
            });
            (from_container, None)
        };
        let (issuer, issuer_conflict) = read(ISSUER_VARS);
        let (audience, audience_conflict) = read(AUDIENCE_VARS);
        Expected { issuer, audience, issuer_conflict, audience_conflict }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::fixtures::*;

    fn vars(set: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<(String, String)> {
        move |name: &str| set.iter().find(|(k, _)| *k == name).map(|(k, v)| (v.to_string(), format!("{k} (.env)")))
    }

    #[test]
    fn either_spelling_is_read_and_its_name_said() {
        let none = DockerView::none();
        let e = Expected::from(&vars(&[("JWT_ISS", "https://auth.example.com"), ("JWT_AUD", "fastapi-api")]), &none);
        assert_eq!(e.issuer, Some(("https://auth.example.com".into(), "JWT_ISS (.env)".into())));
        assert_eq!(e.audience, Some(("fastapi-api".into(), "JWT_AUD (.env)".into())));
        assert!(e.issuer_conflict.is_none());
        let e = Expected::from(&vars(&[("JWT_ISSUER", "auth-service")]), &none);
        assert_eq!(e.issuer, Some(("auth-service".into(), "JWT_ISSUER (.env)".into())));
        assert_eq!(e.audience, None);

        // Both spellings, different values: said.
        let e = Expected::from(
            &vars(&[("JWT_ISS", "https://auth.example.com"), ("JWT_ISSUER", "https://auth.example.org")]),
            &none,
        );
        assert_eq!(e.issuer.unwrap().1, "JWT_ISS (.env)");
        assert!(e.issuer_conflict.unwrap().en().starts_with(
            "JWT_ISS (.env) is \"https://auth.example.com\" but JWT_ISSUER (.env) is \"https://auth.example.org\""
        ));

        // Else auth-service's container, under whichever name it has.
        let c = crate::facts::of::docker::ContainerFacts {
            env: vec![env("JWT_ISS", "https://auth.example.com"), env("JWT_AUDIENCE", "fastapi-api")],
            ..running("auth-service")
        };
        let docker = engine(vec![c]);
        let e = Expected::from(&vars(&[]), &view(&docker));
        assert_eq!(e.issuer, Some(("https://auth.example.com".into(), "JWT_ISS (auth-service environment)".into())));
        assert_eq!(e.audience, Some(("fastapi-api".into(), "JWT_AUDIENCE (auth-service environment)".into())));
    }
}
