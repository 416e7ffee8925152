//! The controller against a fake agent, through the real binary: refusals and close
//! codes, slot takeover, operations out, exactly-once storage in, the CLI's output,
//! /healthz, the HTTP API, schedules, wss with a pinned self-made certificate.
//! Each test runs on SQLite, and on PostgreSQL when KSOCKET_TEST_POSTGRES is set.

mod common;

use common::{Agent, Backend, Env, Event, host};
use ksocket_proto::messages::{AgentMessage, ControllerMessage, MAX_FRAME, Operation};
use ksocket_proto::records::{CollectError, ErrorKind, SCHEMA, Summary};
use std::time::Duration;

fn summary(hosts: u64) -> Summary {
    Summary {
        schema: SCHEMA,
        hosts,
        probed: 256,
        sent: 300,
        retries: Some(44),
        retried: 44,
        no_route: 0,
        unprivileged: false,
        discovery_seconds: 0.5,
        details: vec![],
        checks: Vec::new(),
    }
}

/// The next operation the agent receives: (id, operation).
async fn next_operation(a: &mut Agent) -> (String, Operation) {
    match a.msg().await {
        ControllerMessage::Operation { id, operation } => (id, operation),
        other => panic!("expected an operation, got {other:?}"),
    }
}

async fn expect_ack(a: &mut Agent, op: &str, seq: u64) {
    match a.msg().await {
        ControllerMessage::Ack { op: o, seq: s } => {
            assert_eq!((o.as_str(), s), (op, seq), "ack");
        }
        other => panic!("expected ack {op} {seq}, got {other:?}"),
    }
}

/// Nothing but heartbeat answers for `d`.
async fn expect_quiet(a: &mut Agent, d: Duration) {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        match a.recv_within(left).await {
            None => return,
            Some(Event::Msg(ControllerMessage::Heartbeat { .. })) => continue,
            Some(other) => panic!("expected nothing, got {other:?}"),
        }
    }
}

both!(refusals_have_their_close_codes);
async fn refusals_have_their_close_codes(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let gone = env.token("gone", false).await;
    let op = env.token("ops", true).await;
    env.ok(&["token", "revoke", "gone"]).await;
    let srv = env.serve(&["--plain-ws"]).await;

    // Unknown, revoked, operator, no token at all.
    for (t, code) in [
        ("kst_0000", 4100),
        (gone.as_str(), 4101),
        (op.as_str(), 4100),
        ("", 4100),
    ] {
        let mut a = Agent::connect(&srv.url, t, None).await.expect("connect");
        a.send(&Agent::hello("edge", "i-1", vec![])).await;
        let (c, reason) = a.closed().await;
        assert_eq!(c, code, "token {t:.8}: {reason}");
        assert!(!reason.is_empty());
        if !t.is_empty() {
            assert!(!reason.contains(t), "the reason names the token");
        }
    }

    // A wrong protocol version.
    let mut a = Agent::connect(&srv.url, &tok, None).await.unwrap();
    let mut hello = serde_json::to_value(Agent::hello("edge", "i-1", vec![])).unwrap();
    hello["protocol"] = 2.into();
    a.send_text(hello.to_string()).await;
    assert_eq!(a.closed().await.0, 4103);

    // The slot: held by i-1, refused to i-2 while the lease lives.
    let (a1, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let mut a2 = Agent::connect(&srv.url, &tok, None).await.unwrap();
    a2.send(&Agent::hello("edge", "i-2", vec![])).await;
    let (c, reason) = a2.closed().await;
    assert_eq!(c, 4102, "{reason}");
    assert!(reason.contains("another agent instance"), "{reason}");
    assert!(!reason.contains(&tok));
    // A clean close frees it at once (once the controller has seen the close).
    a1.close().await;
    let mut freed = false;
    for _ in 0..50 {
        let out = env.ok(&["agents", "--format", "json"]).await;
        if out.contains("\"connected\": false") {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "the slot was not released on a clean close");
    let (a3, _) = Agent::join(&srv.url, &tok, "i-2", vec![], None).await;
    a3.close().await;

    // The agents listing knows the instance and says who is connected.
    let out = env.ok(&["agents", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let edge = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "edge")
        .unwrap();
    assert_eq!(edge["instance"], "i-2");
    assert_eq!(edge["version"], "0.1.0-test");
    assert!(edge["lastSeen"].as_i64().unwrap() > 0);
    let gone = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "gone")
        .unwrap();
    assert_eq!(gone["revoked"], true);
    srv.stop().await;
}

both!(same_instance_takes_over);
async fn same_instance_takes_over(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut old, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let (mut new, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let (c, reason) = old.closed().await;
    assert_eq!(c, 4002, "{reason}");
    // The new one holds the slot: its heartbeats are answered.
    new.send(&AgentMessage::Heartbeat { seq: 7 }).await;
    match new.recv().await {
        Event::Msg(ControllerMessage::Heartbeat { seq }) => assert_eq!(seq, 7),
        other => panic!("{other:?}"),
    }
    let out = env.ok(&["agents", "--format", "json"]).await;
    assert!(out.contains("\"connected\": true"), "{out}");
    new.close().await;
    srv.stop().await;
}

both!(oversize_and_garbage_close);
async fn oversize_and_garbage_close(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    // Before hello and after welcome.
    for joined in [false, true] {
        for (what, code) in [
            ("big", 4001),
            ("garbage", 4000),
            ("unknown", 4000),
            ("binary", 4000),
        ] {
            let mut a = if joined {
                Agent::join(&srv.url, &tok, "i-1", vec![], None).await.0
            } else {
                Agent::connect(&srv.url, &tok, None).await.unwrap()
            };
            match what {
                "big" => {
                    let pad = "x".repeat(MAX_FRAME + 16);
                    a.send_text(format!(r#"{{"type":"heartbeat","seq":1,"pad":"{pad}"}}"#))
                        .await
                }
                "garbage" => a.send_text("{not json".into()).await,
                "unknown" => a.send_text(r#"{"type":"launch","op":"x"}"#.into()).await,
                _ => a.send_binary(b"{}".to_vec()).await,
            }
            let (c, reason) = a.closed().await;
            assert_eq!(c, code, "{what} (joined: {joined}): {reason}");
        }
    }
    // Still serving.
    let (a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    a.close().await;
    srv.stop().await;
}

both!(scan_results_are_stored_exactly_once);
async fn scan_results_are_stored_exactly_once(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;

    // Queued through the CLI, it reaches the agent.
    let out = env
        .ok(&[
            "scan",
            "--agent",
            "edge",
            "--details",
            "--exclude",
            "198.18.0.9",
            "198.18.0.0/24",
        ])
        .await;
    let id = out.trim().to_string();
    let (got, op) = next_operation(&mut a).await;
    assert_eq!(got, id);
    assert_eq!(
        op,
        Operation::Scan {
            targets: vec!["198.18.0.0/24".into()],
            excludes: vec!["198.18.0.9".into()],
            details: Some(true),
            ports: None,
            rate: None,
            names: None,
            sweep: None,
        }
    );
    assert_eq!(env.operation(&id).await["state"], "sent");
    a.send(&AgentMessage::Accepted {
        op: id.clone(),
        running: true,
    })
    .await;
    a.send(&AgentMessage::Progress {
        op: id.clone(),
        probed: 10,
        total: 256,
        up: 2,
    })
    .await;

    let c1 = AgentMessage::Records {
        op: id.clone(),
        seq: 1,
        hosts: vec![host([198, 18, 0, 1]), host([198, 18, 0, 2])],
    };
    let mut h3 = host([198, 18, 0, 3]);
    h3.mac = Some("02:00:00:00:00:03".parse().unwrap());
    let c2 = AgentMessage::Records {
        op: id.clone(),
        seq: 2,
        hosts: vec![h3],
    };
    // Chunk 2 first: stored, but nothing is acknowledged before 1.
    a.send(&c2).await;
    expect_quiet(&mut a, Duration::from_millis(700)).await;
    a.send(&c1).await;
    expect_ack(&mut a, &id, 2).await;
    // Resent chunks (after a cut, say) are stored as nothing and acknowledged again.
    a.send(&c1).await;
    expect_ack(&mut a, &id, 2).await;
    a.send(&c2).await;
    expect_ack(&mut a, &id, 2).await;
    let o = env.operation(&id).await;
    assert_eq!(o["state"], "running");
    assert_eq!(o["progress"]["probed"], 10);
    assert_eq!(
        (o["chunks"].as_i64(), o["records"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(o["complete"], false);

    a.send(&AgentMessage::Done {
        op: id.clone(),
        seq: 3,
        summary: summary(3),
    })
    .await;
    expect_ack(&mut a, &id, 3).await;
    a.send(&AgentMessage::Done {
        op: id.clone(),
        seq: 3,
        summary: summary(3),
    })
    .await;
    expect_ack(&mut a, &id, 3).await;

    let o = env.operation(&id).await;
    assert_eq!(o["state"], "done");
    assert_eq!(o["complete"], true);
    assert_eq!(
        (o["chunks"].as_i64(), o["records"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(o["storedSeq"], 3);
    assert_eq!(o["finalSeq"], 3);
    assert_eq!(o["summary"]["hosts"], 3);
    assert!(o["finished"].as_i64().is_some());

    // Each record once, with its chunk's seq.
    let r = env.results(&id).await;
    let got: Vec<(i64, String)> = r
        .iter()
        .map(|x| {
            (
                x["seq"].as_i64().unwrap(),
                x["host"]["ip"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "198.18.0.1".to_string()),
            (1, "198.18.0.2".to_string()),
            (2, "198.18.0.3".to_string())
        ]
    );
    assert_eq!(r[0]["host"]["schema"], 1);
    assert_eq!(r[0]["host"]["via"][0], "arp");

    // The inventory.
    let h: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["hosts", "--format", "json"]).await).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[2]["ip"], "198.18.0.3");
    assert_eq!(h[2]["mac"], "02:00:00:00:00:03");
    assert_eq!(h[2]["agent"], "edge");
    assert!(h[0]["firstSeen"].as_i64().unwrap() > 0);
    assert!(h[0]["lastSeen"].as_i64().unwrap() >= h[0]["firstSeen"].as_i64().unwrap());
    let csv = env.ok(&["hosts", "--format", "csv"]).await;
    assert!(csv.starts_with("ip,mac,"), "{csv}");
    assert!(
        csv.contains("198.18.0.3,02:00:00:00:00:03,arp,,edge,"),
        "{csv}"
    );
    let table = env.ok(&["hosts"]).await;
    assert_eq!(table.lines().count(), 4, "{table}");

    // `scan --wait` of an operation the agent fails: exit 1 with its error.
    let waiter = {
        let args: Vec<String> = [
            "scan",
            "--agent",
            "edge",
            "--wait",
            "--timeout",
            "30",
            "198.18.1.0/24",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let env_args = (env.dir.path().to_path_buf(), env.database.clone());
        tokio::spawn(async move {
            let mut cmd = tokio::process::Command::new(common::BIN);
            cmd.arg("--data").arg(&env_args.0);
            if let Some(d) = &env_args.1 {
                cmd.arg("--database").arg(d);
            }
            cmd.args(&args).kill_on_drop(true);
            tokio::time::timeout(Duration::from_secs(60), cmd.output()).await
        })
    };
    let (id2, _) = next_operation(&mut a).await;
    a.send(&AgentMessage::Records {
        op: id2.clone(),
        seq: 1,
        hosts: vec![host([198, 18, 1, 1])],
    })
    .await;
    expect_ack(&mut a, &id2, 1).await;
    a.send(&AgentMessage::Failed {
        op: id2.clone(),
        seq: 2,
        error: CollectError {
            kind: ErrorKind::Cancelled,
            message: "cancelled".into(),
        },
    })
    .await;
    expect_ack(&mut a, &id2, 2).await;
    let out = waiter.await.unwrap().expect("scan --wait ended").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with(&id2), "{stdout}");
    assert!(
        stdout.contains("failed: 2 chunks, 1 records: cancelled"),
        "{stdout}"
    );

    a.close().await;
    srv.stop().await;
}

both!(welcome_says_what_is_stored);
async fn welcome_says_what_is_stored(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut a, stored) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    assert!(stored.is_empty());
    let id = env.scan("edge", "198.18.0.0/28").await;
    let (got, _) = next_operation(&mut a).await;
    assert_eq!(got, id);
    // Chunks 1 and 3 arrive, 2 is lost; the connection is cut.
    for seq in [1u64, 3] {
        a.send(&AgentMessage::Records {
            op: id.clone(),
            seq,
            hosts: vec![host([198, 18, 0, seq as u8])],
        })
        .await;
    }
    expect_ack(&mut a, &id, 1).await;
    a.cut();

    // The same instance comes back with chunks unacknowledged: stored says 1, and an
    // operation the controller never saw says 0.
    let (mut a, stored) = Agent::join(
        &srv.url,
        &tok,
        "i-1",
        vec![(id.clone(), 3), ("op-never".into(), 2)],
        None,
    )
    .await;
    let stored: Vec<(String, u64)> = stored.into_iter().map(|c| (c.op, c.last_seq)).collect();
    assert_eq!(stored, vec![(id.clone(), 1), ("op-never".into(), 0)]);
    // The operation was sent but never accepted: it is sent again.
    let (again, _) = next_operation(&mut a).await;
    assert_eq!(again, id);
    // The agent resends 2 and 3, then done.
    for seq in [2u64, 3] {
        a.send(&AgentMessage::Records {
            op: id.clone(),
            seq,
            hosts: vec![host([198, 18, 0, seq as u8])],
        })
        .await;
    }
    expect_ack(&mut a, &id, 3).await;
    expect_ack(&mut a, &id, 3).await;
    a.send(&AgentMessage::Done {
        op: id.clone(),
        seq: 4,
        summary: summary(3),
    })
    .await;
    expect_ack(&mut a, &id, 4).await;
    let r = env.results(&id).await;
    let seqs: Vec<i64> = r.iter().map(|x| x["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(env.operation(&id).await["complete"], true);
    // A chunk of an operation that is not this agent's is acknowledged, not stored.
    a.send(&AgentMessage::Records {
        op: "op-never".into(),
        seq: 2,
        hosts: vec![host([198, 18, 9, 9])],
    })
    .await;
    expect_ack(&mut a, "op-never", 2).await;
    let h = env.ok(&["hosts", "--format", "json"]).await;
    assert!(!h.contains("198.18.9.9"));
    a.close().await;
    srv.stop().await;
}

both!(healthz_and_the_operator_api);
async fn healthz_and_the_operator_api(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let opt = env.token("ops", true).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (s, body) = srv.http("GET", "/healthz", None, None).await;
    assert_eq!((s, body.trim()), (200, "ok"));

    // Refused: no token, an agent token, an unknown one.
    for t in [None, Some(tok.as_str()), Some("kst_nope")] {
        let (s, _) = srv.http("GET", "/api/v1/hosts", t, None).await;
        assert_eq!(s, if t == Some(tok.as_str()) { 403 } else { 401 });
        let (s, _) = srv
            .http(
                "POST",
                "/api/v1/scan",
                t,
                Some(r#"{"agent":"edge","targets":["198.18.0.0/30"]}"#),
            )
            .await;
        assert!(s == 401 || s == 403, "{s}");
    }
    assert!(env.ok(&["operations", "--format", "json"]).await.trim() == "[]");

    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let (s, body) = srv
        .http(
            "POST",
            "/api/v1/scan",
            Some(&opt),
            Some(r#"{"agent":"edge","targets":["198.18.0.0/30"],"excludes":[],"details":true}"#),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // An API scan wakes the agent's connection at once (same controller).
    let t0 = tokio::time::Instant::now();
    let (got, _) = next_operation(&mut a).await;
    assert_eq!(got, id);
    assert!(t0.elapsed() < Duration::from_secs(3));
    a.send(&AgentMessage::Records {
        op: id.clone(),
        seq: 1,
        hosts: vec![host([198, 18, 0, 1])],
    })
    .await;
    expect_ack(&mut a, &id, 1).await;
    a.send(&AgentMessage::Done {
        op: id.clone(),
        seq: 2,
        summary: summary(1),
    })
    .await;
    expect_ack(&mut a, &id, 2).await;

    let (s, body) = srv
        .http("GET", &format!("/api/v1/operations/{id}"), Some(&opt), None)
        .await;
    assert_eq!(s, 200);
    let o: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (o["state"].as_str(), o["complete"].as_bool()),
        (Some("done"), Some(true))
    );
    let (s, body) = srv
        .http(
            "GET",
            &format!("/api/v1/operations/{id}/results"),
            Some(&opt),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r[0]["seq"], 1);
    assert_eq!(r[0]["host"]["ip"], "198.18.0.1");
    let (s, body) = srv.http("GET", "/api/v1/hosts", Some(&opt), None).await;
    assert_eq!(s, 200);
    assert!(body.contains("\"198.18.0.1\""));
    let (s, body) = srv.http("GET", "/api/v1/agents", Some(&opt), None).await;
    assert_eq!(s, 200);
    assert!(body.contains("\"connected\":true"), "{body}");
    let (s, body) = srv
        .http("GET", "/api/v1/operations", Some(&opt), None)
        .await;
    assert_eq!(s, 200);
    assert!(body.contains(&id));
    let (s, _) = srv
        .http("GET", "/api/v1/operations/op-none", Some(&opt), None)
        .await;
    assert_eq!(s, 404);
    // Bad requests: unknown agent, a body that is not the shape.
    let (s, _) = srv
        .http(
            "POST",
            "/api/v1/scan",
            Some(&opt),
            Some(r#"{"agent":"nobody","targets":[]}"#),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = srv
        .http("POST", "/api/v1/scan", Some(&opt), Some("[1]"))
        .await;
    assert_eq!(s, 400);
    // Revoking the agent's token closes its connection with 4101.
    env.ok(&["token", "revoke", "edge"]).await;
    let (c, _) = a.closed().await;
    assert_eq!(c, 4101);
    srv.stop().await;
}

both!(schedules_queue_scans);
async fn schedules_queue_scans(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let sid = env
        .ok(&[
            "schedule",
            "add",
            "--agent",
            "edge",
            "--every",
            "6h",
            "--details",
            "198.18.0.0/29",
        ])
        .await
        .trim()
        .to_string();
    assert!(sid.starts_with("sch-"));
    let list = env.ok(&["schedule", "list", "--format", "json"]).await;
    assert!(list.contains(&sid) && list.contains("21600"), "{list}");
    // The first run is due at once; the server queues it within a few seconds.
    let (id, op) = next_operation(&mut a).await;
    assert_eq!(
        op,
        Operation::Scan {
            targets: vec!["198.18.0.0/29".into()],
            excludes: vec![],
            details: Some(true),
            ports: None,
            rate: None,
            names: None,
            sweep: None
        }
    );
    assert_eq!(env.operation(&id).await["schedule"], sid.as_str());
    // Not again before 6 h.
    expect_quiet(&mut a, Duration::from_secs(3)).await;
    env.ok(&["schedule", "remove", &sid]).await;
    let (code, _, _) = env.cli(&["schedule", "remove", &sid]).await;
    assert_ne!(code, 0);
    let (code, _, err) = env
        .cli(&[
            "schedule",
            "add",
            "--agent",
            "edge",
            "--every",
            "1s",
            "198.18.0.0/29",
        ])
        .await;
    assert_ne!(code, 0, "{err}");
    a.close().await;
    srv.stop().await;
}

both!(wss_with_a_self_made_certificate);
async fn wss_with_a_self_made_certificate(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&[]).await;
    assert!(srv.url.starts_with("wss://127.0.0.1:"), "{}", srv.url);
    let fp = srv.fingerprint.clone().expect("a fingerprint printed");
    assert_eq!(fp.len(), 64);
    // The pinned certificate is the one served.
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], Some(&fp)).await;
    a.send(&AgentMessage::Heartbeat { seq: 1 }).await;
    assert!(matches!(
        a.recv().await,
        Event::Msg(ControllerMessage::Heartbeat { seq: 1 })
    ));
    a.close().await;
    // Another pin is refused by the client.
    let wrong = "0".repeat(64);
    assert!(Agent::connect(&srv.url, &tok, Some(&wrong)).await.is_err());
    srv.stop().await;
    // The certificate is kept: the same fingerprint after a restart.
    let srv = env.serve(&[]).await;
    assert_eq!(srv.fingerprint.as_deref(), Some(fp.as_str()));
    srv.stop().await;
}

both!(backup_and_token_hygiene);
async fn backup_and_token_hygiene(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    // A name is never reused; bad names are refused.
    let (code, _, _) = env.cli(&["token", "create", "edge"]).await;
    assert_ne!(code, 0);
    let (code, _, _) = env.cli(&["token", "create", "a b"]).await;
    assert_ne!(code, 0);
    // The secret is printed once and never listed.
    let list = env.ok(&["token", "list", "--format", "json"]).await;
    assert!(list.contains("\"edge\"") && !list.contains(&tok));
    let file = env.dir.path().join("backup.sqlite");
    let (code, out, err) = env.cli(&["backup", file.to_str().unwrap()]).await;
    match b {
        Backend::Sqlite => {
            assert_eq!(code, 0, "{out}{err}");
            let copy = Env::new(&Backend::Sqlite).await;
            // The copy opens as a database with the token in it.
            let url = format!("sqlite://{}", file.display());
            let (code, out, _) = copy.cli(&["--database", &url, "token", "list"]).await;
            assert_eq!(code, 0);
            assert!(out.contains("edge"));
        }
        Backend::Postgres(_) => {
            assert_ne!(code, 0);
            assert!(err.contains("pg_dump"), "{err}");
        }
    }
    // The database never holds the token itself.
    if matches!(b, Backend::Sqlite) {
        let raw = std::fs::read(env.dir.path().join("controller.sqlite")).unwrap();
        let wal = std::fs::read(env.dir.path().join("controller.sqlite-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(tok.len()).any(|w| w == tok.as_bytes()));
        }
    }
}

/// Two controllers on one PostgreSQL database: a scan ordered through A reaches the
/// agent on B at once (NOTIFY); the agent's connection is cut and resumed on A; every
/// record is stored once; a takeover on A closes the stale connection on B with 4002.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_two_controllers_one_database() {
    let Some(b) = Backend::postgres() else {
        common::skip("fleet_two_controllers_one_database");
        return;
    };
    let env_a = Env::new(&b).await;
    let env_b = env_a.sibling();
    let tok = env_a.token("edge", false).await;
    let opt = env_a.token("ops", true).await;
    let ctl_a = env_a.serve(&["--plain-ws"]).await;
    let ctl_b = env_b.serve(&["--plain-ws"]).await;

    let (mut agent, _) = Agent::join(&ctl_b.url, &tok, "i-1", vec![], None).await;
    // Ordered through A's API: B's connection gets it well before the 1 s poll
    // would matter twice.
    let (s, body) = ctl_a
        .http(
            "POST",
            "/api/v1/scan",
            Some(&opt),
            Some(r#"{"agent":"edge","targets":["198.18.0.0/29"]}"#),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t0 = tokio::time::Instant::now();
    let (got, _) = next_operation(&mut agent).await;
    assert_eq!(got, id);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    agent
        .send(&AgentMessage::Accepted {
            op: id.clone(),
            running: true,
        })
        .await;
    agent
        .send(&AgentMessage::Records {
            op: id.clone(),
            seq: 1,
            hosts: vec![host([198, 18, 0, 1]), host([198, 18, 0, 2])],
        })
        .await;
    expect_ack(&mut agent, &id, 1).await;
    // Chunk 2 goes out, and the connection is cut before its ack.
    agent
        .send(&AgentMessage::Records {
            op: id.clone(),
            seq: 2,
            hosts: vec![host([198, 18, 0, 3])],
        })
        .await;
    agent.cut();

    // Resumed on A, the same instance: the slot is taken over at once.
    let (mut agent, stored) =
        Agent::join(&ctl_a.url, &tok, "i-1", vec![(id.clone(), 2)], None).await;
    assert_eq!(stored.len(), 1);
    let resume = stored[0].last_seq;
    assert!(resume == 1 || resume == 2, "{resume}");
    // Resend everything after the cursor, and (a confused agent) chunk 1 again.
    for seq in (resume + 1)..=2 {
        agent
            .send(&AgentMessage::Records {
                op: id.clone(),
                seq,
                hosts: vec![host([198, 18, 0, 3])],
            })
            .await;
        expect_ack(&mut agent, &id, 2).await;
    }
    agent
        .send(&AgentMessage::Records {
            op: id.clone(),
            seq: 1,
            hosts: vec![host([198, 18, 0, 1]), host([198, 18, 0, 2])],
        })
        .await;
    expect_ack(&mut agent, &id, 2).await;
    agent
        .send(&AgentMessage::Done {
            op: id.clone(),
            seq: 3,
            summary: summary(3),
        })
        .await;
    expect_ack(&mut agent, &id, 3).await;
    let r = env_b.results(&id).await;
    let ips: Vec<String> = r
        .iter()
        .map(|x| x["host"]["ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ips, vec!["198.18.0.1", "198.18.0.2", "198.18.0.3"]);
    let o = env_b.operation(&id).await;
    assert_eq!(
        (o["state"].as_str(), o["complete"].as_bool()),
        (Some("done"), Some(true))
    );
    assert_eq!(o["records"], 3);

    // Takeover across controllers: the same instance connects to B while its
    // connection on A lives; A closes the stale one with 4002.
    let (mut on_b, _) = Agent::join(&ctl_b.url, &tok, "i-1", vec![], None).await;
    let t0 = tokio::time::Instant::now();
    let (c, reason) = agent.closed().await;
    assert_eq!(c, 4002, "{reason}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // And a different instance is refused on either controller.
    for url in [&ctl_a.url, &ctl_b.url] {
        let mut x = Agent::connect(url, &tok, None).await.unwrap();
        x.send(&Agent::hello("edge", "i-2", vec![])).await;
        assert_eq!(x.closed().await.0, 4102);
    }
    on_b.send(&AgentMessage::Heartbeat { seq: 1 }).await;
    assert!(matches!(
        on_b.recv().await,
        Event::Msg(ControllerMessage::Heartbeat { seq: 1 })
    ));
    on_b.close().await;
    ctl_a.stop().await;
    ctl_b.stop().await;
}

both!(retention_deletes_old_operations);
async fn retention_deletes_old_operations(b: Backend) {
    let env = Env::new(&b).await;
    env.token("edge", false).await;
    let id = env.ok(&["scan", "--agent", "edge", "198.18.0.0/30"]).await;
    assert!(env.ok(&["operations"]).await.contains(id.trim()));
    // --keep-days 0: everything created before now goes at the first (immediate) run.
    let srv = env.serve(&["--plain-ws", "--keep-days", "0"]).await;
    let mut gone = false;
    for _ in 0..50 {
        if env.ok(&["operations", "--format", "json"]).await.trim() == "[]" {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "retention did not delete the operation");
    srv.stop().await;
}

/// `cancel {op}` of the next message, or a panic.
async fn expect_cancel(a: &mut Agent, op: &str) {
    match a.msg().await {
        ControllerMessage::Cancel { op: o } => assert_eq!(o, op, "cancel"),
        other => panic!("expected cancel {op}, got {other:?}"),
    }
}

both!(cancel_reaches_the_agent);
async fn cancel_reaches_the_agent(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let id = env.scan("edge", "198.18.0.0/24").await;
    let (got, _) = next_operation(&mut a).await;
    assert_eq!(got, id);
    a.send(&AgentMessage::Accepted {
        op: id.clone(),
        running: true,
    })
    .await;
    a.send(&AgentMessage::Records {
        op: id.clone(),
        seq: 1,
        hosts: vec![host([198, 18, 0, 1])],
    })
    .await;
    expect_ack(&mut a, &id, 1).await;

    // Through the CLI (another process): the agent's connection gets `cancel`.
    let out = env.ok(&["cancel", &id]).await;
    assert!(out.contains("cancel requested"), "{out}");
    let o = env.operation(&id).await;
    assert_eq!(o["state"], "running");
    assert!(o["cancelRequested"].as_i64().is_some(), "{o}");
    expect_cancel(&mut a, &id).await;
    // Once per connection, however often the connection is woken meanwhile.
    expect_quiet(&mut a, Duration::from_millis(2500)).await;

    // Cut before the agent answered: sent again after the next welcome.
    a.cut();
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    expect_cancel(&mut a, &id).await;
    expect_quiet(&mut a, Duration::from_millis(1500)).await;

    // The agent stops: failed, kind cancelled, the records before kept.
    a.send(&AgentMessage::Failed {
        op: id.clone(),
        seq: 2,
        error: CollectError {
            kind: ErrorKind::Cancelled,
            message: "cancelled; the records sent before are kept".into(),
        },
    })
    .await;
    expect_ack(&mut a, &id, 2).await;
    let o = env.operation(&id).await;
    assert_eq!(o["state"], "failed");
    assert_eq!(o["complete"], true);
    assert_eq!(o["error"]["kind"], "cancelled");
    assert_eq!(o["records"], 1);
    assert_eq!(env.results(&id).await.len(), 1);

    // Over now: a second cancel is refused, and nothing more reaches the agent.
    let (code, out, err) = env.cli(&["cancel", &id]).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already failed"), "{err}");
    let (code, _, err) = env.cli(&["cancel", "op-none"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("no operation"), "{err}");
    expect_quiet(&mut a, Duration::from_millis(1500)).await;
    a.close().await;
    srv.stop().await;
}

both!(cancel_of_a_sent_operation_while_disconnected);
async fn cancel_of_a_sent_operation_while_disconnected(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let id = env.scan("edge", "198.18.0.0/24").await;
    let (got, _) = next_operation(&mut a).await;
    assert_eq!(got, id);
    a.close().await;
    // Sent, never accepted, and the agent away: the controller cannot know whether
    // it has it, so the cancel waits for the agent.
    env.ok(&["cancel", &id]).await;
    assert_eq!(env.operation(&id).await["state"], "sent");
    // After the next welcome: the operation again (it was never accepted), then the
    // cancel.
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let (again, _) = next_operation(&mut a).await;
    assert_eq!(again, id);
    expect_cancel(&mut a, &id).await;
    expect_quiet(&mut a, Duration::from_millis(1500)).await;
    a.close().await;
    srv.stop().await;
}

both!(cancel_of_a_queued_operation_ends_it_at_once);
async fn cancel_of_a_queued_operation_ends_it_at_once(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let srv = env.serve(&["--plain-ws"]).await;
    // The agent is not connected: the scan stays queued.
    let id = env.scan("edge", "198.18.0.0/24").await;
    assert_eq!(env.operation(&id).await["state"], "queued");
    let out = env.ok(&["cancel", &id]).await;
    assert!(out.contains("still queued"), "{out}");
    let o = env.operation(&id).await;
    assert_eq!(o["state"], "failed");
    assert_eq!(o["complete"], true);
    assert_eq!(o["error"]["kind"], "cancelled");
    assert_eq!(o["chunks"], 0);
    assert!(
        o["sent"].is_null() && o["finished"].as_i64().is_some(),
        "{o}"
    );
    // The agent connects: it hears of neither the operation nor its cancel.
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    expect_quiet(&mut a, Duration::from_millis(2500)).await;
    // A cancel of it now is refused.
    let (code, _, err) = env.cli(&["cancel", &id]).await;
    assert_ne!(code, 0);
    assert!(err.contains("already failed"), "{err}");
    a.close().await;
    srv.stop().await;
}

both!(cancel_through_the_api);
async fn cancel_through_the_api(b: Backend) {
    let env = Env::new(&b).await;
    let tok = env.token("edge", false).await;
    let opt = env.token("ops", true).await;
    let srv = env.serve(&["--plain-ws"]).await;
    let (mut a, _) = Agent::join(&srv.url, &tok, "i-1", vec![], None).await;
    let id = env.scan("edge", "198.18.0.0/24").await;
    let (got, _) = next_operation(&mut a).await;
    assert_eq!(got, id);
    a.send(&AgentMessage::Accepted {
        op: id.clone(),
        running: false,
    })
    .await;
    let path = format!("/api/v1/operations/{id}/cancel");
    // No token, an unknown one: 401; an agent token: 403. Nothing recorded.
    for t in [None, Some("kst_nope")] {
        let (s, _) = srv.http("POST", &path, t, None).await;
        assert_eq!(s, 401);
    }
    let (s, _) = srv.http("POST", &path, Some(&tok), None).await;
    assert_eq!(s, 403);
    assert!(env.operation(&id).await["cancelRequested"].is_null());
    // The operator: 202, and the agent's connection is told at once.
    let t0 = tokio::time::Instant::now();
    let (s, body) = srv.http("POST", &path, Some(&opt), None).await;
    assert_eq!(s, 202, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["id"].as_str(), v["cancelled"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    expect_cancel(&mut a, &id).await;
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // The agent ends it before it ran (seq 1, no records).
    a.send(&AgentMessage::Failed {
        op: id.clone(),
        seq: 1,
        error: CollectError {
            kind: ErrorKind::Cancelled,
            message: "cancelled before it ran".into(),
        },
    })
    .await;
    expect_ack(&mut a, &id, 1).await;
    // Over: 409; unknown: 404.
    let (s, body) = srv.http("POST", &path, Some(&opt), None).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.contains("already failed"), "{body}");
    let (s, _) = srv
        .http(
            "POST",
            "/api/v1/operations/op-none/cancel",
            Some(&opt),
            None,
        )
        .await;
    assert_eq!(s, 404);
    // A queued one (the agent away): 200, failed at once.
    a.close().await;
    let id2 = env.scan("edge", "198.18.1.0/24").await;
    let (s, body) = srv
        .http(
            "POST",
            &format!("/api/v1/operations/{id2}/cancel"),
            Some(&opt),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["cancelled"], true);
    let (s, body) = srv
        .http(
            "GET",
            &format!("/api/v1/operations/{id2}"),
            Some(&opt),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let o: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(o["state"], "failed");
    assert_eq!(o["error"]["kind"], "cancelled");
    srv.stop().await;
}
