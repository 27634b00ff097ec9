//! An email as it is stored in the outbox and sent: RFC 5322 with CRLF line
//! ends, composed once when its rule runs.
//!
//! **Nothing a user wrote can add a header, a recipient or a MIME part.**
//! Header values have their control characters replaced by spaces (and
//! non-ASCII text RFC 2047-encoded), so a name holding `\r\nBcc: …` stays
//! inside its own header; the recipient is one checked address (the SMTP
//! envelope carries only it); in a `multipart/alternative` message both
//! parts are base64, so no text can form a boundary line.

use super::template::{render, Part, Template, Vars};

/// What one message is made of.
pub struct Compose<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub template: &'a Template,
    /// The locale whose template was chosen (`Content-Language`).
    pub locale: Option<&'a str>,
    pub vars: &'a Vars<'a>,
    /// The delivery id: the `Message-ID` and the boundary are made from it.
    pub id: &'a str,
    pub trigger_id: &'a str,
    pub now: i64,
    /// `email.unsubscribe`; `None`: a `mailto:` to the sender.
    pub unsubscribe: Option<&'a [Part]>,
}

/// The address of a `From` value (`Name <addr>` or `addr`).
pub fn address_of(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => from[a + 1..b].trim(),
        _ => from.trim(),
    }
}

/// The whole message: single-part 8-bit text (or HTML) for a template with
/// one body, `multipart/alternative` (text, then HTML) for one with an HTML part.
pub fn compose(c: &Compose) -> String {
    let tpl = c.template;
    let unsubscribe = match c.unsubscribe {
        Some(parts) => render(parts, c.vars),
        None => format!("mailto:{}?subject=unsubscribe", address_of(c.from)),
    };
    let mut headers = vec![
        ("From", header_value(c.from)),
        ("To", header_value(c.to)),
        ("Subject", header_value(&render(&tpl.subject, c.vars))),
        ("Date", crate::time::rfc5322(c.now)),
        ("Message-ID", format!("<{}@touchpoint>", c.id)),
    ];
    if let Some(reply_to) = &tpl.reply_to {
        headers.push(("Reply-To", header_value(&render(reply_to, c.vars))));
    }
    // Control characters are gone and the URL's values are percent-encoded; `<>` frame it.
    headers.push(("List-Unsubscribe", format!("<{}>", header_value(&unsubscribe).replace(['<', '>'], ""))));
    if let Some(locale) = c.locale {
        headers.push(("Content-Language", header_value(locale)));
    }
    headers.push(("MIME-Version", "1.0".to_string()));
    let boundary = format!("touchpoint-{}", c.id);
    match &tpl.html_alternative {
        None => {
            let content_type = if tpl.html { "text/html; charset=utf-8" } else { "text/plain; charset=utf-8" };
            headers.push(("Content-Type", content_type.to_string()));
            headers.push(("Content-Transfer-Encoding", "8bit".to_string()));
        }
        Some(_) => headers.push(("Content-Type", format!("multipart/alternative; boundary=\"{boundary}\""))),
    }
    headers.push(("X-Touchpoint-Rule", header_value(c.vars.rule)));
    headers.push(("X-Touchpoint-Trigger", header_value(c.trigger_id)));
    let mut msg = String::new();
    for (name, value) in headers {
        msg.push_str(&format!("{name}: {value}\r\n"));
    }
    msg.push_str("\r\n");
    let text = render(&tpl.body, c.vars);
    match &tpl.html_alternative {
        None => {
            for line in text.lines() {
                msg.push_str(line);
                msg.push_str("\r\n");
            }
        }
        Some(html) => {
            let html = render(html, c.vars);
            for (content_type, body) in [("text/plain", text), ("text/html", html)] {
                msg.push_str(&format!(
                    "--{boundary}\r\nContent-Type: {content_type}; charset=utf-8\r\n\
                     Content-Transfer-Encoding: base64\r\n\r\n"
                ));
                let crlf = body.lines().collect::<Vec<_>>().join("\r\n") + "\r\n";
                let encoded = base64(crlf.as_bytes());
                for chunk in encoded.as_bytes().chunks(76) {
                    msg.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                    msg.push_str("\r\n");
                }
            }
            msg.push_str(&format!("--{boundary}--\r\n"));
        }
    }
    msg
}

/// A plausible single address: `local@domain`, no spaces, no header syntax.
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '<' | '>' | '"' | '(' | ')' | '[' | ']' | '\\'))
        && !domain.contains('@')
}

/// A header value: control characters (a CR or LF would start a new header,
/// and values come from users' traits) become spaces; non-ASCII text is
/// RFC 2047-encoded.
pub fn header_value(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.is_ascii() {
        clean
    } else {
        format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
    }
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_cannot_start_new_headers() {
        assert_eq!(header_value("Hi\r\nBcc: all@example.com"), "Hi  Bcc: all@example.com");
        assert_eq!(header_value("Zwei Wochen für dich"), "=?UTF-8?B?WndlaSBXb2NoZW4gZsO8ciBkaWNo?=");
        assert_eq!(base64(b"ab"), "YWI=");
        for (s, ok) in [
            ("dana@example.com", true),
            ("dana@localhost", false),
            ("", false),
            ("a b@x.io", false),
            ("x@y.io,z@w.io", false),
        ] {
            assert_eq!(is_address(s), ok, "{s}");
        }
    }

    #[test]
    fn the_envelope_sender_is_the_address_of_from() {
        assert_eq!(address_of("Acme Success <success@acme.example>"), "success@acme.example");
        assert_eq!(address_of(" success@acme.example "), "success@acme.example");
    }
}
