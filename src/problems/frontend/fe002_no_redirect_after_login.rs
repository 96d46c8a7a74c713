//! FE002: no redirect after login. With credentials, logs in through the BFF and reads its
//! `Set-Cookie` headers (HttpOnly, Secure, SameSite, path, expiry) and CORS headers. May confirm
//! `cookie-attributes` (no HttpOnly, SameSite=None without Secure, no cookie at all),
//! `secure-cookie-on-http` (Secure over plain HTTP: the browser drops it) and
//! `cors-credentials` (`Access-Control-Allow-Origin: *` with credentials).

use crate::probe::web::FrontendFacts;
use crate::problems::Ctx;
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(f: &FrontendFacts, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("FE002", format!("{} {}", f.service, f.base_url));
    let Some(login) = &f.bff_login else {
        let why = ctx.tr(
            "no BFF login tried: set DOCTOR_LOGIN_USERNAME and DOCTOR_LOGIN_PASSWORD to try one",
            "BFF ログインは未試行: DOCTOR_LOGIN_USERNAME と DOCTOR_LOGIN_PASSWORD を設定すると試行する",
        );
        out.causes_all(&["cors-credentials", "cookie-attributes", "secure-cookie-on-http"], Unchecked, &why);
        return out.status(Status::Skipped, why);
    };
    out.fact("login_status", login.status);
    out.fact("cookies", &f.cookies);
    out.fact("cors", &login.headers);
    if !login.ok() {
        let why = ctx.tr(
            format!(
                "the BFF login answered {}: see AU001",
                login.status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "nothing".into())
            ),
            format!(
                "BFF ログインの応答は {}: AU001 を参照",
                login.status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "なし".into())
            ),
        );
        out.causes_all(&["cors-credentials", "cookie-attributes", "secure-cookie-on-http"], Unchecked, &why);
        return out.status(Status::Critical, why);
    }
    let plain_http = f.base_url.starts_with("http://");
    let mut problems = Vec::new();
    let acao = login.headers.get("access-control-allow-origin").map(String::as_str);
    let acac = login.headers.get("access-control-allow-credentials").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if acao == Some("*") && acac {
        let m = ctx.tr(
            "Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true: browsers refuse credentialed responses with a wildcard origin",
            "Access-Control-Allow-Origin: * と Access-Control-Allow-Credentials: true の組み合わせ: ブラウザはワイルドカードのオリジンへの資格情報付き応答を拒否する",
        );
        out.cause("cors-credentials", Confirmed, m.clone());
        problems.push(m);
    } else {
        out.cause(
            "cors-credentials",
            RuledOut,
            match acao {
                Some(o) => format!("Access-Control-Allow-Origin: {o}; Allow-Credentials: {acac}"),
                None => ctx.tr("no CORS headers: same-origin only", "CORS ヘッダーなし: 同一オリジンのみ"),
            },
        );
    }
    let mut attr = Vec::new();
    let mut secure_http = Vec::new();
    if f.cookies.is_empty() {
        attr.push(ctx.tr("the login set no cookie at all", "ログインで Cookie が 1 つも設定されていない"));
    }
    for c in &f.cookies {
        if !c.http_only && (c.name.contains("token") || c.name.contains("session")) {
            attr.push(ctx.tr(
                format!("{} lacks HttpOnly: scripts can read the token", c.name),
                format!("{} に HttpOnly がない: スクリプトからトークンを読める", c.name),
            ));
        }
        if c.same_site.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("none")) && !c.secure {
            attr.push(ctx.tr(
                format!("{} has SameSite=None without Secure: browsers reject it", c.name),
                format!("{} が Secure なしで SameSite=None: ブラウザに拒否される", c.name),
            ));
        }
        if c.secure && plain_http {
            secure_http.push(ctx.tr(
                format!("{} is Secure but the site is served over plain HTTP: the browser drops it", c.name),
                format!("{} は Secure だがサイトは HTTP で提供されている: ブラウザは保存しない", c.name),
            ));
        }
    }
    let shown: Vec<String> = f
        .cookies
        .iter()
        .map(|c| {
            let mut a = vec![c.name.clone()];
            if c.http_only {
                a.push("HttpOnly".into());
            }
            if c.secure {
                a.push("Secure".into());
            }
            if let Some(s) = &c.same_site {
                a.push(format!("SameSite={s}"));
            }
            if let Some(p) = &c.path {
                a.push(format!("Path={p}"));
            }
            if let Some(m) = c.max_age {
                a.push(format!("Max-Age={m}"));
            }
            a.join("; ")
        })
        .collect();
    if attr.is_empty() {
        out.cause("cookie-attributes", RuledOut, shown.join(" | "));
    } else {
        out.cause("cookie-attributes", Confirmed, attr.join("; "));
        problems.extend(attr);
    }
    if secure_http.is_empty() {
        out.cause(
            "secure-cookie-on-http",
            RuledOut,
            if plain_http {
                ctx.tr("no cookie is marked Secure on this plain-HTTP site", "HTTP サイトで Secure の Cookie はない")
            } else {
                ctx.tr("the site is served over HTTPS", "サイトは HTTPS")
            },
        );
    } else {
        out.cause("secure-cookie-on-http", Confirmed, secure_http.join("; "));
        problems.extend(secure_http);
    }
    if problems.is_empty() {
        out.status(
            Status::Ok,
            ctx.tr(
                format!("the BFF login sets {}", shown.join(" | ")),
                format!("BFF ログインで設定される Cookie: {}", shown.join(" | ")),
            ),
        )
    } else {
        out.status(Status::Critical, problems.join("; "))
    }
}
