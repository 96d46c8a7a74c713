//! FE001: the page does not load. Reads the page's status and latency, whether it is Next.js's
//! own error page or an empty root, the BFF's own health answer (`/api/health`: failing or
//! `unhealthy` warns even when the page renders; none at all is only said), and whether the
//! frontend's container can reach auth-service and user-api (the Docker layer's links). May
//! confirm `frontend-down` and `backend-unreachable`; `stale-build-cache` is suspected from an
//! error or blank page while the backends are reachable.

use crate::catalogue::Area;
use crate::facts::of::web::FrontendFacts;
use crate::problems::engine::{self, DockerView, Seen};
use crate::problems::health::{self, Reading};
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    FrontendDown = "frontend-down",
    BackendUnreachable = "backend-unreachable",
    StaleBuildCache = "stale-build-cache",
}

pub static PROBLEM: Problem = Problem {
    code: "FE001",
    areas: &[Area::Frontend],
    runbook: crate::runbook!("frontend/FE001-page-does-not-load.toml"),
    causes: Cause::IDS,
    run,
    by_target: true,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(w) = &i.facts.web else { return vec![] };
    w.frontends.iter().map(|f| i.timed(diagnose(f, &i.docker), i.facts.web_ms)).collect()
}

/// What the BFF's health answer adds: a status, the note for the summary, and whether it is
/// evidence that a backend is out of reach.
fn bff_health(f: &FrontendFacts) -> (Status, Option<Text>, bool) {
    let Some(h) = &f.health else { return (Status::Ok, None, false) };
    let hc = &f.health_check;
    let p = health::path(h, hc);
    match health::read(Some(h), hc) {
        Reading::NotProbed => (Status::Ok, None, false),
        Reading::Healthy(_) => (Status::Ok, Some(t!("FE001/health-answered", path = &p, ms = h.latency_ms)), false),
        Reading::NoEndpoint => (Status::Ok, Some(health::no_endpoint(h, hc)), false),
        Reading::Failed(e) => {
            (Status::Warning, Some(t!("FE001/health-failed", path = &p, error = e.kind.text())), false)
        }
        Reading::Status(code) | Reading::Unhealthy(code) => {
            let not_healthy = t!("FE001/health-not-healthy", path = &p, code = code);
            let said = health::reports(h, hc).unwrap_or_default();
            (Status::Warning, Some(Text::join([not_healthy, said], Sep::Clauses)), true)
        }
    }
}

pub fn diagnose(f: &FrontendFacts, docker: &DockerView) -> Finding {
    let mut out = Finding::new("FE001", format!("{} {}", f.service, f.base_url));
    out.fact("status", f.page.status);
    out.fact("latency_ms", f.page.latency_ms);
    // The frontend container's links to the backends.
    let me = match docker.seen(&f.service) {
        Seen::Found(c) => Some(c.name.clone()),
        _ => None,
    };
    let links: Vec<_> = ["auth-service", "user-api"]
        .iter()
        .flat_map(|t| engine::links_to(docker, t))
        .filter(|l| Some(&l.client.name) == me.as_ref())
        .collect();
    let broken: Vec<Text> = links.iter().filter(|l| l.problem.is_some()).map(engine::describe_link).collect();
    let (status, summary) = match (&f.page.error, f.page.status) {
        (Some(e), _) => {
            out.cause(
                Cause::FrontendDown,
                Confirmed,
                t!("FE001/get-failed", url = &f.page.url, error = e.kind.text(), message = &e.message),
            );
            out.cause(Cause::StaleBuildCache, Unchecked, t!("FE001/did-not-load"));
            (Status::Critical, t!("FE001/does-not-answer", service = &f.service, error = e.kind.text()))
        }
        (None, Some(code)) if code >= 500 || f.nextjs_error || f.blank => {
            out.cause(Cause::FrontendDown, RuledOut, t!("FE001/server-answers", code = code));
            let what = if f.nextjs_error {
                t!("FE001/nextjs-error-page")
            } else if f.blank {
                t!("FE001/empty-page")
            } else {
                Text::from(format!("HTTP {code}"))
            };
            out.cause(
                Cause::StaleBuildCache,
                if broken.is_empty() { Suspected } else { Unchecked },
                t!("FE001/page-is", what = what.clone()),
            );
            (
                if code >= 500 { Status::Critical } else { Status::Warning },
                t!("FE001/serves", service = &f.service, what = what),
            )
        }
        (None, Some(code)) => {
            out.cause(Cause::FrontendDown, RuledOut, t!("FE001/answered-in", code = code, ms = f.page.latency_ms));
            out.cause(Cause::StaleBuildCache, RuledOut, t!("FE001/page-renders"));
            (Status::Ok, t!("FE001/page-answers", code = code, ms = f.page.latency_ms))
        }
        (None, None) => {
            out.cause(Cause::FrontendDown, Unchecked, String::new());
            out.cause(Cause::StaleBuildCache, Unchecked, String::new());
            (Status::Unknown, t!("FE001/no-answer"))
        }
    };
    let (health_status, health_note, health_blames_backend) = bff_health(f);
    if let Some(h) = &f.health {
        out.fact("health_status", h.status);
        out.fact("health_path", &f.health_check.path);
        if let Some(b) = health::body(h, &f.health_check) {
            out.fact("health_body", b);
        }
    }
    let (status, summary) = match &health_note {
        Some(n) if f.page.status.is_some() => {
            (status.max(health_status), Text::join([summary, n.clone()], Sep::Clauses))
        }
        _ => (status, summary),
    };
    if let Some(why) = docker.unavailable() {
        out.cause(Cause::BackendUnreachable, Unchecked, why);
    } else if links.is_empty() {
        out.cause(Cause::BackendUnreachable, Unchecked, t!("FE001/no-url-variable", service = &f.service));
    } else if broken.is_empty() {
        out.cause(
            Cause::BackendUnreachable,
            RuledOut,
            Text::join(links.iter().map(engine::describe_link), Sep::Clauses),
        );
    } else {
        out.cause(Cause::BackendUnreachable, Confirmed, Text::join(broken.clone(), Sep::Clauses));
        out.causes.retain(|c| c.id != Cause::StaleBuildCache.id() || c.verdict != Suspected);
        if out.verdict_of(Cause::StaleBuildCache).is_none() {
            out.cause(Cause::StaleBuildCache, Unchecked, t!("FE001/backends-first"));
        }
        return out.status(Status::Critical, Text::join([summary, Text::join(broken, Sep::Clauses)], Sep::Clauses));
    }
    if health_blames_backend {
        let evidence = health_note.unwrap_or_default();
        out.raise(Cause::BackendUnreachable, Suspected, evidence);
    }
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{ContainerFacts, DockerFacts, PortFacts, UrlVar};
    use crate::facts::of::http::{HttpErrorKind, HttpFacts};
    use crate::problems::fixtures::*;

    fn page(page: HttpFacts) -> FrontendFacts {
        FrontendFacts {
            service: "user-frontend".into(),
            base_url: "http://localhost:3002".into(),
            page,
            ..Default::default()
        }
    }

    fn status(code: u16) -> FrontendFacts {
        page(answer("GET", "http://localhost:3002/", code, ""))
    }

    fn on_app(c: ContainerFacts) -> ContainerFacts {
        ContainerFacts { networks: vec![net("app")], ..c }
    }

    /// user-frontend with `urls`, and both backends on the same network.
    fn stack(urls: Vec<UrlVar>) -> DockerFacts {
        engine(vec![
            on_app(ContainerFacts { urls, ..running("user-frontend") }),
            on_app(running("auth-service")),
            on_app(running("user-api")),
        ])
    }

    fn good_urls() -> Vec<UrlVar> {
        vec![url_var("AUTH_SERVICE_URL", "auth-service", 8002), url_var("API_URL", "user-api", 8001)]
    }

    fn run(f: &FrontendFacts, docker: &DockerFacts) -> Finding {
        diagnose(f, &view(docker))
    }

    #[test]
    fn browser_side_variables_are_judged_from_the_browsers_side() {
        let browser = |host: &str| {
            let mut urls = good_urls();
            urls.push(url_var("NEXT_PUBLIC_API_URL", host, 8001));
            urls
        };
        let publish = |d: &mut DockerFacts| {
            d.containers[2].container.as_mut().unwrap().ports = vec![PortFacts {
                container_port: 8001,
                proto: "tcp".into(),
                host_ip: Some("0.0.0.0".into()),
                host_port: Some(8001),
                from_host: None,
            }]
        };
        // localhost is the user's machine for the browser: right when user-api publishes 8001.
        let mut d = stack(browser("localhost"));
        publish(&mut d);
        let f = run(&status(200), &d);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(
            &f,
            "backend-unreachable",
            RuledOut,
            "NEXT_PUBLIC_API_URL=localhost:8001 (used by the browser) reaches user-api through the port it publishes, 0.0.0.0:8001->8001",
        );
        let f = run(&status(200), &stack(browser("localhost")));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "backend-unreachable",
            Confirmed,
            "the browser calls localhost:8001, but user-api publishes no port 8001 on the host",
        );
        // A Docker name resolves in containers only, never in the browser.
        let mut d = stack(browser("user-api"));
        publish(&mut d);
        let f = run(&status(200), &d);
        assert_cause(&f, "backend-unreachable", Confirmed, "cannot resolve the Docker name \"user-api\"");
        // Any other host is the browser's (DNS, a proxy): not judged.
        let f = run(&status(200), &stack(browser("api.example.com")));
        assert_cause(&f, "backend-unreachable", RuledOut, "which resolves api.example.com itself (not checked)");
    }

    #[test]
    fn a_page_that_renders_with_reachable_backends_rules_everything_out() {
        let f = run(&status(200), &stack(good_urls()));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "the page answers HTTP 200 in 12 ms");
        assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
        assert_cause(&f, "frontend-down", RuledOut, "HTTP 200 in 12 ms");
        assert_cause(
            &f,
            "backend-unreachable",
            RuledOut,
            "user-frontend AUTH_SERVICE_URL=auth-service:8002 reaches auth-service on network app",
        );
        assert_cause(&f, "backend-unreachable", RuledOut, "API_URL=user-api:8001 reaches user-api on network app");
        assert_cause(&f, "stale-build-cache", RuledOut, "the page renders");
    }

    #[test]
    fn each_cause_is_confirmed_or_suspected_from_its_own_evidence() {
        // No HTTP answer at all.
        let down = page(failure("GET", "http://localhost:3002/", HttpErrorKind::Refused, "tcp connect error"));
        let f = run(&down, &stack(good_urls()));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.summary.en(), "user-frontend does not answer: connection refused");
        assert_cause(
            &f,
            "frontend-down",
            Confirmed,
            "GET http://localhost:3002/: connection refused: tcp connect error",
        );
        assert_cause(&f, "stale-build-cache", Unchecked, "the page did not load at all");
        assert_cause(&f, "backend-unreachable", RuledOut, "reaches auth-service");

        // A page that answers, but broken, while the backends are reachable.
        let nextjs = FrontendFacts { nextjs_error: true, ..status(200) };
        let blank = FrontendFacts { blank: true, ..status(200) };
        for (facts, says, want) in [
            (status(500), "HTTP 500", Status::Critical),
            (nextjs, "Next.js's error page", Status::Warning),
            (blank, "an empty page (the application root rendered nothing)", Status::Warning),
        ] {
            let f = run(&facts, &stack(good_urls()));
            assert_eq!(f.status, want, "{says}");
            assert!(f.summary.en().contains(says), "{}", f.summary.en());
            assert_cause(&f, "stale-build-cache", Suspected, says);
            assert_cause(&f, "frontend-down", RuledOut, "the Next.js server answers");
            assert_cause(&f, "backend-unreachable", RuledOut, "reaches");
        }

        // Links the frontend's container cannot follow.
        let localhost = vec![url_var("AUTH_SERVICE_URL", "localhost", 8002)];
        let f = run(&status(200), &stack(localhost));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "backend-unreachable",
            Confirmed,
            "user-frontend AUTH_SERVICE_URL=localhost:8002: inside a container, localhost is the container itself, not auth-service",
        );
        assert_cause(&f, "stale-build-cache", RuledOut, "the page renders");
        assert!(f.summary.en().contains("inside a container"), "{}", f.summary.en());

        let mut isolated = stack(good_urls());
        isolated.containers[2].container.as_mut().unwrap().networks = vec![net("api")];
        let f = run(&status(500), &isolated);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "backend-unreachable",
            Confirmed,
            "user-frontend is on [app] and user-api on [api]: no network in common",
        );
        assert_cause(&f, "stale-build-cache", Unchecked, "the page is HTTP 500");

        let mut no_api = stack(good_urls());
        no_api.containers[2] = missing("user-api");
        let f = run(&status(200), &no_api);
        assert_cause(
            &f,
            "backend-unreachable",
            Confirmed,
            "API_URL=user-api:8001: the container it points at does not exist",
        );

        let alias = vec![url_var("AUTH_SERVICE_URL", "auth", 8002)];
        let f = run(&status(200), &stack(alias));
        assert_cause(&f, "backend-unreachable", Confirmed, "\"auth\" is no name or alias of auth-service on [app]");
    }

    /// A page answering 200 and a BFF whose `/api/health` answered `code` with `body`.
    fn with_health(code: u16, body: &str) -> FrontendFacts {
        use crate::facts::of::health::{HealthBody, HealthFacts};
        use crate::facts::of::routes::PathStatus;
        let found = code != 404;
        FrontendFacts {
            health: Some(answer("GET", "http://localhost:3002/api/health", code, body)),
            health_check: HealthFacts {
                path: found.then(|| "/api/health".to_string()),
                tried: vec![PathStatus { path: "/api/health".into(), status: Some(code), error: None }],
                body: HealthBody::parse(body).filter(|_| found),
            },
            ..status(200)
        }
    }

    #[test]
    fn the_bffs_own_health_is_read_beside_the_page() {
        let healthy = r#"{"status":"healthy","service":"User Frontend BFF","timestamp":"2025-09-30T12:00:00Z"}"#;
        let f = diagnose(&with_health(200, healthy), &DockerView::none());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "the page answers HTTP 200 in 12 ms; /api/health answered in 12 ms");
        assert_eq!(f.evidence["health_body"]["service"], "User Frontend BFF");

        let sick = r#"{"status":"unhealthy","service":"User Frontend BFF"}"#;
        for (code, body) in [(200, sick), (503, sick)] {
            let f = diagnose(&with_health(code, body), &DockerView::none());
            assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
            assert!(
                f.summary.en().contains(&format!("the BFF's /api/health answers HTTP {code} and is not healthy")),
                "{}",
                f.summary.en()
            );
            assert_cause(&f, "backend-unreachable", Suspected, "is not healthy; it reports status unhealthy");
            assert_cause(&f, "frontend-down", RuledOut, "HTTP 200");
            verdicts(&f);
        }

        // A Next.js app without the route: said, and the page decides.
        let f = diagnose(&with_health(404, r#"{"detail":"Not Found"}"#), &DockerView::none());
        assert_eq!(f.status, Status::Ok);
        assert!(f.summary.en().contains("no health endpoint at /api/health (HTTP 404)"), "{}", f.summary.en());
    }

    #[test]
    fn backend_links_unchecked_without_the_engine_or_a_url() {
        let f = diagnose(&status(200), &DockerView::none());
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "backend-unreachable", Unchecked, "needs the Docker engine");
        let f = run(&status(200), &engine_down());
        assert_cause(&f, "backend-unreachable", Unchecked, "the Docker engine is unreachable (see DK001)");
        let f = run(&status(200), &stack(vec![]));
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "backend-unreachable",
            Unchecked,
            "user-frontend has no *_URL variable pointing at auth-service or user-api",
        );
        // Suspected stale build without the engine: nothing says the backends are at fault.
        let f = diagnose(&status(502), &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "stale-build-cache", Suspected, "the page is HTTP 502");
        // Neither a status nor an error (not something the probe produces): nothing is known.
        let f = run(&page(HttpFacts::default()), &stack(good_urls()));
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.summary.en(), "no answer");
        assert_cause(&f, "frontend-down", Unchecked, "");
        assert_cause(&f, "stale-build-cache", Unchecked, "");
    }
}
