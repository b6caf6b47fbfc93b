//! Emulators a test owns, for fault tests: a DynamoDB Local behind a proxy whose network can be
//! cut mid-request and restored on the same port, and a moto server that can be stopped and
//! started. Processes are stopped by PID, never by name.

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

/// A DynamoDB Local of one test, reached through a TCP proxy the test can cut: an outage of
/// the network to the database, as clients on AWS meet one (connections refused, open ones
/// reset, possibly after a write committed and before its answer came back), while the
/// database keeps every write it acknowledged. Killing DynamoDB Local itself was tried first:
/// it may lose writes it had acknowledged (seen here, even on SIGTERM over `-dbPath`), which
/// DynamoDB never does, so a test could not tell the emulator's loss from ours.
pub struct OwnedDynamo {
    process: OwnedProcess,
    proxy: CuttableProxy,
    /// Its working folder (it writes a metadata file there).
    scratch: PathBuf,
}

impl OwnedDynamo {
    pub async fn start() -> Self {
        let mut process = OwnedProcess::new();
        let dir = dynamodb_local_dir();
        let scratch = std::env::temp_dir().join(crate::unique("dynamodb-outage"));
        std::fs::create_dir_all(&scratch).expect("a scratch folder");
        let mut command = Command::new("java");
        command
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
            .arg(process.port.to_string())
            .current_dir(&scratch);
        process.spawn(command, "", "DynamoDB Local").await;
        let proxy = CuttableProxy::open(process.port).await;
        Self {
            process,
            proxy,
            scratch,
        }
    }

    /// A test environment's endpoints with this DynamoDB Local in them (through the proxy).
    pub fn endpoints(&self) -> Endpoints {
        Endpoints::dynamodb(format!("http://127.0.0.1:{}", self.proxy.port))
    }

    /// Cuts the network to the database while requests may be in flight.
    pub async fn stop(&mut self) {
        self.proxy.cut();
    }

    /// Restores it, on the same port.
    pub async fn resume(&mut self) {
        self.proxy.restore().await;
        let url = format!("http://127.0.0.1:{}", self.proxy.port);
        wait_until_answering(
            self.process.child.as_mut().expect("DynamoDB Local runs"),
            &url,
            "DynamoDB Local",
        )
        .await;
    }
}

impl Drop for OwnedDynamo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// A TCP proxy on a port of its own to `target`: `cut` refuses new connections and resets
/// the open ones; `restore` listens on the same port again.
struct CuttableProxy {
    port: u16,
    target: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    async fn open(target: u16) -> Self {
        let (cut, _) = tokio::sync::watch::channel(false);
        let proxy = Self {
            port: free_port(),
            target,
            cut,
        };
        proxy.listen().await;
        proxy
    }

    async fn listen(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the proxy's port");
        let (target, mut cut, pipes) = (self.target, self.cut.subscribe(), self.cut.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((inbound, _)) = accepted else { continue };
                        tokio::spawn(pipe(inbound, target, pipes.subscribe()));
                    }
                    // The listener drops: new connections are refused.
                    _ = cut.wait_for(|cut| *cut) => return,
                }
            }
        });
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    async fn restore(&self) {
        self.cut.send_replace(false);
        self.listen().await;
    }
}

/// Carries one connection both ways until either side closes or the proxy is cut (both
/// sockets then drop).
async fn pipe(
    mut inbound: tokio::net::TcpStream,
    target: u16,
    mut cut: tokio::sync::watch::Receiver<bool>,
) {
    let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = cut.wait_for(|cut| *cut) => {}
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
