//! The check commands (`all`, `postgres`, `redis`): gather facts, diagnose, render, exit with
//! the worst status. `--wait` repeats the whole run until nothing is critical or time is up.

use super::{ApiArgs, AuthArgs, Global, PerfArgs, PostgresArgs, RedisArgs, err, out, out_json};
use crate::config::{Format, Settings, parse_duration};
use crate::lang::tr;
use crate::probe::redis::BigKeysLimits;
use crate::problems::Ctx;
use crate::render;
use crate::report::{Report, Status};
use crate::run::{self, Area, Request};
use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime};

pub enum Target {
    All,
    Api(ApiArgs),
    Frontend,
    Perf(PerfArgs),
    Auth(AuthArgs),
    Docker,
    Network,
    Postgres(PostgresArgs),
    Redis(RedisArgs),
}

pub fn run(s: &Settings, g: &Global, target: Target) -> i32 {
    let (command, req) = match request(&target) {
        Ok(r) => r,
        Err(e) => {
            err(&e);
            return 3;
        }
    };
    let wait = match g.wait.as_deref().map(parse_duration).transpose() {
        Ok(w) => w,
        Err(e) => {
            err(&format!("--wait: {e}"));
            return 3;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            err(&format!("cannot start the async runtime: {e}"));
            return 3;
        }
    };
    let ctx = Ctx { thresholds: s.thresholds.clone() };
    let replay = match g.facts.as_deref().map(load_facts).transpose() {
        Ok(f) => f,
        Err(e) => {
            err(&e);
            return 3;
        }
    };
    if replay.is_none() && crate::probe::ms(s.timeout) < crate::problems::timeouts::TOO_SHORT_MS {
        let t = crate::config::format_duration(s.timeout);
        err(&tr(
            s.lang,
            format!(
                "--timeout {t} is too short to judge: a check that gets no answer in time is unknown, not failing; try --timeout 5s"
            ),
            format!(
                "--timeout {t} は判断するには短すぎる: 時間内に応答がないチェックは失敗ではなく不明とする。--timeout 5s を試す"
            ),
        ));
    }
    let began = Instant::now();
    let mut runs = 0u32;
    let mut waited: Option<String> = None;
    let report = loop {
        runs += 1;
        let started_at = run::rfc3339(SystemTime::now());
        let t = Instant::now();
        let (facts, areas, command) = match &replay {
            Some(f) => {
                (f.clone(), f.areas.clone(), format!("{} (replayed from facts gathered {})", f.command, f.gathered_at))
            }
            None => {
                let spin = std::io::stderr().is_terminal() && s.format == Format::Table && !s.quiet;
                let spinner = super::spinner::Spinner::start(spin, s.lang);
                let mut f = rt.block_on(run::gather(s, &req));
                spinner.stop();
                f.command = command.clone();
                (f, req.areas.clone(), command.clone())
            }
        };
        if s.verbose {
            log_timings(&facts);
        }
        if let Some(path) = &g.dump_facts
            && let Err(e) = dump_facts(path, &facts)
        {
            err(&e);
            return 3;
        }
        let report = finish(s, &ctx, &facts, &areas, &command, started_at, crate::probe::ms(t.elapsed()));
        let Some(limit) = wait.filter(|_| replay.is_none()) else { break report };
        let left = limit.saturating_sub(began.elapsed());
        if report.status < Status::Critical || left.is_zero() {
            waited = Some(wait_end(s.lang, &report, began.elapsed(), runs));
            break report;
        }
        let pending = still_critical(&report);
        err(&tr(
            s.lang,
            format!("waiting ({}s left) for: {}", left.as_secs(), pending.join("; ")),
            format!("待機中（残り {} 秒）: {}", left.as_secs(), pending.join("; ")),
        ));
        std::thread::sleep(left.min(Duration::from_secs(2)));
    };
    let style = super::term::style(s);
    match s.format {
        Format::Table if style.verbose => out(&render::table::report(&report, style)),
        Format::Table => out(&render::compact::report(&report, style)),
        Format::Json => out_json(render::json::report(&report)),
        Format::Junit => out(&render::junit::report(&report)),
        Format::Markdown => out(&render::markdown::report(&report)),
        Format::Nagios => out(&render::nagios::report(&report)),
        Format::Prometheus => out(&render::prometheus::report(&report)),
    }
    // The last line on the terminal says how the wait ended.
    if let Some(end) = waited {
        err(&end);
    }
    // A Nagios plugin's exit code is its status word: the worst check's, --fail-on aside.
    if s.format == Format::Nagios { render::nagios::exit(&report) } else { report.exit_code }
}

/// One run's facts made into its report: diagnosed, remedies aimed at this stack, `--only`,
/// `--skip` and `--fail-on` applied, root causes ranked (what `serve` caches too).
pub(super) fn finish(
    s: &Settings,
    ctx: &Ctx,
    facts: &run::Facts,
    areas: &[Area],
    command: &str,
    started_at: String,
    took_ms: u64,
) -> Report {
    let findings = run::diagnose(facts, areas, ctx);
    let mut report = Report::build(command, findings, s.lang, started_at, took_ms);
    if let Some(stack) = &facts.stack {
        // Remedies name the containers and compose directories of this stack, and lose the
        // commands aimed at containers the engine says do not exist or do not run.
        let engine_seen = facts.docker.as_ref().is_some_and(|d| d.reachable());
        for c in report.checks.iter_mut() {
            let roles = crate::stack::commands::check_roles(c, stack);
            for k in c.causes.iter_mut() {
                let mut text = crate::stack::commands::fill_service(&k.remedy, &roles);
                text = crate::stack::commands::fill_project_dir(&text, &roles, stack);
                if engine_seen {
                    text = crate::stack::commands::drop_inapplicable(&text, stack);
                }
                k.remedy = crate::stack::commands::personalize(&text, stack);
            }
        }
    }
    report.select(&s.only, &s.skip);
    report.recompute(s.fail_on);
    crate::root_cause::rank(&mut report);
    if let Some(d) = facts.docker.as_ref().filter(|d| d.reachable()) {
        crate::timeline::attach(&mut report, d, facts.stack.as_ref());
    }
    if areas.contains(&Area::Docker) && command.starts_with("docker") {
        report.containers = facts.docker.as_ref().filter(|d| d.reachable()).map(crate::problems::docker::glance::rows);
    }
    report
}

/// The critical checks a wait is still waiting for, with what they say.
fn still_critical(report: &Report) -> Vec<String> {
    with_status(report, Status::Critical)
}

fn with_status(report: &Report, status: Status) -> Vec<String> {
    report.checks.iter().filter(|c| c.status == status).map(|c| format!("{} ({})", c.code, c.summary)).collect()
}

/// "ready after 7.0s (4 runs)", or "gave up after 4.0s (3 runs): still DK002 (...)".
fn wait_end(lang: crate::lang::Lang, report: &Report, took: Duration, runs: u32) -> String {
    let took = crate::problems::secs(took.as_secs_f64());
    let (en, ja) = (if runs == 1 { "1 run".to_string() } else { format!("{runs} runs") }, format!("{runs} 回"));
    match report.status {
        Status::Critical => {
            let still = still_critical(report).join("; ");
            tr(
                lang,
                format!("gave up after {took} ({en}): still {still}"),
                format!("{took} 待って打ち切り（実行 {ja}）: まだ {still}"),
            )
        }
        // Nothing critical is not "ready" when some check could not tell.
        Status::Unknown => {
            let unknown = with_status(report, Status::Unknown).join("; ");
            tr(
                lang,
                format!("stopped waiting after {took} ({en}): nothing critical, but doctor could not tell {unknown}"),
                format!("{took} で待機を終了（実行 {ja}）: 重大なものはないが、判断できなかった: {unknown}"),
            )
        }
        _ => tr(lang, format!("ready after {took} ({en})"), format!("{took} 後に準備完了（実行 {ja}）")),
    }
}

pub(super) fn request(target: &Target) -> Result<(String, Request), String> {
    Ok(match target {
        Target::All => (
            "all".into(),
            Request {
                areas: vec![
                    Area::Docker,
                    Area::Postgres,
                    Area::Redis,
                    Area::Auth,
                    Area::Api,
                    Area::Frontend,
                    Area::Network,
                    Area::Perf,
                ],
                ..Default::default()
            },
        ),
        Target::Auth(a) => {
            let token = match a.token.as_deref() {
                Some("-") => Some(read_stdin_line("--token -")?),
                Some(t) => Some(t.to_string()),
                None => None,
            };
            let login = if a.login_stdin {
                let text = read_stdin_all("--login-stdin")?;
                let mut lines = text.lines();
                match (lines.next(), lines.next()) {
                    (Some(u), Some(p)) if !u.trim().is_empty() => Some((u.trim().to_string(), p.to_string())),
                    _ => return Err("--login-stdin reads two lines: the user name, then the password".into()),
                }
            } else {
                None
            };
            if token.is_some() && login.is_some() && a.token.as_deref() == Some("-") {
                return Err("--token - and --login-stdin both read standard input: give the token as a value".into());
            }
            let refresh_token = match a.refresh_token.as_deref() {
                Some("-") if a.token.as_deref() == Some("-") || a.login_stdin => {
                    return Err("--refresh-token - reads standard input, as does --token - or --login-stdin: \
                                give one of them as a value (or set DOCTOR_REFRESH_TOKEN)"
                        .into());
                }
                Some("-") => Some(read_stdin_line("--refresh-token -")?),
                Some(t) if t.trim().is_empty() => return Err("--refresh-token: the token is empty".into()),
                Some(t) => {
                    crate::redact::register_secret(t.trim());
                    Some(t.trim().to_string())
                }
                None => None,
            };
            (
                "auth".into(),
                Request {
                    areas: vec![Area::Auth],
                    auth_url: a.url.clone(),
                    token,
                    login,
                    refresh_token,
                    ..Default::default()
                },
            )
        }
        Target::Api(a) => {
            let user_id = a.user_id.as_deref().map(user_id).transpose()?;
            ("api".into(), Request { areas: vec![Area::Api], user_id, ..Default::default() })
        }
        Target::Frontend => ("frontend".into(), Request { areas: vec![Area::Frontend], ..Default::default() }),
        Target::Perf(a) => {
            let sample = match a.sample.as_deref() {
                Some(d) => {
                    let d = parse_duration(d).map_err(|e| format!("--sample: {e}"))?;
                    if d < Duration::from_secs(2) || d > Duration::from_secs(3600) {
                        return Err("--sample: give a duration from 2s to 1h (e.g. 30s)".into());
                    }
                    Some(d)
                }
                None => None,
            };
            ("perf".into(), Request { areas: vec![Area::Perf], sample, ..Default::default() })
        }
        Target::Docker => ("docker".into(), Request { areas: vec![Area::Docker], ..Default::default() }),
        Target::Network => {
            ("network".into(), Request { areas: vec![Area::Docker, Area::Network], ..Default::default() })
        }
        Target::Postgres(a) => (
            "postgres".into(),
            Request {
                areas: vec![Area::Postgres],
                pg_url: a.url.clone(),
                pg_admin_url: a.admin_url.clone(),
                ..Default::default()
            },
        ),
        Target::Redis(a) => {
            let bigkeys = if a.bigkeys {
                let time = parse_duration(&a.scan_time).map_err(|e| format!("--scan-time: {e}"))?;
                Some(BigKeysLimits { max_keys: a.max_keys, batch: a.scan_count, time })
            } else {
                None
            };
            (
                "redis".into(),
                Request { areas: vec![Area::Redis], redis_url: a.url.clone(), bigkeys, ..Default::default() },
            )
        }
    })
}

/// `--user-id`: an id as the services write it (digits, a UUID, a name), nothing that could be
/// mistaken for a pattern or a second key.
fn user_id(id: &str) -> Result<String, String> {
    let ok = !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c));
    if ok {
        Ok(id.to_string())
    } else {
        Err(format!(
            "--user-id {:?}: expected an id of letters, digits and - _ . @ : (at most 128 characters)",
            id.chars().take(40).collect::<String>()
        ))
    }
}

/// `--dump-facts`: what was gathered, every string scrubbed again on the way out.
fn dump_facts(path: &std::path::Path, facts: &run::Facts) -> Result<(), String> {
    let mut v = serde_json::to_value(facts).map_err(|e| format!("--dump-facts: {e}"))?;
    crate::redact::scrub_json(&mut v);
    let text = serde_json::to_string_pretty(&v).map_err(|e| format!("--dump-facts: {e}"))?;
    std::fs::write(path, text).map_err(|e| format!("--dump-facts {}: {e}", path.display()))
}

/// `--facts`: facts written by `--dump-facts`, for an offline replay.
fn load_facts(path: &std::path::Path) -> Result<run::Facts, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--facts {}: {e}", path.display()))?;
    let not_facts = |e: String| format!("--facts {}: not facts written by --dump-facts ({e})", path.display());
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| not_facts(e.to_string()))?;
    let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if schema != run::FACTS_SCHEMA {
        return Err(format!("--facts {}: schema {schema:?}, expected {}", path.display(), run::FACTS_SCHEMA));
    }
    serde_json::from_value(v).map_err(|e| not_facts(e.to_string()))
}

fn read_stdin_all(what: &str) -> Result<String, String> {
    use std::io::Read;
    let mut buf = String::new();
    std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut buf)
        .map_err(|e| format!("{what}: reading standard input: {e}"))?;
    Ok(buf)
}

fn read_stdin_line(what: &str) -> Result<String, String> {
    let text = read_stdin_all(what)?;
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("{what}: standard input is empty"));
    }
    crate::redact::register_secret(t);
    Ok(t.to_string())
}

/// `-v`: each probe step and how long it took, on stderr.
fn log_timings(facts: &run::Facts) {
    let mut lines = Vec::new();
    if let Some(st) = &facts.stack {
        lines.push(format!("stack: layout {} on {}", st.layout, st.engine));
        let context = st.context.as_deref().map(|c| format!(", context {c}")).unwrap_or_default();
        lines.push(format!("engine chosen by: {}{context}", st.engine_source));
        if let Some(a) = &st.away {
            lines.push(format!(
                "not on the engine's host: {}",
                crate::problems::away::why(a).render(crate::lang::Lang::En)
            ));
        }
        let beside = if st.config_via.is_some() { " (beside the stack's compose files)" } else { "" };
        lines.push(format!(
            "configuration: {}{beside}",
            st.config_file.as_deref().unwrap_or("none (no doctor.toml here or above)")
        ));
        for m in &st.services {
            match (&m.container, &m.found_by) {
                (Some(c), Some(by)) => lines.push(format!(
                    "  {:<15} {c} (by {by}); from here {}",
                    m.role,
                    m.host_url.as_deref().unwrap_or("?")
                )),
                _ if m.optional => {}
                _ => lines.push(format!("  {:<15} not found: {}", m.role, m.why.as_deref().unwrap_or(""))),
            }
        }
        lines.extend(st.env_files.iter().map(|f| format!("  variables from {f}")));
        lines.extend(st.notes.iter().map(|n| format!("  note: {n}")));
    }
    if let Some(d) = &facts.docker {
        lines.push(format!("docker {} ({} ms total)", d.host, facts.docker_ms));
        lines.extend(
            d.timings.iter().map(|t| format!("  {:<24} {:>5} ms {}", t.step, t.ms, if t.ok { "ok" } else { "failed" })),
        );
    }
    if let Some(pg) = &facts.postgres {
        lines.push(format!("postgres {} ({} ms total; url from {})", pg.target, facts.postgres_ms, pg.url_source));
        lines.extend(
            pg.timings
                .iter()
                .map(|t| format!("  {:<24} {:>5} ms {}", t.step, t.ms, if t.ok { "ok" } else { "failed" })),
        );
        lines.extend(pg.query_errors.iter().map(|e| format!("  query failed: {e}")));
    }
    if let Some(rd) = &facts.redis {
        lines.push(format!("redis {} ({} ms total; url from {})", rd.target, facts.redis_ms, rd.url_source));
        lines.extend(
            rd.timings
                .iter()
                .map(|t| format!("  {:<24} {:>5} ms {}", t.step, t.ms, if t.ok { "ok" } else { "failed" })),
        );
        lines.extend(rd.errors.iter().map(|e| format!("  failed: {e}")));
    }
    for l in lines {
        err(&l);
    }
}
