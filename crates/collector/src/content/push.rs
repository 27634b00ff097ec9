//! "Surveys as code": a folder of content files published into one
//! project, by `touchpoint-collector push <dir>` through `POST
//! /v1/content/push` (so it works against any collector it can reach, with
//! the project's secret key).
//!
//! The folder has the repository's layout: `surveys/*.json`,
//! `checklists.json`, `help/*.md`, `targeting.json`. A push publishes the
//! items whose body differs from the live version, all in one transaction,
//! and refuses — naming each item, its file and the edit — when an item was
//! published from the dashboard since the last push, or has a draft there:
//! the files would silently undo that edit. `--overwrite` says to do it
//! anyway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind::SINGLE_ID;
use super::publish::{self, Origin, Prepared};
use super::{Kind, Problem};
use crate::error::AppError;
use crate::AppState;

/// One content file, read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushItem {
    /// The admin API's segment: `surveys`, `checklists`, `help`, `targeting`.
    pub kind: String,
    pub id: String,
    /// The file it came from, relative to the folder, for messages.
    pub file: String,
    pub body: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    pub items: Vec<PushItem>,
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pushed {
    pub kind: String,
    pub id: String,
    pub file: String,
    /// The version now live (unchanged: the one that already was).
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PushReport {
    pub published: Vec<Pushed>,
    pub unchanged: Vec<Pushed>,
}

/// Where content files are: the folders and files a collector is started
/// with (`--surveys-dir`, …), or one folder in the repository's layout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sources {
    /// `*.json`, one survey each.
    pub surveys: Option<PathBuf>,
    pub checklists: Option<PathBuf>,
    /// `*.md`, one article each.
    pub help: Option<PathBuf>,
    pub targeting: Option<PathBuf>,
}

impl Sources {
    /// `dir/surveys/`, `dir/checklists.json`, `dir/help/`, `dir/targeting.json`, those that exist.
    pub fn in_dir(dir: &Path) -> Sources {
        let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        Sources {
            surveys: Some(dir.join("surveys")),
            checklists: file("checklists.json"),
            help: Some(dir.join("help")),
            targeting: file("targeting.json"),
        }
    }
}

/// Reads the content files of `dir`. A file that is not JSON is a problem
/// named by its file; what a file holds is checked by the collector.
pub fn read_dir(dir: &Path) -> Result<Vec<PushItem>, Vec<Problem>> {
    read(&Sources::in_dir(dir), Some(dir))
}

/// Reads the content files of `sources`, each named relative to `base` when under it.
pub fn read(sources: &Sources, base: Option<&Path>) -> Result<Vec<PushItem>, Vec<Problem>> {
    let name = |path: &Path| {
        let rel = base.and_then(|b| path.strip_prefix(b).ok()).unwrap_or(path);
        rel.to_string_lossy().replace('\\', "/")
    };
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut json = |kind: Kind, path: PathBuf, id: Option<String>| {
        let rel = name(&path);
        let body: Value = match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}")))
        {
            Ok(v) => v,
            Err(e) => return problems.push(Problem::new("", e).in_file(&rel)),
        };
        let id = id.or_else(|| body.get("id").and_then(Value::as_str).map(str::to_string)).unwrap_or_default();
        items.push(PushItem { kind: kind.segment().into(), id, file: rel, body });
    };
    if let Some(dir) = &sources.surveys {
        for file in files(dir, "json") {
            json(Kind::Survey, dir.join(file), None);
        }
    }
    if let Some(file) = &sources.checklists {
        json(Kind::Checklists, file.clone(), Some(SINGLE_ID.into()));
    }
    if let Some(file) = &sources.targeting {
        json(Kind::Targeting, file.clone(), Some(SINGLE_ID.into()));
    }
    if let Some(dir) = &sources.help {
        for file in files(dir, "md") {
            let path = dir.join(&file);
            let rel = name(&path);
            match std::fs::read_to_string(&path) {
                Ok(text) => items.push(PushItem {
                    kind: Kind::Help.segment().into(),
                    id: file.trim_end_matches(".md").into(),
                    file: rel,
                    body: serde_json::json!({ "markdown": text }),
                }),
                Err(e) => problems.push(Problem::new("", format!("cannot read: {e}")).in_file(&rel)),
            }
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

/// The names of the files in `dir` ending in `.ext`, sorted; none if it is missing.
pub fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file() && e.path().extension().is_some_and(|x| x == ext))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Publishes `request`'s items into project `key` (see the module docs).
pub async fn push(state: &AppState, key: &str, request: PushRequest, by: &str) -> Result<PushReport, AppError> {
    let mut problems = Vec::new();
    let mut kinds = Vec::new();
    for item in &request.items {
        match Kind::from_segment(&item.kind) {
            Some(k) => kinds.push(k),
            None => problems.push(Problem::new("", format!("unknown kind {:?}", item.kind)).in_file(&item.file)),
        }
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    // Targeting may name the surveys of this push as well as those the project serves.
    let mut surveys = publish::survey_ids(state, key).await?;
    surveys.extend(request.items.iter().filter(|i| i.kind == Kind::Survey.segment()).map(|i| i.id.clone()));

    let mut report = PushReport::default();
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut conflicts = Vec::new();
    for (item, kind) in request.items.iter().zip(kinds) {
        let live = state.db.content_live(key.to_string(), kind.as_str(), item.id.clone()).await?;
        let same =
            live.as_ref().is_some_and(|l| serde_json::from_str::<Value>(&l.body).ok().as_ref() == Some(&item.body));
        let pushed =
            |version| Pushed { kind: item.kind.clone(), id: item.id.clone(), file: item.file.clone(), version };
        if same {
            report.unchanged.push(pushed(live.as_ref().map_or(0, |l| l.version)));
            continue;
        }
        let named = format!("{}: {} {:?}", item.file, kind.as_str(), item.id);
        if !request.overwrite {
            if let Some(l) = live.as_ref().filter(|l| l.origin == Origin::Editor.as_str()) {
                conflicts.push(format!(
                    "{named}: version {} was published in the dashboard by {} at {} ms; the file would overwrite it",
                    l.version, l.published_by, l.published_at
                ));
            }
            let draft = state.db.content_draft(key.to_string(), kind.as_str(), item.id.clone()).await?;
            if let Some(d) = draft {
                conflicts.push(format!(
                    "{named}: a draft saved in the dashboard by {} at {} ms is not published; the file would \
                     overwrite it",
                    d.saved_by, d.saved_at
                ));
            }
        }
        let live_ref = live.as_ref().map(|l| (l.version, l.body.as_str()));
        let edit = publish::Edit { kind, id: &item.id, body: &item.body, by, note: None };
        match publish::prepare(edit, live_ref, Origin::Push, &surveys) {
            Ok(p) => {
                report.published.push(pushed(p.0.after + 1));
                prepared.push(p);
            }
            Err(item_problems) => problems.extend(item_problems.into_iter().map(|p| p.in_file(&item.file))),
        }
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    if !conflicts.is_empty() {
        return Err(AppError::Conflict(format!(
            "push refused, nothing was published ({} conflict{}):\n{}\nCopy the dashboard's version into the file \
             (GET /v1/content/<kind>/<id>), or push with --overwrite to replace it",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            conflicts.join("\n")
        )));
    }
    publish::commit(state, key, prepared).await?;
    Ok(report)
}

/// What `touchpoint-collector push` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOptions {
    pub dir: std::path::PathBuf,
    /// The collector, e.g. `http://127.0.0.1:8787`.
    pub url: String,
    pub secret_key: String,
    pub by: Option<String>,
    pub overwrite: bool,
}

/// Runs a push from the command line; the text to print, and whether it worked.
pub fn run(opts: &PushOptions) -> (String, bool) {
    let items = match read_dir(&opts.dir) {
        Ok(items) => items,
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return (lines.join("\n") + "\n", false);
        }
    };
    let body = serde_json::to_vec(&PushRequest { items, overwrite: opts.overwrite }).unwrap_or_default();
    let url = format!("{}/v1/content/push", opts.url.trim_end_matches('/'));
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let mut request = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Authorization", &format!("Bearer {}", opts.secret_key));
    if let Some(by) = &opts.by {
        request = request.header("X-Touchpoint-Author", by);
    }
    let mut res = match request.send(&body[..]) {
        Ok(res) => res,
        Err(e) => return (format!("cannot reach {url}: {e}\n"), false),
    };
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == 200 {
        let report: PushReport = serde_json::from_value(value).unwrap_or_default();
        let mut out = String::new();
        for p in &report.published {
            out.push_str(&format!("published {} as {} {:?} version {}\n", p.file, p.kind, p.id, p.version));
        }
        out.push_str(&format!("{} published, {} unchanged\n", report.published.len(), report.unchanged.len()));
        return (out, true);
    }
    let mut out = format!("{url} answered HTTP {status}: {}\n", value["error"].as_str().unwrap_or(&text));
    for p in value["problems"].as_array().into_iter().flatten() {
        if let Ok(p) = serde_json::from_value::<Problem>(p.clone()) {
            out.push_str(&format!("  {}\n", p));
        }
    }
    (out, false)
}
