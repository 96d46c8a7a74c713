//! The command line: clap definitions (which also drive `--help`), and `run`, which parses,
//! loads settings, dispatches to one file per command, and maps the outcome to the contract's
//! exit codes. Printing happens here and nowhere else, always through `redact::scrub`.

mod check;
mod explain;
mod manpage;
mod serve;
mod spinner;
mod stack;
mod term;
mod triage;

use crate::config::{Overrides, Settings};
use crate::redact;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  doctor all                                  every check, against the stack on this host
  doctor stack                                which container plays each role, and how it is reached
  doctor postgres --admin-url postgresql://postgres:PW@localhost:5432/postgres
  doctor redis --bigkeys                      also rank the largest keys (SCAN, read-only)
  doctor all --format json > report.json      for scripts (docs/report.schema.json); junit for CI
  doctor all --format nagios                  a Nagios/Icinga plugin: status line, perfdata, exit code
  doctor all --format prometheus > doctor.prom   for node_exporter's textfile collector
  doctor all --format markdown > incident.md  an incident report: impact, timeline, findings,
                                              remedies, the runbook's checklist
  doctor all -v --since 2h                    every row, and the whole timeline of the last 2h
  doctor explain \"FATAL: sorry, too many clients already\"
  doctor list

Configuration, strongest first: flags, environment, ./.env (--env-file), doctor.toml
(--config, DOCTOR_CONFIG, the nearest in this or a parent directory up to $HOME, else the one
in or above the compose working directory of the stack's containers), then
the stack as found on the Docker engine (any layout of the stack's specification: per-repository
compose projects, one compose file, or the runbook's names), with the services' own variables
(their containers' DATABASE_URL, POSTGRES_PASSWORD, REDIS_URL, --requirepass) and the
repositories' .env files below the current directory, and last the built-in stack (postgres on
localhost:5432, redis on localhost:6379, ...). `doctor stack` shows what was found.

Thresholds (--threshold NAME=VALUE, or [thresholds] in doctor.toml), with their defaults (the
stack's own alerting):
  slow_query=1s long_query=60s long_transaction=5m idle_connection=5m
  connections_warn=0.8 connections_crit=0.95 redis_memory_warn=0.8 redis_memory_crit=0.9
  redis_hit_rate_warn=0.8 redis_hit_rate_crit=0.6 redis_clients_warn=100 redis_clients_crit=200
  response_time_warn=500ms response_time_crit=1s in_progress_warn=100 in_progress_crit=500
  container_cpu_warn=0.8 container_memory_warn=0.8 disk_warn=0.8
  engine_disk_warn=0.85 engine_disk_crit=0.95

Exit codes: 0 all ok, 1 worst is a warning, 2 something is critical,
            3 could not tell (unknown), or the command line or configuration is wrong.
            --fail-on critical lets warnings exit 0, except under --format nagios, whose
            status word and exit code always follow the worst check.
Prometheus gauges (doctor_check_status, doctor_run_status): 0 ok, 1 warning, 2 critical,
            3 unknown, -1 skipped.
doctor only reads: it never writes to a database, never runs KEYS or CONFIG SET, and never
prints a password, token or key.
Since when, and what changed: every report carries the engine's events of the stack's
containers over --since (recreations with a new image, configuration or variables; restarts,
stops and removals by hand; exits, OOM kills, health) with each failing check's first error
line, and a change before a check's errors is the first words of its evidence. To name the
variables a recreation changed, doctor keeps what it saw of each container (names, and short
hashes of non-secret values; never a value) in $XDG_STATE_HOME/doctor/containers.json.
The Docker engine is found as the docker CLI finds it: --host, DOCKER_HOST, DOCKER_CONTEXT, the
current context of ~/.docker/config.json, else /var/run/docker.sock; ssh://[user@]host[:port] runs
`ssh HOST docker system dial-stdio` as the docker CLI does (BatchMode: keys or an agent, no prompt).";

/// `doctor --version`: the crate's version, the commit and the UTC build date (build.rs).
pub const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("DOCTOR_COMMIT"), ", built ", env!("DOCTOR_BUILD_DATE"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "doctor",
    version = VERSION,
    about = "Diagnoses the ai-micro-service stack: runs the troubleshooting runbook's checks and says which cause applies",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Output format: table (people), json (scripts), junit (CI), markdown (incident ticket),
    /// nagios (a plugin's status line with perfdata), prometheus (node_exporter textfile)
    #[arg(short = 'f', long, global = true, value_name = "FORMAT", env = "DOCTOR_FORMAT")]
    pub format: Option<String>,
    /// Language of every text: en or ja [default: DOCTOR_LANG, else from LC_ALL/LANG]
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
    /// Bound on each probe and on the whole run (5s, 500ms, 1m) [default: 5s]
    #[arg(long, global = true, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Never contact the Docker engine; container evidence is reported as unchecked
    #[arg(long, global = true)]
    pub no_docker: bool,
    /// The Docker engine to ask (unix:///path, tcp://host:port, ssh://user@host) [default: DOCKER_HOST, else
    /// DOCKER_CONTEXT, else the docker CLI's current context, else /var/run/docker.sock]
    #[arg(short = 'H', long, global = true, value_name = "ADDRESS")]
    pub host: Option<String>,
    /// Read the stack's variables from this file (repeatable; a later file wins) [default:
    /// ./.env when present; the repositories' own .env files are read too]
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Vec<PathBuf>,
    /// Stack definition and thresholds [default: DOCTOR_CONFIG, else doctor.toml in this or a
    /// parent directory, up to $HOME, else beside the stack's compose files]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Override a threshold, e.g. long_query=30s (repeatable; the list is under --help)
    #[arg(long, global = true, value_name = "NAME=VALUE")]
    pub threshold: Vec<String>,
    /// Run again until nothing is critical or this time is up (CI after `docker compose up`)
    #[arg(long, global = true, value_name = "DURATION")]
    pub wait: Option<String>,
    /// Also print each probe step and its timing (to stderr) and expand every check
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print only the summary line
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// How far back to look: container logs for the runbook's error texts [default: 10m], the
    /// engine's events for the timeline [default: 24h]
    #[arg(long, global = true, value_name = "DURATION")]
    pub since: Option<String>,
    /// At most this many recent log lines per container [default: 1000]
    #[arg(long, global = true, value_name = "N")]
    pub tail: Option<u32>,
    /// Report only these checks (comma-separated codes, e.g. PG001,RD001)
    #[arg(long, global = true, value_name = "CODE,...")]
    pub only: Vec<String>,
    /// Report these checks as skipped (comma-separated codes)
    #[arg(long, global = true, value_name = "CODE,...")]
    pub skip: Vec<String>,
    /// Lowest status that makes the exit code non-zero: warning (default) or critical
    #[arg(long, global = true, value_name = "STATUS")]
    pub fail_on: Option<String>,
    /// Where the stack's published ports are when doctor is not on the engine's host (`docker`
    /// under GitLab's dind) [default: DOCTOR_SERVICE_HOST, doctor.toml service_host, else the
    /// host of a tcp:// or ssh:// engine, else this host]
    #[arg(long, global = true, value_name = "HOST")]
    pub service_host: Option<String>,
    /// Write what was gathered (redacted) to FILE, to attach to a bug report
    #[arg(long, global = true, value_name = "FILE")]
    pub dump_facts: Option<PathBuf>,
    /// Diagnose from facts written by --dump-facts instead of asking the stack (offline replay)
    #[arg(long, global = true, value_name = "FILE")]
    pub facts: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every check, all at once: Docker, PostgreSQL, Redis, auth, APIs, frontends, network, performance
    All,
    /// Docker: the engine and every container of the stack at a glance
    Docker,
    /// Networking: the problems come from the registry
    Network,
    /// PostgreSQL: the problems come from the registry
    Postgres(PostgresArgs),
    /// Redis: the problems come from the registry
    Redis(RedisArgs),
    /// auth-service: the problems come from the registry
    Auth(AuthArgs),
    /// user-api and admin-api: the problems come from the registry
    Api(ApiArgs),
    /// The frontends: the problems come from the registry
    Frontend,
    /// Performance: the problems come from the registry
    Perf(PerfArgs),
    /// The stack as found: which container plays each role and how it was found, its address
    /// from this host and from the other containers, where its credentials come from
    Stack {
        /// Write a commented doctor.toml that pins what was found, for a person to edit
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
    },
    /// Explain a problem code (PG002), a cause id (idle-connections) or an error text, offline
    Explain {
        /// The code, cause id or error text (quote it, or pass it as several words)
        #[arg(required = true, num_args = 1.., value_name = "CODE|TEXT")]
        query: Vec<String>,
    },
    /// Map log lines to problem codes: a file, `-` for stdin, or containers' recent logs
    Triage {
        /// A log file, or `-` to read standard input
        #[arg(value_name = "FILE|-")]
        file: Option<String>,
        /// Read this container's recent logs (repeatable; see --since and --tail)
        #[arg(long, value_name = "NAME")]
        container: Vec<String>,
    },
    /// Serve /metrics (Prometheus text) and /healthz (200 or 503) from a cached run of `all`,
    /// refreshed at most every --interval however many requests come; read-only like every run
    Serve {
        /// Where to listen: HOST:PORT (an IP address), :PORT or PORT (a port alone binds to 127.0.0.1)
        #[arg(long, value_name = "ADDR", default_value = serve::DEFAULT_LISTEN)]
        listen: String,
        /// The least time between two runs of the checks
        #[arg(long, value_name = "DURATION", default_value = "30s")]
        interval: String,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) or the man page (man)
    Completions {
        #[arg(value_name = "SHELL|man")]
        shell: String,
    },
    /// List every problem doctor knows, with its cause ids
    List {
        /// Only this area (docker, postgres, redis, auth, api, frontend, network, perf)
        area: Option<String>,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct PostgresArgs {
    /// The application's connection [default: DATABASE_URL, else postgres@localhost:5432/authdb]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A superuser connection, used for pg_stat_activity even when normal slots are full
    /// [default: user postgres with POSTGRES_PASSWORD on the same host]
    #[arg(long, value_name = "URL")]
    pub admin_url: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct AuthArgs {
    /// auth-service base URL [default: http://localhost:8002, or doctor.toml]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Also inspect and verify this access token against the live JWKS (`-` reads stdin)
    #[arg(long, value_name = "JWT|-")]
    pub token: Option<String>,
    /// Also trace the refresh token a failing refresh sent: a JWT's exp, its
    /// blacklist:refresh:<jti> entry and its session:<sub>:<sid> in Redis; an opaque token's
    /// row in refresh_tokens and refresh_token:* key (`-` reads stdin; or set
    /// DOCTOR_REFRESH_TOKEN). Never printed
    #[arg(long, value_name = "TOKEN|-")]
    pub refresh_token: Option<String>,
    /// Try a login with credentials read from stdin (two lines: user name, password).
    /// Or set DOCTOR_LOGIN_USERNAME and DOCTOR_LOGIN_PASSWORD; never on the command line.
    #[arg(long)]
    pub login_stdin: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ApiArgs {
    /// Also look up this user's profile: the row in apidb's profiles and its cache:profile:<ID> (or profile:<ID>) cache
    /// entry in Redis (present, TTL, stale against the row). Values are compared, never printed
    #[arg(long, value_name = "ID")]
    pub user_id: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PerfArgs {
    /// Sample every container's memory for this long (e.g. 30s, from 2s to 1h) and report how
    /// fast it grows and when it would reach its limit at that rate; the run lasts this much
    /// longer than --timeout
    #[arg(long, value_name = "DURATION")]
    pub sample: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RedisArgs {
    /// [default: REDIS_URL, else redis://localhost:6379 with REDIS_PASSWORD]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Also rank the largest keys by memory (SCAN with pipelined TYPE/MEMORY USAGE/TTL; read-only)
    #[arg(long)]
    pub bigkeys: bool,
    /// With --bigkeys: stop after this many keys
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    pub max_keys: u64,
    /// With --bigkeys: keys asked for per SCAN round trip (at most 256 when the scan runs as a
    /// read-only EVAL_RO script inside Redis 7+, so that one batch never blocks other clients long)
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub scan_count: u32,
    /// With --bigkeys: stop scanning after this long
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub scan_time: String,
}

/// Writes a text to stdout after removing every secret. A closed pipe is not an error.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(redact::scrub(text).as_bytes());
    let _ = o.flush();
}

/// Writes a JSON value to stdout, each of its strings scrubbed first (so it stays valid JSON).
pub fn out_json(mut v: serde_json::Value) {
    redact::scrub_json(&mut v);
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

/// A one-line message on stderr, secrets removed.
pub fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "doctor: {}", redact::scrub(text));
}

/// Completions and the man page, generated from the same definitions as `--help`.
fn completions(shell: &str) -> i32 {
    let mut cmd = command();
    if shell == "man" {
        let Ok(buf) = manpage::render(cmd) else {
            return 3;
        };
        out(&String::from_utf8_lossy(&buf));
        return 0;
    }
    let Ok(sh) = shell.parse::<clap_complete::Shell>() else {
        err(&format!("unknown shell {shell:?}: use bash, zsh, fish, elvish, powershell, or man for the man page"));
        return 3;
    };
    let mut buf = Vec::new();
    clap_complete::generate(sh, &mut cmd, "doctor", &mut buf);
    out(&String::from_utf8_lossy(&buf));
    0
}

/// The clap command, each check command's help listing its problems from the registry (so a
/// problem added there is in `--help`, the completions and the man page with no edit here).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    for area in crate::catalogue::Area::ALL {
        let problems: Vec<String> = crate::problems::registry::ALL
            .iter()
            .filter(|p| p.areas.contains(area))
            .filter_map(|p| crate::catalogue::get(p.code))
            .map(|p| {
                let title = p.title.en.as_str();
                format!("{} {}", p.code, title.split_once(": ").map_or(title, |(_, t)| t))
            })
            .collect();
        if problems.is_empty() {
            continue;
        }
        cmd = cmd.mut_subcommand(area.as_str(), |sub| {
            let lead = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let lead = lead.split_once(": ").map_or(lead.as_str(), |(l, _)| l).to_string();
            sub.about(format!("{lead}: {}", problems.join(", ")))
        });
    }
    cmd
}

/// Parses the command line and runs it; returns the exit code.
pub fn run() -> i32 {
    let code = run_command();
    // ssh:// engines: their bridges' sessions and private directories end with doctor.
    crate::probe::docker::ssh::shutdown();
    code
}

fn run_command() -> i32 {
    use clap::FromArgMatches;
    let parsed = command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { 3 } else { 0 }
                }
                _ => {
                    let _ = e.print();
                    3
                }
            };
        }
    };
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let g = &cli.global;
    let overrides = Overrides {
        lang: g.lang.clone(),
        format: g.format.clone(),
        timeout: g.timeout.clone(),
        no_docker: g.no_docker,
        env_file: g.env_file.clone(),
        config: g.config.clone(),
        docker_host: g.host.clone(),
        thresholds: g.threshold.clone(),
        verbose: g.verbose,
        quiet: g.quiet,
        since: g.since.clone(),
        tail: g.tail,
        only: g.only.clone(),
        skip: g.skip.clone(),
        fail_on: g.fail_on.clone(),
        service_host: g.service_host.clone(),
    };
    let settings = match Settings::load(&overrides, &env, &cwd) {
        Ok(s) => s,
        Err(e) => {
            err(&e);
            return 3;
        }
    };
    for name in redact::weak_secret_names() {
        err(&format!(
            "{name} is a common word, so it can be hidden only where it stands as a password; choose a real password"
        ));
    }
    if let Command::Completions { shell } = &cli.command {
        return completions(shell);
    }
    // An engine address doctor cannot use is the user's setting doctor lacks: one line, exit 3,
    // before any check could blame it.
    let asks_engine = !matches!(cli.command, Command::Explain { .. } | Command::List { .. })
        && !matches!(&cli.command, Command::Triage { container, .. } if container.is_empty());
    if asks_engine
        && !settings.no_docker
        && g.facts.is_none()
        && let Err(e) = &settings.engine
    {
        let _ = writeln!(std::io::stderr().lock(), "{}", redact::scrub(&e.to_string()));
        return 3;
    }
    // No doctor.toml named or found upwards: the one beside the stack's compose files, if any.
    let settings = if asks_engine && !settings.no_docker && g.facts.is_none() && settings.config_file.is_none() {
        match compose_config(&settings) {
            None => settings,
            Some(path) => {
                let o = Overrides { config: Some(path), ..overrides };
                match Settings::load(&o, &env, &cwd) {
                    Ok(s) => Settings { config_via: Some("compose-working-dir"), ..s },
                    Err(e) => {
                        err(&e);
                        return 3;
                    }
                }
            }
        }
    } else {
        settings
    };
    match &cli.command {
        Command::Completions { .. } => 0,
        Command::Stack { write_config } => stack::run(&settings, write_config.as_deref()),
        Command::Serve { listen, interval } => serve::run(&settings, listen, interval),
        Command::Explain { query } => explain::explain(&query.join(" "), &settings),
        Command::List { area } => explain::list(area.as_deref(), &settings),
        Command::All => check::run(&settings, g, check::Target::All),
        Command::Docker => check::run(&settings, g, check::Target::Docker),
        Command::Network => check::run(&settings, g, check::Target::Network),
        Command::Triage { file, container } => triage::run(file.as_deref(), container, &settings),
        Command::Postgres(a) => check::run(&settings, g, check::Target::Postgres(a.clone())),
        Command::Redis(a) => check::run(&settings, g, check::Target::Redis(a.clone())),
        Command::Auth(a) => check::run(&settings, g, check::Target::Auth(a.clone())),
        Command::Api(a) => check::run(&settings, g, check::Target::Api(a.clone())),
        Command::Frontend => check::run(&settings, g, check::Target::Frontend),
        Command::Perf(a) => check::run(&settings, g, check::Target::Perf(a.clone())),
    }
}

/// The doctor.toml in (or above) the compose working directory of the stack's containers, by
/// one container list under the discovery budget.
fn compose_config(s: &Settings) -> Option<PathBuf> {
    let cfg = crate::run::docker_config(s);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let budget = (s.timeout / 2).min(std::time::Duration::from_secs(2));
    let dirs = rt.block_on(crate::probe::docker_discover::working_dirs(&cfg, tokio::time::Instant::now() + budget));
    crate::config::in_working_dirs(&dirs, s.var("HOME").map(std::path::Path::new))
}
