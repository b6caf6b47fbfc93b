//! Emulators a test owns, for fault tests: a DynamoDB Local that keeps its data on disk (so it
//! can be killed mid-request and brought back on the same port with what it had committed),
//! and a moto server that can be stopped and started. Both are stopped by PID, never by name.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::Endpoints;

/// The folder `make install` put the DynamoDB Local jar in.
fn dynamodb_local_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.local/dynamodb/node_modules/amplify-dynamodb-simulator/emulator")
}

fn moto_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/venv-moto/bin/moto_server")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Waits until `url` answers, failing if `child` (the process that should answer) exits: the
/// port could otherwise have been taken by another test's process meanwhile.
async fn wait_until_answering(child: &mut Child, url: &str, what: &str) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(url).send().await.is_err() {
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "{what} exited before answering on {url}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not answer on {url} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An emulator process on a port of its own, killed when dropped.
struct OwnedProcess {
    port: u16,
    child: Option<Child>,
}

impl OwnedProcess {
    fn new() -> Self {
        Self {
            port: free_port(),
            child: None,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `command` (quiet, killed on drop) and waits until `path` under the endpoint
    /// answers.
    async fn spawn(&mut self, mut command: Command, path: &str, what: &str) {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("start {what} (run `make install` first): {err}"));
        let url = format!("{}{path}", self.endpoint());
        wait_until_answering(self.child.insert(child), &url, what).await;
    }
}

impl OwnedProcess {
    /// SIGTERM, by PID, then waits (10 s at most) for the exit.
    async fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) on the PID of a child this struct owns and has not reaped.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }

    /// SIGKILL, by PID.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

impl Drop for OwnedProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// A DynamoDB Local of one test, its data in a scratch folder.
pub struct OwnedDynamo {
    process: OwnedProcess,
    data: PathBuf,
}

impl OwnedDynamo {
    pub async fn start() -> Self {
        let data = std::env::temp_dir().join(crate::unique("dynamodb-outage"));
        std::fs::create_dir_all(&data).expect("a data folder");
        let mut dynamo = Self {
            process: OwnedProcess::new(),
            data,
        };
        dynamo.resume().await;
        dynamo
    }

    /// A test environment's endpoints with this DynamoDB Local in them.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints::dynamodb(self.process.endpoint())
    }

    /// Stops the process with SIGTERM, by PID, while requests may be in flight, and waits
    /// for it to exit. Not SIGKILL: DynamoDB Local itself may then lose its last committed
    /// writes (seen here: a 201 send gone after the restart), which DynamoDB never does, so a
    /// test could not tell the emulator's loss from ours.
    pub async fn stop(&mut self) {
        self.process.terminate().await;
    }

    /// Starts it again on the same port, over the same data.
    pub async fn resume(&mut self) {
        let dir = dynamodb_local_dir();
        let mut command = Command::new("java");
        command
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-sharedDb", "-disableTelemetry", "-port"])
            .arg(self.process.port.to_string())
            .arg("-dbPath")
            .arg(&self.data)
            .current_dir(&self.data);
        self.process.spawn(command, "", "DynamoDB Local").await;
    }
}

impl Drop for OwnedDynamo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A moto server of one test.
pub struct OwnedMoto {
    process: OwnedProcess,
}

impl OwnedMoto {
    pub async fn start() -> Self {
        let mut moto = Self {
            process: OwnedProcess::new(),
        };
        moto.resume().await;
        moto
    }

    /// A test environment's endpoints with this moto as SQS.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints::sqs(self.process.endpoint())
    }

    pub async fn kill(&mut self) {
        self.process.kill().await;
    }

    /// An SES client of this moto.
    pub async fn ses_client(&self) -> aws_sdk_ses::Client {
        let sdk = shared::context::load_sdk_config().await;
        aws_sdk_ses::Client::from_conf(
            aws_sdk_ses::config::Builder::from(&sdk)
                .endpoint_url(self.process.endpoint())
                .build(),
        )
    }

    /// Verifies the sender identity (moto refuses mail from others, and forgets on restart).
    pub async fn verify_sender(&self, sender: &str) {
        self.ses_client()
            .await
            .verify_email_identity()
            .email_address(sender)
            .send()
            .await
            .expect("verify the sender");
    }

    /// Every email this moto's SES took.
    pub async fn emails(&self) -> Vec<serde_json::Value> {
        crate::sent_emails(&self.process.endpoint()).await
    }

    /// Starts it again on the same port (moto keeps state in memory: it comes back empty).
    pub async fn resume(&mut self) {
        let mut command = Command::new(moto_server());
        command
            .args(["-H", "127.0.0.1", "-p"])
            .arg(self.process.port.to_string());
        self.process.spawn(command, "/moto-api/", "moto").await;
    }
}
