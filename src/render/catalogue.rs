//! How `list` and `explain` print runbook entries: JSON (`doctor.catalogue/v1`), or text for
//! people: the problem, the error texts it shows as, how to check by hand, and each cause with
//! its remedy.

use crate::explain::Match;
use crate::lang::{Lang, tr};
use crate::runbook::Problem;
use serde_json::{Value, json};

fn problem_json(p: &Problem, lang: Lang) -> Value {
    json!({
        "code": p.code,
        "area": p.area,
        "title": p.title.get(lang),
        "ok_title": p.ok_title.get(lang),
        "symptoms": p.symptoms.iter().map(|s| s.text(lang).to_string()).collect::<Vec<_>>(),
        "by_hand": p.by_hand.get(lang).trim(),
        "causes": p.causes.iter().map(|c| json!({
            "id": c.id, "cause": c.cause.get(lang).trim(), "remedy": c.remedy.get(lang).trim(),
            "judged": c.judged.as_ref().map(|j| j.get(lang).trim()),
        })).collect::<Vec<_>>(),
    })
}

pub fn list_json(problems: &[&Problem], lang: Lang) -> Value {
    json!({
        "schema": "doctor.catalogue/v1",
        "problems": problems.iter().map(|p| problem_json(p, lang)).collect::<Vec<_>>(),
    })
}

pub fn explain_json(matches: &[Match], lang: Lang) -> Value {
    json!({
        "schema": "doctor.catalogue/v1",
        "problems": matches.iter().map(|m| {
            let mut p = problem_json(m.problem, lang);
            if let Value::Object(o) = &mut p {
                o.insert("score".into(), json!((m.score * 100.0).round() / 100.0));
                o.insert("matched".into(), json!(m.matched));
            }
            p
        }).collect::<Vec<_>>(),
    })
}

pub fn list_text(problems: &[&Problem], lang: Lang) -> String {
    let mut s = String::new();
    let mut area = "";
    for p in problems {
        if p.area != area {
            area = &p.area;
            s.push_str(&format!("\n{area}\n"));
        }
        let ids: Vec<&str> = p.causes.iter().map(|c| c.id.as_str()).collect();
        s.push_str(&format!("  {:<8} {}\n           {}\n", p.code, p.title.get(lang), ids.join(", ")));
    }
    s.push_str(&tr(
        lang,
        "\n`doctor explain CODE` shows a problem in full; `doctor explain \"ERROR TEXT\"` finds it from an error.\n",
        "\n`doctor explain CODE` で詳細を、`doctor explain \"エラー文\"` でエラー文から該当する問題を表示します。\n",
    ));
    s.trim_start().to_string()
}

pub fn explain_text(matches: &[Match], lang: Lang) -> String {
    let mut s = String::new();
    if matches.len() > 1 {
        s.push_str(&tr(lang, "Best matches, best first:\n", "一致した問題（一致度の高い順）:\n"));
        for m in matches {
            s.push_str(&format!(
                "  {:<8} {}  ({:.0}%: {})\n",
                m.problem.code,
                m.problem.title.get(lang),
                m.score * 100.0,
                m.matched
            ));
        }
        s.push('\n');
    }
    for (i, m) in matches.iter().enumerate() {
        if i > 0 {
            s.push_str("\n────────\n\n");
        }
        s.push_str(&problem_text(m.problem, lang));
    }
    s
}

fn problem_text(p: &Problem, lang: Lang) -> String {
    let mut s = format!("{}  {}  [{}]\n\n", p.code, p.title.get(lang), p.area);
    s.push_str(&tr(lang, "Symptoms:\n", "症状:\n"));
    for sym in &p.symptoms {
        s.push_str(&format!("  - {}\n", sym.text(lang)));
    }
    s.push_str(&tr(lang, "\nCheck by hand:\n", "\n手動での確認:\n"));
    for line in p.by_hand.get(lang).trim().lines() {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str(&tr(lang, "\nCauses and remedies:\n", "\n原因と対処:\n"));
    for c in &p.causes {
        s.push_str(&format!("\n  [{}] {}\n", c.id, c.cause.get(lang).trim()));
        for line in c.remedy.get(lang).trim().lines() {
            s.push_str(&format!("      {line}\n"));
        }
        if let Some(j) = &c.judged {
            s.push_str(&tr(lang, "      How doctor decides: ", "      doctor の判定方法: "));
            s.push_str(j.get(lang).trim());
            s.push('\n');
        }
    }
    s.push_str(&tr(
        lang,
        format!("\nRun `doctor {}` to see which cause applies here.\n", cli_area(&p.area)),
        format!("\n`doctor {}` でどの原因に該当するかを診断できます。\n", cli_area(&p.area)),
    ));
    s
}

/// Every area has a command of its own (`doctor auth`, `doctor network`...).
fn cli_area(area: &str) -> &str {
    if crate::catalogue::AREAS.contains(&area) { area } else { "all" }
}
