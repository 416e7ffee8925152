//! The corpus test: real devices' recordings (snmpsim-data, fetched by
//! scripts/setup.sh) served by snmpsimd in a lab namespace; `ksocket snmp device` must
//! give a record for each and state the vendor, model, serial, version and kind that
//! people read from the recording (platform/tests/data/corpus/expected.toml). Here
//! the `sample = true` recordings; `kst-bench --only corpus` runs them all.
//!
//! Root only (skipped otherwise). Without the corpus it is skipped, except under `CI`,
//! where a missing corpus fails.
use ksocket_lab::corpus::{self, SimLab};
use ksocket_lab::require_root;
use std::path::Path;
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

#[test]
fn corpus_sample() {
    require_root!();
    let Some(data) = corpus::data_dir() else {
        let where_ = corpus::cache_dir();
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: the recordings corpus is missing from {} (scripts/setup.sh fetches it)",
            where_.display()
        );
        eprintln!(
            "SKIP corpus_sample: no recordings corpus in {} (run scripts/setup.sh, or set KSOCKET_CORPUS)",
            where_.display()
        );
        return;
    };
    let t0 = Instant::now();
    let expected =
        corpus::load_expected(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus"))
            .unwrap();
    let sample: Vec<&corpus::Expected> = expected
        .iter()
        .filter(|e| e.sample && e.exclude.is_none())
        .collect();
    assert!(!sample.is_empty(), "no `sample = true` recording");
    for e in &sample {
        assert!(
            data.join(&e.file).is_file(),
            "{} is not in the corpus",
            e.file
        );
    }
    let mut sim = SimLab::new("corpus").unwrap();
    let mut agent = sim.serve(&data, &sample, Duration::from_secs(120)).unwrap();
    let outcomes: Vec<corpus::Outcome> = sample
        .iter()
        .map(|e| sim.check(KSOCKET, e, Duration::from_secs(60)))
        .collect();
    let _ = agent.kill();
    let _ = agent.wait();
    let sampled: Vec<corpus::Expected> = sample.iter().map(|e| (*e).clone()).collect();
    println!("{}", corpus::report(&outcomes, &sampled));
    println!("corpus sample: {:.1} s in all", t0.elapsed().as_secs_f64());
    sim.lab.teardown().unwrap();
    let fails = corpus::failures(&outcomes, &sampled);
    assert!(
        fails.is_empty(),
        "{} failure(s) on the corpus sample:\n  {}",
        fails.len(),
        fails.join("\n  ")
    );
}
