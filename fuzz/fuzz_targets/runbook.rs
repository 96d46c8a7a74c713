//! Runbook TOML (`runbooks/*.toml`, the format a contributor edits): `runbook::Problem::parse`,
//! then what every consumer does with a parsed problem: its texts in both languages, cause
//! lookup, the log matcher (`triage::Matcher::new`) and `explain::search` over a catalogue made
//! of it. Also `catalogue::get` on the text as a code.
#![no_main]

use doctor::lang::Lang;
use doctor::runbook::Problem;
use doctor::{catalogue, explain, triage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = catalogue::get(&s);
    match Problem::parse("fuzz.toml", &s) {
        Ok(p) => {
            for lang in [Lang::En, Lang::Ja] {
                let _ = p.title.get(lang);
                let _ = p.by_hand.get(lang);
                for sym in &p.symptoms {
                    let _ = sym.text(lang);
                    let _ = sym.wordings();
                }
            }
            for c in &p.causes {
                assert!(p.cause(&c.id).is_some());
            }
            let one = [p];
            let m = triage::Matcher::new(&one);
            for sym in &one[0].symptoms {
                for w in sym.wordings() {
                    if let Some((_, _, score)) = m.match_line(w) {
                        assert!(score.is_finite());
                    }
                    let _ = explain::search(&one, w);
                }
            }
            let _ = explain::search(&one, &one[0].code);
            let _ = explain::search(&one, "FATAL: sorry, too many clients already");
        }
        Err(e) => {
            // Errors name the source (and the line when known).
            assert!(e.starts_with("fuzz.toml"), "{e}");
        }
    }
});
