//! The console's files, compiled into the binary (`crates/server/console/`): plain
//! JavaScript modules and CSS, no build step, nothing fetched at run time.

use hyper::header::{self, HeaderValue};
use hyper::StatusCode;

/// (path under /console, content type, contents)
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "/app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/app.css"),
    ),
    (
        "/js/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/app.js"),
    ),
    (
        "/js/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/api.js"),
    ),
    (
        "/js/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/dom.js"),
    ),
    (
        "/js/browser.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/browser.js"),
    ),
    (
        "/js/cli.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/cli.js"),
    ),
    (
        "/js/stream.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/stream.js"),
    ),
    (
        "/js/charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/charts.js"),
    ),
    (
        "/js/cluster.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/cluster.js"),
    ),
    (
        "/js/ops.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/ops.js"),
    ),
    (
        "/favicon.svg",
        "image/svg+xml",
        include_str!("../../console/favicon.svg"),
    ),
];

/// GET /console/<path>: the file, or 404.
pub fn serve(path: &str) -> crate::rest::Resp {
    let rel = path.strip_prefix("/console").unwrap_or(path);
    let rel = if rel.is_empty() || rel == "/index.html" {
        "/"
    } else {
        rel
    };
    match FILES.iter().find(|(p, _, _)| *p == rel) {
        Some((_, ct, body)) => {
            let mut r = super::respond(StatusCode::OK, "text/plain", body.as_bytes().to_vec());
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(*ct));
            // Revalidated on each load: a new binary serves new files at once.
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => super::json_error(StatusCode::NOT_FOUND, "ERR no such console page"),
    }
}
