//! Starts the Azurite storage emulator (npm `azurite@3.35.0`, installed by `.ci/run` into
//! `.ci/node`) on 127.0.0.1 with a free port, blob service only, in memory; stops it on drop.
//! With `CI=true` a missing Azurite fails the test; elsewhere the test is skipped with a
//! message.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Azurite {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

/// The blob endpoint of an emulator on `port`.
pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}/devstoreaccount1")
}

fn find() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NSGFLOW_AZURITE") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.ci/node/node_modules/.bin/azurite-blob");
    local.exists().then_some(local)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Azurite {
    /// The emulator, or `None` (test skipped) when it is not installed outside CI.
    pub fn start(test: &str) -> Option<Azurite> {
        let Some(bin) = find() else {
            let msg = "Azurite not found: run `npm install --prefix .ci/node azurite@3.35.0` or set NSGFLOW_AZURITE to an azurite-blob binary";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: {msg} (CI=true: Azure tests must not be skipped)");
            }
            eprintln!("{test}: SKIPPED: {msg}");
            return None;
        };
        for _ in 0..3 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("nsgflow-azurite-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut child = Command::new(&bin)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .args([
                    "--inMemoryPersistence",
                    "--loose",
                    "--skipApiVersionCheck",
                    "--silent",
                ])
                .arg("--disableTelemetry")
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Azurite { child, port, dir });
                }
                if let Ok(Some(status)) = child.try_wait() {
                    // Port taken meanwhile, or a broken install: say why, try again.
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    eprintln!("{test}: Azurite exited ({status}): {err}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{test}: Azurite did not start (tried 3 ports)");
    }

    pub fn endpoint(&self) -> String {
        endpoint(self.port)
    }

    /// A client of the emulator, with the NSG and VNet containers created.
    pub fn client(&self) -> nsgflow::blob::client::BlobClient {
        use nsgflow::blob::config::{NSG_CONTAINER, VNET_CONTAINER};
        let c = nsgflow::blob::client::BlobClient::new(
            nsgflow::blob::auth::Credentials::from_connection_string(&self.connection_string())
                .unwrap(),
            nsgflow::blob::retry::RetryPolicy::default(),
            Duration::from_secs(20),
        );
        c.create_container(NSG_CONTAINER).unwrap();
        c.create_container(VNET_CONTAINER).unwrap();
        c
    }

    /// A connection string for the emulator's well-known development account.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint={};",
            nsgflow::blob::auth::AZURITE_KEY,
            self.endpoint()
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
