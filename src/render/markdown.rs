//! `--format markdown`: the incident report the runbook's last step asks for: when, what was
//! checked, every finding with its evidence and the causes that apply, the remedies to run,
//! and the emergency checklist to tick. Meant to be pasted into a ticket.

use super::{counts, status_label, verdict_label};
use crate::lang::{Lang, tr};
use crate::report::{Report, Status, Verdict};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

pub fn report(r: &Report) -> String {
    let l = r.lang;
    let mut m = String::new();
    m.push_str(&tr(
        l,
        format!("# Incident report: doctor {}\n\n", r.command),
        format!("# インシデントレポート: doctor {}\n\n", r.command),
    ));
    m.push_str(&format!("- {}: {}\n", tr(l, "Time", "日時"), r.started_at));
    let areas: Vec<&str> = r.checks.iter().map(|c| c.area.as_str()).fold(Vec::new(), |mut v, a| {
        if !v.contains(&a) {
            v.push(a);
        }
        v
    });
    m.push_str(&format!("- {}: {}\n", tr(l, "Scope", "範囲"), areas.join(", ")));
    m.push_str(&format!(
        "- {}: **{}** ({}) in {} ms\n\n",
        tr(l, "Result", "結果"),
        status_label(r.status, l),
        counts(r),
        r.duration_ms
    ));

    if !r.root_causes.is_empty() {
        m.push_str(&tr(l, "## Start here\n\n", "## まずここから\n\n"));
        for root in &r.root_causes {
            m.push_str(&format!("- **{}** `{}`: {}", root.code, root.target, root.summary));
            if !root.explains.is_empty() {
                m.push_str(&tr(
                    l,
                    format!(" (may explain {})", root.explains.join(", ")),
                    format!("（{} の原因の可能性）", root.explains.join("、")),
                ));
            }
            m.push('\n');
        }
        m.push('\n');
    }
    let impact = crate::impact::of(r);
    if r.status > Status::Skipped {
        m.push_str(&tr(l, "## Impact\n\n", "## 影響範囲\n\n"));
        for line in crate::impact::words(&impact, l) {
            m.push_str(&format!("- {line}\n"));
        }
        m.push('\n');
    }
    if let Some(t) = &r.timeline {
        m.push_str(&timeline(t, l));
    }
    m.push_str(&tr(l, "## Findings\n\n", "## 検出事項\n\n"));
    let mut findings: Vec<_> = r.checks.iter().filter(|c| !matches!(c.status, Status::Ok | Status::Skipped)).collect();
    findings.sort_by_key(|c| std::cmp::Reverse(c.status));
    if findings.is_empty() {
        m.push_str(&tr(l, "Nothing abnormal was found.\n\n", "異常は見つかりませんでした。\n\n"));
    }
    for c in &findings {
        m.push_str(&format!(
            "### {} {} {} — `{}`\n\n{}\n\n",
            status_label(c.status, l),
            c.code,
            c.heading(),
            c.target,
            c.summary
        ));
        m.push_str(&tr(
            l,
            "| verdict | cause | evidence |\n|---|---|---|\n",
            "| 判定 | 原因 | 根拠 |\n|---|---|---|\n",
        ));
        for k in &c.causes {
            m.push_str(&format!(
                "| {} | `{}` {} | {} |\n",
                verdict_label(k.verdict, l),
                k.id,
                cell(&k.cause),
                cell(&k.evidence)
            ));
        }
        m.push('\n');
        // What an ended container last wrote, as it wrote it.
        if let Some(serde_json::Value::Object(by)) = c.evidence.get("last_log_lines") {
            for (name, lines) in by {
                m.push_str(&tr(l, format!("Last log lines of `{name}`:\n\n"), format!("`{name}` の最後のログ:\n\n")));
                m.push_str("```\n");
                for line in lines.as_array().into_iter().flatten().filter_map(|x| x.as_str()) {
                    m.push_str(&line.replace("```", "` ` `"));
                    m.push('\n');
                }
                m.push_str("```\n\n");
            }
        }
    }

    let remedies: Vec<_> = findings
        .iter()
        .flat_map(|c| {
            c.causes
                .iter()
                .filter(|k| matches!(k.verdict, Verdict::Confirmed | Verdict::Suspected))
                .map(move |k| (c, k))
        })
        .collect();
    if !remedies.is_empty() {
        m.push_str(&tr(l, "## Remedies\n\n", "## 対処\n\n"));
        for (c, k) in remedies {
            m.push_str(&format!("- [ ] **{} `{}`** ({})\n\n", c.code, k.id, verdict_label(k.verdict, l)));
            m.push_str("  ```\n");
            for line in k.remedy.lines() {
                m.push_str(&format!("  {line}\n"));
            }
            m.push_str("  ```\n\n");
        }
    }

    let advised: Vec<_> = r.checks.iter().filter(|c| !c.advice.is_empty()).collect();
    if !advised.is_empty() {
        m.push_str(&tr(
            l,
            "## Advice\n\nDesign risks with no live symptom (they leave the exit code alone):\n\n",
            "## 助言\n\n現在の症状はない設計上のリスク（終了コードには影響しない）:\n\n",
        ));
        for c in advised {
            for a in &c.advice {
                m.push_str(&format!("- {} — {a}\n", c.code));
            }
        }
        m.push('\n');
    }

    let others: Vec<_> = r.checks.iter().filter(|c| matches!(c.status, Status::Ok | Status::Skipped)).collect();
    if !others.is_empty() {
        m.push_str(&tr(l, "## Checks without findings\n\n", "## 問題のなかったチェック\n\n"));
        for c in others {
            m.push_str(&format!("- {} {} {} — {}\n", status_label(c.status, l), c.code, c.heading(), c.summary));
        }
        m.push('\n');
    }

    m.push_str(&tr(l, "## Emergency checklist\n\n", "## 緊急対応チェックリスト\n\n"));
    // What this report already did is ticked, with where; the rest is left to the people.
    let logs_read = r.timeline.is_some();
    for (i, item) in checklist(l).iter().enumerate() {
        let done = match i {
            1 if r.status > Status::Skipped => Some(tr(l, "see Impact above", "上の「影響範囲」を参照")),
            3 if logs_read => Some(tr(
                l,
                "doctor read the containers' logs, the engine's events and the services' figures: see Timeline and Findings",
                "doctor がコンテナのログ、エンジンのイベント、各サービスの数値を確認済み: タイムラインと検出事項を参照",
            )),
            _ => None,
        };
        match done {
            Some(note) => m.push_str(&match l {
                Lang::En => format!("- [x] {item} ({note})\n"),
                Lang::Ja => format!("- [x] {item}（{note}）\n"),
            }),
            None => m.push_str(&format!("- [ ] {item}\n")),
        }
    }
    m
}

/// The incident's timeline: every entry the engine's events and the logs gave, oldest first.
fn timeline(t: &crate::timeline::Timeline, l: Lang) -> String {
    let mut m = tr(l, "## Timeline\n\n", "## タイムライン\n\n");
    let window = crate::problems::secs(t.since_s as f64);
    if let Some(why) = &t.unavailable {
        m.push_str(&format!("{why}\n\n"));
        return m;
    }
    if t.entries.is_empty() {
        m.push_str(&tr(
            l,
            format!("No event of the stack's containers in the last {window}.\n\n"),
            format!("直近 {window} にスタックのコンテナのイベントはない。\n\n"),
        ));
        return m;
    }
    m.push_str(&tr(
        l,
        format!("The engine's events over the last {window} and the first and latest error lines (UTC; **change**, _fault_):\n\n| time | service | what happened |\n|---|---|---|\n"),
        format!("直近 {window} のエンジンのイベントと、最初・最新のエラー行（UTC。**変更**、_障害_）:\n\n| 時刻 | サービス | 出来事 |\n|---|---|---|\n"),
    ));
    for e in &t.entries {
        let what = if e.change {
            format!("**{}**", cell(&e.summary))
        } else if e.fault {
            format!("_{}_", cell(&e.summary))
        } else {
            cell(&e.summary)
        };
        let at = e.at.replace('T', " ").trim_end_matches('Z').to_string();
        m.push_str(&format!("| {at} | `{}` | {what} |\n", e.service));
    }
    if t.truncated {
        m.push_str(&tr(
            l,
            "\nMore events than were read: the oldest may be missing.\n",
            "\n読み切れないほどイベントがあり、古いものが欠けている可能性がある。\n",
        ));
    }
    m.push('\n');
    m
}

/// The runbook's emergency checklist for a major incident.
fn checklist(l: Lang) -> [&'static str; 9] {
    match l {
        Lang::En => [
            "Open an incident ticket",
            "Establish the impact (all users? one feature?)",
            "Notify the stakeholders",
            "Review logs and metrics",
            "Apply a temporary workaround (a restart, for example)",
            "Investigate the root cause",
            "Apply the permanent fix",
            "Hold a postmortem",
            "Document how to prevent a recurrence",
        ],
        Lang::Ja => [
            "インシデント管理チケットを起票する",
            "影響範囲を確認する（全ユーザーか、特定の機能か）",
            "関係者に連絡する",
            "ログとメトリクスを確認する",
            "暫定対処を行う（再起動など）",
            "根本原因を調査する",
            "恒久対策を実施する",
            "ポストモーテム（振り返り）を行う",
            "再発防止策を文書に残す",
        ],
    }
}
