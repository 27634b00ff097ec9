//! A Segment-compatible ingest, so that a team already sending Segment's
//! HTTP tracking API can add us as a destination without code: point a
//! Segment library's host at `<collector>/segment`.
//!
//! - `POST /segment/v1/track`, `/identify`, `/group`, `/page` — one Segment
//!   message; `POST /segment/v1/batch` — `{"batch": [messages with "type"]}`.
//!   Auth as Segment's: HTTP Basic with the write key as the user name (or
//!   `"writeKey"` in the body); the write key is the project's *secret* key,
//!   since these calls come from servers. Answers `{"success": true,
//!   "results": [...]}`, our per-event results in message order.
//!
//! Each message becomes one of our events and is stored through the same
//! path as `POST /v1/events` (as the host's backend speaking): `messageId`
//! is the event id (so Segment's retries are recognised), `anonymousId` and
//! `userId` are ours, so the usual person stitching applies; a message with
//! only a `userId` gets it as its anonymous id too. `timestamp` (ISO 8601)
//! is `ts`; `context.page.url` is `url`.

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::extract::Json;
use crate::routes::events::store_batch;
use crate::store::Source;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/segment/v1/{call}", post(segment))
}

async fn segment(
    State(state): State<AppState>,
    Path(call): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<axum::Json<Value>, AppError> {
    let messages: Vec<Value> = match call.as_str() {
        "batch" => match body.get("batch") {
            Some(Value::Array(batch)) => batch.clone(),
            _ => return Err(AppError::bad_request("a batch is {\"batch\": [messages]}", Some("batch"))),
        },
        "track" | "identify" | "group" | "page" => {
            let mut message = body.clone();
            if let Some(o) = message.as_object_mut() {
                o.insert("type".into(), Value::String(call.clone()));
            }
            vec![message]
        }
        other => {
            return Err(AppError::NotFound(format!(
                "Segment call {other:?} is not supported here (track, identify, group, page, batch)"
            )))
        }
    };
    let write_key = write_key(&headers, &body)?;
    let project = state.projects.by_secret_key(&write_key).cloned().ok_or_else(|| AppError::Forbidden {
        message: "the write key must be the project's secret key (Basic auth user name)".into(),
        field: "authorization",
    })?;
    let received_at = crate::now_ms();
    let events = messages.iter().map(|m| to_event(m, received_at)).collect();
    let answer = store_batch(&state, &project, Source::Server, events).await?;
    Ok(axum::Json(json!({ "success": true, "results": answer.results })))
}

/// Segment's write key: the Basic auth user name, else the body's `writeKey`.
fn write_key(headers: &HeaderMap, body: &Value) -> Result<String, AppError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let basic = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, b64)| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok());
        return match basic {
            Some(pair) => Ok(pair.split_once(':').map_or(pair.as_str(), |(user, _)| user).to_string()),
            None => Err(AppError::Unauthorized(
                "Segment calls authenticate with Basic auth: base64(\"<secret_key>:\")".into(),
            )),
        };
    }
    match body.get("writeKey").and_then(Value::as_str) {
        Some(key) => Ok(key.to_string()),
        None => Err(AppError::Unauthorized(
            "no write key: send Basic auth with the project's secret key as the user name, or \"writeKey\"".into(),
        )),
    }
}

/// One Segment message as our event. What cannot be mapped is left for
/// [`crate::ingest::check`] to reject with its usual, path-naming reason.
fn to_event(m: &Value, received_at: i64) -> Value {
    let text = |key: &str| m.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let object = |key: &str| m.get(key).and_then(Value::as_object).cloned().unwrap_or_else(Map::new);
    let user_id = text("userId");
    let anonymous_id = text("anonymousId").or_else(|| user_id.clone()).unwrap_or_default();
    // Segment libraries always set messageId; without one, the message's own text names it, so a resend dedupes.
    let id = text("messageId").unwrap_or_else(|| {
        let digest = Sha256::digest(m.to_string().as_bytes());
        format!("segment-{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
    });
    let ts = text("timestamp").and_then(|t| parse_iso8601(&t)).unwrap_or(received_at);
    let url = m.pointer("/context/page/url").and_then(Value::as_str).unwrap_or("").to_string();
    let mut event = json!({ "id": id, "ts": ts, "anonymous_id": anonymous_id, "url": url });
    if let Some(user) = user_id {
        event["user_id"] = Value::String(user);
    }
    let kind = match text("type").as_deref() {
        Some("track") => json!({ "type": "track", "name": m.get("event").cloned().unwrap_or(Value::Null),
                                 "props": object("properties") }),
        Some("page") => json!({ "type": "page", "props": object("properties") }),
        Some("identify") => json!({ "type": "identify", "traits": object("traits") }),
        Some("group") => json!({ "type": "group", "account_id": m.get("groupId").cloned().unwrap_or(Value::Null),
                                 "traits": object("traits") }),
        other => json!({ "type": format!("segment {}", other.unwrap_or("(no type)")) }),
    };
    if let (Value::Object(e), Value::Object(k)) = (&mut event, kind) {
        e.extend(k);
    }
    event
}

/// `2026-12-03T13:05:00.123Z` or with an offset (`+02:00`) → ms since the epoch.
fn parse_iso8601(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-');
    let (year, month, day): (i64, u32, u32) =
        (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (clock, offset_ms) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        (c, sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?) * 60_000)
    } else {
        (time, 0)
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut t = hms.splitn(3, ':');
    let (h, mi, sec): (i64, i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    let days = crate::time::days_from_civil(year, month, day);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_of_segment_libraries_parse() {
        for (text, ms) in [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("1970-01-01T00:00:01.5Z", Some(1500)),
            ("2026-12-03T13:05:00.123Z", Some(1_796_303_100_123)),
            ("2026-12-03T15:05:00.123+02:00", Some(1_796_303_100_123)),
            ("2026-12-03T08:05:00.123-05:00", Some(1_796_303_100_123)),
            ("yesterday", None),
        ] {
            assert_eq!(parse_iso8601(text), ms, "{text}");
        }
    }
}
