//! `doctor stack` for people: the engine and layout on one line, then one row per role: the
//! container and how it was found, its address from this host and from the other containers,
//! and where its credentials come from (the source, never the value).

use super::Style;
use crate::lang::Lang;
use crate::stack::Stack;

pub fn table(s: &Stack, lang: Lang, style: Style) -> String {
    let ja = lang == Lang::Ja;
    let mut out = if ja {
        format!("doctor stack · エンジン: {} · レイアウト: {}\n", s.engine, s.layout)
    } else {
        format!("doctor stack · engine: {} · layout: {}\n", s.engine, s.layout)
    };
    out.push_str(&origin(s, ja));
    let mut t = super::table::new_table(style);
    t.set_header(if ja {
        vec!["役割", "コンテナ", "発見方法", "このホストから", "他のコンテナから", "認証情報"]
    } else {
        vec!["role", "container", "found by", "from this host", "from the containers", "credentials"]
    });
    for m in &s.services {
        let container = match (&m.container, m.running) {
            (Some(c), Some(false)) => format!("{c} ({})", if ja { "停止中" } else { "not running" }),
            (Some(c), _) => c.clone(),
            (None, _) if m.optional => if ja { "—（任意）" } else { "— (optional)" }.to_string(),
            (None, _) => if ja { "— 見つからない" } else { "— not found" }.to_string(),
        };
        let found = m.found_by.clone().unwrap_or_default();
        let host = match &m.host_url {
            Some(u) if style.verbose && !m.host_url_from.is_empty() => format!("{u}\n{}", m.host_url_from),
            Some(u) => u.clone(),
            None => String::new(),
        };
        let creds = if m.credentials_detail.is_empty() || !style.verbose {
            m.credentials_from.clone()
        } else {
            format!("{}: {}", m.credentials_from, m.credentials_detail)
        };
        t.add_row(vec![m.role.clone(), container, found, host, m.container_url.clone().unwrap_or_default(), creds]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    for m in s.services.iter().filter(|m| m.container.is_none() && !m.optional) {
        let why = m.why.as_deref().unwrap_or("");
        out.push_str(&if ja {
            format!("見つからない {}: {why}\n", m.role)
        } else {
            format!("not found, {}: {why}\n", m.role)
        });
    }
    if !s.env_files.is_empty() {
        out.push_str(if ja { "読んだ .env: " } else { ".env files read: " });
        out.push_str(&s.env_files.join(", "));
        out.push('\n');
    }
    for n in &s.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

pub fn markdown(s: &Stack, lang: Lang) -> String {
    let ja = lang == Lang::Ja;
    let mut out = format!("# doctor stack\n\n- engine: {}\n- layout: {}\n", s.engine, s.layout);
    for line in origin(s, ja).lines() {
        out.push_str(&format!("- {line}\n"));
    }
    out.push('\n');
    out.push_str(if ja {
        "| 役割 | コンテナ | 発見方法 | このホストから | 他のコンテナから | 認証情報 |\n"
    } else {
        "| role | container | found by | from this host | from the containers | credentials |\n"
    });
    out.push_str("|---|---|---|---|---|---|\n");
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    for m in &s.services {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            m.role,
            cell(m.container.as_deref().unwrap_or("—")),
            cell(&m.found_by.clone().or_else(|| m.why.clone()).unwrap_or_default()),
            cell(&format!("{} {}", m.host_url.as_deref().unwrap_or(""), m.host_url_from)),
            cell(m.container_url.as_deref().unwrap_or("")),
            cell(&m.credentials_from),
        ));
    }
    out
}

/// Where the engine's address and the configuration came from, one line each.
fn origin(s: &Stack, ja: bool) -> String {
    let ctx = s.context.as_deref().unwrap_or("?");
    let from = match (s.engine_source.as_str(), ja) {
        ("flag", false) => "--host".to_string(),
        ("flag", true) => "--host で指定".to_string(),
        ("docker-host", false) => "DOCKER_HOST".to_string(),
        ("docker-host", true) => "DOCKER_HOST で指定".to_string(),
        ("docker-context", false) => format!("docker context {ctx} (DOCKER_CONTEXT)"),
        ("docker-context", true) => format!("docker コンテキスト {ctx}（DOCKER_CONTEXT）"),
        ("current-context", false) => format!("docker context {ctx} (current in ~/.docker/config.json)"),
        ("current-context", true) => format!("docker コンテキスト {ctx}（~/.docker/config.json の現在のコンテキスト）"),
        ("", _) => return String::new(),
        (_, false) => "the default socket".to_string(),
        (_, true) => "既定のソケット".to_string(),
    };
    let beside = s.config_via.as_deref() == Some("compose-working-dir");
    let cfg = match (&s.config_file, ja) {
        (Some(p), false) if beside => format!("configuration: {p} (beside the stack's compose files)"),
        (Some(p), true) if beside => format!("設定ファイル: {p}（スタックの compose ファイルの場所で見つけた）"),
        (Some(p), false) => format!("configuration: {p}"),
        (Some(p), true) => format!("設定ファイル: {p}"),
        (None, false) => "configuration: none (no doctor.toml here or above)".to_string(),
        (None, true) => "設定ファイル: なし（このディレクトリにも上位にも doctor.toml がない）".to_string(),
    };
    let lang = if ja { crate::lang::Lang::Ja } else { crate::lang::Lang::En };
    let away = match &s.away {
        Some(a) if ja => format!("エンジンのホスト外で実行: {}\n", crate::problems::away::why(a).render(lang)),
        Some(a) => format!("not on the engine's host: {}\n", crate::problems::away::why(a).render(lang)),
        None => String::new(),
    };
    if ja {
        format!("エンジンの指定元: {from}\n{cfg}\n{away}")
    } else {
        format!("engine chosen by: {from}\n{cfg}\n{away}")
    }
}
