//! The Slack message a rule's `slack` action posts to an incoming webhook:
//! Block Kit with the score, the comment, who answered, their account and
//! its health, and a link to the case in the dashboard. The `teams` action
//! posts the same as an Adaptive Card ([`teams_message`]).
//!
//! Text a user wrote goes into `mrkdwn` fields escaped as Slack asks
//! (`&`, `<`, `>`), so a comment cannot mention `<!channel>`, link
//! elsewhere or format a user id; so does the fallback `text`, which Slack
//! formats too (notifications show it).

use serde_json::{json, Value};

use super::{AccountInfo, TriggerContext};

/// `&`, `<`, `>` as Slack's mrkdwn wants them.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The NPS score and the answers to free-text questions among the response's final answers.
fn score_and_comment(t: &TriggerContext) -> (Option<i64>, Vec<String>) {
    let score = t.answers.iter().find(|a| a.kind == "nps").and_then(|a| a.value.as_i64());
    let comments =
        t.answers.iter().filter(|a| a.kind == "text").filter_map(|a| a.value.as_str()).map(str::to_string).collect();
    (score, comments)
}

/// What both chat messages say, as plain text.
struct Summary {
    score: String,
    comment: String,
    who: String,
    account: String,
    health: String,
    owner: Option<String>,
}

fn summary(t: &TriggerContext) -> Summary {
    let (score, comments) = score_and_comment(t);
    let who = match (t.traits.get("name").and_then(Value::as_str), &t.user_id) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (None, Some(id)) => id.clone(),
        (Some(name), None) => name.to_string(),
        (None, None) => format!("anonymous ({})", t.anonymous_id.as_deref().unwrap_or("?")),
    };
    let score_text = score.map_or("—".to_string(), |s| s.to_string());
    let comment = comments.join("\n");
    let account = |a: &AccountInfo| a.name.clone().map_or(a.id.clone(), |n| format!("{n} ({})", a.id));
    let account_text = t.account.as_ref().map_or("—".to_string(), account);
    let health_text = match &t.account {
        Some(AccountInfo { health: Some(h), stage, .. }) => match stage {
            Some(stage) => format!("{h}/100, {stage}"),
            None => format!("{h}/100"),
        },
        Some(_) => "not assessed yet".into(),
        None => "—".into(),
    };
    let owner = t.account.as_ref().and_then(|a| a.owner.clone());
    Summary { score: score_text, comment, who, account: account_text, health: health_text, owner }
}

/// The payload for rule `rule_id`; `case_url` links to the case the same rule opened.
pub fn message(rule_id: &str, t: &TriggerContext, case_url: Option<&str>) -> Value {
    let Summary { score: score_text, comment, who, account: account_text, health: health_text, owner } = summary(t);
    let mut fields = vec![
        json!({ "type": "mrkdwn", "text": format!("*Score*\n{}", escape(&score_text)) }),
        json!({ "type": "mrkdwn", "text": format!("*Who*\n{}", escape(&who)) }),
        json!({ "type": "mrkdwn", "text": format!("*Account*\n{}", escape(&account_text)) }),
        json!({ "type": "mrkdwn", "text": format!("*Health*\n{}", escape(&health_text)) }),
    ];
    if let Some(owner) = &owner {
        fields.push(json!({ "type": "mrkdwn", "text": format!("*Owner*\n{}", escape(owner)) }));
    }
    let quoted = if comment.is_empty() {
        "_No comment._".to_string()
    } else {
        comment.lines().map(|l| format!("> {}", escape(l))).collect::<Vec<_>>().join("\n")
    };
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": format!("NPS {score_text} from {who}") } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": quoted } }),
        json!({ "type": "section", "fields": fields }),
    ];
    if let Some(url) = case_url {
        blocks.push(json!({ "type": "actions", "elements": [
            { "type": "button", "text": { "type": "plain_text", "text": "Open the case" }, "url": url }
        ] }));
    }
    blocks.push(json!({ "type": "context", "elements": [
        { "type": "mrkdwn", "text": format!("Touchpoint rule `{}`", escape(rule_id)) }
    ] }));
    let text = if comment.is_empty() {
        format!("NPS {score_text} from {who} ({account_text})")
    } else {
        format!("NPS {score_text} from {who} ({account_text}): {comment}")
    };
    json!({ "text": escape(&text), "blocks": blocks })
}

/// The same for a Microsoft Teams incoming webhook: an Adaptive Card whose
/// user text is only in `TextRun`s, which Teams never reads as Markdown
/// (a `TextBlock` or a fact's value would turn `[x](https://…)` into a link).
pub fn teams_message(rule_id: &str, t: &TriggerContext, case_url: Option<&str>) -> Value {
    let s = summary(t);
    let run = |label: &str, value: &str| {
        json!({ "type": "RichTextBlock", "inlines": [
            { "type": "TextRun", "text": format!("{label}: "), "weight": "Bolder" },
            { "type": "TextRun", "text": value }
        ] })
    };
    let mut body = vec![
        json!({ "type": "RichTextBlock", "inlines": [
            { "type": "TextRun", "text": format!("NPS {} from {}", s.score, s.who), "weight": "Bolder", "size": "Medium" }
        ] }),
        json!({ "type": "RichTextBlock", "inlines": [
            { "type": "TextRun", "text": if s.comment.is_empty() { "No comment.".to_string() } else { s.comment.clone() }, "italic": true }
        ] }),
        run("Account", &s.account),
        run("Health", &s.health),
    ];
    if let Some(owner) = &s.owner {
        body.push(run("Owner", owner));
    }
    body.push(run("Rule", rule_id));
    let actions: Vec<Value> =
        case_url.iter().map(|url| json!({ "type": "Action.OpenUrl", "title": "Open the case", "url": url })).collect();
    json!({ "type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": { "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                     "version": "1.4", "body": body, "actions": actions }
    }] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_mention_the_channel_or_link() {
        assert_eq!(
            escape("<!channel> see <https://evil.example|here> & more"),
            "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more"
        );
    }
}
