//! Who and where, as the first module said at `start` and after each
//! change of person: the project, the reader's languages and the person
//! (with their traits and whether they opted out).

use std::cell::RefCell;

use serde::Deserialize;
use touchpoint_protocol::Props;

/// The person the per-person reads are about, as the collector's routes name them.
#[derive(Clone, PartialEq)]
pub struct Person {
    /// `user_id` or `anonymous_id`.
    pub param: &'static str,
    pub id: String,
    pub user_hash: Option<String>,
}

/// The person as the first module describes them.
#[derive(Deserialize)]
pub struct PersonJson {
    param: String,
    id: String,
    #[serde(default)]
    user_hash: Option<String>,
    #[serde(default)]
    traits: Props,
    #[serde(default)]
    opted_out: bool,
}

struct Ctx {
    key: String,
    endpoint: String,
    locales: Vec<String>,
    person: Person,
    traits: Props,
    opted_out: bool,
}

thread_local! {
    static CTX: RefCell<Option<Ctx>> = const { RefCell::new(None) };
}

fn person_of(p: &PersonJson) -> Person {
    let param = if p.param == "user_id" { "user_id" } else { "anonymous_id" };
    Person { param, id: p.id.clone(), user_hash: p.user_hash.clone() }
}

pub fn set(key: String, endpoint: String, locales: Vec<String>, p: PersonJson) {
    let person = person_of(&p);
    CTX.with(|c| {
        *c.borrow_mut() = Some(Ctx { key, endpoint, locales, person, traits: p.traits, opted_out: p.opted_out })
    });
}

/// Takes the new person; the one before.
pub fn set_person(p: PersonJson) -> Option<Person> {
    let person = person_of(&p);
    CTX.with(|c| {
        let mut c = c.borrow_mut();
        let ctx = c.as_mut()?;
        ctx.traits = p.traits;
        ctx.opted_out = p.opted_out;
        Some(std::mem::replace(&mut ctx.person, person))
    })
}

pub fn person() -> Option<Person> {
    CTX.with(|c| c.borrow().as_ref().map(|c| c.person.clone()))
}

/// `(endpoint, key)`.
pub fn project() -> Option<(String, String)> {
    CTX.with(|c| c.borrow().as_ref().map(|c| (c.endpoint.clone(), c.key.clone())))
}

pub fn project_key() -> Option<String> {
    CTX.with(|c| c.borrow().as_ref().map(|c| c.key.clone()))
}

/// The reader's languages, most preferred first (for texts given per locale).
pub fn locales() -> Vec<String> {
    CTX.with(|c| c.borrow().as_ref().map(|c| c.locales.clone()).unwrap_or_default())
}

pub fn traits() -> Props {
    CTX.with(|c| c.borrow().as_ref().map(|c| c.traits.clone()).unwrap_or_default())
}

/// What targeting needs of the person.
pub struct TargetingInputs {
    pub traits: Props,
    /// Sampling's stable key: the user id once identified, else the anonymous id.
    pub user_key: String,
    pub opted_out: bool,
}

pub fn targeting_inputs() -> Option<TargetingInputs> {
    CTX.with(|c| {
        let c = c.borrow();
        let c = c.as_ref()?;
        Some(TargetingInputs { traits: c.traits.clone(), user_key: c.person.id.clone(), opted_out: c.opted_out })
    })
}
