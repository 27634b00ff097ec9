//! What the static routes refuse to serve, whatever is in their folders:
//! dotfiles and dot-folders (`.env`, `.git/`, an editor's `.swp`) and
//! symbolic links below the served folder (a link to `/etc` or to the
//! data directory would publish it). Both answer 404, as if absent. The
//! served folder itself may be a link: the operator chose it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware in front of a `ServeDir`/`ServeFile` rooted at `root` (the
/// request path is relative to it, as `nest_service` passes it).
pub async fn refuse_hidden_and_links(State(root): State<Arc<PathBuf>>, req: Request, next: Next) -> Response {
    if refused(&root, req.uri().path()) {
        return crate::not_found().await.into_response();
    }
    next.run(req).await
}

fn refused(root: &Path, path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let segments: Vec<&str> = decoded.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| s.starts_with('.')) {
        return true;
    }
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let mut file = root.to_path_buf();
    for segment in &segments {
        file.push(segment);
        if is_link(&file) {
            return true;
        }
    }
    // What ServeDir may send instead: a folder's index.html, a precompressed copy.
    let index = file.join("index.html");
    let variants = ["br", "gz"].map(|ext| {
        let mut name = file.clone().into_os_string();
        name.push(".");
        name.push(ext);
        PathBuf::from(name)
    });
    is_link(&index) || variants.iter().any(|v| is_link(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotfiles_and_links_are_refused_plain_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "hi").unwrap();
        std::fs::write(root.join("sub/page.html"), "hi").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "private").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        std::fs::write(root.join("app.js"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("app.js.br")).unwrap();
        for ok in ["/", "/index.html", "/sub/page.html", "/sub/"] {
            assert!(!refused(&root, ok), "{ok}");
        }
        for bad in ["/.env", "/%2eenv", "/sub/../.env", "/.git/config", "/link.txt", "/up/outside.txt", "/app.js"] {
            assert!(refused(&root, bad), "{bad}");
        }
    }
}
