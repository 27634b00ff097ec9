use super::*;

fn demo() -> Vec<Article> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../help");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            Article::parse(name, &std::fs::read_to_string(p).unwrap()).unwrap_or_else(|e| panic!("{e:?}"))
        })
        .collect()
}

fn top(index: &Index, articles: &[Article], q: &str) -> Vec<String> {
    index.search(q).iter().map(|h| articles[h.article].id.clone()).collect()
}

#[test]
fn search_ranks_title_over_tags_over_body() {
    let a = demo();
    let ix = Index::new(&a);
    assert_eq!(top(&ix, &a, "import csv")[0], "import-csv");
    // "slack" is in one title, and in no other text.
    assert_eq!(top(&ix, &a, "slack"), ["connect-slack"]);
    // "invite" is in a title (invite-teammates); no other article mentions it.
    assert_eq!(top(&ix, &a, "invite")[0], "invite-teammates");
    // "status" is a title word of project-status and a body word of two others: title first.
    let status = top(&ix, &a, "status");
    assert_eq!(status[0], "project-status");
    assert_eq!(
        status[1..].iter().collect::<std::collections::BTreeSet<_>>(),
        ["connect-slack", "import-csv"].iter().map(|s| s.to_string()).collect::<Vec<_>>().iter().collect()
    );
    assert!(ix.search("status")[0].score > ix.search("status")[1].score);
}

#[test]
fn search_tolerates_typos_and_partial_words() {
    let a = demo();
    let ix = Index::new(&a);
    assert_eq!(top(&ix, &a, "improt")[0], "import-csv", "swapped letters");
    assert_eq!(top(&ix, &a, "slak")[0], "connect-slack", "a missing letter");
    assert_eq!(top(&ix, &a, "integr")[0], "connect-slack", "a word still being typed");
    assert_eq!(top(&ix, &a, "notificatoins")[0], "connect-slack", "two edits in a long word");
    assert!(top(&ix, &a, "xyzzy").is_empty());
    assert!(top(&ix, &a, "").is_empty());
    assert!(top(&ix, &a, "csv xyzzy").is_empty(), "every word must match");
}

#[test]
fn suggestions_follow_the_page_and_the_segment() {
    let a = demo();
    let ids = |path: &str, seg: Option<&str>| suggest(&a, path, seg).iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids("/", None), ["connect-slack", "import-csv", "project-status"]);
    assert_eq!(ids("/settings.html", Some("small_team")), ["billing-plans", "connect-slack", "invite-teammates"]);
    assert_eq!(
        ids("/settings.html", Some("large_org")),
        ["billing-plans", "connect-slack", "invite-teammates", "single-sign-on"]
    );
    assert!(ids("/nowhere", None).is_empty());
}

#[test]
fn path_patterns() {
    assert!(path_matches("/", "/"));
    assert!(!path_matches("/", "/settings"));
    assert!(path_matches("/settings*", "/settings.html"));
    assert!(path_matches("/projects/*/edit", "/projects/42/edit"));
    assert!(!path_matches("/projects/*/edit", "/projects/42/view"));
    assert!(path_matches("*", "/anything"));
}

#[test]
fn article_errors_name_file_and_field() {
    let e =
        |text: &str| Article::parse("bad file.md", text).unwrap_err().iter().map(|e| e.to_string()).collect::<Vec<_>>();
    assert_eq!(
        e("---\ntitel: Oops\nurls: settings\nvideo: javascript:alert(1)\n---\n"),
        [
            "bad file.md: file name: use letters, digits, - and _ only (it becomes the article id)",
            "bad file.md: titel: unknown field; allowed: title, tags, segments, urls, video",
            "bad file.md: title: is required and must not be empty",
            "bad file.md: body: the article has no text after the front matter",
            r#"bad file.md: urls: "settings" must be a path starting with / (e.g. /settings*)"#,
            r#"bad file.md: video: "javascript:alert(1)" must be an http(s) URL or a path"#,
        ]
    );
    assert_eq!(
        e("---\ntitle: Links\nvideo: //evil.example/v\n---\nSee [settings](/\\evil.example) or \
           [docs](//evil.example/docs), ![x](/img\\a.png), `[code](//x)` and [ok](/settings.html).\n"),
        [
            "bad file.md: file name: use letters, digits, - and _ only (it becomes the article id)",
            "bad file.md: video: \"//evil.example/v\" starts with //, which browsers read as another host \
             (protocol-relative); write the full https:// URL, or a path with a single /",
            "bad file.md: body: link \"/\\\\evil.example\" contains a backslash, which browsers read as / (so \
             /\\host is //host, another host); write the full https:// URL, or the path with / (or %5C for a \
             literal backslash)",
            "bad file.md: body: link \"//evil.example/docs\" starts with //, which browsers read as another host \
             (protocol-relative); write the full https:// URL, or a path with a single /",
            "bad file.md: body: link \"/img\\\\a.png\" contains a backslash, which browsers read as / (so \
             /\\host is //host, another host); write the full https:// URL, or the path with / (or %5C for a \
             literal backslash)",
        ]
    );
    assert_eq!(
        Article::parse("x.md", "no front matter").unwrap_err()[0].to_string(),
        "x.md: front matter: the file must start with a --- line, then `title: …`, then ---"
    );
}
