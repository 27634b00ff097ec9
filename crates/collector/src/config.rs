//! Command-line flags, each with an environment fallback, so the same binary
//! runs from a shell, a test harness (flags) or a container (env).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the collector needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where to listen; port 0 picks a free port (tests parse the listening line).
    pub addr: SocketAddr,
    /// Holds `touchpoint.db`; created if missing.
    pub data_dir: PathBuf,
    /// Every `*.json` in it is a survey definition, validated at startup.
    pub surveys_dir: PathBuf,
    /// Served at `/` when it exists (the demo host page).
    pub www_dir: PathBuf,
    /// Served at `/pkg/` (the widget build with its plain names) when there is no `dist_dir`.
    pub pkg_dir: PathBuf,
    /// The widget as built for serving (`scripts/build.sh` writes `./dist`): its
    /// `touchpoint.js` (the loader naming the content-hashed entry) is served at
    /// `/touchpoint.js` and its `pkg/` at `/pkg/`, instead of `www_dir`'s loader and `pkg_dir`.
    pub dist_dir: Option<PathBuf>,
    /// Seconds a browser may reuse a static file with a stable name (the loader,
    /// the pages) before asking again; content-hashed files are immutable.
    pub max_age: u32,
    /// Development: every static file is `Cache-Control: no-cache`.
    pub dev: bool,
    /// The projects file (see [`crate::projects`]); `None` runs the demo project.
    pub projects_file: Option<PathBuf>,
    /// The checklists file (see [`crate::checklists`]), which must then exist;
    /// `None` reads [`DEFAULT_CHECKLISTS_FILE`] if it exists and runs without
    /// checklists if it does not.
    pub checklists_file: Option<PathBuf>,
    /// Folder of help articles (`*.md`), which must then exist; `None` reads
    /// `./help` if it exists.
    pub help_dir: Option<PathBuf>,
    /// The automations file (see [`crate::automations`]); `None`: no automations.
    pub automations_file: Option<PathBuf>,
    /// The targeting file (see [`crate::targeting`]); `None`: no survey shows on its own.
    pub targeting_file: Option<PathBuf>,
    /// Where emails are written as `.eml` files; `None`: `<data_dir>/outbox`.
    pub email_outbox: Option<PathBuf>,
    /// A `postgres://` URL: store in Postgres instead of `<data_dir>/touchpoint.db`.
    pub database_url: Option<String>,
    /// The accounts file (tiers, health, stages, routing; see [`crate::accounts`]),
    /// which must then exist; `None` reads `./accounts.json` if it exists.
    pub accounts_file: Option<PathBuf>,
    /// Connections, timeouts and per-client limits (see [`crate::limits`]).
    pub limits: crate::limits::ServerLimits,
    /// Serve the demo project (whose secret is in the source) on an address other than loopback.
    pub demo: bool,
    /// Publish the content files into every project at startup ([`crate::content::import`]).
    pub import_content: bool,
    /// How the log lines on stderr are written.
    pub log_format: crate::observe::LogFormat,
}

/// `--max-age` when none is given: how long after a deploy a returning browser may still run the previous widget.
pub const DEFAULT_MAX_AGE: u32 = 300;

/// Read when no `--checklists` is given, if present.
pub const DEFAULT_CHECKLISTS_FILE: &str = "./checklists.json";

impl Config {
    /// Where automation emails go.
    pub fn email_outbox_dir(&self) -> PathBuf {
        self.email_outbox.clone().unwrap_or_else(|| self.data_dir.join("outbox"))
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
            data_dir: "./data".into(),
            surveys_dir: "./surveys".into(),
            www_dir: "./www".into(),
            pkg_dir: "./pkg".into(),
            dist_dir: None,
            max_age: DEFAULT_MAX_AGE,
            dev: false,
            projects_file: None,
            checklists_file: None,
            help_dir: None,
            automations_file: None,
            targeting_file: None,
            email_outbox: None,
            database_url: None,
            accounts_file: None,
            limits: crate::limits::ServerLimits::default(),
            demo: false,
            import_content: false,
            log_format: crate::observe::LogFormat::Text,
        }
    }
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
// Made once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Run(Config),
    Help,
    /// `types --projects FILE [--key PUBLIC_KEY]`: print TypeScript
    /// declarations of a project's declared events (see `touchpoint_core::events`).
    Types {
        projects: PathBuf,
        key: Option<String>,
    },
    /// `conformance <url> [--key K] [--origin O] [--rate-batches N]`: probe an
    /// events endpoint against the contract the widget relies on.
    Conformance(crate::conformance::Options),
    /// `push <dir> --url URL [--secret-key KEY] [--by NAME] [--overwrite]`:
    /// publish a folder's content files into the project of the secret key.
    Push(crate::content::push::PushOptions),
    /// `lint <dir> [--projects FILE]`: check every content file of a folder.
    Lint {
        dir: PathBuf,
        projects: Option<PathBuf>,
    },
}

#[derive(Debug, PartialEq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n\n{}", self.0, usage())
    }
}

impl std::error::Error for ConfigError {}

/// (flag, environment variable, help), in the order `--help` lists them.
const FLAGS: [(&str, &str, &str); 21] = [
    ("--addr", "TOUCHPOINT_ADDR", "address to listen on [default: 127.0.0.1:8787; port 0 = any free port]"),
    ("--data-dir", "TOUCHPOINT_DATA_DIR", "directory of the SQLite file touchpoint.db [default: ./data]"),
    ("--surveys-dir", "TOUCHPOINT_SURVEYS_DIR", "survey definitions, one *.json each [default: ./surveys]"),
    ("--www-dir", "TOUCHPOINT_WWW_DIR", "served at / if it exists [default: ./www]"),
    (
        "--pkg-dir",
        "TOUCHPOINT_PKG_DIR",
        "the widget build with plain names, served at /pkg/ without --dist-dir [default: ./pkg]",
    ),
    (
        "--dist-dir",
        "TOUCHPOINT_DIST_DIR",
        "the widget as built for serving (scripts/build.sh writes ./dist): its touchpoint.js is served at \
         /touchpoint.js and its pkg/ (content-hashed, precompressed) at /pkg/ [default: none, the loader \
         from --www-dir and /pkg/ from --pkg-dir]",
    ),
    (
        "--max-age",
        "TOUCHPOINT_MAX_AGE",
        "seconds a browser may reuse a static file with a stable name (the loader, pages) before asking \
         again with If-None-Match; content-hashed files are cached for a year as immutable [default: 300]",
    ),
    (
        "--projects",
        "TOUCHPOINT_PROJECTS",
        "JSON file of projects: keys, allowed origins, rate limits \
         [default: the demo project pk_demo / sk_demo, any origin]",
    ),
    (
        "--checklists",
        "TOUCHPOINT_CHECKLISTS",
        "JSON file of onboarding checklists and segments; must exist if given \
         [default: ./checklists.json, none if that file is missing]",
    ),
    (
        "--help-dir",
        "TOUCHPOINT_HELP_DIR",
        "folder of help articles (*.md with front matter); must exist if given \
         [default: ./help, none if that folder is missing]",
    ),
    (
        "--automations",
        "TOUCHPOINT_AUTOMATIONS",
        "JSON file of automation rules (webhooks, emails, cases); must exist if given \
         [default: no automations]",
    ),
    (
        "--targeting",
        "TOUCHPOINT_TARGETING",
        "JSON file saying which surveys show on their own, to whom, where and how often; must exist if given \
         [default: none, surveys show only when the page calls showSurvey]",
    ),
    (
        "--email-outbox",
        "TOUCHPOINT_EMAIL_OUTBOX",
        "folder where automation emails are written as .eml files (no SMTP) [default: <data-dir>/outbox]",
    ),
    (
        "--database-url",
        "DATABASE_URL",
        "postgres://user:password@host:port/db to store in Postgres [default: SQLite in --data-dir]",
    ),
    (
        "--accounts",
        "TOUCHPOINT_ACCOUNTS",
        "JSON file of account tiers, health score weights, lifecycle stages and routing rules; must exist if \
         given [default: ./accounts.json, none if that file is missing]",
    ),
    (
        "--header-timeout-ms",
        "TOUCHPOINT_HEADER_TIMEOUT_MS",
        "a connection that has not sent a whole request head within this time is closed (also an idle \
         keep-alive connection) [default: 10000]",
    ),
    (
        "--body-timeout-ms",
        "TOUCHPOINT_BODY_TIMEOUT_MS",
        "a request body not received in full within this time is answered 408 [default: 30000]",
    ),
    (
        "--max-connections",
        "TOUCHPOINT_MAX_CONNECTIONS",
        "connections served at once; further ones wait in the listen queue [default: 4096]",
    ),
    (
        "--client-ip-header",
        "TOUCHPOINT_CLIENT_IP_HEADER",
        "behind a load balancer: the header it sets to the client's address (e.g. X-Forwarded-For, whose last \
         entry is taken); never trust it otherwise [default: none, the socket's peer address]",
    ),
    ("--log-format", "TOUCHPOINT_LOG_FORMAT", "text or json (one JSON object per line on stderr) [default: text]"),
    (
        "--drain-ms",
        "TOUCHPOINT_DRAIN_MS",
        "after SIGTERM, how long /readyz answers 503 while requests are still served, so a load balancer \
         stops sending any before the listener closes [default: 0]",
    ),
];

/// Flags without a value: (flag, environment variable, help). The variable is
/// on with `1`/`true`/`yes`, off with `0`/`false`/`no` or empty.
const SWITCHES: [(&str, &str, &str); 3] = [
    (
        "--dev",
        "TOUCHPOINT_DEV",
        "development: every static file is Cache-Control: no-cache, so a rebuilt widget or an edited page \
         shows on the next load",
    ),
    (
        "--demo",
        "TOUCHPOINT_DEMO",
        "serve the demo project (pk_demo / sk_demo, any origin) without --projects even on an address other \
         than loopback; without it the collector refuses to start there",
    ),
    (
        "--import-content",
        "TOUCHPOINT_IMPORT_CONTENT",
        "publish the surveys, checklists, help and targeting files into every project at startup, as `push` \
         would: what changed since is published, an edit made in the dashboard is never overwritten (the import \
         into that project is refused with a log line naming it)",
    ),
];

fn switch_from_env(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "" | "0" | "false" | "no" => Ok(false),
        _ => Err(ConfigError(format!("{var}={value:?}: use 1 (on) or 0 (off)"))),
    }
}

impl Command {
    fn parse_push(
        mut args: impl Iterator<Item = String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Command, ConfigError> {
        let (mut dir, mut url, mut secret, mut by, mut overwrite) = (None, None, None, None, false);
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                "--url" => &mut url,
                "--secret-key" => &mut secret,
                "--by" => &mut by,
                "--overwrite" => {
                    overwrite = true;
                    continue;
                }
                other if !other.starts_with('-') && dir.is_none() => {
                    dir = Some(arg);
                    continue;
                }
                other => return Err(ConfigError(format!("push: unknown argument {other:?}"))),
            };
            *slot = Some(args.next().ok_or_else(|| ConfigError(format!("push: {arg} needs a value")))?);
        }
        let dir = dir.ok_or_else(|| ConfigError("push: the folder to push is required".into()))?;
        let url = url.or_else(|| env("TOUCHPOINT_URL")).ok_or_else(|| {
            ConfigError("push: --url (or TOUCHPOINT_URL) is required: the collector to publish to".into())
        })?;
        let secret_key = secret.or_else(|| env("TOUCHPOINT_SECRET_KEY")).ok_or_else(|| {
            ConfigError("push: the project's secret key is required: TOUCHPOINT_SECRET_KEY (or --secret-key)".into())
        })?;
        Ok(Command::Push(crate::content::push::PushOptions { dir: dir.into(), url, secret_key, by, overwrite }))
    }

    fn parse_lint(mut args: impl Iterator<Item = String>) -> Result<Command, ConfigError> {
        let (mut dir, mut projects) = (None, None);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--projects" => {
                    projects = Some(args.next().ok_or_else(|| ConfigError("lint: --projects needs a value".into()))?)
                }
                other if !other.starts_with('-') && dir.is_none() => dir = Some(arg),
                other => return Err(ConfigError(format!("lint: unknown argument {other:?}"))),
            }
        }
        let dir = dir.ok_or_else(|| ConfigError("lint: the folder to check is required".into()))?;
        Ok(Command::Lint { dir: dir.into(), projects: projects.map(PathBuf::from) })
    }

    fn parse_types(mut args: impl Iterator<Item = String>) -> Result<Command, ConfigError> {
        let (mut projects, mut key) = (None, None);
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                "--projects" => &mut projects,
                "--key" => &mut key,
                other => return Err(ConfigError(format!("types: unknown argument {other:?}"))),
            };
            *slot = Some(args.next().ok_or_else(|| ConfigError(format!("types: {arg} needs a value")))?);
        }
        let projects = projects.ok_or_else(|| ConfigError("types: --projects FILE is required".into()))?;
        Ok(Command::Types { projects: projects.into(), key })
    }

    fn parse_conformance(mut args: impl Iterator<Item = String>) -> Result<Command, ConfigError> {
        let (mut url, mut key, mut origin, mut batches) = (None, None, None, None);
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                "--key" => &mut key,
                "--origin" => &mut origin,
                "--rate-batches" => &mut batches,
                other if !other.starts_with('-') && url.is_none() => {
                    url = Some(arg);
                    continue;
                }
                other => return Err(ConfigError(format!("conformance: unknown argument {other:?}"))),
            };
            *slot = Some(args.next().ok_or_else(|| ConfigError(format!("conformance: {arg} needs a value")))?);
        }
        let url = url.ok_or_else(|| ConfigError("conformance: the endpoint URL is required".into()))?;
        let rate_batches = match batches {
            None => 5,
            Some(n) => n
                .parse()
                .map_err(|_| ConfigError(format!("conformance: --rate-batches {n:?} is not a whole number")))?,
        };
        Ok(Command::Conformance(crate::conformance::Options {
            url,
            key: key.unwrap_or_else(|| crate::projects::DEMO_PUBLIC_KEY.into()),
            origin: origin.unwrap_or_else(|| "http://127.0.0.1".into()),
            rate_batches,
        }))
    }
}

pub fn usage() -> String {
    let mut s =
        String::from("Usage: touchpoint-collector [OPTIONS]\n\nOptions (a flag wins over its environment variable):\n");
    for (flag, env, help) in FLAGS {
        s.push_str(&format!("  {flag} <value>  [env: {env}]\n      {help}\n"));
    }
    for (flag, env, help) in SWITCHES {
        s.push_str(&format!("  {flag}  [env: {env}=1]\n      {help}\n"));
    }
    s.push_str("  -h, --help\n      print this help\n");
    s.push_str(
        "\nUsage: touchpoint-collector types --projects FILE [--key PUBLIC_KEY]\n      \
         print TypeScript declarations of the project's declared events (to check track() calls with tsc)\n\
         \nUsage: touchpoint-collector conformance URL [--key PUBLIC_KEY] [--origin ORIGIN] [--rate-batches N]\n      \
         check that an events endpoint (ours or a host's own) keeps the contract the widget relies on\n\
         \nUsage: touchpoint-collector push DIR --url URL [--by NAME] [--overwrite]   (secret key: TOUCHPOINT_SECRET_KEY)\n      \
         publish DIR's surveys/, checklists.json, help/ and targeting.json into the key's project; refuses, naming\n      \
         them, to overwrite edits made in the dashboard unless --overwrite\n\
         \nUsage: touchpoint-collector lint DIR [--projects FILE]\n      \
         check every content file of DIR as the collector would; exits 1 if any has a problem\n",
    );
    s
}

impl Command {
    /// Flags win over the environment, which wins over defaults.
    /// `env` is a parameter so tests need not touch the process environment.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Command, ConfigError> {
        let mut args = args.into_iter().peekable();
        if args.peek().is_some_and(|a| a == "types") {
            args.next();
            return Command::parse_types(args);
        }
        if args.peek().is_some_and(|a| a == "conformance") {
            args.next();
            return Command::parse_conformance(args);
        }
        if args.peek().is_some_and(|a| a == "push") {
            args.next();
            return Command::parse_push(args, &env);
        }
        if args.peek().is_some_and(|a| a == "lint") {
            args.next();
            return Command::parse_lint(args);
        }
        let mut values: [Option<String>; FLAGS.len()] = Default::default();
        let mut switches: [Option<bool>; SWITCHES.len()] = Default::default();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(Command::Help);
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg, None),
            };
            if let Some(i) = SWITCHES.iter().position(|(flag, ..)| *flag == name) {
                if inline.is_some() {
                    return Err(ConfigError(format!("{name} takes no value")));
                }
                switches[i] = Some(true);
                continue;
            }
            let Some(i) = FLAGS.iter().position(|(flag, ..)| *flag == name) else {
                let hint = if name == "--project-key" { " (replaced by --projects FILE)" } else { "" };
                return Err(ConfigError(format!("unknown argument {name:?}{hint}")));
            };
            let value = match inline.or_else(|| args.next()) {
                Some(v) => v,
                None => return Err(ConfigError(format!("{name} needs a value"))),
            };
            values[i] = Some(value);
        }
        for (i, (_, var, _)) in FLAGS.iter().enumerate() {
            if values[i].is_none() {
                values[i] = env(var).filter(|v| !v.is_empty());
            }
        }
        for (i, (_, var, _)) in SWITCHES.iter().enumerate() {
            if switches[i].is_none() {
                switches[i] = env(var).map(|v| switch_from_env(var, &v)).transpose()?;
            }
        }

        let mut config = Config::default();
        let [addr, data, surveys, www, pkg, dist, max_age, projects, checklists, help, automations, targeting, outbox, database_url, accounts, header_timeout, body_timeout, max_connections, client_ip_header, log_format, drain] =
            values;
        let [dev, demo, import_content] = switches;
        if let Some(addr) = addr {
            config.addr =
                addr.parse().map_err(|e| ConfigError(format!("--addr {addr:?} is not an IP:PORT address: {e}")))?;
        }
        if let Some(v) = data {
            config.data_dir = v.into();
        }
        if let Some(v) = surveys {
            config.surveys_dir = v.into();
        }
        if let Some(v) = www {
            config.www_dir = v.into();
        }
        if let Some(v) = pkg {
            config.pkg_dir = v.into();
        }
        config.dist_dir = dist.map(PathBuf::from);
        if let Some(v) = max_age {
            config.max_age =
                v.parse().map_err(|_| ConfigError(format!("--max-age {v:?} is not a whole number of seconds")))?;
        }
        config.dev = dev.unwrap_or(false);
        config.projects_file = projects.map(PathBuf::from);
        config.checklists_file = checklists.map(PathBuf::from);
        config.help_dir = help.map(PathBuf::from);
        config.automations_file = automations.map(PathBuf::from);
        config.targeting_file = targeting.map(PathBuf::from);
        config.email_outbox = outbox.map(PathBuf::from);
        if let Some(url) = &database_url {
            if !crate::store::is_postgres_url(url) {
                return Err(ConfigError(
                    "--database-url / DATABASE_URL must be a postgres:// URL (unset it to use SQLite)".into(),
                ));
            }
        }
        config.database_url = database_url;
        config.accounts_file = accounts.map(PathBuf::from);
        let millis = |flag: &str, v: String| {
            v.parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(std::time::Duration::from_millis)
                .ok_or_else(|| ConfigError(format!("{flag} {v:?} is not a positive whole number of milliseconds")))
        };
        if let Some(v) = header_timeout {
            config.limits.header_timeout = millis("--header-timeout-ms", v)?;
        }
        if let Some(v) = body_timeout {
            config.limits.body_timeout = millis("--body-timeout-ms", v)?;
        }
        if let Some(v) = max_connections {
            config.limits.max_connections = v
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .ok_or_else(|| ConfigError(format!("--max-connections {v:?} is not a positive whole number")))?;
        }
        if let Some(v) = client_ip_header {
            config.limits.client_ip_header = Some(
                axum::http::HeaderName::try_from(v.as_str())
                    .map_err(|_| ConfigError(format!("--client-ip-header {v:?} is not a header name")))?,
            );
        }
        if let Some(v) = drain {
            config.limits.drain = match v.as_str() {
                "0" => std::time::Duration::ZERO,
                _ => millis("--drain-ms", v)?,
            };
        }
        if let Some(v) = log_format {
            config.log_format = v.parse().map_err(ConfigError)?;
        }
        config.demo = demo.unwrap_or(false);
        config.import_content = import_content.unwrap_or(false);
        Ok(Command::Run(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Command, ConfigError> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Command::parse(args.iter().map(|a| a.to_string()), |k| {
            env.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone())
        })
    }

    fn run(args: &[&str], env: &[(&str, &str)]) -> Config {
        match parse(args, env) {
            Ok(Command::Run(c)) => c,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    #[test]
    fn no_flags_no_env_gives_defaults() {
        assert_eq!(run(&[], &[]), Config::default());
    }

    #[test]
    fn flags_win_over_env_which_wins_over_defaults() {
        let c = run(
            &["--addr", "127.0.0.1:0", "--data-dir=/tmp/d"],
            &[
                ("TOUCHPOINT_ADDR", "0.0.0.0:1"),
                ("TOUCHPOINT_PROJECTS", "/etc/tp/projects.json"),
                ("TOUCHPOINT_CHECKLISTS", "/etc/tp/checklists.json"),
            ],
        );
        assert_eq!(c.addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("/tmp/d"));
        assert_eq!(c.projects_file, Some(PathBuf::from("/etc/tp/projects.json")));
        assert_eq!(c.checklists_file, Some(PathBuf::from("/etc/tp/checklists.json")));
        assert_eq!(run(&["--checklists", "c.json"], &[]).checklists_file, Some(PathBuf::from("c.json")));
        assert_eq!(run(&["--accounts", "a.json"], &[]).accounts_file, Some(PathBuf::from("a.json")));
        assert_eq!(
            run(&[], &[("TOUCHPOINT_ACCOUNTS", "/etc/a.json")]).accounts_file,
            Some(PathBuf::from("/etc/a.json"))
        );
        assert_eq!(c.surveys_dir, PathBuf::from("./surveys"));
    }

    #[test]
    fn help_lists_every_flag_and_its_env_var() {
        assert_eq!(parse(&["--pkg-dir", "x", "--help"], &[]), Ok(Command::Help));
        let text = usage();
        for (flag, env, _) in FLAGS.iter().chain(&SWITCHES) {
            assert!(text.contains(flag) && text.contains(env), "{flag} / {env} missing from:\n{text}");
        }
    }

    #[test]
    fn serving_flags() {
        let c = run(&[], &[]);
        assert_eq!((c.dist_dir, c.max_age, c.dev), (None, 300, false));
        let c = run(&["--dev", "--dist-dir", "dist", "--max-age=60"], &[]);
        assert_eq!((c.dist_dir, c.max_age, c.dev), (Some(PathBuf::from("dist")), 60, true));
        let c = run(&[], &[("TOUCHPOINT_DEV", "1"), ("TOUCHPOINT_DIST_DIR", "/srv/tp"), ("TOUCHPOINT_MAX_AGE", "0")]);
        assert_eq!((c.dist_dir, c.max_age, c.dev), (Some(PathBuf::from("/srv/tp")), 0, true));
        assert!(!run(&[], &[("TOUCHPOINT_DEV", "0")]).dev);
        assert!(!run(&[], &[("TOUCHPOINT_DEV", "")]).dev);
        // The flag wins over the variable, like every other flag.
        assert!(run(&["--dev"], &[("TOUCHPOINT_DEV", "false")]).dev);
        for (args, env, expected) in [
            (&["--dev=1"][..], &[][..], "--dev takes no value"),
            (&[][..], &[("TOUCHPOINT_DEV", "maybe")][..], "TOUCHPOINT_DEV=\"maybe\": use 1 (on) or 0 (off)"),
            (&["--max-age", "5m"][..], &[][..], "--max-age \"5m\" is not a whole number of seconds"),
        ] {
            let err = parse(args, env).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?} {env:?}: {err}");
        }
    }

    #[test]
    fn bad_arguments_are_named() {
        for (args, expected) in [
            (&["--port", "1"][..], "unknown argument \"--port\""),
            (&["--addr"][..], "--addr needs a value"),
            (&["--addr", "localhost"][..], "--addr \"localhost\" is not an IP:PORT address"),
            (&["--project-key", "pk_x"][..], "unknown argument \"--project-key\" (replaced by --projects FILE)"),
            (&["--database-url", "mysql://x"][..], "must be a postgres:// URL"),
        ] {
            let err = parse(args, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn the_types_subcommand_takes_a_projects_file_and_an_optional_key() {
        assert_eq!(
            parse(&["types", "--projects", "p.json", "--key", "pk_a"], &[]).unwrap(),
            Command::Types { projects: "p.json".into(), key: Some("pk_a".into()) }
        );
        assert_eq!(
            parse(&["types", "--projects", "p.json"], &[]).unwrap(),
            Command::Types { projects: "p.json".into(), key: None }
        );
        assert!(parse(&["types"], &[]).unwrap_err().to_string().starts_with("types: --projects FILE is required"));
        assert_eq!(
            parse(&["conformance", "http://127.0.0.1:8787", "--key", "pk_a", "--rate-batches", "2"], &[]).unwrap(),
            Command::Conformance(crate::conformance::Options {
                url: "http://127.0.0.1:8787".into(),
                key: "pk_a".into(),
                origin: "http://127.0.0.1".into(),
                rate_batches: 2,
            })
        );
        assert!(parse(&["conformance"], &[]).unwrap_err().to_string().starts_with("conformance: the endpoint URL"));
        assert!(parse(&["conformance", "u", "--rate-batches", "x"], &[]).unwrap_err().to_string().contains("\"x\""));
        assert!(parse(&["types", "--key"], &[]).unwrap_err().to_string().starts_with("types: --key needs a value"));
        assert!(parse(&["types", "--out", "x"], &[])
            .unwrap_err()
            .to_string()
            .starts_with("types: unknown argument \"--out\""));
        // The targeting flag is an ordinary flag.
        assert_eq!(run(&["--targeting", "t.json"], &[]).targeting_file, Some("t.json".into()));
    }
}
