//! Who the events are about, kept in `localStorage` per project: the
//! anonymous id of this browser, the user named by `identify` (with the host
//! backend's proof, `userHash`), their traits, and the account from `group`.
//! Values go in and out as JSON text; traits are merged by the browser
//! (`Object.assign`), so no JSON library is needed here.
//!
//! Everything here belongs to one person. `identify` naming a different
//! user than the one identified (a login as someone else, an account switch,
//! without `reset()`) starts that person afresh, as `reset()` would: a new
//! anonymous id, no traits or account of the one before.

use wasm_bindgen::{JsCast, JsValue};

use crate::browser::{self, js, LocalStore};
use crate::text::cat;

pub struct Identity {
    project: String,
    pub anonymous_id: String,
    pub user_id: Option<String>,
    /// Sent only with a `user_id`.
    pub user_hash: Option<String>,
    /// The user's traits as a JSON object's text (`{}` when none).
    pub traits: String,
}

/// `touchpoint:<project>:<what>`.
pub fn storage_key(project: &str, what: &str) -> String {
    cat(&["touchpoint:", project, ":", what])
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-')
}

/// `base` with `extra`'s members on top, as JSON text.
fn merged(base: &str, extra: &JsValue) -> String {
    let base = js::parse(base).ok().filter(js::is_plain_object).unwrap_or_else(|| js_sys::Object::new().into());
    let out = js_sys::Object::assign(&js_sys::Object::new(), base.unchecked_ref());
    let out = js_sys::Object::assign(&out, extra.unchecked_ref());
    browser::json_text(&out).ok().flatten().unwrap_or_else(|| "{}".into())
}

impl Identity {
    /// This browser's identity for `project`; a fresh anonymous id where
    /// there is none (or what is stored is not one of ours).
    pub fn load(project: &str) -> Identity {
        let store = LocalStore::open();
        let key = |what| storage_key(project, what);
        let anonymous_id = store.get(&key("anonymous_id")).filter(|id| looks_like_uuid(id)).unwrap_or_else(|| {
            let id = browser::uuid();
            if !store.set(&key("anonymous_id"), &id) {
                browser::warn("localStorage is unavailable; this visitor gets a new anonymous id on every page load");
            }
            id
        });
        let traits = store
            .get(&key("traits"))
            .filter(|t| js::parse(t).is_ok_and(|v| js::is_plain_object(&v)))
            .unwrap_or_else(|| "{}".into());
        Identity {
            project: project.to_owned(),
            anonymous_id,
            user_id: store.get(&key("user_id")).filter(|u| !u.is_empty()),
            user_hash: store.get(&key("user_hash")).filter(|h| !h.is_empty()),
            traits,
        }
    }

    fn key(&self, what: &str) -> String {
        storage_key(&self.project, what)
    }

    /// Names the user, merging `traits` (a plain object) into theirs (or,
    /// for another user than the one identified, starting afresh). `true`
    /// if anything changed (who, their traits, their proof).
    pub fn identify(&mut self, user_id: String, traits: &JsValue, user_hash: Option<String>) -> bool {
        if self.user_id.as_ref().is_some_and(|u| *u != user_id) {
            self.reset();
        }
        let store = LocalStore::open();
        store.set(&self.key("user_id"), &user_id);
        match &user_hash {
            Some(h) => store.set(&self.key("user_hash"), h),
            None => {
                store.remove(&self.key("user_hash"));
                true
            }
        };
        let traits = merged(&self.traits, traits);
        store.set(&self.key("traits"), &traits);
        let changed =
            self.user_id.as_deref() != Some(user_id.as_str()) || traits != self.traits || self.user_hash != user_hash;
        self.user_id = Some(user_id);
        self.user_hash = user_hash;
        self.traits = traits;
        changed
    }

    /// Ties the user to `account_id`, merging `traits` into the account's
    /// (a new account starts afresh). `true` if anything changed.
    pub fn group(&self, account_id: &str, traits: &JsValue) -> bool {
        let store = LocalStore::open();
        let (key, traits_key) = (self.key("account_id"), self.key("account_traits"));
        let before = store.get(&traits_key);
        let same_account = store.get(&key).as_deref() == Some(account_id);
        let base = if same_account { before.clone().unwrap_or_else(|| "{}".into()) } else { "{}".into() };
        let traits = merged(&base, traits);
        let changed = !same_account || before.as_deref() != Some(traits.as_str());
        store.set(&key, account_id);
        store.set(&traits_key, &traits);
        changed
    }

    /// Forgets the user (logout): a new anonymous visitor.
    pub fn reset(&mut self) {
        let store = LocalStore::open();
        for what in ["user_id", "user_hash", "traits", "account_id", "account_traits"] {
            store.remove(&self.key(what));
        }
        self.anonymous_id = browser::uuid();
        store.set(&self.key("anonymous_id"), &self.anonymous_id);
        self.user_id = None;
        self.user_hash = None;
        self.traits = "{}".into();
    }
}
