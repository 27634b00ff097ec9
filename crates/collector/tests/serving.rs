//! Serving the widget, driven through `router(state)` without a socket: the
//! precompressed file `Accept-Encoding` asks for, content-hashed files cached
//! as immutable, the loader's short max-age with `ETag` and 304, `--dev`.
//! The files are stand-ins whose bytes say which one was sent.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use tempfile::TempDir;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::routes::assets::IMMUTABLE;
use touchpoint_collector::{router, AppState};
use tower::ServiceExt;

mod common;
use common::TestDb;

const WASM: &str = "/pkg/touchpoint_bg.0123456789.wasm";
const ENTRY: &str = "/pkg/index.abcdef0123.js";

struct Site {
    dir: TempDir,
    app: Router,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

fn write(path: &Path, bytes: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `dist/` as `scripts/dist.mjs` lays it out (each file with `.br` and `.gz`),
/// plus a demo site and a plain `pkg/` with its own loader and wasm.
fn files(dir: &Path) {
    for (path, text) in [
        ("dist/touchpoint.js", "loader → pkg/index.abcdef0123.js"),
        ("dist/pkg/touchpoint_bg.0123456789.wasm", "\0asm hashed"),
        ("dist/pkg/index.abcdef0123.js", "export {} // entry"),
    ] {
        write(&dir.join(path), &format!("plain {text}"));
        write(&dir.join(format!("{path}.br")), &format!("br {text}"));
        write(&dir.join(format!("{path}.gz")), &format!("gz {text}"));
    }
    write(&dir.join("www/index.html"), "<script src=/touchpoint.js></script>");
    write(&dir.join("www/touchpoint.js"), "source loader → pkg/index.js");
    write(&dir.join("pkg/touchpoint_bg.wasm"), "\0asm plain");
}

async fn site(configure: impl FnOnce(&mut Config, &Path)) -> Site {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let mut config = Config {
        data_dir: dir.path().join("data"),
        surveys_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys"),
        www_dir: dir.path().join("www"),
        pkg_dir: dir.path().join("pkg"),
        dist_dir: Some(dir.path().join("dist")),
        ..Config::default()
    };
    configure(&mut config, dir.path());
    let db = TestDb::new(&config.data_dir).await;
    let store = db.open(&config.data_dir).await;
    let surveys = SurveyCatalog::load_dir(&config.surveys_dir).unwrap();
    let projects = Projects::demo();
    Site { app: router(AppState::new(config, projects, store, surveys)), dir }
}

impl Site {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn send(&self, method: Method, path: &str, headers: &[(header::HeaderName, &str)]) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        let res = self.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
        Answer { status: parts.status, headers: parts.headers, body }
    }

    async fn get(&self, path: &str, headers: &[(header::HeaderName, &str)]) -> Answer {
        self.send(Method::GET, path, headers).await
    }
}

fn text(answer: &Answer) -> &str {
    std::str::from_utf8(&answer.body).unwrap()
}

#[tokio::test]
async fn the_encoding_is_the_one_accept_encoding_asks_for_and_plain_otherwise() {
    let s = site(|_, _| {}).await;
    for (path, content_type, text_of) in [
        ("/touchpoint.js", "text/javascript", "loader → pkg/index.abcdef0123.js"),
        (WASM, "application/wasm", "\0asm hashed"),
        (ENTRY, "text/javascript", "export {} // entry"),
    ] {
        for (accept, encoding) in [
            (Some("br"), Some("br")),
            (Some("gzip"), Some("gzip")),
            // What Chromium sends: brotli wins the tie.
            (Some("gzip, deflate, br, zstd"), Some("br")),
            (Some("br;q=0, gzip"), Some("gzip")),
            (Some("gzip;q=0.5, br;q=0.4"), Some("gzip")),
            (Some("deflate"), None),
            (Some("identity"), None),
            (None, None),
        ] {
            let headers: Vec<_> = accept.map(|a| (header::ACCEPT_ENCODING, a)).into_iter().collect();
            let res = s.get(path, &headers).await;
            let case = format!("{path} with Accept-Encoding {accept:?}");
            assert_eq!(res.status, StatusCode::OK, "{case}");
            assert_eq!(res.header(header::CONTENT_ENCODING), encoding, "{case}");
            let prefix = match encoding {
                Some("br") => "br",
                Some("gzip") => "gz",
                _ => "plain",
            };
            assert_eq!(text(&res), format!("{prefix} {text_of}"), "{case}");
            assert!(res.header(header::CONTENT_TYPE).unwrap().starts_with(content_type), "{case}");
            // A shared cache must not hand one client's encoding to another.
            let vary: Vec<_> = res.headers.get_all(header::VARY).iter().map(|v| v.to_str().unwrap()).collect();
            assert!(vary.iter().any(|v| v.eq_ignore_ascii_case("accept-encoding")), "{case}: Vary {vary:?}");
        }
    }
}

#[tokio::test]
async fn content_hashed_files_are_immutable_and_the_loader_is_not() {
    let s = site(|_, _| {}).await;
    for path in [WASM, ENTRY] {
        let res = s.get(path, &[(header::ACCEPT_ENCODING, "br")]).await;
        assert_eq!(res.header(header::CACHE_CONTROL), Some(IMMUTABLE), "{path}");
    }
    assert_eq!(IMMUTABLE, "public, max-age=31536000, immutable");
    for path in ["/touchpoint.js", "/"] {
        let res = s.get(path, &[]).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.header(header::CACHE_CONTROL), Some("public, max-age=300"), "{path}");
    }
    let s = site(|c, _| c.max_age = 60).await;
    assert_eq!(s.get("/touchpoint.js", &[]).await.header(header::CACHE_CONTROL), Some("public, max-age=60"));
}

#[tokio::test]
async fn the_loader_has_an_etag_per_encoding_and_a_matching_if_none_match_gets_304() {
    let s = site(|_, _| {}).await;
    let br = &[(header::ACCEPT_ENCODING, "br")];
    let first = s.get("/touchpoint.js", br).await;
    let tag = first.header(header::ETAG).expect("an ETag").to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() > 10, "{tag}");

    let again = s.get("/touchpoint.js", &[(header::ACCEPT_ENCODING, "br"), (header::IF_NONE_MATCH, &tag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header(header::ETAG), Some(tag.as_str()));
    assert_eq!(again.header(header::CACHE_CONTROL), Some("public, max-age=300"));
    assert!(again.headers.get_all(header::VARY).iter().any(|v| v == "accept-encoding"));
    // The weak form and a list match too.
    let list = format!("\"other\", W/{tag}");
    let weak = s.get("/touchpoint.js", &[(header::ACCEPT_ENCODING, "br"), (header::IF_NONE_MATCH, &list)]).await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);

    // The gzip copy is another representation with its own tag.
    let gz = s.get("/touchpoint.js", &[(header::ACCEPT_ENCODING, "gzip"), (header::IF_NONE_MATCH, &tag)]).await;
    assert_eq!(gz.status, StatusCode::OK);
    assert_eq!(text(&gz), "gz loader → pkg/index.abcdef0123.js");
    assert_ne!(gz.header(header::ETAG), Some(tag.as_str()));

    // HEAD says the same ETag and sends no bytes.
    let head = s.send(Method::HEAD, "/touchpoint.js", br).await;
    assert_eq!((head.status, head.header(header::ETAG)), (StatusCode::OK, Some(tag.as_str())));
    assert!(head.body.is_empty());

    // A new build: the same URL answers 200 with the new loader, even to an
    // If-Modified-Since that the file's (older) modification time would satisfy.
    write(&s.path("dist/touchpoint.js.br"), "br loader → pkg/index.fedcba9876.js");
    let file = std::fs::File::options().write(true).open(s.path("dist/touchpoint.js.br")).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
    let rebuilt = s
        .get(
            "/touchpoint.js",
            &[
                (header::ACCEPT_ENCODING, "br"),
                (header::IF_NONE_MATCH, &tag),
                (header::IF_MODIFIED_SINCE, "Wed, 01 Jan 2020 00:00:00 GMT"),
            ],
        )
        .await;
    assert_eq!(rebuilt.status, StatusCode::OK);
    assert_eq!(text(&rebuilt), "br loader → pkg/index.fedcba9876.js");
    assert_ne!(rebuilt.header(header::ETAG), Some(tag.as_str()));
}

#[tokio::test]
async fn dev_serves_every_file_no_cache() {
    let s = site(|c, _| c.dev = true).await;
    for path in ["/touchpoint.js", WASM, ENTRY, "/"] {
        let res = s.get(path, &[(header::ACCEPT_ENCODING, "br")]).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.header(header::CACHE_CONTROL), Some("no-cache"), "{path}");
    }
    // Still precompressed, and the loader is still revalidated by its ETag.
    let loader = s.get("/touchpoint.js", &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(loader.header(header::CONTENT_ENCODING), Some("br"));
    let tag = loader.header(header::ETAG).unwrap();
    let again = s.get("/touchpoint.js", &[(header::ACCEPT_ENCODING, "br"), (header::IF_NONE_MATCH, tag)]).await;
    assert_eq!((again.status, again.header(header::CACHE_CONTROL)), (StatusCode::NOT_MODIFIED, Some("no-cache")));
}

#[tokio::test]
async fn with_a_dist_dir_the_loader_and_pkg_come_from_it_and_without_one_from_www_and_pkg() {
    let s = site(|_, _| {}).await;
    assert_eq!(text(&s.get("/touchpoint.js", &[]).await), "plain loader → pkg/index.abcdef0123.js");
    assert_eq!(s.get("/pkg/touchpoint_bg.wasm", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(text(&s.get("/", &[]).await), "<script src=/touchpoint.js></script>");

    let s = site(|c, _| c.dist_dir = None).await;
    assert_eq!(
        text(&s.get("/touchpoint.js", &[(header::ACCEPT_ENCODING, "br")]).await),
        "source loader → pkg/index.js"
    );
    let wasm = s.get("/pkg/touchpoint_bg.wasm", &[]).await;
    assert_eq!(text(&wasm), "\0asm plain");
    // A plain name is not immutable: the next build reuses it.
    assert_eq!(wasm.header(header::CACHE_CONTROL), Some("public, max-age=300"));
    assert!(wasm.header(header::ETAG).is_some());
}

#[tokio::test]
async fn a_missing_file_is_a_404_without_cache_headers() {
    let s = site(|_, _| {}).await;
    let res = s.get("/pkg/touchpoint_bg.ffffffffff.wasm", &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.header(header::CACHE_CONTROL), None);
}

#[tokio::test]
async fn api_answers_are_compressed_as_the_client_allows_and_plain_otherwise() {
    let s = site(|_, _| {}).await;
    let card = "/v1/surveys/nps?form=card&locale=en";
    let plain = s.get(card, &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header(header::CONTENT_ENCODING), None);
    let form: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(form["form"], "card/1", "{form}");

    let br = s.get(card, &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(br.header(header::CONTENT_ENCODING), Some("br"));
    assert!(br.body.len() * 2 < plain.body.len(), "br {} bytes, plain {}", br.body.len(), plain.body.len());

    let gz = s.get(card, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(gz.header(header::CONTENT_ENCODING), Some("gzip"));
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, plain.body, "gzip decodes to the plain answer");

    // The widget's precompressed files are not compressed a second time.
    let wasm = s.get(WASM, &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(text(&wasm), "br \0asm hashed");
}

#[tokio::test]
async fn a_streamed_export_is_compressed_to_its_end() {
    let s = site(|_, _| {}).await;
    let auth = (header::AUTHORIZATION, "Bearer sk_demo");
    let plain = s.get("/v1/export/events.csv", std::slice::from_ref(&auth)).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(text(&plain).starts_with("id,type,"), "{}", text(&plain));
    let gz = s.get("/v1/export/events.csv", &[auth, (header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(gz.header(header::CONTENT_ENCODING), Some("gzip"));
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, plain.body);
}
