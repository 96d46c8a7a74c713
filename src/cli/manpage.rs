//! The man page: clap_mangen's sections for the top command, but its own COMMANDS section.
//! clap_mangen's SUBCOMMANDS section refers to `doctor-all(1)`, `doctor-docker(1)`, … pages
//! that are never generated (one page ships, in the release archive and the `.deb`), so this
//! one names each command as it is typed (`doctor all`) with its summary, and points to
//! `doctor COMMAND --help` for the options, which is where they are.

use std::io::Write;

/// The whole page as roff.
pub fn render(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut w = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    man.render_options_section(&mut w)?;
    commands_section(&cmd, &mut w)?;
    man.render_extra_section(&mut w)?;
    man.render_version_section(&mut w)?;
    Ok(w)
}

/// `.SH COMMANDS`: one tagged paragraph per visible subcommand, no page references.
fn commands_section(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        writeln!(w, ".TP")?;
        writeln!(w, "\\fB{} {}\\fR", escape(cmd.get_name()), escape(sub.get_name()))?;
        if let Some(about) = sub.get_about().or_else(|| sub.get_long_about()) {
            for line in about.to_string().lines() {
                writeln!(w, "{}", escape(line))?;
            }
        }
    }
    writeln!(w, ".PP")?;
    writeln!(w, "Each command's options: \\fB{} COMMAND \\-\\-help\\fR.", escape(cmd.get_name()))
}

/// Text made safe for a roff line: backslashes and hyphens escaped, a leading control
/// character neutralised.
fn escape(text: &str) -> String {
    let body = text.replace('\\', "\\e").replace('-', "\\-");
    if body.starts_with('.') || body.starts_with('\'') { format!("\\&{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escaping_keeps_control_characters_out_of_line_starts() {
        assert_eq!(escape(".env is read"), "\\&.env is read");
        assert_eq!(escape("a\\b --x"), "a\\eb \\-\\-x");
    }

    #[test]
    fn the_page_names_commands_as_typed_and_refers_to_no_other_page() {
        let page = String::from_utf8(render(crate::cli::command()).unwrap()).unwrap();
        assert!(page.contains(".SH COMMANDS"), "{page}");
        assert!(page.contains("\\fBdoctor all\\fR"), "{page}");
        assert!(page.contains("\\fBdoctor explain\\fR"), "{page}");
        assert!(!page.contains("doctor-all(1)") && !page.contains("(1)\n"), "{page}");
        assert!(page.contains(".SH OPTIONS") && page.contains(".SH VERSION"), "{page}");
    }
}
