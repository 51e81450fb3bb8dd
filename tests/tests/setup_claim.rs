//! First boot of an appliance: until the claim code is entered, the node serves only the
//! setup page, the setup API and the health check; wrong codes are limited per address so
//! that a guesser on the network cannot lock the owner out.

use std::net::{IpAddr, Ipv4Addr};

use peerbox_e2e::{Node, assert_problem, send};
use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CODE: &str = "KX7P-29QD";

fn claim(node: &Node, client: &Client, body: Value) -> reqwest::blocking::Response {
    send(client.post(node.url("/api/v1/setup/claim")).json(&body))
}

/// A client whose connections come from another loopback address, i.e. another machine as
/// far as the node can tell.
fn client_from(ip: [u8; 4]) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(ip)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[test]
fn the_box_serves_nothing_but_setup_until_claimed_then_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let code_file = dir.path().join("claim-code.txt");
    std::fs::write(&code_file, format!("{CODE}\n")).expect("writing the claim code");
    let mut node = Node::start_with_env(&[(
        "PEERBOX_SETUP_CLAIM_CODE_FILE",
        code_file.to_str().expect("utf-8 path"),
    )]);
    let guesser = client_from([127, 0, 0, 2]);
    let owner = client_from([127, 0, 0, 3]);

    // Nothing but setup answers.
    for path in [
        "/api/v1/config",
        "/api/v1/videos",
        "/api/v1/oauth-clients/local",
        "/api/v1/users/me",
    ] {
        let body = assert_problem(node.get(path, None), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body["detail"].as_str().unwrap_or("").contains("/setup"),
            "{path}: {body}"
        );
    }
    let home = send(owner.get(node.url("/")));
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()["location"], "/setup");
    let page = send(owner.get(node.url("/setup")));
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().expect("setup page");
    assert!(
        html.contains("<label for=\"code\">Claim code</label>"),
        "{html}"
    );
    assert_eq!(
        node.get_json("/api/v1/setup/status", None)["claimed"],
        false
    );

    // Wrong codes: refused, then limited for that address only.
    let wrong =
        json!({"claimCode": "AAAA-0000", "instanceName": "Guess", "adminPassword": "guesser-pw"});
    for _ in 0..5 {
        assert_problem(claim(&node, &guesser, wrong.clone()), StatusCode::FORBIDDEN);
    }
    let limited = claim(
        &node,
        &guesser,
        json!({"claimCode": CODE, "instanceName": "Guess", "adminPassword": "guesser-pw"}),
    );
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        node.get_json("/api/v1/setup/status", None)["claimed"],
        false,
        "a limited attempt must not claim"
    );

    // Bad input from the owner: nothing changes.
    assert_problem(
        claim(
            &node,
            &owner,
            json!({"claimCode": CODE, "instanceName": "School", "adminPassword": "123"}),
        ),
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        claim(
            &node,
            &owner,
            json!({"claimCode": CODE, "instanceName": "  ", "adminPassword": "school-admin-pw"}),
        ),
        StatusCode::BAD_REQUEST,
    );
    let garbage = owner
        .post(node.url("/api/v1/setup/claim"))
        .header("content-type", "application/json")
        .body("{not json");
    assert_problem(send(garbage), StatusCode::BAD_REQUEST);
    assert_eq!(
        node.get_json("/api/v1/setup/status", None)["claimed"],
        false
    );

    // The owner claims from another address (codes are read case- and space-insensitively).
    let done = claim(
        &node,
        &owner,
        json!({"claimCode": " kx7p-29qd ", "instanceName": "Hill School", "adminPassword": "school-admin-pw"}),
    );
    assert_eq!(done.status(), StatusCode::OK, "{:?}", done.text());
    assert!(!code_file.exists(), "a used claim code is removed");
    assert_eq!(
        node.get_json("/api/v1/config", None)["instance"]["name"],
        "Hill School"
    );
    assert_eq!(
        node.login("admin", "school-admin-pw").status(),
        StatusCode::OK
    );
    assert_problem(
        claim(
            &node,
            &owner,
            json!({"claimCode": CODE, "instanceName": "Again", "adminPassword": "another-pw"}),
        ),
        StatusCode::CONFLICT,
    );

    // Claimed for good: a restart serves everything and keeps the password.
    node.restart();
    assert_eq!(node.get("/api/v1/videos", None).status(), StatusCode::OK);
    assert_eq!(
        node.login("admin", "school-admin-pw").status(),
        StatusCode::OK
    );
    assert_eq!(
        send(node.req(Method::GET, "/api/v1/setup/status", None)).status(),
        StatusCode::OK
    );
}
