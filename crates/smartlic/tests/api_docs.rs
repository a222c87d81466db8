//! Swagger UI at `/api/docs/`: served from the binary (no download, no other origin), with a
//! strict content security policy, over the OpenAPI document it points at.

mod common;
use common::*;
use std::time::Duration;

/// The first `"url": "…"` value of Swagger UI's initializer script.
fn document_url(script: &str) -> Option<String> {
    let after = &script[script.find("\"url\"")? + 5..];
    let after = after.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(after[..after.find('"')?].to_string())
}

#[test]
fn swagger_ui_shows_the_openapi_document() {
    let mut w = World::new();
    let s = w.start_server().clone();
    let http = https_client(&s.ca, None, Duration::from_secs(60));
    block_on(false, async move {
        let get = |path: String| {
            let http = http.clone();
            let url = format!("{}{path}", s.url);
            async move { http.get(&url).send().await.expect("GET") }
        };
        // `/api/docs` leads to the UI's page.
        let resp = get("/api/docs".into()).await;
        assert!(resp.status().is_redirection(), "{}", resp.status());
        assert_eq!(header(&resp, "location").as_deref(), Some("/api/docs/"));

        let page = get("/api/docs/".into()).await;
        assert_eq!(page.status(), 200);
        assert!(
            header(&page, "content-type")
                .unwrap_or_default()
                .starts_with("text/html")
        );
        let csp = header(&page, "content-security-policy").unwrap_or_default();
        for part in ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(!csp.contains("script-src"), "scripts come from this origin only: {csp}");
        assert_eq!(header(&page, "x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header(&page, "x-frame-options").as_deref(), Some("DENY"));
        let html = page.text().await.expect("page");
        assert!(html.contains("id=\"swagger-ui\""), "{html}");
        assert!(
            !html.contains("https://"),
            "the page loads nothing from elsewhere: {html}"
        );

        // Its scripts are served here, as JavaScript (nosniff needs the right type).
        for script in ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"] {
            assert!(html.contains(&format!("./{script}")), "{html}");
            let resp = get(format!("/api/docs/{script}")).await;
            assert_eq!(resp.status(), 200, "{script}");
            let kind = header(&resp, "content-type").unwrap_or_default();
            assert!(kind.contains("javascript"), "{script}: {kind}");
        }
        let init = get("/api/docs/swagger-initializer.js".into()).await;
        assert_eq!(init.status(), 200);
        let script = init.text().await.expect("initializer");
        let doc_url = document_url(&script).unwrap_or_else(|| panic!("no document URL in {script}"));
        assert_eq!(doc_url, "/api/v1/openapi.json");

        // The document it points at is the API's OpenAPI document.
        let doc = get(doc_url).await;
        assert_eq!(doc.status(), 200);
        assert!(
            header(&doc, "content-type")
                .unwrap_or_default()
                .starts_with("application/json")
        );
        let doc: serde_json::Value = doc.json().await.expect("JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
        assert!(doc["paths"]["/api/v1/accounts"].is_object(), "{doc}");
        assert!(doc["components"]["securitySchemes"]["api_key"].is_object(), "{doc}");

        // A file the UI does not have is a 404.
        assert_eq!(get("/api/docs/nothing-here.js".into()).await.status(), 404);
    });
}
