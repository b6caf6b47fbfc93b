//! The web client (`web/` at the repository root) served at `/` beside the API, so
//! `make dev` gives a page on the same origin as the HTTP API. Only GET and HEAD of files
//! directly inside the folder (and `/` for `index.html`); anything else falls through to 404.

use std::path::{Path, PathBuf};

use axum::response::{IntoResponse, Response};

/// The folder the page is served from: `WEB_ROOT`, else the repository's `web/`.
pub fn web_root() -> PathBuf {
    std::env::var_os("WEB_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web"))
}

/// The file for `path`, if it names one: `/` is `index.html`; names with a path separator,
/// a leading dot or `..` are never looked up.
pub async fn file(root: &Path, path: &str) -> Option<Response> {
    let name = match path.strip_prefix('/')? {
        "" => "index.html",
        name => name,
    };
    let safe = !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !safe {
        return None;
    }
    let content_type = content_type(name)?;
    let bytes = tokio::fs::read(root.join(name)).await.ok()?;
    Some(
        (
            [
                ("content-type", content_type),
                // The page is small and changes with the checkout: always revalidate.
                ("cache-control", "no-cache"),
                ("x-content-type-options", "nosniff"),
            ],
            bytes,
        )
            .into_response(),
    )
}

fn content_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_only_plain_names_inside_the_root() {
        let root = std::env::temp_dir().join(format!("web-root-{}", uuid::Uuid::new_v4()));
        tokio::fs::create_dir_all(&root).await.unwrap();
        tokio::fs::write(root.join("index.html"), "<p>hi</p>")
            .await
            .unwrap();
        tokio::fs::write(root.join("app.js"), "1").await.unwrap();
        assert!(file(&root, "/").await.is_some());
        assert!(file(&root, "/app.js").await.is_some());
        for refused in [
            "/../Cargo.toml",
            "/a/b.js",
            "/.env",
            "/app.exe",
            "/missing.js",
            "x",
        ] {
            assert!(file(&root, refused).await.is_none(), "{refused}");
        }
        tokio::fs::remove_dir_all(&root).await.unwrap();
    }
}
