//! Static files: the widget and the demo site.
//!
//! - `GET /touchpoint.js` — the loader: `<dist-dir>/touchpoint.js` with
//!   `--dist-dir` (the copy `scripts/dist.mjs` wrote, which names the
//!   content-hashed entry), else `--www-dir`'s.
//! - `GET /pkg/...` — the widget: `<dist-dir>/pkg` with `--dist-dir`
//!   (content-hashed names, precompressed), else `--pkg-dir` (plain names).
//! - `GET /...` — the demo site from `--www-dir` (`/` is its `index.html`),
//!   only if that directory exists.
//!
//! **Compression.** A file with a `.br` or `.gz` next to it is sent in
//! the one the request's `Accept-Encoding` prefers (brotli on a tie), with
//! `Content-Encoding`; otherwise as it is. Every file answer says
//! `Vary: Accept-Encoding`, so a cache never hands brotli to a client that
//! did not ask for it.
//!
//! **Caching.** A file named `<name>.<8+ hex digits>.<ext>` is content-hashed
//! (a new build gives it a new name): `public, max-age=31536000, immutable`.
//! Any other file (the loader, pages, plain `/pkg` names) keeps its URL across
//! builds: `public, max-age=<--max-age>` and a strong `ETag` (a hash of the
//! bytes sent, so each encoding has its own), answered with
//! `304 Not Modified` on a matching `If-None-Match`. With `--dev` every file
//! is `no-cache` (still with its `ETag`), so a rebuild shows on the next load.
//! MIME types come from the file extension (`.wasm` is `application/wasm`,
//! which streaming compilation requires).

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};

use crate::config::Config;
use crate::AppState;

/// `Cache-Control` of a content-hashed file.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Files up to this size get an `ETag` (their bytes are read to hash them);
/// larger ones are sent as a stream with `Last-Modified` only.
const MAX_TAGGED_BYTES: u64 = 4 * 1024 * 1024;

pub fn router(config: &Config) -> Router<AppState> {
    let router = match &config.dist_dir {
        Some(dist) => Router::new()
            .route_service("/touchpoint.js", precompressed_file(&dist.join("touchpoint.js")))
            .nest_service("/pkg", guarded(&dist.join("pkg"), precompressed_dir(&dist.join("pkg")))),
        None => Router::new().nest_service("/pkg", guarded(&config.pkg_dir, precompressed_dir(&config.pkg_dir))),
    };
    let router = if config.www_dir.is_dir() {
        router.fallback_service(guarded(&config.www_dir, precompressed_dir(&config.www_dir)))
    } else {
        router.fallback(crate::not_found)
    };
    let policy = Policy { dev: config.dev, max_age: config.max_age };
    router.layer(middleware::from_fn_with_state(policy, cache))
}

/// `files` behind [`super::safe_files`]: no dotfiles, no links below `root`.
fn guarded(root: &Path, files: ServeDir) -> Router {
    let root = std::sync::Arc::new(root.to_path_buf());
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn_with_state(root, super::safe_files::refuse_hidden_and_links))
}

fn precompressed_dir(dir: &Path) -> ServeDir {
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}

fn precompressed_file(file: &Path) -> ServeFile {
    ServeFile::new(file).precompressed_br().precompressed_gzip()
}

#[derive(Clone, Copy)]
struct Policy {
    dev: bool,
    max_age: u32,
}

/// Whether the last segment of `path` is `<name>.<hash>.<ext>` with a hash of
/// 8 to 64 lowercase hex digits, as `scripts/dist.mjs` names what it hashes.
pub fn is_content_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let mut parts = file.rsplit('.');
    let (Some(ext), Some(hash), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !ext.is_empty()
        && !name.is_empty()
        && (8..=64).contains(&hash.len())
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Sets `Cache-Control`, `Vary` and (for files with stable names) `ETag` on
/// file answers, and answers a matching `If-None-Match` with 304.
async fn cache(State(policy): State<Policy>, mut req: Request, next: Next) -> Response {
    let immutable = !policy.dev && is_content_hashed(req.uri().path());
    let if_none_match = req.headers().get(IF_NONE_MATCH).cloned();
    if if_none_match.is_some() {
        // RFC 9110 13.1.3: with If-None-Match, If-Modified-Since is ignored (a file
        // copied with an old mtime but new bytes must not be answered 304).
        req.headers_mut().remove(IF_MODIFIED_SINCE);
    }
    // A HEAD answer carries the same ETag as a GET: read the bytes, send none.
    let head = req.method() == Method::HEAD;
    if head && !immutable {
        *req.method_mut() = Method::GET;
    }
    let res = next.run(req).await;
    if !matches!(res.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let cache_control = if policy.dev {
        HeaderValue::from_static("no-cache")
    } else if immutable {
        HeaderValue::from_static(IMMUTABLE)
    } else {
        HeaderValue::from_str(&format!("public, max-age={}", policy.max_age)).expect("a number is a valid header value")
    };
    parts.headers.insert(CACHE_CONTROL, cache_control);
    parts.headers.append(VARY, HeaderValue::from_static("accept-encoding"));

    let small = content_length(&parts.headers).is_some_and(|n| n <= MAX_TAGGED_BYTES);
    if immutable || parts.status != StatusCode::OK || !small {
        let body = if head { Body::empty() } else { body };
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_TAGGED_BYTES as usize).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let tag = etag(&bytes);
    if if_none_match.as_ref().is_some_and(|inm| matches_etag(inm, &tag)) {
        let mut not_modified = Response::new(Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        for name in [CACHE_CONTROL, VARY, LAST_MODIFIED] {
            for value in parts.headers.get_all(&name) {
                not_modified.headers_mut().append(name.clone(), value.clone());
            }
        }
        not_modified.headers_mut().insert(ETAG, tag);
        return not_modified;
    }
    parts.headers.insert(ETAG, tag);
    Response::from_parts(parts, if head { Body::empty() } else { Body::from(bytes) })
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// A strong validator: the first 128 bits of the SHA-256 of the bytes sent.
fn etag(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex in quotes is a valid header value")
}

/// `If-None-Match` uses the weak comparison: `W/` prefixes are ignored; `*` matches any.
fn matches_etag(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let (Ok(list), Ok(tag)) = (if_none_match.to_str(), tag.to_str()) else { return false };
    list.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hashed_names() {
        for path in ["/pkg/touchpoint.3f2a9c1b.js", "/pkg/touchpoint_bg.0123456789.wasm", "/pkg/index.abcdef0123.js"] {
            assert!(is_content_hashed(path), "{path}");
        }
        for path in [
            "/touchpoint.js",
            "/pkg/index.js",
            "/pkg/touchpoint_bg.wasm",
            "/pkg/x.3f2a9c1.js",   // 7 digits
            "/pkg/x.3F2A9C1B.js",  // upper case
            "/pkg/x.3f2a9c1g.js",  // not hex
            "/pkg/.3f2a9c1b.js",   // no name
            "/3f2a9c1b.js",        // no name either
            "/pkg/deadbeef00.d/x", // a directory does not count
        ] {
            assert!(!is_content_hashed(path), "{path}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        let tag = HeaderValue::from_static("\"abc\"");
        for inm in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(matches_etag(&HeaderValue::from_static(inm), &tag), "{inm}");
        }
        for inm in ["\"abd\"", "abc", "\"abc"] {
            assert!(!matches_etag(&HeaderValue::from_static(inm), &tag), "{inm}");
        }
    }
}
