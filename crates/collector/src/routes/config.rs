//! The widget's remote config: what may show on its own, and what the
//! collector knows about this person for deciding it.
//!
//! - `GET /v1/config?key=<public_key>&user_id=…[&user_hash=…]` (or
//!   `&anonymous_id=…`) — `{"targeting": <the project's published targeting
//!   (read on every request), else the targeting file as loaded, or null>, "facts": {"first_seen_ms", "event_counts": {name: n},
//!   "last_shown_ms": {survey_id: ms}}}`, facts folded from the person's
//!   stored events on every device (see [`crate::checklists::replay`] for who
//!   is one person). With identity verification on, a `user_id` needs its
//!   `user_hash` (403 otherwise).
//!
//!   The public key, from an allowed origin, like the widget's other reads.
//! - `POST /v1/targeting/dry-run` — for support staff answering "why didn't I
//!   see it?": body `{"user_id"?, "anonymous_id"?, "traits"?, "segment"?,
//!   "event_counts"?, "first_seen_ms"?, "last_shown_ms"?, "path"?, "now_ms"?,
//!   "session_shown"?, "openable"?}`. Starts from the person's stored facts
//!   and `identify` traits when a user or browser is named; every other field
//!   overrides (traits merge). Answers `{"now_ms", "path", "segment", "next",
//!   "experiences": [{"id", "kind", "eligible", "rule", "reason", "data" | "show_at_ms"}]}`
//!   — the verdicts `Touchpoint.why()` gives in the page, from the same core
//!   schedule, run on the project's published targeting (else the file's)
//!   and checklists. Needs the secret key; 404 when the project has no targeting.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use touchpoint_core::targeting::{Context, Facts, Opens};
use touchpoint_protocol::EventKind;

use crate::auth::{named, person, PublicKey, SecretKey};
use crate::checklists::person_activity;
use crate::content::kind::SINGLE_ID;
use crate::content::Kind;
use crate::error::AppError;
use crate::extract::{Json, Query};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/config", get(config)).route("/v1/targeting/dry-run", post(dry_run))
}

#[derive(Deserialize)]
struct ConfigParams {
    user_id: Option<String>,
    user_hash: Option<String>,
    anonymous_id: Option<String>,
}

async fn config(
    State(state): State<AppState>,
    PublicKey(project): PublicKey,
    Query(params): Query<ConfigParams>,
) -> Result<axum::Json<Value>, AppError> {
    let who = person(&project, params.user_id, params.user_hash, params.anonymous_id)?;
    let user = match &who {
        crate::checklists::replay::Person::User(u) => Some(u.clone()),
        crate::checklists::replay::Person::Anonymous(_) => None,
    };
    // From the rows kept at ingest: a few rows, however long their history.
    let mut facts = crate::targeting::person_facts(&state.db, &project, who).await?;
    if let Some(user) = user {
        crate::cases::csat_fact(&state.db, &project.project.public_key, &user, crate::now_ms(), &mut facts).await?;
    }
    // The project's published targeting, else the file's: read on every load, so a publish is seen at once.
    let key = project.project.public_key.clone();
    let published = state.db.content_live(key, Kind::Targeting.as_str(), SINGLE_ID.into()).await?;
    let targeting = match published {
        Some(v) => serde_json::from_str(&v.body)
            .map_err(|e| AppError::Internal(format!("stored targeting version {} is not JSON: {e}", v.version)))?,
        None => state.targeting.as_ref().map_or(Value::Null, |t| t.definition.clone()),
    };
    Ok(axum::Json(json!({ "targeting": targeting, "facts": facts })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DryRun {
    user_id: Option<String>,
    anonymous_id: Option<String>,
    #[serde(default)]
    traits: Map<String, Value>,
    segment: Option<String>,
    event_counts: Option<BTreeMap<String, u32>>,
    first_seen_ms: Option<i64>,
    last_shown_ms: Option<BTreeMap<String, i64>>,
    path: Option<String>,
    now_ms: Option<i64>,
    #[serde(default)]
    session_shown: u32,
    openable: Option<Vec<String>>,
}

async fn dry_run(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Json(req): Json<DryRun>,
) -> Result<axum::Json<Value>, AppError> {
    let key = project.project.public_key.clone();
    let targeting = crate::targeting::live(&state, &key).await?.ok_or_else(|| {
        AppError::NotFound(
            "this project has no targeting: publish one (PUT/POST /v1/content/targeting/default/…) or start the \
             collector with --targeting"
                .into(),
        )
    })?;
    let checklists = crate::content::checklists::catalog(&state, &key).await.ok();
    let mut facts = Facts::default();
    let mut traits = Map::new();
    // Staff read with the secret key: a user id needs no hash here.
    if let Some(who) = named(req.user_id.clone(), req.anonymous_id.clone()) {
        let rows = person_activity(&state.db, project.project.public_key.clone(), who).await?;
        facts = crate::targeting::facts(&rows);
        for row in &rows {
            if let Some(EventKind::Identify { traits: t }) = &row.kind {
                traits.extend(t.clone());
            }
        }
    }
    traits.extend(req.traits);
    if let Some(counts) = req.event_counts {
        facts.event_counts.extend(counts);
    }
    if let Some(shown) = req.last_shown_ms {
        for (id, at) in shown {
            let kind = targeting.experiences.get(&id).map_or("survey", |e| e.kind().name());
            facts.shown(kind, &id, at);
        }
    }
    let now = req.now_ms.unwrap_or_else(crate::now_ms);
    let segment = req.segment.or_else(|| checklists.as_ref().map(|c| c.set.choose(&traits).0.id.clone()));
    let openable = match req.openable {
        Some(names) => names
            .iter()
            .map(|n| match n.as_str() {
                "checklist" => Ok(Opens::Checklist),
                "help" => Ok(Opens::Help),
                other => Err(AppError::bad_request(
                    format!("openable: {other:?} is not a panel; use \"checklist\" or \"help\""),
                    Some("openable"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => [(Opens::Checklist, checklists.is_some()), (Opens::Help, state.help.is_some())]
            .into_iter()
            .filter_map(|(o, there)| there.then_some(o))
            .collect(),
    };
    let path = req.path.unwrap_or_else(|| "/".into());
    let user_key = req.user_id.or(req.anonymous_id).unwrap_or_default();
    let ctx = Context {
        now_ms: now,
        path: path.clone(),
        traits,
        segment: segment.clone(),
        event_counts: facts.event_counts.clone(),
        first_seen_ms: req.first_seen_ms.or(facts.first_seen_ms).unwrap_or(now),
        user_key,
        history: facts.history(),
        on_screen: None,
        busy: None,
        session_shown: req.session_shown,
        openable,
        page_loaded_at_ms: now,
    };
    let schedule = targeting.experiences.schedule(&ctx);
    let experiences: Vec<Value> = schedule.verdicts.iter().map(|(e, v)| v.explain(e)).collect();
    let next = schedule.next.as_ref().map(|p| p.experience.id());
    Ok(axum::Json(json!({ "now_ms": now, "path": path, "segment": segment, "next": next, "experiences": experiences })))
}
