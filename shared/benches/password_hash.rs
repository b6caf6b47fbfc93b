//! Prints the time of one Argon2id hash and one verification with the production parameters.
//! `cargo bench -p shared --bench password_hash` (release profile). A 128 MB Lambda gets
//! about 1/14 of a vCPU, so expect roughly 14× these figures there; see the README.

use std::time::{Duration, Instant};

use shared::auth::{PasswordHasher, ARGON2_PARAMS};
use shared::domain::Password;

const RUNS: u32 = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let hasher = PasswordHasher::new();
        let password = Password::parse("correct horse battery staple").expect("valid password");
        let hash = hasher.hash(&password).await.expect("hash");
        let mut hashing = Duration::ZERO;
        let mut verifying = Duration::ZERO;
        for _ in 0..RUNS {
            let start = Instant::now();
            hasher.hash(&password).await.expect("hash");
            hashing += start.elapsed();
            let start = Instant::now();
            assert!(hasher.verify(&password, &hash).await.expect("verify"));
            verifying += start.elapsed();
        }
        let (m, t, p) = ARGON2_PARAMS;
        println!("argon2id m={m} KiB t={t} p={p}, {RUNS} runs on this machine:");
        println!(
            "  hash   {:>7.1} ms",
            hashing.as_secs_f64() * 1000.0 / f64::from(RUNS)
        );
        println!(
            "  verify {:>7.1} ms",
            verifying.as_secs_f64() * 1000.0 / f64::from(RUNS)
        );
    });
}
