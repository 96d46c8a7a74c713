//! `doctor triage`: which problem each line of a log is a symptom of, for a file, stdin, or the
//! recent logs of containers. Exit 0 when the logs were read (whether or not anything matched),
//! 3 when a source could not be read. Per symptom: its count, the cause it shows when the
//! runbook says one, the time of its first and newest line, and the newest line.

use super::{err, out, out_json};
use crate::catalogue;
use crate::config::{Format, Settings};
use crate::lang::tr;
use crate::probe::docker;
use crate::triage::{self, LogHit};
use serde_json::json;
use std::io::Read;

pub fn run(file: Option<&str>, containers: &[String], s: &Settings) -> i32 {
    if file.is_none() && containers.is_empty() {
        err("triage needs a FILE, `-` for standard input, or --container NAME");
        return 3;
    }
    let limits = triage::Limits::from(&s.thresholds);
    let mut sources: Vec<(String, u64, Vec<LogHit>)> = Vec::new();
    if let Some(f) = file {
        let text = if f == "-" {
            let mut buf = Vec::new();
            // Bounded: a log piped in without end is read up to 64 MB.
            if let Err(e) = std::io::stdin().take(64 << 20).read_to_end(&mut buf) {
                err(&format!("reading standard input: {e}"));
                return 3;
            }
            String::from_utf8_lossy(&buf).into_owned()
        } else {
            match std::fs::read(f) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    err(&format!("{f}: {e}"));
                    return 3;
                }
            }
        };
        let hits = triage::scan_with(text.lines(), &limits);
        sources.push((if f == "-" { "stdin".into() } else { f.to_string() }, text.lines().count() as u64, hits));
    }
    if !containers.is_empty() {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                err(&format!("cannot start the async runtime: {e}"));
                return 3;
            }
        };
        for name in containers {
            let tls = crate::run::docker_config(s).tls_cert_path;
            let text = rt.block_on(docker::log_text(
                s.var("DOCKER_HOST"),
                tls.as_deref(),
                name,
                s.logs_since,
                s.logs_tail,
                s.timeout,
            ));
            match text {
                Ok(t) => sources.push((
                    format!("container {name}"),
                    t.lines().count() as u64,
                    triage::scan_with(t.lines(), &limits),
                )),
                Err(e) => {
                    err(&format!("logs of {name}: {}", e.message));
                    return 3;
                }
            }
        }
    }
    let title = |code: &str| catalogue::get(code).map(|p| p.title.get(s.lang).to_string()).unwrap_or_default();
    match s.format {
        Format::Json => out_json(json!({
            "schema": "doctor.triage/v1",
            "sources": sources.iter().map(|(name, lines, hits)| json!({
                "source": name, "lines": lines,
                "hits": hits.iter().map(|h| json!({
                    "code": h.code, "title": title(&h.code), "cause": h.cause, "count": h.count, "signature": h.signature,
                    "sample": h.sample, "first_at": h.first_at, "last_at": h.last_at,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        _ => {
            let mut text = String::new();
            for (name, lines, hits) in &sources {
                text.push_str(&tr(s.lang, format!("{name}: {lines} lines\n"), format!("{name}: {lines} 行\n")));
                if hits.is_empty() {
                    text.push_str(&tr(
                        s.lang,
                        "  no line matches a known problem\n",
                        "  既知の問題に該当する行はありません\n",
                    ));
                }
                for h in hits {
                    text.push_str(&format!("  {:<8} ×{:<5} {}\n", h.code, h.count, title(&h.code)));
                    text.push_str(&format!("           {}\n", h.signature));
                    if let Some(c) = &h.cause {
                        text.push_str(&tr(
                            s.lang,
                            format!("           cause: {c}\n"),
                            format!("           原因: {c}\n"),
                        ));
                    }
                    match (&h.first_at, &h.last_at) {
                        (Some(first), Some(last)) if h.count > 1 => text.push_str(&tr(
                            s.lang,
                            format!("           first: {first}   latest: {last}\n"),
                            format!("           最初: {first}   最新: {last}\n"),
                        )),
                        (_, Some(last)) => text.push_str(&tr(
                            s.lang,
                            format!("           at: {last}\n"),
                            format!("           時刻: {last}\n"),
                        )),
                        _ => {}
                    }
                    text.push_str(&tr(
                        s.lang,
                        format!("           latest line: {}\n", h.sample),
                        format!("           最新の行: {}\n", h.sample),
                    ));
                }
            }
            let codes: Vec<&str> = sources.iter().flat_map(|(_, _, h)| h.iter().map(|x| x.code.as_str())).collect();
            if let Some(first) = codes.first() {
                text.push_str(&tr(
                    s.lang,
                    format!("\n`doctor explain {first}` shows causes and remedies.\n"),
                    format!("\n`doctor explain {first}` で原因と対処を表示します。\n"),
                ));
            }
            out(&text);
        }
    }
    0
}
