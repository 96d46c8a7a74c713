//! AU002's comparison of the services that verify tokens (user-api, admin-api) with the one that
//! signs them (auth-service), from their containers' environments: the algorithm they expect
//! (`JWT_ALGORITHM`) and where they fetch the JWKS (`JWKS_URL`, `JWT_JWKS_URL`,
//! `AUTH_JWKS_URL`). Issuer and audience are compared in the problem's own file.

use super::au002_jwt_verification_fails::Cause;
use crate::problems::engine::{DockerView, Seen};
use crate::report::{Finding, Status, Verdict::*};
use crate::text::Text;

const JWKS_VARS: &[&str] = &["JWKS_URL", "JWT_JWKS_URL", "AUTH_JWKS_URL"];
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Adds what the verifiers' settings show; returns the status it calls for and a note.
pub fn judge(out: &mut Finding, docker: &DockerView) -> (Status, Vec<Text>) {
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    let auth = match docker.seen("auth-service") {
        Seen::Found(c) => Some(c),
        _ => None,
    };
    let signs = auth.and_then(|a| a.env("JWT_ALGORITHM")).map(|e| e.value.clone()).unwrap_or_else(|| "RS256".into());
    for service in ["user-api", "admin-api"] {
        let Seen::Found(c) = docker.seen(service) else { continue };
        if let Some(alg) = c.env("JWT_ALGORITHM").filter(|e| !e.value.eq_ignore_ascii_case(&signs)) {
            let msg = crate::t!("AU002/verifier-algorithm", container = &c.name, alg = &alg.value, signs = &signs);
            out.raise(Cause::SignatureMismatch, Confirmed, msg.clone());
            status = Status::Critical;
            notes.push(msg);
        }
        for var in JWKS_VARS {
            let Some(e) = c.env(var) else { continue };
            let path = e.value.split_once("://").map(|(_, rest)| rest).and_then(|r| r.find('/').map(|i| &r[i..]));
            let path = path.map(|p| p.split(['?', '#']).next().unwrap_or(p));
            if path != Some(JWKS_PATH) {
                let msg = crate::t!(
                    "AU002/verifier-jwks-path",
                    container = &c.name,
                    var = *var,
                    url = &e.value,
                    path = JWKS_PATH,
                );
                out.raise(Cause::JwksUnreachable, Suspected, msg.clone());
                status = status.max(Status::Warning);
                notes.push(msg);
            }
        }
    }
    (status, notes)
}
