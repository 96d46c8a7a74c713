//! The full human report (`-v`; the default view is `compact.rs`): a header line, then each check with its status and summary, and for
//! every check that is not ok the runbook's table of causes with a verdict and the evidence
//! for each row, followed by the remedies of the causes that apply. Ok and skipped checks stay
//! on one line unless `-v`; `-q` prints only the header.

use super::{Style, counts, paint, status_icon, status_label, verdict_label};
use crate::lang::Lang;
use crate::report::{Check, Report, Status, Verdict};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

pub fn report(r: &Report, style: Style) -> String {
    let mut out = String::new();
    let head = format!(
        "doctor {} · {} · {} · {} ms",
        r.command,
        paint(status_label(r.status, r.lang), r.status, style.color),
        counts(r),
        r.duration_ms
    );
    out.push_str(&head);
    out.push('\n');
    if style.quiet {
        return out;
    }
    for root in &r.root_causes {
        let then = if root.explains.is_empty() {
            String::new()
        } else {
            match r.lang {
                Lang::En => format!(" (may explain {})", root.explains.join(", ")),
                Lang::Ja => format!("（{} の原因の可能性）", root.explains.join("、")),
            }
        };
        let label = match r.lang {
            Lang::En => "start here",
            Lang::Ja => "まずここから",
        };
        out.push_str(&format!("→ {label}: {} {}{then}\n", root.code, root.target));
    }
    for c in &r.checks {
        out.push('\n');
        out.push_str(&check(c, r.lang, style));
    }
    if let Some(rows) = &r.containers {
        out.push('\n');
        out.push_str(&containers(rows, r.lang, style));
    }
    if let Some(t) = &r.timeline {
        out.push('\n');
        out.push_str(&timeline(t, r.lang, style));
    }
    out
}

/// The whole timeline (`-v`): every entry, a change marked `Δ`, a fault `✗`.
pub fn timeline(t: &crate::timeline::Timeline, lang: Lang, style: Style) -> String {
    let hours = crate::problems::secs(t.since_s as f64);
    let mut out = match lang {
        Lang::En => format!("Timeline (the engine's events over the last {hours}, UTC; Δ change, ✗ fault):\n"),
        Lang::Ja => format!("タイムライン（直近 {hours} のエンジンのイベント、UTC。Δ 変更、✗ 障害）:\n"),
    };
    if let Some(why) = &t.unavailable {
        out.push_str(&format!("  {why}\n"));
        return out;
    }
    if t.entries.is_empty() {
        out.push_str(match lang {
            Lang::En => "  no event of the stack's containers in that time\n",
            Lang::Ja => "  その間、スタックのコンテナのイベントはない\n",
        });
        return out;
    }
    let mut table = new_table(style);
    table.set_header(match lang {
        Lang::En => vec!["", "time", "service", "what happened"],
        Lang::Ja => vec!["", "時刻", "サービス", "出来事"],
    });
    for e in &t.entries {
        let mark = if e.fault {
            "✗"
        } else if e.change {
            "Δ"
        } else {
            ""
        };
        let at = e.at.replace('T', " ").trim_end_matches('Z').to_string();
        table.add_row(vec![Cell::new(mark), Cell::new(at), Cell::new(&e.service), Cell::new(&e.summary)]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    if t.truncated {
        out.push_str(match lang {
            Lang::En => "  (more events than were read: the oldest may be missing)\n",
            Lang::Ja => "  （読み切れないほどイベントがあり、古いものが欠けている可能性がある）\n",
        });
    }
    out
}

/// A table as every renderer of this crate draws one: condensed lines, as wide as the
/// screen (60 columns at least), no colour codes when there is no colour.
pub fn new_table(style: Style) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(style.width.max(60) as u16);
    if !style.color {
        t.force_no_tty();
    }
    t
}

/// The stack at a glance (`doctor docker`).
pub fn containers(rows: &[crate::report::ContainerRow], lang: Lang, style: Style) -> String {
    use crate::problems::{bytes, secs};
    let mut t = new_table(style);
    t.set_header(match lang {
        Lang::En => vec!["service", "container", "state", "health", "restarts", "up", "CPU", "memory / limit", "ports"],
        Lang::Ja => vec!["サービス", "コンテナ", "状態", "ヘルス", "再起動", "稼働", "CPU", "メモリ / 制限", "ポート"],
    });
    for r in rows {
        let mut state = r.state.clone();
        if let Some(code) = r.exit_code {
            state = format!("{state} ({code})");
        }
        if r.oom_killed {
            state.push_str(" OOM");
        }
        let mem = match (r.mem_used, r.mem_limit) {
            (Some(u), Some(l)) => format!("{} / {}", bytes(u), bytes(l)),
            (Some(u), None) => bytes(u),
            _ => "-".into(),
        };
        let mut state_cell = Cell::new(state);
        if style.color {
            state_cell = state_cell.fg(match r.state.as_str() {
                "running" => Color::Green,
                "missing" | "exited" | "dead" => Color::Red,
                _ => Color::Yellow,
            });
        }
        t.add_row(vec![
            Cell::new(&r.service),
            Cell::new(r.container.as_deref().unwrap_or("-")),
            state_cell,
            Cell::new(r.health.as_deref().unwrap_or("-")),
            Cell::new(match r.exits_24h.filter(|n| *n > 0) {
                Some(n) => match lang {
                    Lang::En => format!("{} ({n} exits/24h)", r.restarts),
                    Lang::Ja => format!("{}（24 時間で終了 {n} 回）", r.restarts),
                },
                None => r.restarts.to_string(),
            }),
            Cell::new(r.uptime_s.map(|u| secs(u as f64)).unwrap_or_else(|| "-".into())),
            Cell::new(r.cpu_percent.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "-".into())),
            Cell::new(mem),
            Cell::new(if r.ports.is_empty() { "-".to_string() } else { r.ports.join("\n") }),
        ]);
    }
    t.to_string() + "\n"
}

fn check(c: &Check, lang: Lang, style: Style) -> String {
    let mut s = String::new();
    let label = status_label(c.status, lang);
    let badge = format!("{} {label}{}", status_icon(c.status), " ".repeat(8usize.saturating_sub(display_width(label))));
    s.push_str(&format!("{} {}  {} · {}\n", paint(&badge, c.status, style.color), c.code, c.heading(), c.target));
    for line in super::wrap::wrap(&c.summary, style.width.max(40), "    ") {
        s.push_str(&line);
        s.push('\n');
    }
    if let Some(t) = c.evidence.get("token") {
        s.push_str(&format!("    {}\n", token_line(t, lang)));
    }
    for a in &c.advice {
        let head = match lang {
            Lang::En => "advice: ",
            Lang::Ja => "助言: ",
        };
        for line in super::wrap::wrap_prose(&format!("{head}{a}"), style.width.max(40), "    ", "      ") {
            s.push_str(&line);
            s.push('\n');
        }
    }
    let expand = style.verbose || !matches!(c.status, Status::Ok | Status::Skipped);
    if !expand {
        return s;
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(style.width.saturating_sub(4).max(40) as u16);
    if !style.color {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    let (h_verdict, h_cause, h_evidence) = match lang {
        Lang::En => ("verdict", "cause", "evidence"),
        Lang::Ja => ("判定", "原因", "根拠"),
    };
    t.set_header(vec![h_verdict, h_cause, h_evidence]);
    for k in &c.causes {
        let mut v = Cell::new(verdict_label(k.verdict, lang));
        if style.color {
            v = match k.verdict {
                Verdict::Confirmed => v.fg(Color::Red),
                Verdict::Suspected => v.fg(Color::Yellow),
                Verdict::RuledOut => v.fg(Color::Green),
                Verdict::Unchecked => v.fg(Color::DarkGrey),
            };
        }
        t.add_row(vec![v, Cell::new(format!("{}\n{}", k.id, k.cause)), Cell::new(&k.evidence)]);
    }
    for line in t.to_string().lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    let applying: Vec<_> =
        c.causes.iter().filter(|k| matches!(k.verdict, Verdict::Confirmed | Verdict::Suspected)).collect();
    if !applying.is_empty() {
        s.push_str(match lang {
            Lang::En => "    What to do:\n",
            Lang::Ja => "    対処:\n",
        });
        for k in applying {
            s.push_str(&format!("    • {} ({})\n", k.id, verdict_label(k.verdict, lang)));
            for line in super::wrap::wrap(&k.remedy, style.width.max(40), "        ") {
                s.push_str(&line);
                s.push('\n');
            }
        }
    }
    s
}

use super::wrap::display_width;

/// The token's header and claims on one line (never its signature), times as dates and ages.
pub(super) fn token_line(t: &serde_json::Value, lang: Lang) -> String {
    use crate::problems::secs;
    let mut parts = vec![format!("alg {}", t["alg"].as_str().unwrap_or("?"))];
    for k in ["kid", "iss", "sub"] {
        if let Some(v) = t[k].as_str() {
            parts.push(format!("{k} {v}"));
        }
    }
    if let Some(a) = t["aud"].as_array().filter(|a| !a.is_empty()) {
        let aud: Vec<&str> = a.iter().filter_map(|x| x.as_str()).collect();
        parts.push(format!("aud {}", aud.join(",")));
    }
    for k in ["iat", "nbf", "exp"] {
        if let (Some(at), Some(d)) = (t[k]["at"].as_str(), t[k]["seconds_from_now"].as_i64()) {
            let rel = match (d >= 0, lang) {
                _ if d == 0 => match lang {
                    Lang::En => "now".to_string(),
                    Lang::Ja => "現在".to_string(),
                },
                (true, Lang::En) => format!("in {}", secs(d as f64)),
                (false, Lang::En) => format!("{} ago", secs(-d as f64)),
                (true, Lang::Ja) => format!("{}後", secs(d as f64)),
                (false, Lang::Ja) => format!("{}前", secs(-d as f64)),
            };
            parts.push(format!("{k} {at} ({rel})"));
        }
    }
    let head = match lang {
        Lang::En => "JWT:",
        Lang::Ja => "JWT:",
    };
    format!("{head} {}", parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ContainerRow;

    #[test]
    fn restarts_show_the_exits_restart_count_leaves_out() {
        let row = |exits_24h| ContainerRow {
            service: "postgres".into(),
            container: Some("postgres".into()),
            state: "running".into(),
            health: None,
            restarts: 0,
            exits_24h,
            exit_code: None,
            oom_killed: false,
            uptime_s: Some(60),
            cpu_percent: None,
            mem_used: None,
            mem_limit: None,
            ports: vec![],
        };
        let style = Style { color: false, width: 200, verbose: false, quiet: false };
        assert!(containers(&[row(Some(2))], Lang::En, style).contains("0 (2 exits/24h)"));
        assert!(containers(&[row(Some(2))], Lang::Ja, style).contains("0（24 時間で終了 2 回）"));
        let plain = containers(&[row(Some(0))], Lang::En, style);
        assert!(!plain.contains("exits") && plain.contains("┆ 0 "), "{plain}");
    }
}
