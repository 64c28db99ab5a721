//! The console over plain HTTP: signing in, the session cookie, cross-site protection, the
//! security headers, and escaping. (The browser tests are in `tests/console.rs`.)

use reqwest::redirect::Policy;

use crate::helpers::*;

/// A client that keeps cookies and does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    client
        .post(app.url("/console/login"))
        .header("origin", format!("http://{}", app.addr))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// The HTML of the console page at `path`, as `client` sees it.
async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let r = client.get(app.url(path)).send().await.unwrap();
    r.text().await.unwrap()
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + 64].to_owned()
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_pages_need_it() {
    let app = TestApp::spawn().await;
    let client = browser();
    let r = client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");

    let r = sign_in(&app, &client, "not-the-token-at-all").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());

    let r = sign_in(&app, &client, ADMIN_TOKEN).await;
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in [
        "txhook_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        !cookie.contains(ADMIN_TOKEN),
        "the token itself is never the cookie"
    );

    let r = client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("callbacks-chart"));
    assert!(!page.contains(ADMIN_TOKEN));

    // A sign-in posted from another site is refused.
    let r = client
        .post(app.url("/console/login"))
        .header("origin", "http://evil.example")
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn signing_out_ends_the_session_for_every_copy_of_its_cookie() {
    let app = TestApp::spawn().await;
    let client = browser();
    let r = sign_in(&app, &client, ADMIN_TOKEN).await;
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let copy = set.split(';').next().unwrap().to_owned();
    // A copy of the cookie, as another tab or a thief would hold it, works before.
    let with_copy = |path: &str| {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
            .get(app.url(path))
            .header("cookie", copy.clone())
            .send()
    };
    assert_eq!(with_copy("/console").await.unwrap().status(), 200);

    let page = client
        .get(app.url("/console"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = client
        .post(app.url("/console/logout"))
        .header("origin", format!("http://{}", app.addr))
        .form(&[("csrf", csrf(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");

    // After signing out, the copy no longer signs anyone in.
    let r = with_copy("/console/transactions").await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");
    // A new sign-in is a new session.
    assert_eq!(sign_in(&app, &browser(), ADMIN_TOKEN).await.status(), 303);
}

#[tokio::test]
async fn changes_need_the_same_origin_and_the_form_token() {
    let app = TestApp::spawn().await;
    let client = browser();
    sign_in(&app, &client, ADMIN_TOKEN).await;
    let page = page(&app, &client, "/console/quarantine").await;
    let token = csrf(&page);
    let origin = format!("http://{}", app.addr);
    let post = |origin: Option<String>, token: String| {
        let client = client.clone();
        let url = app.url("/console/quarantine/reprocess");
        async move {
            let mut req = client.post(url).form(&[("csrf", token)]);
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            req.send().await.unwrap().status()
        }
    };
    assert_eq!(
        post(Some("http://evil.example".into()), token.clone()).await,
        403
    );
    assert_eq!(post(None, token.clone()).await, 403);
    assert_eq!(post(Some(origin.clone()), "0".repeat(64)).await, 403);
    assert_eq!(post(Some(origin), token).await, 303);
}

#[tokio::test]
async fn everything_a_sender_wrote_is_escaped() {
    let app = TestApp::spawn().await;
    let client = browser();
    sign_in(&app, &client, ADMIN_TOKEN).await;
    let id = format!("x<script>alert(1)</script>{}", new_id());
    let body = serde_json::json!({
        "id": id, "type": "\"><img src=x onerror=alert(2)>", "walletId": "<b>w</b>",
        "status": { "state": "PENDING", "reason": "<script>alert(3)</script>" },
        "amount": { "amount": "1.00", "currency": "EUR" }
    })
    .to_string();
    let (status, answer) = app.deliver(&body).await;
    assert_eq!(status, 200, "{answer}");
    // A refused one, too, with a hostile header.
    let r = app
        .client
        .post(app.url("/webhooks/transactions"))
        .header("x-evil", "\"><img src=x onerror=alert(4)>")
        .body("<script>alert(5)</script>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let t = app
        .get_admin_json(&format!(
            "/api/v1/transactions/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(t["status"]["state"], "PENDING");
    let pages = [
        format!(
            "/console/transactions/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ),
        "/console/transactions".to_owned(),
        "/console/events".to_owned(),
        format!("/console/events/{}", answer["sequence"]),
    ];
    for path in pages {
        let r = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let html = r.text().await.unwrap();
        for raw in ["<script>alert", "<img src=x", "<b>w</b>"] {
            assert!(!html.contains(raw), "{path} holds {raw} unescaped");
        }
        assert!(
            html.contains("&lt;script&gt;") || html.contains("&lt;img"),
            "{path}"
        );
    }
    // The refused request shows up, escaped, once the bounded recorder has written it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let html = page(&app, &client, "/console/rejected").await;
        if html.contains("tr class=\"rejected\"") {
            assert!(!html.contains("<script>alert") && !html.contains("<img src=x"));
            assert!(html.contains("missing_signature"), "the reason is shown");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refusal was never shown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
