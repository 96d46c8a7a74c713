//! Lines that fit the terminal. Prose wraps at spaces (or anywhere in Japanese, which has none);
//! a shell command wraps with ` \` so that what is pasted still runs as one command. Widths
//! count East Asian wide characters as two columns.

/// Terminal columns a text takes: East Asian wide characters take two.
pub fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Commands a remedy line may start with: such a line is wrapped as a command.
#[rustfmt::skip]
const COMMANDS: &[&str] = &[
    "docker", "psql", "redis-cli", "cd", "curl", "sudo", "export", "openssl", "kill", "ss", "grep",
    "cat", "echo", "doctor", "pg_dump", "vacuumdb", "systemctl", "journalctl", "ls", "df", "du",
    "ping", "nc", "getent", "jq", "$",
];

/// SQL and Redis statements: cut at spaces with no ` \` (whitespace is free there).
#[rustfmt::skip]
const STATEMENTS: &[&str] = &[
    "SELECT", "ALTER", "UPDATE", "CREATE", "SHOW", "SET", "VACUUM", "ANALYZE", "CONFIG", "EXPLAIN",
    "REINDEX", "WITH", "GRANT", "REVOKE", "DROP", "INSERT", "DELETE", "max_connections", "maxmemory",
];

pub fn is_command(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    COMMANDS.contains(&first) || first.contains('=') && line.contains(" docker ")
}

fn is_statement(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    STATEMENTS.contains(&first)
}

/// `text` (several lines allowed) wrapped to `width` columns, each line prefixed by `indent`.
/// Command lines continue with ` \` and four more spaces; prose continues at the indent.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if is_command(line.trim_start()) {
            out.extend(wrap_command(line, width, indent, " \\"));
        } else if is_statement(line.trim_start()) || line.starts_with([' ', '\t']) {
            // A statement, or the continuation of one (indented in the runbook): cut at spaces,
            // keeping its own indentation, with no backslash.
            let lead = &line[..line.len() - line.trim_start().len()];
            out.extend(wrap_command(line, width, &format!("{indent}{lead}"), ""));
        } else {
            out.extend(wrap_prose(line, width, indent, indent));
        }
    }
    out
}

/// One line of prose: the first line after `first`, the rest after `rest`.
pub fn wrap_prose(line: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = first.to_string();
    let mut cur_w = display_width(first);
    let mut fresh = true; // nothing but the indent on the current line
    let room = |prefix_w: usize| width.saturating_sub(prefix_w).max(10);
    for word in split_keep(line) {
        let w = display_width(word);
        let wide_word = word.chars().any(|c| char_width(c) > 1);
        if !fresh && cur_w + w > width && !word.trim().is_empty() && !wide_word {
            out.push(cur.trim_end().to_string());
            cur = rest.to_string();
            cur_w = display_width(rest);
            fresh = true;
        }
        if fresh && word.trim().is_empty() {
            if cur.len() == first.len() && out.is_empty() {
                cur.push_str(word); // leading spaces of the very first line are kept
                cur_w += w;
            }
            continue;
        }
        let wide = word.chars().any(|c| char_width(c) > 1);
        if w > room(display_width(rest)) || (wide && cur_w + w > width) {
            // A word longer than a whole line (a URL), or Japanese (no spaces, so it may break
            // anywhere): fill the line character by character.
            for c in word.chars() {
                let cw = char_width(c);
                if cur_w + cw > width && !fresh {
                    out.push(cur.trim_end().to_string());
                    cur = rest.to_string();
                    cur_w = display_width(rest);
                }
                cur.push(c);
                cur_w += cw;
                fresh = false;
            }
            continue;
        }
        cur.push_str(word);
        cur_w += w;
        fresh = false;
    }
    if !fresh || out.is_empty() {
        out.push(cur.trim_end().to_string());
    }
    out
}

/// Words and the spaces between them, in order (a space run is one item).
fn split_keep(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in s.char_indices() {
        let sp = c == ' ';
        match in_space {
            Some(prev) if prev != sp => {
                out.push(&s[start..i]);
                start = i;
            }
            _ => {}
        }
        in_space = Some(sp);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// A shell command too long for the line, cut at spaces outside quotes, continued with ` \`.
fn wrap_command(line: &str, width: usize, indent: &str, cont_mark: &str) -> Vec<String> {
    let line = line.trim_start();
    if display_width(indent) + display_width(line) <= width {
        return vec![format!("{indent}{line}")];
    }
    let cont = format!("{indent}    ");
    let mut out = Vec::new();
    let mut cur = indent.to_string();
    let mut cur_w = display_width(indent);
    let mut first = true;
    for word in shell_words(line) {
        let w = display_width(word);
        // Keep room for the " \" that ends a continued line.
        if !first && cur_w + 1 + w + cont_mark.len() > width {
            out.push(format!("{cur}{cont_mark}"));
            cur = cont.clone();
            cur_w = display_width(&cont);
            first = true;
        }
        if !first {
            cur.push(' ');
            cur_w += 1;
        }
        cur.push_str(word);
        cur_w += w;
        first = false;
    }
    out.push(cur);
    out
}

/// A command's words, a quoted string counting as part of its word.
fn shell_words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start: Option<usize> = None;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                start.get_or_insert(i);
            }
            None if c == ' ' => {
                if let Some(s) = start.take() {
                    out.push(&line[s..i]);
                }
            }
            None => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    out
}

/// `s` cut to `width` columns with an ellipsis when it is longer.
pub fn truncate(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_wraps_at_spaces_within_the_width() {
        let text = "Start it again and watch the log until it reports that the database system is ready";
        let lines = wrap(text, 40, "    ");
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(display_width(l) <= 40, "{l:?}");
            assert!(l.starts_with("    "));
        }
        assert_eq!(lines.join(" ").split_whitespace().collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn japanese_wraps_anywhere_counting_two_columns() {
        let text =
            "コンテナを再起動し、ログに準備完了と出るまで待ってください。それでも接続できない場合はポートを確認する。";
        for l in wrap(text, 30, "  ") {
            assert!(display_width(&l) <= 30, "{l:?}");
        }
    }

    #[test]
    fn a_long_command_continues_with_a_backslash_and_keeps_its_quotes() {
        let cmd = "docker exec ai-micro-postgres psql -U postgres -d authdb -c \"SELECT pid, usename, state, query FROM pg_stat_activity WHERE state = 'idle'\"";
        let lines = wrap(cmd, 60, "    ");
        assert!(lines.len() > 1);
        for l in &lines[..lines.len() - 1] {
            assert!(l.ends_with(" \\"), "{l:?}");
        }
        let joined: String =
            lines.iter().map(|l| l.trim_end_matches(" \\").trim().to_string()).collect::<Vec<_>>().join(" ");
        assert_eq!(joined, cmd, "the command is the same once joined");
        assert!(lines.iter().any(|l| l.contains("\"SELECT pid, usename")), "{lines:#?}");
    }

    #[test]
    fn truncate_adds_an_ellipsis_only_when_needed() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("a longer line", 8), "a longe…");
        assert!(display_width(&truncate("日本語の長い行です", 9)) <= 9);
    }
}
