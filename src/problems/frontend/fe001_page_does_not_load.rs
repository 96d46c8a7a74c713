//! FE001: the page does not load. Reads the page's status and latency, whether it is Next.js's
//! own error page or an empty root, and whether the frontend's container can reach
//! auth-service and user-api (the Docker layer's links). May confirm `frontend-down` and
//! `backend-unreachable`; `stale-build-cache` is suspected from an error or blank page while
//! the backends are reachable.

use crate::probe::web::FrontendFacts;
use crate::problems::Ctx;
use crate::problems::engine::{self, DockerView, Seen};
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(f: &FrontendFacts, docker: &DockerView, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("FE001", format!("{} {}", f.service, f.base_url));
    out.fact("status", f.page.status);
    out.fact("latency_ms", f.page.latency_ms);
    // The frontend container's links to the backends.
    let me = match docker.seen(&f.service, ctx) {
        Seen::Found(c) => Some(c.name.clone()),
        _ => None,
    };
    let links: Vec<_> = ["auth-service", "user-api"]
        .iter()
        .flat_map(|t| engine::links_to(docker, t))
        .filter(|l| Some(&l.client.name) == me.as_ref())
        .collect();
    let broken: Vec<String> =
        links.iter().filter(|l| l.problem.is_some()).map(|l| engine::describe_link(l, ctx)).collect();
    let (status, summary) = match (&f.page.error, f.page.status) {
        (Some(e), _) => {
            out.cause(
                "frontend-down",
                Confirmed,
                ctx.tr(
                    format!("GET {}: {}: {}", f.page.url, e.kind.text(ctx.lang), e.message),
                    format!("GET {}: {}: {}", f.page.url, e.kind.text(ctx.lang), e.message),
                ),
            );
            out.cause(
                "stale-build-cache",
                Unchecked,
                ctx.tr("the page did not load at all", "ページがまったく読み込めない"),
            );
            (
                Status::Critical,
                ctx.tr(
                    format!("{} does not answer: {}", f.service, e.kind.text(ctx.lang)),
                    format!("{} が応答しない: {}", f.service, e.kind.text(ctx.lang)),
                ),
            )
        }
        (None, Some(code)) if code >= 500 || f.nextjs_error || f.blank => {
            out.cause(
                "frontend-down",
                RuledOut,
                ctx.tr(
                    format!("the Next.js server answers (HTTP {code})"),
                    format!("Next.js サーバーは応答している（HTTP {code}）"),
                ),
            );
            let what = if f.nextjs_error {
                ctx.tr(
                    "Next.js's error page (\"Application error: a server-side exception\")",
                    "Next.js のエラーページ（\"Application error: a server-side exception\"）",
                )
            } else if f.blank {
                ctx.tr(
                    "an empty page (the application root rendered nothing)",
                    "空のページ（アプリケーションのルートが何も描画していない）",
                )
            } else {
                format!("HTTP {code}")
            };
            out.cause(
                "stale-build-cache",
                if broken.is_empty() { Suspected } else { Unchecked },
                ctx.tr(format!("the page is {what}"), format!("ページが {what}")),
            );
            (
                if code >= 500 { Status::Critical } else { Status::Warning },
                ctx.tr(format!("{} serves {what}", f.service), format!("{} が {what} を返している", f.service)),
            )
        }
        (None, Some(code)) => {
            out.cause(
                "frontend-down",
                RuledOut,
                ctx.tr(
                    format!("HTTP {code} in {} ms", f.page.latency_ms),
                    format!("HTTP {code}（{} ms）", f.page.latency_ms),
                ),
            );
            out.cause("stale-build-cache", RuledOut, ctx.tr("the page renders", "ページは描画されている"));
            (
                Status::Ok,
                ctx.tr(
                    format!("the page answers HTTP {code} in {} ms", f.page.latency_ms),
                    format!("ページは HTTP {code} を {} ms で返した", f.page.latency_ms),
                ),
            )
        }
        (None, None) => {
            out.cause("frontend-down", Unchecked, String::new());
            out.cause("stale-build-cache", Unchecked, String::new());
            (Status::Unknown, ctx.tr("no answer", "応答なし"))
        }
    };
    if let Some(why) = docker.unavailable(ctx) {
        out.cause("backend-unreachable", Unchecked, why);
    } else if links.is_empty() {
        out.cause(
            "backend-unreachable",
            Unchecked,
            ctx.tr(
                format!("{} has no *_URL variable pointing at auth-service or user-api", f.service),
                format!("{} に auth-service や user-api を指す *_URL 変数がない", f.service),
            ),
        );
    } else if broken.is_empty() {
        out.cause(
            "backend-unreachable",
            RuledOut,
            links.iter().map(|l| engine::describe_link(l, ctx)).collect::<Vec<_>>().join("; "),
        );
    } else {
        out.cause("backend-unreachable", Confirmed, broken.join("; "));
        out.causes.retain(|c| c.id != "stale-build-cache" || c.verdict != Suspected);
        if out.verdict_of("stale-build-cache").is_none() {
            out.cause(
                "stale-build-cache",
                Unchecked,
                ctx.tr(
                    "the backends are unreachable: look at that first",
                    "バックエンドに到達できないため、まずそちらを確認",
                ),
            );
        }
        return out.status(Status::Critical, format!("{summary}; {}", broken.join("; ")));
    }
    out.status(status, summary)
}
