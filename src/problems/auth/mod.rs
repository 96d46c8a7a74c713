//! auth-service problems: AU001 (login), AU002 (JWT verification), AU003 (refresh).

pub mod au001_login_fails;
pub mod au002_jwt_verification_fails;
pub mod au003_refresh_fails;
pub mod key_files;
pub mod verifier_settings;

use super::Ctx;
use super::engine::{DockerView, Seen};

/// What tokens should carry, and where that expectation comes from: `JWT_ISSUER` and
/// `JWT_AUDIENCE` from the environment, `.env`, or the auth-service container, in that order.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub issuer: Option<(String, String)>,
    pub audience: Option<(String, String)>,
}

impl Expected {
    pub fn from(vars: &dyn Fn(&str) -> Option<(String, String)>, docker: &DockerView, ctx: &Ctx) -> Expected {
        let from_container = |name: &str| match docker.seen("auth-service", ctx) {
            Seen::Found(c) => c.env(name).map(|e| (e.value.clone(), format!("{} environment", c.name))),
            _ => None,
        };
        Expected {
            issuer: vars("JWT_ISSUER").or_else(|| from_container("JWT_ISSUER")),
            audience: vars("JWT_AUDIENCE").or_else(|| from_container("JWT_AUDIENCE")),
        }
    }
}
